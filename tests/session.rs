//! Sessions: clean vs persistent, offline queueing, MQTT 5 session expiry,
//! takeover by a second connection with the same client id, redelivery of
//! unacknowledged messages, client identifiers and keepalive.

mod common;

use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::v4::V4;
use common::v5::{set_session_expiry, V5};
use common::wire::{self, Connect, Will};
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::QoS;

/// Does CONNECT with clean session 1 discard the stored session — session
/// present 0, no old subscriptions, nothing left for a later resume
/// [MQTT-3.1.2-6] [MQTT-3.2.2-1]?
#[tokio::test]
async fn clean_session_discards_the_previous_session() {
    let broker = Broker::start("");
    let mut options = V4::options(&broker, "clean-me");
    options.set_clean_session(false);
    let mut client = V4::connect_with(options.clone()).await;
    client.subscribe("clean/t", QoS::AtLeastOnce).await;
    client.disconnect().await;

    let mut clean = V4::connect(&broker, "clean-me").await;
    assert!(
        !clean.connack.session_present,
        "clean session must report no session"
    );
    let mut publisher = V4::connect(&broker, "clean-pub").await;
    publisher
        .publish("clean/t", QoS::AtLeastOnce, false, b"x")
        .await;
    clean.assert_silent(QUIET).await;
    clean.disconnect().await;

    let resumed = V4::connect_with(options).await;
    assert!(
        !resumed.connack.session_present,
        "the discarded session must not come back"
    );
}

/// Does a 3.1.1 persistent session keep its subscriptions and queue QoS 1
/// and 2 messages while offline, delivering them in order on reconnect with
/// session present 1 [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2]?
#[tokio::test]
async fn v4_persistent_session_queues_qos1_and_qos2_while_offline() {
    let broker = Broker::start("");
    let mut options = V4::options(&broker, "persist-v4");
    options.set_clean_session(false);
    let mut sub = V4::connect_with(options.clone()).await;
    assert!(
        !sub.connack.session_present,
        "first connection has no session"
    );
    sub.subscribe("persist/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;

    let mut publisher = V4::connect(&broker, "persist-pub").await;
    publisher
        .publish("persist/1", QoS::AtLeastOnce, false, b"one")
        .await;
    publisher
        .publish("persist/0", QoS::AtMostOnce, false, b"zero")
        .await;
    publisher
        .publish("persist/2", QoS::ExactlyOnce, false, b"two")
        .await;
    publisher
        .publish("persist/1", QoS::AtLeastOnce, false, b"three")
        .await;

    let mut sub = V4::connect_with(options).await;
    assert!(
        sub.connack.session_present,
        "stored session must be reported"
    );
    let mut got = Vec::new();
    while let Some(publish) = sub.try_recv(if got.len() < 3 { WAIT } else { QUIET }).await {
        if publish.qos != QoS::AtMostOnce {
            got.push((publish.topic, publish.payload.to_vec(), publish.qos));
        }
    }
    assert_eq!(
        got,
        [
            ("persist/1".to_string(), b"one".to_vec(), QoS::AtLeastOnce),
            ("persist/2".to_string(), b"two".to_vec(), QoS::ExactlyOnce),
            ("persist/1".to_string(), b"three".to_vec(), QoS::AtLeastOnce),
        ]
    );
}

/// Does a 5.0 session with a Session Expiry Interval keep its subscriptions
/// and queue messages while offline, with session present 1 on resume?
#[tokio::test]
async fn v5_session_with_expiry_queues_while_offline() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "persist-v5");
    set_session_expiry(&mut options, 60);
    let mut sub = V5::connect_with(options.clone()).await;
    sub.subscribe("p5/t", QoS5::AtLeastOnce).await;
    sub.disconnect().await;

    let mut publisher = V5::connect(&broker, "persist-v5-pub").await;
    publisher
        .publish("p5/t", QoS5::AtLeastOnce, false, b"queued")
        .await;

    options.set_clean_start(false);
    let mut sub = V5::connect_with(options).await;
    assert!(sub.connack.session_present);
    assert_eq!(&sub.recv().await.payload[..], b"queued");
}

