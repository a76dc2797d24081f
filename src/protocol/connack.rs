//! CONNACK ([MQTT-3.2]): the server's answer to CONNECT. In 3.x the reason
//! code travels as a return code 0x00..=0x05.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::wire::Reader;

/// The server's answer to CONNECT.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnAck {
    /// The server resumed a stored session.
    pub session_present: bool,
    /// Success, or why the connection is refused (3.x: mapped to return codes).
    pub reason_code: ReasonCode,
    /// 5.0 CONNACK properties (empty for 3.x).
    pub properties: Properties,
}

impl ConnAck {
    pub(crate) fn decode(body: &Bytes, version: ProtocolVersion) -> Result<ConnAck, ProtocolError> {
        let mut r = Reader::new(body);
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(ProtocolError::ConnAckReservedFlags(flags));
        }
        let session_present = flags & 0x01 != 0;
        let code = r.u8("connect reason code")?;
        let (reason_code, properties) = if version.is_v5() {
            let rc = ReasonCode::decode_for(code, ReasonPacket::ConnAck)?;
            (rc, Properties::decode(&mut r, PropertyContext::ConnAck)?)
        } else {
            let rc = ReasonCode::from_connack_v3(code).ok_or(ProtocolError::InvalidReasonCode {
                packet: "CONNACK",
                code,
            })?;
            (rc, Properties::default())
        };
        if session_present && reason_code != ReasonCode::Success {
            return Err(ProtocolError::SessionPresentOnFailure);
        }
        r.finish("CONNACK")?;
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.encoded_len()
        } else {
            2
        }
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        out.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            out.put_u8(self.reason_code.as_u8());
            self.properties.write(out)
        } else {
            out.put_u8(self.reason_code.to_connack_v3());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::Packet;

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    fn connack(s: &str, v: Option<ProtocolVersion>) -> Result<ConnAck, ProtocolError> {
        match decode_hex(s, v)? {
            Packet::ConnAck(c) => Ok(c),
            other => panic!("not a CONNACK: {other:?}"),
        }
    }

    #[test]
    fn does_a_3_1_1_connack_decode_session_present() {
        let c = connack("20 02 01 00", V3).expect("valid");
        assert!(c.session_present);
        assert_eq!(c.reason_code, ReasonCode::Success);
        assert_eq!(
            encode_hex(&Packet::ConnAck(c), ProtocolVersion::V3_1_1),
            norm("20 02 01 00")
        );
    }

    #[test]
    fn do_3_1_1_return_codes_become_reason_codes() {
        assert_eq!(
            connack("20 02 00 05", V3).map(|c| c.reason_code),
            Ok(ReasonCode::NotAuthorized)
        );
        assert_eq!(
            connack("20 02 00 06", V3),
            Err(ProtocolError::InvalidReasonCode {
                packet: "CONNACK",
                code: 6
            })
        );
    }

    #[test]
    fn are_reserved_acknowledge_flags_malformed_mqtt_3_2_2_1() {
        assert_eq!(
            connack("20 02 02 00", V3),
            Err(ProtocolError::ConnAckReservedFlags(2))
        );
    }

    #[test]
    fn is_session_present_with_a_failure_refused_mqtt_3_2_2_4() {
        assert_eq!(
            connack("20 02 01 05", V3),
            Err(ProtocolError::SessionPresentOnFailure)
        );
    }

    #[test]
    fn does_a_5_0_connack_decode_its_properties() {
        let s = "20 08 00 00 05 22 00 0a 24 01";
        let c = connack(s, V5).expect("valid");
        assert_eq!(c.properties.topic_alias_maximum, Some(10));
        assert_eq!(c.properties.maximum_qos, Some(1));
        assert_eq!(
            encode_hex(&Packet::ConnAck(c), ProtocolVersion::V5),
            norm(s)
        );
    }

    #[test]
    fn is_a_disconnect_only_reason_code_refused_in_connack() {
        assert_eq!(
            connack("20 03 00 8e 00", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "CONNACK",
                code: 0x8e
            })
        );
    }

    #[test]
    fn is_maximum_qos_2_a_protocol_error() {
        let err = connack("20 05 00 00 02 24 02", V5).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::InvalidPropertyValue {
                property: "Maximum QoS",
                value: 2
            }
        );
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn does_a_5_0_failure_become_the_nearest_3_1_1_return_code() {
        let c = ConnAck {
            session_present: false,
            reason_code: ReasonCode::ServerBusy,
            properties: Properties::default(),
        };
        assert_eq!(
            encode_hex(&Packet::ConnAck(c.clone()), ProtocolVersion::V3_1_1),
            norm("20 02 00 03")
        );
        assert_eq!(
            encode_hex(&Packet::ConnAck(c), ProtocolVersion::V5),
            norm("20 03 00 89 00")
        );
    }
}
