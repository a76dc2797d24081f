//! PUBLISH ([MQTT-3.3]): the message packet, and the hot path of the broker.
//! Topic and payload are zero-copy slices of the received packet; fan-out
//! encodes one [`PublishOut`] per subscriber, borrowing the shared message.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::{ProtocolVersion, QoS};
use super::string::MqttStr;
use super::topic::reject_wildcards;
use super::wire::{prefixed_len, put_str, put_var_int, var_int_len, Reader, MAX_VAR_INT};

/// An application message.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    /// Re-delivery of an earlier attempt (QoS > 0 only).
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in 5.0 when `properties.topic_alias` is set.
    pub topic: MqttStr,
    /// 0 for QoS 0 (absent on the wire), non-zero otherwise.
    pub packet_id: u16,
    pub payload: Bytes,
    /// 5.0 PUBLISH properties (empty for 3.x).
    pub properties: Properties,
}

impl Publish {
    pub(crate) fn decode(
        flags: u8,
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<Publish, ProtocolError> {
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(ProtocolError::InvalidQoS)?;
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(ProtocolError::DupWithQoS0);
        }
        let mut r = Reader::new(body);
        let topic = r.string("topic name")?;
        reject_wildcards(&topic)?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            r.packet_id("PUBLISH")?
        };
        let properties = if version.is_v5() {
            Properties::decode(&mut r, PropertyContext::Publish)?
        } else {
            Properties::default()
        };
        if topic.is_empty() {
            if !version.is_v5() {
                return Err(ProtocolError::EmptyTopicName);
            }
            if properties.topic_alias.is_none() {
                return Err(ProtocolError::EmptyTopicWithoutAlias);
            }
        }
        Ok(Publish {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            payload: r.rest(),
            properties,
        })
    }

    /// This packet as a [`PublishOut`]: what encoding works from.
    pub fn out(&self) -> PublishOut<'_> {
        PublishOut {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.topic,
            packet_id: self.packet_id,
            payload: &self.payload,
            properties: &self.properties,
            message_expiry: self.properties.message_expiry_interval,
            subscription_ids: &self.properties.subscription_identifiers,
        }
    }

    /// The first byte: type 3 and the DUP / QoS / RETAIN flags.
    pub(crate) fn header_byte(&self) -> u8 {
        self.out().header_byte()
    }

    /// The remaining length in `version`.
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        self.out().lengths(version).0
    }

    /// Writes the body in `version`.
    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let view = self.out();
        let (_, props) = view.lengths(version);
        view.write_body(version, props, out)
    }
}

/// A PUBLISH to encode, borrowing every part: fan-out encodes one per subscriber
/// straight from the shared message, without building (and cloning the message's
/// topic, payload and properties into) a [`Publish`]. The two properties that
/// differ per subscriber are fields of their own.
#[derive(Clone, Copy, Debug)]
pub struct PublishOut<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    /// Ignored for QoS 0; non-zero otherwise.
    pub packet_id: u16,
    pub payload: &'a [u8],
    /// 5.0 properties, written as they are except for Message Expiry Interval and
    /// Subscription Identifiers, which come from the two fields below.
    pub properties: &'a Properties,
    /// 5.0 Message Expiry Interval as this subscriber must see it [MQTT-3.3.2-6].
    pub message_expiry: Option<u32>,
    /// 5.0 Subscription Identifiers of this subscriber's matching subscriptions.
    pub subscription_ids: &'a [u32],
}

