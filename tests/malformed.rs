//! Malformed input and protocol violations, as hex vectors named by the spec
//! rule they break. For each: the offending connection gets the documented
//! answer (a reason code, or a plain close) within a timeout, and a client
//! connected beforehand still publishes and receives, on a live broker.

mod common;

use common::raw::RawClient;
use common::witness::Witness;
use common::{wire, Broker, WAIT};

/// 3.1.1 CONNECT, client id "a", clean session, keepalive 60.
const CONNECT_V4: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'a',
];
/// 5.0 CONNECT, client id "a", clean start, keepalive 60, no properties.
const CONNECT_V5: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, b'a',
];
/// [MQTT-3.1.0-1]: a PUBLISH ("t", "hi") as the first packet.
const PUBLISH_BEFORE_CONNECT: &[u8] = &[0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'];
/// [MQTT-3.1.2-1]: protocol name "MQTX".
const BAD_PROTOCOL_NAME: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'a',
];
/// [MQTT-3.1.2-2]: protocol level 7.
const UNSUPPORTED_LEVEL: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x07, 0x02, 0x00, 0x3C, 0x00, 0x01, b'a',
];
/// [MQTT-3.1.2-3]: CONNECT flags 0x03 (reserved bit 0 set).
const RESERVED_CONNECT_FLAG: &[u8] = &[
    0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x01, b'a',
];
/// [MQTT-1.5.5] / §2.2.3: a remaining length of five bytes.
const FIVE_BYTE_REMAINING_LENGTH: &[u8] = &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
/// [MQTT-3.3.1-4]: PUBLISH with both QoS bits set.
const PUBLISH_QOS_3: &[u8] = &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
/// [MQTT-3.3.2-2]: 3.1.1 PUBLISH to "a/#".
const PUBLISH_WILDCARD_V4: &[u8] = &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'];
/// [MQTT-3.3.2-2]: 5.0 PUBLISH to "a/+", no properties, empty payload.
const PUBLISH_WILDCARD_V5: &[u8] = &[0x30, 0x06, 0x00, 0x03, b'a', b'/', b'+', 0x00];
/// [MQTT-3.8.1-1]: SUBSCRIBE with fixed-header flags 0000 instead of 0010.
const SUBSCRIBE_BAD_FLAGS: &[u8] = &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00];
/// [MQTT-2.3.1-1]: SUBSCRIBE with packet id 0.
const SUBSCRIBE_PACKET_ID_0: &[u8] = &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b't', 0x00];
/// [MQTT-2.3.1-1]: QoS 1 PUBLISH with packet id 0.
const PUBLISH_PACKET_ID_0: &[u8] = &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00];
/// [MQTT-1.5.3-1]: topic bytes C3 28 (not UTF-8).
const TOPIC_INVALID_UTF8: &[u8] = &[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28];
/// [MQTT-1.5.3-1]: topic holding an encoded surrogate U+D800 (ED A0 80).
const TOPIC_SURROGATE: &[u8] = &[0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80];
/// [MQTT-1.5.3-2] [MQTT-4.7.3-2]: topic "a\0b".
const TOPIC_NULL_CHAR: &[u8] = &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'];
/// §2.2.2.2 (Protocol Error to repeat it): 5.0 PUBLISH with Payload Format
/// Indicator (0x01) twice.
const DUPLICATE_PROPERTY: &[u8] = &[
    0x30, 0x0A, 0x00, 0x01, b't', 0x04, 0x01, 0x00, 0x01, 0x00, b'h', b'i',
];
/// [MQTT-3.10.1-1]: UNSUBSCRIBE with fixed-header flags 0000.
const UNSUBSCRIBE_BAD_FLAGS: &[u8] = &[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b't'];
/// [MQTT-3.8.3-3]: SUBSCRIBE without any topic filter.
const SUBSCRIBE_NO_FILTERS: &[u8] = &[0x82, 0x02, 0x00, 0x01];
/// [MQTT-3-8.3-4]: SUBSCRIBE options with reserved bits set (0xC1).
const SUBSCRIBE_RESERVED_OPTION_BITS: &[u8] = &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0xC1];
/// [MQTT-3-8.3-4]: SUBSCRIBE requesting QoS 3.
const SUBSCRIBE_QOS_3: &[u8] = &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x03];
/// [MQTT-3.1.2-14]: CONNECT with a will at QoS 3 (will "w" / "x").
const WILL_QOS_3: &[u8] = &[
    0x10, 0x13, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x1E, 0x00, 0x3C, 0x00, 0x01, b'a', 0x00,
    0x01, b'w', 0x00, 0x01, b'x',
];
/// [MQTT-3.1.2-22]: 3.1.1 CONNECT with a password but no user name.
const PASSWORD_WITHOUT_USERNAME: &[u8] = &[
    0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x42, 0x00, 0x3C, 0x00, 0x01, b'a', 0x00,
    0x01, b'p',
];
/// [MQTT-4.7.3-1]: PUBLISH with an empty topic name.
const PUBLISH_EMPTY_TOPIC: &[u8] = &[0x30, 0x02, 0x00, 0x00];
/// A topic length (5) that runs past the end of the packet.
const TOPIC_LENGTH_PAST_END: &[u8] = &[0x30, 0x03, 0x00, 0x05, b'a'];
/// A PUBLISH that announces 16 bytes and sends 3.
const TRUNCATED_PUBLISH: &[u8] = &[0x30, 0x10, 0x00, 0x01, b't'];

