//! Configured limits: packet size, connection count, topic depth, inflight
//! window / Receive Maximum, queue length, and memory under a subscriber
//! that stops reading. Each limit gets its documented answer and the broker
//! keeps serving everyone else.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::v4::V4;
use common::v5::V5;
use common::wire::{self, Connect};
use common::witness::Witness;
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::QoS;

/// Reads PUBLISHes without acknowledging them until the broker is quiet.
async fn read_unacked(raw: &mut RawClient, v5: bool) -> Vec<wire::RxPublish> {
    let mut got = Vec::new();
    while let Some(packet) = raw
        .read_packet(if got.is_empty() { WAIT } else { QUIET })
        .await
    {
        if wire::kind(&packet) == wire::PUBLISH {
            got.push(wire::parse_publish(&packet, v5));
        }
    }
    got
}

/// Reads PUBLISHes, acknowledging each QoS 1 one, until the broker is quiet.
async fn read_and_ack(raw: &mut RawClient, v5: bool) -> Vec<wire::RxPublish> {
    let mut got = Vec::new();
    while let Some(packet) = raw
        .read_packet(if got.is_empty() { WAIT } else { QUIET })
        .await
    {
        if wire::kind(&packet) != wire::PUBLISH {
            continue;
        }
        let publish = wire::parse_publish(&packet, v5);
        if let Some(pkid) = publish.pkid {
            raw.send(&wire::puback(pkid)).await;
        }
        got.push(publish);
    }
    got
}

/// A topic with `levels` levels: `l0/l1/…`.
fn deep_topic(levels: usize) -> String {
    (0..levels)
        .map(|i| format!("l{i}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// Does a 5.0 CONNACK advertise the configured Maximum Packet Size, so
/// clients can know the limit (§3.2.2.3.6)?
#[tokio::test]
async fn v5_connack_advertises_the_maximum_packet_size() {
    let broker = Broker::start("[limits]\nmax_packet_size = 1024");
    let client = V5::connect(&broker, "maxpkt-ad").await;
    let advertised = client.connack.properties.and_then(|p| p.max_packet_size);
    assert_eq!(advertised, Some(1024));
}

/// Is a 5.0 PUBLISH bigger than max_packet_size answered with DISCONNECT
/// 0x95 (Packet too large) and not delivered, while packets under the limit
/// still flow?
#[tokio::test]
async fn v5_oversized_publish_gets_disconnect_0x95() {
    let broker = Broker::start("[limits]\nmax_packet_size = 1024");
    let mut witness = Witness::new(&broker, "big5").await;
    let mut sub = V5::connect(&broker, "big5-sub").await;
    sub.subscribe("big/#", QoS5::AtLeastOnce).await;

    let mut raw = RawClient::v5(&broker, "big5-pub").await;
    let _ = raw
        .try_send(&wire::publish(b"big/x", 1, false, 1, &[7; 2000], Some(&[])))
        .await;
    let before = raw.expect_closed(WAIT).await;
    let reasons: Vec<u8> = before.iter().map(|p| wire::disconnect_reason(p)).collect();
    assert_eq!(reasons, [0x95], "packets before close: {before:02x?}");
    sub.assert_silent(QUIET).await;

    let mut ok = V5::connect(&broker, "big5-ok").await;
    ok.publish("big/y", QoS5::AtLeastOnce, false, &[1; 900])
        .await;
    assert_eq!(sub.recv().await.payload.len(), 900);
    witness.assert_served(&broker).await;
}

/// Is a 3.1.1 PUBLISH bigger than max_packet_size closed without delivery?
#[tokio::test]
async fn v4_oversized_publish_is_closed() {
    let broker = Broker::start("[limits]\nmax_packet_size = 1024");
    let mut witness = Witness::new(&broker, "big4").await;
    let mut sub = V4::connect(&broker, "big4-sub").await;
    sub.subscribe("big/#", QoS::AtLeastOnce).await;
    let (mut raw, _) = RawClient::v4(&broker, "big4-pub", true).await;
    let _ = raw
        .try_send(&wire::publish(b"big/x", 1, false, 1, &[7; 2000], None))
        .await;
    let before = raw.expect_closed(WAIT).await;
    assert!(before.is_empty(), "3.1.1 gets a plain close: {before:02x?}");
    sub.assert_silent(QUIET).await;
    witness.assert_served(&broker).await;
}

/// Is a packet whose fixed header alone announces more than max_packet_size
/// refused without waiting for (or buffering) its body?
#[tokio::test]
async fn oversized_length_is_refused_from_the_header() {
    let broker = Broker::start("[limits]\nmax_packet_size = 1024");
    let mut witness = Witness::new(&broker, "bighdr").await;
    let mut raw = RawClient::v5(&broker, "bighdr-pub").await;
    raw.send(&[0x32, 0x80, 0x80, 0x80, 0x01]).await;
    let before = raw.expect_closed(WAIT).await;
    let reasons: Vec<u8> = before.iter().map(|p| wire::disconnect_reason(p)).collect();
    assert_eq!(reasons, [0x95], "packets before close: {before:02x?}");
    witness.assert_served(&broker).await;
}

/// With max_connections = 5, is a 6th connection refused (5.0 CONNACK 0x97,
/// 3.1.1 CONNACK 0x03, or a plain close), the 5 unaffected, and a slot
/// reusable once one of them leaves?
#[tokio::test]
async fn connections_beyond_max_connections_are_refused() {
    let broker = Broker::start("[limits]\nmax_connections = 5");
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(V4::connect(&broker, &format!("conn-{i}")).await);
    }

    let mut extra = RawClient::open(&broker).await;
    let _ = extra
        .try_send(&Connect::new(5, "conn-extra5", true, 60).encode())
        .await;
    let before = extra.expect_closed(WAIT).await;
    assert!(
        before.is_empty() || before == [vec![0x20, 0x03, 0x00, 0x97, 0x00]],
        "6th (5.0) connection: expected CONNACK 0x97 or close, got {before:02x?}"
    );
    let mut extra = RawClient::open(&broker).await;
    let _ = extra
        .try_send(&Connect::new(4, "conn-extra4", true, 60).encode())
        .await;
    let before = extra.expect_closed(WAIT).await;
    assert!(
        before.is_empty() || before == [vec![0x20, 0x02, 0x00, 0x03]],
        "6th (3.1.1) connection: expected CONNACK 0x03 or close, got {before:02x?}"
    );

    clients[0].subscribe("conn/t", QoS::AtLeastOnce).await;
    clients[1]
        .publish("conn/t", QoS::AtLeastOnce, false, b"still fine")
        .await;
    assert_eq!(&clients[0].recv().await.payload[..], b"still fine");

    clients.pop().expect("five clients").disconnect().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match V4::try_connect(V4::options(&broker, "conn-after")).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("slot not freed 2 s after a disconnect: {error}"),
        }
    }
}