impl PublishOut<'_> {
    fn header_byte(&self) -> u8 {
        0x30 | u8::from(self.dup) << 3 | (self.qos as u8) << 1 | u8::from(self.retain)
    }

    /// (remaining length, property list length) in `version`.
    fn lengths(&self, version: ProtocolVersion) -> (usize, usize) {
        let mut len = prefixed_len(self.topic.len()) + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            len += 2;
        }
        let mut props = 0;
        if version.is_v5() {
            props = self
                .properties
                .wire_len_with(self.message_expiry, self.subscription_ids);
            len += var_int_len(props) + props;
        }
        (len, props)
    }

    /// Size on the wire (whole packet) in `version`.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        let (len, _) = self.lengths(version);
        1 + var_int_len(len) + len
    }

    /// Appends the packet to `out` if its whole size is at most `max_packet`
    /// (`Ok(false)`, nothing written, when it is larger: a client's Maximum Packet
    /// Size). On error `out` is left as it was.
    pub fn encode_within(
        &self,
        version: ProtocolVersion,
        max_packet: usize,
        out: &mut BytesMut,
    ) -> Result<bool, EncodeError> {
        let (len, props) = self.lengths(version);
        if len > MAX_VAR_INT as usize {
            return Err(EncodeError::PacketTooLarge(len));
        }
        let total = 1 + var_int_len(len) + len;
        if total > max_packet {
            return Ok(false);
        }
        let start = out.len();
        out.reserve(total);
        out.put_u8(self.header_byte());
        let res = put_var_int(out, len, "remaining length")
            .and_then(|()| self.write_body(version, props, out));
        if res.is_err() {
            out.truncate(start);
        }
        res.map(|()| true)
    }

    /// Writes the body; `props` is the property list length (0 for 3.x).
    fn write_body(
        &self,
        version: ProtocolVersion,
        props: usize,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        put_str(out, self.topic, "topic name")?;
        if self.qos != QoS::AtMostOnce {
            if self.packet_id == 0 {
                return Err(EncodeError::ZeroPacketId { packet: "PUBLISH" });
            }
            out.put_u16(self.packet_id);
        }
        if version.is_v5() {
            self.properties
                .write_with(out, props, self.message_expiry, self.subscription_ids)?;
        }
        out.put_slice(self.payload);
        Ok(())
    }
}

/// Size of `p` on the wire (whole packet) in `version`.
pub fn publish_encoded_len(p: &Publish, version: ProtocolVersion) -> usize {
    p.out().encoded_len(version)
}

