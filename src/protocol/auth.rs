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
