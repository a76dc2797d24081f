//! Packet-level flows on raw sockets: the QoS 2 handshake's exactly-once
//! guarantee, SUBACK/UNSUBACK answers, re-subscription, and framing (many
//! packets in one write, one packet over many writes, large payloads).

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::v4::V4;
use common::wire;
use common::{Broker, QUIET, WAIT};
use rumqttc::QoS;

/// Does a QoS 2 PUBLISH re-sent (DUP 1, same packet id) before PUBREL reach
/// subscribers only once, with PUBREC, PUBCOMP following the handshake
/// [MQTT-4.3.3-2]?
#[tokio::test]
async fn qos2_resend_before_pubrel_is_delivered_once() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "q2-sub").await;
    sub.subscribe("q2/t", QoS::ExactlyOnce).await;
    let (mut raw, _) = RawClient::v4(&broker, "q2-pub", true).await;
    let publish = wire::publish(b"q2/t", 2, false, 7, b"once", None);
    raw.send(&publish).await;
    assert_eq!(
        raw.expect_kind(wire::PUBREC).await,
        [0x50, 0x02, 0x00, 0x07]
    );
    let mut resend = publish.clone();
    resend[0] |= 0x08;
    raw.send(&resend).await;
    assert_eq!(
        raw.expect_kind(wire::PUBREC).await,
        [0x50, 0x02, 0x00, 0x07]
    );
    raw.send(&wire::pubrel(7)).await;
    assert_eq!(
        raw.expect_kind(wire::PUBCOMP).await,
        [0x70, 0x02, 0x00, 0x07]
    );

    assert_eq!(&sub.recv().await.payload[..], b"once");
    sub.assert_silent(QUIET).await;
}

/// Is a QoS 1 PUBLISH answered with a PUBACK carrying its packet id
/// [MQTT-2.3.1-6]?
#[tokio::test]
async fn qos1_publish_gets_puback_with_its_packet_id() {
    let broker = Broker::start("");
    let (mut raw, _) = RawClient::v4(&broker, "q1-pub", true).await;
    raw.send(&wire::publish(b"q1/t", 1, false, 0x1234, b"x", None))
        .await;
    assert_eq!(
        raw.expect_kind(wire::PUBACK).await,
        [0x40, 0x02, 0x12, 0x34]
    );
}

/// Does a SUBSCRIBE with several filters get one SUBACK with a code per
/// filter, in order, with the SUBSCRIBE's packet id [MQTT-3.8.4-4]
/// [MQTT-3.8.4-5] [MQTT-3.9.3-1]?
#[tokio::test]
async fn multi_filter_subscribe_gets_codes_in_order() {
    let broker = Broker::start("");
    let (mut raw, _) = RawClient::v4(&broker, "multi-sub", true).await;
    let mut body = vec![0x00, 0x2A];
    for (filter, qos) in [("m/2", 2u8), ("m/0", 0), ("m/1", 1)] {
        body.extend(wire::field(filter.as_bytes()));
        body.push(qos);
    }
    raw.send(&wire::frame(0x82, &body)).await;
    let suback = raw.expect_kind(wire::SUBACK).await;
    assert_eq!(suback, [0x90, 0x05, 0x00, 0x2A, 0x02, 0x00, 0x01]);
}

/// Does a 5.0 SUBSCRIBE with an invalid filter among valid ones get 0x8F
/// (Topic Filter invalid) in that filter's slot only, or a close?
#[tokio::test]
async fn v5_invalid_filter_gets_0x8f_in_its_slot() {
    let broker = Broker::start("");
    let mut raw = RawClient::v5(&broker, "badfilter-sub").await;
    let mut body = vec![0x00, 0x05, 0x00];
    for filter in ["ok/a", "bad/#/b", "ok/+"] {
        body.extend(wire::field(filter.as_bytes()));
        body.push(1);
    }
    raw.send(&wire::frame(0x82, &body)).await;
    match raw.read_packet(WAIT).await {
        Some(suback) => {
            assert_eq!(wire::kind(&suback), wire::SUBACK, "got {suback:02x?}");
            let codes = &wire::body(&suback)[3..];
            assert_eq!(codes, [0x01, 0x8F, 0x01], "SUBACK {suback:02x?}");
        }
        None => assert!(raw.is_closed(), "neither SUBACK nor close within {WAIT:?}"),
    }
}