/// With max_topic_levels = 32, is a 33-level filter refused (SUBACK 0x80)
/// and a 33-level topic not delivered, while 32 levels work?
#[tokio::test]
async fn topics_deeper_than_max_topic_levels_are_refused() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "levels").await;
    let mut sub = V4::connect(&broker, "levels-sub").await;
    sub.subscribe("#", QoS::AtLeastOnce).await;

    let (mut raw, _) = RawClient::v4(&broker, "levels-raw", true).await;
    raw.send(&wire::subscribe(1, &deep_topic(33), 1, false))
        .await;
    let suback = raw.expect_kind(wire::SUBACK).await;
    assert_eq!(wire::suback_code(&suback, false), 0x80, "33-level filter");
    let _ = raw
        .try_send(&wire::publish(
            deep_topic(33).as_bytes(),
            1,
            false,
            2,
            b"deep",
            None,
        ))
        .await;

    let mut publisher = V4::connect(&broker, "levels-pub").await;
    publisher
        .publish(&deep_topic(32), QoS::AtLeastOnce, false, b"ok")
        .await;
    let got = sub.recv().await;
    assert_eq!(
        got.topic,
        deep_topic(32),
        "the 33-level topic must not be delivered"
    );
    witness.assert_served(&broker).await;
}

/// With max_inflight = 10, does a 5.0 subscriber that never acks get exactly
/// 10 unacknowledged QoS 1 messages, one more per PUBACK, and in the end
/// all of them [MQTT-3.3.4-9]?
#[tokio::test]
async fn unacked_deliveries_are_capped_at_max_inflight() {
    let broker = Broker::start("[limits]\nmax_inflight = 10");
    let mut raw = RawClient::v5(&broker, "inflight-sub").await;
    raw.send(&wire::subscribe(1, "inflight/t", 1, true)).await;
    raw.expect_kind(wire::SUBACK).await;
    let mut publisher = V5::connect(&broker, "inflight-pub").await;
    for n in 0..30u8 {
        publisher
            .publish("inflight/t", QoS5::AtLeastOnce, false, &[n])
            .await;
    }

    let window = read_unacked(&mut raw, true).await;
    assert_eq!(window.len(), 10, "unacked QoS 1 deliveries");
    raw.send(&wire::puback(window[0].pkid.unwrap_or_default()))
        .await;
    let next = read_unacked(&mut raw, true).await;
    assert_eq!(next.len(), 1, "one PUBACK opens one slot");
    for publish in window.iter().skip(1).chain(&next) {
        raw.send(&wire::puback(publish.pkid.unwrap_or_default()))
            .await;
    }
    let rest = read_and_ack(&mut raw, true).await;
    let payloads: Vec<u8> = window
        .iter()
        .chain(&next)
        .chain(&rest)
        .map(|p| p.payload[0])
        .collect();
    assert_eq!(payloads, (0..30).collect::<Vec<u8>>(), "all 30, in order");
}

