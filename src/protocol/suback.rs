//! SUBACK ([MQTT-3.9]): one reason code per filter of the SUBSCRIBE. In 3.x
//! the codes are return codes 0x00..=0x02 (granted QoS) and 0x80 (failure).

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::wire::Reader;

/// The answer to SUBSCRIBE.
#[derive(Clone, Debug, PartialEq)]
pub struct SubAck {
    pub packet_id: u16,
    /// 5.0 properties (empty for 3.x).
    pub properties: Properties,
    /// One per filter, in order: GrantedQoS0/1/2 or a failure (3.x: any
    /// failure is sent as 0x80 and decoded as UnspecifiedError).
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(body: &Bytes, version: ProtocolVersion) -> Result<SubAck, ProtocolError> {
        let mut r = Reader::new(body);
        let packet_id = r.u16("packet identifier")?;
        let properties = if version.is_v5() {
            Properties::decode(&mut r, PropertyContext::SubAck)?
        } else {
            Properties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8("reason code")?;
            let rc = if version.is_v5() {
                ReasonCode::decode_for(code, ReasonPacket::SubAck)?
            } else {
                ReasonCode::from_suback_v3(code).ok_or(ProtocolError::InvalidReasonCode {
                    packet: "SUBACK",
                    code,
                })?
            };
            reason_codes.push(rc);
        }
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        let props = if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        2 + props + self.reason_codes.len()
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
        } else {
            for rc in &self.reason_codes {
                out.put_u8(rc.to_suback_v3());
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
    fn do_3_1_1_return_codes_decode_to_reason_codes() {
        let expected = SubAck {
            packet_id: 1,
            properties: Properties::default(),
            reason_codes: vec![
                ReasonCode::GrantedQoS0,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
        };
        assert_eq!(
            decode_hex("90 05 00 01 00 02 80", V3),
            Ok(Packet::SubAck(expected))
        );
        assert_eq!(
            decode_hex("90 03 00 01 03", V3),
            Err(ProtocolError::InvalidReasonCode {
                packet: "SUBACK",
                code: 3
            })
        );
    }

    #[test]
    fn do_5_0_suback_codes_decode() {
        let p = decode_hex("90 05 00 01 00 01 a2", V5).expect("valid");
        let Packet::SubAck(s) = &p else {
            panic!("not a SUBACK")
        };
        assert_eq!(
            s.reason_codes,
            [
                ReasonCode::GrantedQoS1,
                ReasonCode::WildcardSubscriptionsNotSupported
            ]
        );
        assert_eq!(
            decode_hex("90 04 00 01 00 92", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "SUBACK",
                code: 0x92
            })
        );
    }

    #[test]
    fn does_any_failure_become_0x80_in_3_1_1() {
        let s = SubAck {
            packet_id: 1,
            properties: Properties::default(),
            reason_codes: vec![ReasonCode::QuotaExceeded, ReasonCode::GrantedQoS1],
        };
        assert_eq!(
            encode_hex(&Packet::SubAck(s.clone()), ProtocolVersion::V3_1_1),
            norm("90 04 00 01 80 01")
        );
        assert_eq!(
            encode_hex(&Packet::SubAck(s), ProtocolVersion::V5),
            norm("90 05 00 01 00 97 01")
        );
    }
}