/// Without a Session Expiry Interval (0), does a 5.0 session end with its
/// connection, so that a resume finds nothing?
#[tokio::test]
async fn v5_session_without_expiry_ends_with_the_connection() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "no-expiry");
    let mut sub = V5::connect_with(options.clone()).await;
    sub.subscribe("ne/t", QoS5::AtLeastOnce).await;
    sub.disconnect().await;

    options.set_clean_start(false);
    let sub = V5::connect_with(options).await;
    assert!(!sub.connack.session_present);
}

/// With Session Expiry Interval 1 s, is the session gone after 2 s offline:
/// session present 0 and its subscription no longer delivers?
#[tokio::test]
async fn v5_session_expires_after_its_interval() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "expiring");
    set_session_expiry(&mut options, 1);
    let mut sub = V5::connect_with(options.clone()).await;
    sub.subscribe("expiring/t", QoS5::AtLeastOnce).await;
    sub.disconnect().await;
    tokio::time::sleep(Duration::from_millis(2000)).await;

    options.set_clean_start(false);
    let mut sub = V5::connect_with(options).await;
    assert!(!sub.connack.session_present, "session should have expired");
    let mut publisher = V5::connect(&broker, "expiring-pub").await;
    publisher
        .publish("expiring/t", QoS5::AtLeastOnce, false, b"x")
        .await;
    sub.assert_silent(QUIET).await;
}

/// Does a second 3.1.1 CONNECT with the same client id close the first
/// connection and take over its session [MQTT-3.1.4-2]?
#[tokio::test]
async fn v4_second_connection_takes_over_the_session() {
    let broker = Broker::start("");
    let mut options = V4::options(&broker, "takeover-v4");
    options.set_clean_session(false);
    let mut first = V4::connect_with(options.clone()).await;
    first.subscribe("take/t", QoS::AtLeastOnce).await;

    let mut second = V4::connect_with(options).await;
    assert!(
        second.connack.session_present,
        "the session moves to the new connection"
    );
    assert!(
        first.wait_closed(WAIT).await.is_some(),
        "the first connection must be closed"
    );
    let mut publisher = V4::connect(&broker, "takeover-pub").await;
    publisher
        .publish("take/t", QoS::AtLeastOnce, false, b"to new")
        .await;
    assert_eq!(&second.recv().await.payload[..], b"to new");
}

/// Does a second 5.0 CONNECT with the same client id send the first
/// connection DISCONNECT 0x8E (Session taken over) and close it, while the
/// new connection gets the session [MQTT-3.1.4-3]?
#[tokio::test]
async fn v5_takeover_sends_session_taken_over() {
    let broker = Broker::start("");
    let mut connect = Connect::new(5, "takeover-v5", true, 60);
    connect.properties = vec![0x11, 0, 0, 0, 60];
    let (mut first, _) = RawClient::connect(&broker, &connect).await;
    first.send(&wire::subscribe(1, "take5/t", 1, true)).await;
    first.expect_kind(wire::SUBACK).await;

    let mut options = V5::options(&broker, "takeover-v5");
    set_session_expiry(&mut options, 60);
    options.set_clean_start(false);
    let mut second = V5::connect_with(options).await;
    assert!(second.connack.session_present);
    let before_close = first.expect_closed(WAIT).await;
    let reasons: Vec<u8> = before_close
        .iter()
        .map(|p| wire::disconnect_reason(p))
        .collect();
    assert_eq!(
        reasons,
        [0x8E],
        "the old connection must get DISCONNECT 0x8E before the close"
    );

    let mut publisher = V5::connect(&broker, "takeover5-pub").await;
    publisher
        .publish("take5/t", QoS5::AtLeastOnce, false, b"to new")
        .await;
    assert_eq!(&second.recv().await.payload[..], b"to new");
}

/// Subscribes a raw 3.1.1 persistent session to `filter` at `qos`.
async fn raw_persistent_subscriber(broker: &Broker, id: &str, filter: &str, qos: u8) -> RawClient {
    let (mut raw, _) = RawClient::v4(broker, id, false).await;
    raw.send(&wire::subscribe(1, filter, qos, false)).await;
    let suback = raw.expect_kind(wire::SUBACK).await;
    assert_eq!(wire::suback_code(&suback, false), qos);
    raw
}