/// Opens a raw connection, sends `connect` (if any, expecting CONNACK 0) and
/// then `bad`; the packets the broker sent before it closed the connection.
async fn send_bad(broker: &Broker, connect: Option<&[u8]>, bad: &[u8]) -> Vec<Vec<u8>> {
    let mut raw = RawClient::open(broker).await;
    if let Some(connect) = connect {
        raw.send(connect).await;
        let connack = raw.expect_packet("CONNACK").await;
        assert_eq!(
            wire::connack(&connack).1,
            0,
            "CONNECT refused: {connack:02x?}"
        );
    }
    // The broker may close while we still write: that is an answer too.
    let _ = raw.try_send(bad).await;
    raw.expect_closed(WAIT).await
}

/// Asserts the broker closed without sending anything first.
fn assert_plain_close(before: &[Vec<u8>]) {
    assert!(
        before.is_empty(),
        "expected a plain close, got {before:02x?}"
    );
}

/// Asserts the broker sent nothing, or exactly one DISCONNECT with `reason`.
fn assert_close_or_disconnect(before: &[Vec<u8>], reason: u8) {
    match before {
        [] => {}
        [packet] => assert_eq!(
            wire::disconnect_reason(packet),
            reason,
            "DISCONNECT reason, packet {packet:02x?}"
        ),
        more => panic!("expected at most DISCONNECT 0x{reason:02X}, got {more:02x?}"),
    }
}

/// Is a connection whose first packet is not CONNECT closed [MQTT-3.1.0-1]?
#[tokio::test]
async fn first_packet_not_connect_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "first").await;
    assert_plain_close(&send_bad(&broker, None, PUBLISH_BEFORE_CONNECT).await);
    witness.assert_served(&broker).await;
}

/// Is a second CONNECT on a connection a protocol violation that closes it
/// [MQTT-3.1.0-2]?
#[tokio::test]
async fn second_connect_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "second").await;
    assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), CONNECT_V4).await);
    witness.assert_served(&broker).await;
}

/// Is a CONNECT with a wrong protocol name never accepted: the connection
/// is closed, at most after a refusing CONNACK [MQTT-3.1.2-1]?
#[tokio::test]
async fn bad_protocol_name_is_refused() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "name").await;
    let before = send_bad(&broker, None, BAD_PROTOCOL_NAME).await;
    for packet in &before {
        let (_, code) = wire::connack(packet);
        assert_ne!(code, 0, "a bad protocol name must not be accepted");
    }
    assert!(
        before.len() <= 1,
        "more than one packet before close: {before:02x?}"
    );
    witness.assert_served(&broker).await;
}

