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
