//! AUTH ([MQTT-3.15]): MQTT 5.0 extended authentication exchanges. Does not
//! exist in 3.x. Short form: an empty body means Success without properties.

use bytes::{Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::reason_body::{decode_reason_body, reason_body_len, write_reason_body};

/// One step of an extended authentication exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Auth {
    /// Success, ContinueAuthentication or ReAuthenticate.
    pub reason_code: ReasonCode,
    /// Authentication Method / Data, Reason String, user properties.
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn decode(body: &Bytes) -> Result<Auth, ProtocolError> {
        let (reason_code, properties) =
            decode_reason_body(body, ProtocolVersion::V5, ReasonPacket::Auth)?;
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        reason_body_len(self.reason_code, &self.properties, version)
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion {
                what: "AUTH",
                version,
            });
        }
        write_reason_body(self.reason_code, &self.properties, version, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::{encode, Packet};

    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    #[test]
    fn is_an_empty_auth_a_success() {
        let p = decode_hex("f0 00", V5).expect("valid");
        assert_eq!(
            p,
            Packet::Auth(Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::default()
            })
        );
        assert_eq!(encode_hex(&p, ProtocolVersion::V5), "f0 00");
    }

    #[test]
    fn does_a_continue_authentication_carry_its_method() {
        let s = "f0 09 18 07 15 00 04 53 43 52 4d";
        let p = decode_hex(s, V5).expect("valid");
        let Packet::Auth(a) = &p else {
            panic!("not an AUTH")
        };
        assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
        assert_eq!(a.properties.authentication_method.as_deref(), Some("SCRM"));
        assert_eq!(encode_hex(&p, ProtocolVersion::V5), norm(s));
    }

    #[test]
    fn is_authentication_data_without_a_method_a_protocol_error() {
        let err = decode_hex("f0 06 18 04 16 00 01 78", V5).unwrap_err();
        assert_eq!(err, ProtocolError::AuthDataWithoutMethod);
    }

    #[test]
    fn is_an_error_code_refused_in_auth() {
        assert_eq!(
            decode_hex("f0 01 80", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "AUTH",
                code: 0x80
            })
        );
    }

    #[test]
    fn does_auth_exist_only_in_5_0() {
        assert_eq!(
            decode_hex("f0 00", Some(ProtocolVersion::V3_1_1)),
            Err(ProtocolError::ReservedPacketType(15))
        );
        let auth = Packet::Auth(Auth {
            reason_code: ReasonCode::Success,
            properties: Properties::default(),
        });
        let mut out = BytesMut::new();
        assert_eq!(
            encode(&auth, ProtocolVersion::V3_1_1, &mut out),
            Err(EncodeError::NotInVersion {
                what: "AUTH",
                version: ProtocolVersion::V3_1_1
            })
        );
    }
}
