//! UNSUBACK ([MQTT-3.11]): in 5.0 one reason code per filter; in 3.x only the
//! packet identifier.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::wire::Reader;

/// The answer to UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// 5.0 properties (empty for 3.x).
    pub properties: Properties,
    /// 5.0: one per filter, in order. Empty for 3.x (not on the wire).
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<UnsubAck, ProtocolError> {
        let mut r = Reader::new(body);
        let packet_id = r.u16("packet identifier")?;
        let mut properties = Properties::default();
        let mut reason_codes = Vec::new();
        if version.is_v5() {
            properties = Properties::decode(&mut r, PropertyContext::UnsubAck)?;
            reason_codes.reserve_exact(r.remaining());
            while !r.is_empty() {
                reason_codes.push(ReasonCode::decode_for(
                    r.u8("reason code")?,
                    ReasonPacket::UnsubAck,
                )?);
            }
        }
        r.finish("UNSUBACK")?;
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.encoded_len() + self.reason_codes.len()
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
        if version.is_v5() {
            self.properties.write(out)?;
            for rc in &self.reason_codes {
                out.put_u8(rc.as_u8());
            }
        }
        Ok(())
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
    fn does_a_3_1_1_unsuback_carry_only_the_packet_id() {
        let p = decode_hex("b0 02 00 02", V3).expect("valid");
        let Packet::UnsubAck(u) = &p else {
            panic!("not an UNSUBACK")
        };
        assert_eq!((u.packet_id, u.reason_codes.len()), (2, 0));
        assert_eq!(
            decode_hex("b0 03 00 02 00", V3),
            Err(ProtocolError::TrailingBytes {
                packet: "UNSUBACK",
                count: 1
            })
        );
    }

    #[test]
    fn does_a_5_0_unsuback_carry_one_code_per_filter() {
        let s = "b0 05 00 02 00 00 11";
        let p = decode_hex(s, V5).expect("valid");
        let Packet::UnsubAck(u) = &p else {
            panic!("not an UNSUBACK")
        };
        assert_eq!(
            u.reason_codes,
            [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        );
        assert_eq!(encode_hex(&p, ProtocolVersion::V5), norm(s));
        assert_eq!(encode_hex(&p, ProtocolVersion::V3_1_1), norm("b0 02 00 02"));
        assert_eq!(
            decode_hex("b0 04 00 02 00 01", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "UNSUBACK",
                code: 1
            })
        );
    }
}