/// Is an unacknowledged QoS 1 PUBLISH re-sent on reconnect with its original
/// packet id and DUP 1 [MQTT-4.4.0-1] [MQTT-3.3.1-1], and not again once acked?
#[tokio::test]
async fn unacked_qos1_is_redelivered_with_dup_after_reconnect() {
    let broker = Broker::start("");
    let mut raw = raw_persistent_subscriber(&broker, "redeliver-1", "rd/t", 1).await;
    let mut publisher = V4::connect(&broker, "redeliver-pub").await;
    publisher
        .publish("rd/t", QoS::AtLeastOnce, false, b"m1")
        .await;
    let first = wire::parse_publish(&raw.expect_kind(wire::PUBLISH).await, false);
    assert_eq!((first.qos, first.dup), (1, false));
    drop(raw);

    let (mut raw, present) = RawClient::v4(&broker, "redeliver-1", false).await;
    assert!(present);
    let again = wire::parse_publish(&raw.expect_kind(wire::PUBLISH).await, false);
    assert_eq!(
        again.pkid, first.pkid,
        "redelivery must reuse the packet id"
    );
    assert!(again.dup, "redelivery must set DUP 1");
    assert_eq!((again.qos, again.payload.as_slice()), (1, &b"m1"[..]));
    raw.send(&wire::puback(again.pkid.unwrap_or_default()))
        .await;
    assert_eq!(
        raw.read_packet(QUIET).await,
        None,
        "nothing more after the ack"
    );
}

/// Is an unacknowledged QoS 2 PUBLISH re-sent with DUP 1, and after PUBREC
/// is the PUBREL (not the PUBLISH) re-sent on reconnect [MQTT-4.4.0-1]
/// [MQTT-4.3.3-1]?
#[tokio::test]
async fn unfinished_qos2_resumes_where_it_stopped_after_reconnect() {
    let broker = Broker::start("");
    let mut raw = raw_persistent_subscriber(&broker, "redeliver-2", "rd2/t", 2).await;
    let mut publisher = V4::connect(&broker, "redeliver2-pub").await;
    publisher
        .publish("rd2/t", QoS::ExactlyOnce, false, b"m2")
        .await;
    let first = wire::parse_publish(&raw.expect_kind(wire::PUBLISH).await, false);
    let pkid = first.pkid.expect("QoS 2 has a packet id");
    drop(raw);

    let (mut raw, present) = RawClient::v4(&broker, "redeliver-2", false).await;
    assert!(present);
    let again = wire::parse_publish(&raw.expect_kind(wire::PUBLISH).await, false);
    assert_eq!((again.pkid, again.dup, again.qos), (Some(pkid), true, 2));
    raw.send(&wire::pubrec(pkid)).await;
    let pubrel = raw.expect_kind(wire::PUBREL).await;
    assert_eq!(pubrel[0], 0x62, "PUBREL fixed header flags must be 0010");
    assert_eq!(wire::ack_pkid(&pubrel), pkid);
    drop(raw);

    let (mut raw, present) = RawClient::v4(&broker, "redeliver-2", false).await;
    assert!(present);
    let resent = raw.expect_packet("re-sent PUBREL").await;
    assert_eq!(wire::kind(&resent), wire::PUBREL, "got {resent:02x?}");
    assert_eq!(wire::ack_pkid(&resent), pkid);
    raw.send(&wire::pubcomp(pkid)).await;
    assert_eq!(
        raw.read_packet(QUIET).await,
        None,
        "nothing more after PUBCOMP"
    );
}

/// Does a 5.0 client that connects with an empty client id get an Assigned
/// Client Identifier, different for each such client [MQTT-3.2.2-16]?
#[tokio::test]
async fn v5_empty_client_id_gets_an_assigned_identifier() {
    let broker = Broker::start("");
    let mut assigned = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let client = V5::connect(&broker, "").await;
        let id = client
            .connack
            .properties
            .as_ref()
            .and_then(|p| p.assigned_client_identifier.clone())
            .expect("CONNACK must carry an Assigned Client Identifier");
        assert!(!id.is_empty());
        assigned.push(id);
        clients.push(client);
    }
    assert_ne!(
        assigned[0], assigned[1],
        "assigned identifiers must be unique"
    );
}

/// Is a 3.1.1 CONNECT with an empty client id and clean session 1 accepted,
/// each such client getting its own session [MQTT-3.1.3-6]?
#[tokio::test]
async fn v4_empty_client_id_with_clean_session_is_accepted() {
    let broker = Broker::start("");
    let (mut first, present) = RawClient::v4(&broker, "", true).await;
    assert!(!present);
    let (mut second, _) = RawClient::v4(&broker, "", true).await;
    for raw in [&mut first, &mut second] {
        raw.send(&wire::pingreq()).await;
        let pong = raw.expect_packet("PINGRESP").await;
        assert_eq!(pong, [0xD0, 0x00], "both anonymous clients stay connected");
    }
}

