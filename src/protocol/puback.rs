//! PUBACK, PUBREC, PUBREL and PUBCOMP ([MQTT-3.4..3.7]): the QoS 1/2
//! acknowledgements, which share one body. 5.0 short forms: the reason code is
//! omitted when it is Success and there are no properties; the property length
//! is omitted when there are no properties.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::wire::Reader;

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP.
#[derive(Clone, Debug, PartialEq)]
pub struct PubResp {
    pub packet_id: u16,
    /// Always Success in 3.x (which has no reason code here).
    pub reason_code: ReasonCode,
    /// 5.0 properties (empty for 3.x).
    pub properties: Properties,
}

impl PubResp {
    /// An acknowledgement with Success and no properties.
    pub fn new(packet_id: u16) -> Self {
        PubResp {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(
        body: &Bytes,
        version: ProtocolVersion,
        kind: ReasonPacket,
    ) -> Result<PubResp, ProtocolError> {
        let mut r = Reader::new(body);
        let packet_id = r.packet_id(kind.name())?;
        let mut reason_code = ReasonCode::Success;
        let mut properties = Properties::default();
        if version.is_v5() && !r.is_empty() {
            reason_code = ReasonCode::decode_for(r.u8("reason code")?, kind)?;
            if !r.is_empty() {
                properties = Properties::decode(&mut r, context(kind))?;
            }
        }
        r.finish(kind.name())?;
        Ok(PubResp {
            packet_id,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        if !version.is_v5() {
            2
        } else if !self.properties.is_empty() {
            3 + self.properties.encoded_len()
        } else if self.reason_code != ReasonCode::Success {
            3
        } else {
            2
        }
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u16(self.packet_id);
        if !version.is_v5() {
            return Ok(());
        }
        let has_props = !self.properties.is_empty();
        if has_props || self.reason_code != ReasonCode::Success {
            out.put_u8(self.reason_code.as_u8());
        }
        if has_props {
            self.properties.write(out)?;
        }
        Ok(())
    }
}

fn context(kind: ReasonPacket) -> PropertyContext {
    match kind {
        ReasonPacket::PubRec => PropertyContext::PubRec,
        ReasonPacket::PubRel => PropertyContext::PubRel,
        ReasonPacket::PubComp => PropertyContext::PubComp,
        _ => PropertyContext::PubAck,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::Packet;

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    #[test]
    fn does_a_3_1_1_puback_carry_only_the_packet_id() {
        assert_eq!(
            decode_hex("40 02 00 07", V3),
            Ok(Packet::PubAck(PubResp::new(7)))
        );
        assert_eq!(
            decode_hex("40 03 00 07 00", V3),
            Err(ProtocolError::TrailingBytes {
                packet: "PUBACK",
                count: 1
            })
        );
    }

    #[test]
    fn is_packet_id_0_refused_mqtt_2_2_1_3() {
        assert_eq!(
            decode_hex("50 02 00 00", V3),
            Err(ProtocolError::ZeroPacketId { packet: "PUBREC" })
        );
    }

    #[test]
    fn do_the_5_0_short_forms_decode() {
        assert_eq!(
            decode_hex("40 02 00 07", V5),
            Ok(Packet::PubAck(PubResp::new(7)))
        );
        let no_props = decode_hex("40 03 00 07 10", V5).expect("valid");
        let with_len = decode_hex("40 04 00 07 10 00", V5).expect("valid");
        let expected = PubResp {
            reason_code: ReasonCode::NoMatchingSubscribers,
            ..PubResp::new(7)
        };
        assert_eq!(no_props, Packet::PubAck(expected.clone()));
        assert_eq!(with_len, Packet::PubAck(expected));
    }

    #[test]
    fn does_a_5_0_puback_carry_a_reason_string() {
        let s = "40 08 00 07 87 04 1f 00 01 78";
        let p = decode_hex(s, V5).expect("valid");
        let Packet::PubAck(r) = &p else {
            panic!("not a PUBACK")
        };
        assert_eq!(r.reason_code, ReasonCode::NotAuthorized);
        assert_eq!(r.properties.reason_string.as_deref(), Some("x"));
        assert_eq!(encode_hex(&p, ProtocolVersion::V5), norm(s));
    }

    #[test]
    fn is_a_publish_reason_code_refused_in_pubrel() {
        assert_eq!(
            decode_hex("62 03 00 07 10", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "PUBREL",
                code: 0x10
            })
        );
    }

    #[test]
    fn is_a_topic_alias_refused_in_puback_mqtt_2_2_2_2() {
        assert_eq!(
            decode_hex("40 07 00 07 00 03 23 00 01", V5),
            Err(ProtocolError::PropertyNotAllowed {
                property: "Topic Alias",
                packet: "PUBACK"
            })
        );
    }

    #[test]
    fn does_encoding_pick_the_shortest_form() {
        let v5 = ProtocolVersion::V5;
        assert_eq!(
            encode_hex(&Packet::PubAck(PubResp::new(7)), v5),
            norm("40 02 00 07")
        );
        assert_eq!(
            encode_hex(&Packet::PubRel(PubResp::new(7)), v5),
            norm("62 02 00 07")
        );
        let not_found = PubResp {
            reason_code: ReasonCode::PacketIdentifierNotFound,
            ..PubResp::new(7)
        };
        assert_eq!(
            encode_hex(&Packet::PubComp(not_found.clone()), v5),
            norm("70 03 00 07 92")
        );
        assert_eq!(
            encode_hex(&Packet::PubComp(not_found), ProtocolVersion::V3_1_1),
            norm("70 02 00 07")
        );
    }
}