/// Appends `p` to `out` (same bytes as `encode(&Packet::Publish(..))`). On error
/// `out` is left as it was.
pub fn encode_publish(
    p: &Publish,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    p.out().encode_within(version, usize::MAX, out).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm, to_hex};
    use crate::protocol::{Packet, ReasonCode};

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    fn publish(s: &str, v: Option<ProtocolVersion>) -> Result<Publish, ProtocolError> {
        match decode_hex(s, v)? {
            Packet::Publish(p) => Ok(p),
            other => panic!("not a PUBLISH: {other:?}"),
        }
    }

    #[test]
    fn does_a_qos1_publish_decode_topic_id_and_payload() {
        let s = "32 0a 00 03 61 2f 62 00 07 68 69 21";
        let p = publish(s, V3).expect("valid");
        assert_eq!(
            (p.topic.as_str(), p.packet_id, &p.payload[..]),
            ("a/b", 7, &b"hi!"[..])
        );
        assert_eq!((p.qos, p.dup, p.retain), (QoS::AtLeastOnce, false, false));
        assert_eq!(
            encode_hex(&Packet::Publish(p), ProtocolVersion::V3_1_1),
            norm(s)
        );
    }

    #[test]
    fn does_a_qos0_publish_have_no_packet_id() {
        let p = publish("31 06 00 01 74 70 6c 64", V3).expect("valid");
        assert_eq!(
            (p.packet_id, p.retain, &p.payload[..]),
            (0, true, &b"pld"[..])
        );
    }

    #[test]
    fn is_qos_3_malformed_mqtt_3_3_1_4() {
        let err = publish("36 05 00 01 74 00 01", V3).unwrap_err();
        assert_eq!(err, ProtocolError::InvalidQoS);
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn is_dup_on_qos0_malformed_mqtt_3_3_1_2() {
        assert_eq!(
            publish("38 06 00 01 74 70 6c 64", V3),
            Err(ProtocolError::DupWithQoS0)
        );
    }

    #[test]
    fn is_packet_id_0_refused_on_qos1_mqtt_2_2_1_3() {
        let err = publish("32 05 00 01 74 00 00", V5).unwrap_err();
        assert_eq!(err, ProtocolError::ZeroPacketId { packet: "PUBLISH" });
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn is_a_wildcard_topic_name_invalid_mqtt_3_3_2_2() {
        let err = publish("30 05 00 03 61 2f 2b", V3).unwrap_err();
        assert_eq!(err, ProtocolError::TopicNameWildcard("a/+".into()));
        assert_eq!(err.reason_code(), ReasonCode::TopicNameInvalid);
    }

    #[test]
    fn is_an_empty_topic_invalid_in_3_1_1_mqtt_4_7_3_1() {
        assert_eq!(
            publish("30 02 00 00", V3),
            Err(ProtocolError::EmptyTopicName)
        );
    }

    #[test]
    fn is_an_empty_topic_allowed_in_5_0_only_with_a_topic_alias() {
        let p = publish("30 06 00 00 03 23 00 01", V5).expect("alias present");
        assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("", Some(1)));
        assert_eq!(
            publish("30 03 00 00 00", V5),
            Err(ProtocolError::EmptyTopicWithoutAlias)
        );
    }

    #[test]
    fn is_topic_alias_0_a_protocol_error() {
        let err = publish("30 07 00 01 74 03 23 00 00", V5).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::InvalidPropertyValue {
                property: "Topic Alias",
                value: 0
            }
        );
    }

    #[test]
    fn may_a_publish_carry_several_subscription_identifiers() {
        let s = "30 0a 00 01 74 04 0b 01 0b 02 68 69";
        let p = publish(s, V5).expect("valid");
        assert_eq!(&p.properties.subscription_identifiers[..], &[1, 2]);
        assert_eq!(&p.payload[..], b"hi");
        assert_eq!(
            encode_hex(&Packet::Publish(p), ProtocolVersion::V5),
            norm(s)
        );
    }

    #[test]
    fn are_properties_dropped_when_encoding_for_3_1_1() {
        let p = publish("30 0a 00 01 74 04 0b 01 0b 02 68 69", V5).expect("valid");
        let mut out = BytesMut::new();
        encode_publish(&p, ProtocolVersion::V3_1_1, &mut out).expect("encodable");
        assert_eq!(to_hex(&out), norm("30 05 00 01 74 68 69"));
        assert_eq!(publish_encoded_len(&p, ProtocolVersion::V3_1_1), 7);
    }

    #[test]
    fn does_a_failed_encode_leave_the_buffer_as_it_was() {
        let p = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: MqttStr::from("t"),
            packet_id: 0,
            payload: Bytes::new(),
            properties: Properties::default(),
        };
        let mut out = BytesMut::from(&b"ab"[..]);
        let err = encode_publish(&p, ProtocolVersion::V5, &mut out);
        assert_eq!(err, Err(EncodeError::ZeroPacketId { packet: "PUBLISH" }));
        assert_eq!(&out[..], b"ab");
    }

    #[test]
    fn does_a_long_payload_get_a_multi_byte_remaining_length() {
        let p = Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: MqttStr::from("t"),
            packet_id: 9,
            payload: Bytes::from(vec![7u8; 200]),
            properties: Properties::default(),
        };
        let mut out = BytesMut::new();
        encode_publish(&p, ProtocolVersion::V5, &mut out).expect("encodable");
        // 3 topic + 2 id + 1 property length + 200 payload = 206 = 0xce 0x01.
        assert_eq!(to_hex(&out[..3]), "3d ce 01");
        assert_eq!(out.len(), publish_encoded_len(&p, ProtocolVersion::V5));
    }
}