/// Does the broker honour a client's smaller Receive Maximum (3) over its
/// own max_inflight [MQTT-3.3.4-9]?
#[tokio::test]
async fn client_receive_maximum_caps_unacked_deliveries() {
    let broker = Broker::start("");
    let mut connect = Connect::new(5, "recvmax-sub", true, 60);
    connect.properties = vec![0x21, 0x00, 0x03];
    let (mut raw, _) = RawClient::connect(&broker, &connect).await;
    raw.send(&wire::subscribe(1, "recvmax/t", 1, true)).await;
    raw.expect_kind(wire::SUBACK).await;
    let mut publisher = V5::connect(&broker, "recvmax-pub").await;
    for n in 0..10u8 {
        publisher
            .publish("recvmax/t", QoS5::AtLeastOnce, false, &[n])
            .await;
    }
    assert_eq!(read_unacked(&mut raw, true).await.len(), 3);
}

/// Limits for the queue tests: window 5, queue 10.
const SMALL_QUEUE: &str = "[limits]\nmax_inflight = 5\nmax_queued_messages = 10";

/// With max_queued_messages = 10, does an offline persistent session keep
/// at most inflight + queue (15) of 50 messages, at least the queue's 10,
/// while the broker stays healthy?
#[tokio::test]
async fn offline_session_queue_is_capped() {
    let broker = Broker::start(SMALL_QUEUE);
    let mut witness = Witness::new(&broker, "offline").await;
    let (mut raw, _) = RawClient::v4(&broker, "offline-sub", false).await;
    raw.send(&wire::subscribe(1, "offline/t", 1, false)).await;
    raw.expect_kind(wire::SUBACK).await;
    drop(raw);
    tokio::time::sleep(QUIET).await;

    let mut publisher = V4::connect(&broker, "offline-pub").await;
    for n in 0..50u8 {
        publisher
            .publish_nowait("offline/t", QoS::AtLeastOnce, false, &[n])
            .await;
    }
    publisher.flush(WAIT).await;

    let (mut raw, present) = RawClient::v4(&broker, "offline-sub", false).await;
    assert!(present);
    let got = read_and_ack(&mut raw, false).await;
    assert!(
        (10..=15).contains(&got.len()),
        "offline session delivered {} of 50 (limit 5 inflight + 10 queued)",
        got.len()
    );
    witness.assert_served(&broker).await;
    publisher
        .publish("offline/t", QoS::AtLeastOnce, false, b"after")
        .await;
    let after = read_and_ack(&mut raw, false).await;
    assert_eq!(after.len(), 1, "the session still receives");
}

/// Does an online subscriber that stops reading get at most inflight +
/// queue (15) of 100 messages, without slowing the publisher or others?
#[tokio::test]
async fn stalled_subscriber_gets_at_most_inflight_plus_queue() {
    let broker = Broker::start(SMALL_QUEUE);
    let mut witness = Witness::new(&broker, "stalled").await;
    let (mut raw, _) = RawClient::v4(&broker, "stalled-sub", true).await;
    raw.send(&wire::subscribe(1, "stalled/t", 1, false)).await;
    raw.expect_kind(wire::SUBACK).await;

    let mut publisher = V4::connect(&broker, "stalled-pub").await;
    for n in 0..100u8 {
        publisher
            .publish_nowait("stalled/t", QoS::AtLeastOnce, false, &[n])
            .await;
    }
    publisher.flush(WAIT).await;
    witness.assert_served(&broker).await;

    let got = read_and_ack(&mut raw, false).await;
    assert!(
        (5..=15).contains(&got.len()),
        "stalled subscriber got {} of 100 (limit 5 inflight + 10 queued)",
        got.len()
    );
}