/// Is a 3.1.1 CONNECT with an empty client id and clean session 0 answered
/// with CONNACK 0x02 (identifier rejected) and closed [MQTT-3.1.3-8]
/// [MQTT-3.2.2-4] [MQTT-3.2.2-5]?
#[tokio::test]
async fn v4_empty_client_id_without_clean_session_is_rejected() {
    let broker = Broker::start("");
    let mut raw = RawClient::open(&broker).await;
    raw.send(&Connect::new(4, "", false, 60).encode()).await;
    let before = raw.expect_closed(WAIT).await;
    assert_eq!(before, [vec![0x20, 0x02, 0x00, 0x02]]);
}

/// Is a client with keepalive 1 s that goes silent disconnected after 1.5 s
/// (with slack), and its will published [MQTT-3.1.2-24] [MQTT-3.1.2-8]?
#[tokio::test]
async fn silent_client_is_dropped_after_one_and_a_half_keepalives() {
    let broker = Broker::start("");
    let mut watcher = V4::connect(&broker, "ka-watcher").await;
    watcher.subscribe("ka/will", QoS::AtLeastOnce).await;
    let mut connect = Connect::new(4, "ka-silent", true, 1);
    connect.will = Some(Will {
        topic: "ka/will",
        payload: b"gone quiet",
        qos: 1,
        retain: false,
        properties: Vec::new(),
    });
    let started = Instant::now();
    let (mut raw, _) = RawClient::connect(&broker, &connect).await;
    raw.expect_closed(Duration::from_secs(4)).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1000),
        "closed after only {elapsed:?}: 1.5 × keepalive is 1.5 s"
    );
    assert!(
        elapsed <= Duration::from_millis(2750),
        "closed after {elapsed:?}: should be ~1.5 s"
    );
    let will = watcher.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("ka/will", &b"gone quiet"[..])
    );
}

/// Does a client that sends PINGREQ within its keepalive stay connected and
/// get a PINGRESP each time [MQTT-3.12.4-1]?
#[tokio::test]
async fn pinging_client_stays_connected() {
    let broker = Broker::start("");
    let (mut raw, _) = RawClient::connect(&broker, &Connect::new(4, "ka-pinger", true, 1)).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        raw.send(&wire::pingreq()).await;
        let pong = raw.expect_packet("PINGRESP").await;
        assert_eq!(wire::kind(&pong), wire::PINGRESP);
    }
}

/// When a persistent QoS 1 subscriber is taken over in the middle of a
/// stream, does the new connection get every message the old one did not
/// acknowledge (at least once, none lost)? The old connection acks only the
/// 20 messages the test read.
#[tokio::test]
async fn takeover_mid_stream_loses_no_qos1_message() {
    const MESSAGES: u16 = 300;
    let broker = Broker::start("");
    let mut options = V4::options(&broker, "stream-sub");
    options.set_clean_session(false);
    options.set_manual_acks(true);
    let mut first = V4::connect_with(options.clone()).await;
    first.subscribe("stream/t", QoS::AtLeastOnce).await;

    let mut publisher = V4::connect(&broker, "stream-pub").await;
    for n in 0..MESSAGES {
        publisher
            .publish_nowait("stream/t", QoS::AtLeastOnce, false, &n.to_be_bytes())
            .await;
    }
    let mut seen = std::collections::BTreeSet::new();
    for publish in first.recv_n(20, WAIT).await {
        first.ack(&publish).await;
        seen.insert(u16::from_be_bytes([publish.payload[0], publish.payload[1]]));
    }
    options.set_manual_acks(false);
    let mut second = V4::connect_with(options).await;
    assert!(second.connack.session_present);
    publisher.flush(WAIT).await;
    while let Some(publish) = second
        .try_recv(if seen.len() < usize::from(MESSAGES) {
            WAIT
        } else {
            QUIET
        })
        .await
    {
        seen.insert(u16::from_be_bytes([publish.payload[0], publish.payload[1]]));
    }
    let missing: Vec<u16> = (0..MESSAGES).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "lost across the takeover: {missing:?}");
}
