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