/// While two subscribers never read their sockets and a publisher pushes
/// 20 MB, does the broker's peak RSS stay under 200 MB and a reading
/// subscriber still get every message?
#[tokio::test]
async fn non_reading_subscribers_do_not_grow_broker_memory() {
    const MESSAGES: usize = 2000;
    const SIZE: usize = 10 * 1024;
    const ROUND: usize = 500;
    let broker = Broker::start("");
    let (mut stalled_qos0, _) = RawClient::v4(&broker, "mem-stalled-0", true).await;
    stalled_qos0
        .send(&wire::subscribe(1, "flood/t", 0, false))
        .await;
    stalled_qos0.expect_kind(wire::SUBACK).await;
    let (mut stalled_qos1, _) = RawClient::v4(&broker, "mem-stalled-1", true).await;
    stalled_qos1
        .send(&wire::subscribe(1, "flood/t", 1, false))
        .await;
    stalled_qos1.expect_kind(wire::SUBACK).await;
    let mut reader = V4::connect(&broker, "mem-reader").await;
    reader.subscribe("flood/t", QoS::AtLeastOnce).await;

    let mut publisher = V4::connect(&broker, "mem-pub").await;
    let mut payload = vec![0u8; SIZE];
    let bound = Duration::from_secs(30);
    // In rounds the reader keeps up with: the broker acknowledges a PUBLISH once
    // routed, so a publisher 2000 messages ahead would overflow even the reading
    // subscriber's queue (128 inflight + 1000 queued, newest dropped). The stalled
    // subscribers still fall behind by all 2000, past their bounds.
    let mut got = Vec::with_capacity(MESSAGES);
    for round in 0..MESSAGES / ROUND {
        for n in round * ROUND..(round + 1) * ROUND {
            payload[..8].copy_from_slice(&(n as u64).to_be_bytes());
            publisher
                .publish_nowait("flood/t", QoS::AtLeastOnce, false, &payload)
                .await;
        }
        publisher.flush(bound).await;
        got.extend(reader.recv_n(ROUND, bound).await);
    }
    for (n, publish) in got.iter().enumerate() {
        assert_eq!(publish.payload.len(), SIZE);
        assert_eq!(
            &publish.payload[..8],
            &(n as u64).to_be_bytes(),
            "message {n}"
        );
    }
    let peak_kb = broker.memory_kb("VmHWM").expect("VmHWM readable");
    assert!(
        peak_kb < 200 * 1024,
        "broker peak RSS {} MB with 2 stalled subscribers",
        peak_kb / 1024
    );
    broker.assert_running();
}

/// With max_keepalive = 10, does a 5.0 client asking for 60 s get Server
/// Keep Alive 10 in the CONNACK (§3.2.2.3.14)?
#[tokio::test]
async fn keepalive_above_max_keepalive_is_lowered_via_server_keep_alive() {
    let broker = Broker::start("[limits]\nmax_keepalive = 10");
    let mut options = V5::options(&broker, "ka-capped");
    options.set_keep_alive(Duration::from_secs(60));
    let client = V5::connect_with(options).await;
    let server_keep_alive = client.connack.properties.and_then(|p| p.server_keep_alive);
    assert_eq!(server_keep_alive, Some(10));
}

/// With max_session_expiry = 86400, does a 5.0 client asking for 1,000,000 s
/// get Session Expiry Interval 86400 in the CONNACK (§3.2.2.3.2)?
#[tokio::test]
async fn session_expiry_above_max_is_lowered_in_connack() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "expiry-capped");
    common::v5::set_session_expiry(&mut options, 1_000_000);
    let client = V5::connect_with(options).await;
    let expiry = client
        .connack
        .properties
        .and_then(|p| p.session_expiry_interval);
    assert_eq!(expiry, Some(86_400));
}