/// Is an UNSUBSCRIBE answered with UNSUBACK and its packet id even when no
/// filter matched [MQTT-3.10.4-4] [MQTT-3.10.4-5]?
#[tokio::test]
async fn unsubscribe_of_unknown_filter_still_gets_unsuback() {
    let broker = Broker::start("");
    let (mut raw, _) = RawClient::v4(&broker, "unsub-unknown", true).await;
    let mut body = vec![0x00, 0x09];
    body.extend(wire::field(b"never/subscribed"));
    raw.send(&wire::frame(0xA2, &body)).await;
    let unsuback = raw.expect_packet("UNSUBACK").await;
    assert_eq!(unsuback, [0xB0, 0x02, 0x00, 0x09]);
}

/// Does subscribing again to the same filter replace the subscription (new
/// QoS, one copy per message) [MQTT-3.8.4-3]?
#[tokio::test]
async fn resubscribing_replaces_the_subscription() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "resub-sub").await;
    let mut publisher = V4::connect(&broker, "resub-pub").await;
    sub.subscribe("resub/t", QoS::AtMostOnce).await;
    sub.subscribe("resub/t", QoS::AtLeastOnce).await;
    publisher
        .publish("resub/t", QoS::AtLeastOnce, false, b"x")
        .await;
    assert_eq!(sub.recv().await.qos, QoS::AtLeastOnce);
    sub.assert_silent(QUIET).await;
}

/// Are 100 QoS 1 PUBLISHes sent in one write all acknowledged in order and
/// delivered in order?
#[tokio::test]
async fn many_packets_in_one_write_are_all_processed_in_order() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "pipe-sub").await;
    sub.subscribe("pipe/t", QoS::AtLeastOnce).await;
    let (mut raw, _) = RawClient::v4(&broker, "pipe-pub", true).await;
    let mut batch = Vec::new();
    for n in 1..=100u16 {
        batch.extend(wire::publish(
            b"pipe/t",
            1,
            false,
            n,
            &n.to_be_bytes(),
            None,
        ));
    }
    raw.send(&batch).await;
    for n in 1..=100u16 {
        let ack = raw.expect_kind(wire::PUBACK).await;
        assert_eq!(wire::ack_pkid(&ack), n, "PUBACKs in PUBLISH order");
    }
    let got: Vec<u16> = sub
        .recv_n(100, WAIT)
        .await
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[0], p.payload[1]]))
        .collect();
    assert_eq!(got, (1..=100).collect::<Vec<u16>>());
}

/// Is a CONNECT and a PUBLISH delivered one byte per write decoded correctly?
#[tokio::test]
async fn packets_split_into_single_bytes_are_reassembled() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "split-sub").await;
    sub.subscribe("split/t", QoS::AtLeastOnce).await;
    let mut raw = RawClient::open(&broker).await;
    let mut bytes = wire::Connect::new(4, "split-pub", true, 60).encode();
    bytes.extend(wire::publish(b"split/t", 1, false, 3, b"slowly", None));
    for byte in bytes {
        raw.send(&[byte]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let connack = raw.expect_packet("CONNACK").await;
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    assert_eq!(
        raw.expect_kind(wire::PUBACK).await,
        [0x40, 0x02, 0x00, 0x03]
    );
    assert_eq!(&sub.recv().await.payload[..], b"slowly");
}

/// Is a 1,000,000-byte payload (under the 1 MiB limit) delivered intact?
#[tokio::test]
async fn large_payload_is_delivered_intact() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "large-sub").await;
    sub.subscribe("large/t", QoS::AtLeastOnce).await;
    let mut publisher = V4::connect(&broker, "large-pub").await;
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    publisher
        .publish("large/t", QoS::AtLeastOnce, false, &payload)
        .await;
    let got = sub.recv().await;
    assert_eq!(got.payload.len(), payload.len());
    assert!(got.payload[..] == payload[..], "payload corrupted");
}