/// Is an unsupported protocol level answered with CONNACK 0x01 (3.1.1) or
/// 0x84 (5.0 form) and then closed [MQTT-3.1.2-2]?
#[tokio::test]
async fn unsupported_protocol_level_gets_connack_0x01_then_close() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "level").await;
    let before = send_bad(&broker, None, UNSUPPORTED_LEVEL).await;
    let v4_refusal = vec![0x20, 0x02, 0x00, 0x01];
    let v5_refusal = vec![0x20, 0x03, 0x00, 0x84, 0x00];
    assert!(
        before == [v4_refusal] || before == [v5_refusal],
        "expected CONNACK 20 02 00 01 (or 5.0 form 0x84) then close, got {before:02x?}"
    );
    witness.assert_served(&broker).await;
}

/// Is a CONNECT with the reserved flag set closed without a CONNACK
/// [MQTT-3.1.2-3] [MQTT-3.1.4-1]?
#[tokio::test]
async fn reserved_connect_flag_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "reserved").await;
    assert_plain_close(&send_bad(&broker, None, RESERVED_CONNECT_FLAG).await);
    witness.assert_served(&broker).await;
}

/// Is a remaining length longer than four bytes a malformed packet that
/// closes the connection?
#[tokio::test]
async fn five_byte_remaining_length_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "varint").await;
    let bad = send_bad(&broker, Some(CONNECT_V4), FIVE_BYTE_REMAINING_LENGTH).await;
    assert_plain_close(&bad);
    witness.assert_served(&broker).await;
}

/// Is a PUBLISH with QoS 3 closed [MQTT-3.3.1-4]?
#[tokio::test]
async fn publish_qos_3_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "qos3").await;
    assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), PUBLISH_QOS_3).await);
    witness.assert_served(&broker).await;
}

/// Is a 3.1.1 PUBLISH to a topic with a wildcard closed [MQTT-3.3.2-2]?
#[tokio::test]
async fn v4_publish_to_wildcard_topic_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "wild4").await;
    assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), PUBLISH_WILDCARD_V4).await);
    witness.assert_served(&broker).await;
}

/// Is a 5.0 PUBLISH to a topic with a wildcard closed, with DISCONNECT 0x90
/// (Topic Name invalid) if anything [MQTT-3.3.2-2]?
#[tokio::test]
async fn v5_publish_to_wildcard_topic_gets_0x90_or_close() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "wild5").await;
    let before = send_bad(&broker, Some(CONNECT_V5), PUBLISH_WILDCARD_V5).await;
    assert_close_or_disconnect(&before, 0x90);
    witness.assert_served(&broker).await;
}

/// Is a SUBSCRIBE whose fixed-header flags are not 0010 closed [MQTT-3.8.1-1]?
#[tokio::test]
async fn subscribe_with_wrong_flags_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "subflags").await;
    assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), SUBSCRIBE_BAD_FLAGS).await);
    witness.assert_served(&broker).await;
}

/// Are SUBSCRIBE and QoS 1 PUBLISH with packet id 0 closed [MQTT-2.3.1-1]?
#[tokio::test]
async fn packet_id_zero_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "pkid0").await;
    for bad in [SUBSCRIBE_PACKET_ID_0, PUBLISH_PACKET_ID_0] {
        assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), bad).await);
    }
    witness.assert_served(&broker).await;
}

/// Are topics that are not well-formed UTF-8 (invalid bytes, a surrogate)
/// closed [MQTT-1.5.3-1]?
#[tokio::test]
async fn invalid_utf8_topic_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "utf8").await;
    for bad in [TOPIC_INVALID_UTF8, TOPIC_SURROGATE] {
        assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), bad).await);
    }
    witness.assert_served(&broker).await;
}

