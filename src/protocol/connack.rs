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
