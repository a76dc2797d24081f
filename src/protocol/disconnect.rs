//! DISCONNECT ([MQTT-3.14]). In 3.x it is an empty packet a client sends; a
//! 5.0 DISCONNECT may come from either side with a reason code. Short forms:
//! an empty body means Normal disconnection without properties.

use bytes::{Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::reason_body::{decode_reason_body, reason_body_len, write_reason_body};

/// The end of a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Disconnect {
    /// NormalDisconnection in 3.x.
    pub reason_code: ReasonCode,
    /// 5.0 properties (empty for 3.x).
    pub properties: Properties,
}

impl Disconnect {
    /// A normal disconnection without properties.
    pub fn normal() -> Self {
        Disconnect {
            reason_code: ReasonCode::NormalDisconnection,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<Disconnect, ProtocolError> {
        let (reason_code, properties) =
            decode_reason_body(body, version, ReasonPacket::Disconnect)?;
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        reason_body_len(self.reason_code, &self.properties, version)
    }

    /// 3.x has no server DISCONNECT: anything but a normal disconnection (a
    /// client's) cannot be sent there.
    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() && self.reason_code != ReasonCode::NormalDisconnection {
            return Err(EncodeError::NotInVersion {
                what: "DISCONNECT with a reason code",
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

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    #[test]
    fn is_a_3_1_1_disconnect_empty() {
        assert_eq!(
            decode_hex("e0 00", V3),
            Ok(Packet::Disconnect(Disconnect::normal()))
        );
        assert_eq!(
            decode_hex("e0 01 00", V3),
            Err(ProtocolError::TrailingBytes {
                packet: "DISCONNECT",
                count: 1
            })
        );
    }

    #[test]
    fn do_the_5_0_disconnect_forms_decode() {
        assert_eq!(
            decode_hex("e0 00", V5),
            Ok(Packet::Disconnect(Disconnect::normal()))
        );
        let taken = decode_hex("e0 01 8e", V5).expect("valid");
        let Packet::Disconnect(d) = &taken else {
            panic!("not a DISCONNECT")
        };
        assert_eq!(d.reason_code, ReasonCode::SessionTakenOver);
        let s = "e0 07 04 05 11 00 00 00 00";
        let with_will = decode_hex(s, V5).expect("valid");
        let Packet::Disconnect(d) = &with_will else {
            panic!("not a DISCONNECT")
        };
        assert_eq!(
            (d.reason_code, d.properties.session_expiry_interval),
            (ReasonCode::DisconnectWithWill, Some(0))
        );
        assert_eq!(encode_hex(&with_will, ProtocolVersion::V5), norm(s));
        assert_eq!(encode_hex(&taken, ProtocolVersion::V5), norm("e0 01 8e"));
    }

    #[test]
    fn is_a_suback_code_refused_in_disconnect() {
        assert_eq!(
            decode_hex("e0 01 01", V5),
            Err(ProtocolError::InvalidReasonCode {
                packet: "DISCONNECT",
                code: 1
            })
        );
    }

    #[test]
    fn can_a_server_disconnect_not_be_sent_in_3_1_1() {
        let d = Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::SessionTakenOver,
            properties: Properties::default(),
        });
        let mut out = BytesMut::new();
        let err = encode(&d, ProtocolVersion::V3_1_1, &mut out).unwrap_err();
        assert!(matches!(err, EncodeError::NotInVersion { .. }));
        assert!(out.is_empty());
        assert_eq!(
            encode_hex(
                &Packet::Disconnect(Disconnect::normal()),
                ProtocolVersion::V3_1_1
            ),
            "e0 00"
        );
    }
}