/// Is a topic containing U+0000 closed [MQTT-1.5.3-2] [MQTT-4.7.3-2]?
#[tokio::test]
async fn null_character_in_topic_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "nul").await;
    assert_plain_close(&send_bad(&broker, Some(CONNECT_V4), TOPIC_NULL_CHAR).await);
    witness.assert_served(&broker).await;
}

/// Is a 5.0 packet repeating a single-use property answered with DISCONNECT
/// 0x82 (Protocol Error) and closed?
#[tokio::test]
async fn duplicate_property_gets_disconnect_0x82() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "dupprop").await;
    let before = send_bad(&broker, Some(CONNECT_V5), DUPLICATE_PROPERTY).await;
    let reasons: Vec<u8> = before.iter().map(|p| wire::disconnect_reason(p)).collect();
    assert_eq!(reasons, [0x82], "packets before close: {before:02x?}");
    witness.assert_served(&broker).await;
}

/// Is a CONNECT that breaks a flag rule (will QoS 3, password without user
/// name) closed without a CONNACK [MQTT-3.1.2-14] [MQTT-3.1.2-22] [MQTT-3.1.4-1]?
#[tokio::test]
async fn connect_with_invalid_flag_combination_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "flags").await;
    for bad in [WILL_QOS_3, PASSWORD_WITHOUT_USERNAME] {
        assert_plain_close(&send_bad(&broker, None, bad).await);
    }
    witness.assert_served(&broker).await;
}

/// Are malformed SUBSCRIBE/UNSUBSCRIBE packets closed: UNSUBSCRIBE flags
/// [MQTT-3.10.1-1], no filters [MQTT-3.8.3-3], reserved option bits or
/// QoS 3 [MQTT-3-8.3-4]?
#[tokio::test]
async fn malformed_subscribe_and_unsubscribe_are_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "subscribe").await;
    for bad in [
        UNSUBSCRIBE_BAD_FLAGS,
        SUBSCRIBE_NO_FILTERS,
        SUBSCRIBE_RESERVED_OPTION_BITS,
        SUBSCRIBE_QOS_3,
    ] {
        let before = send_bad(&broker, Some(CONNECT_V4), bad).await;
        assert!(before.is_empty(), "{bad:02x?} answered with {before:02x?}");
    }
    witness.assert_served(&broker).await;
}

/// Are a PUBLISH with an empty topic [MQTT-4.7.3-1] and one whose topic
/// length runs past the packet closed?
#[tokio::test]
async fn empty_or_overlong_topic_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "topiclen").await;
    for bad in [PUBLISH_EMPTY_TOPIC, TOPIC_LENGTH_PAST_END] {
        let before = send_bad(&broker, Some(CONNECT_V4), bad).await;
        assert!(before.is_empty(), "{bad:02x?} answered with {before:02x?}");
    }
    witness.assert_served(&broker).await;
}

/// When a client sends half a packet and closes its side, does the broker
/// close the connection and carry on?
#[tokio::test]
async fn truncated_packet_then_close_is_cleaned_up() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "trunc").await;
    let (mut raw, _) = RawClient::v4(&broker, "truncated", true).await;
    raw.send(TRUNCATED_PUBLISH).await;
    raw.shutdown_write().await;
    assert_plain_close(&raw.expect_closed(WAIT).await);
    witness.assert_served(&broker).await;
}

/// 1 MiB of deterministic pseudo-random bytes (xorshift64).
fn garbage() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// Is 1 MiB of random bytes instead of a CONNECT closed without harm?
#[tokio::test]
async fn random_garbage_before_connect_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "garbage0").await;
    assert_plain_close(&send_bad(&broker, None, &garbage()).await);
    witness.assert_served(&broker).await;
}

/// Is 1 MiB of random bytes after a valid CONNECT closed without harm?
#[tokio::test]
async fn random_garbage_after_connect_is_closed() {
    let broker = Broker::start("");
    let mut witness = Witness::new(&broker, "garbage1").await;
    send_bad(&broker, Some(CONNECT_V4), &garbage()).await;
    witness.assert_served(&broker).await;
}
