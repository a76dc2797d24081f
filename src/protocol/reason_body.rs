//! The body DISCONNECT and AUTH share ([MQTT-3.14.2], [MQTT-3.15.2]): an
//! optional reason code followed by optional properties, both absent in 3.x.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::reason::{ReasonCode, ReasonPacket};
use super::wire::Reader;

/// Reads the body; an empty body is Success without properties.
pub(crate) fn decode_reason_body(
    body: &Bytes,
    version: ProtocolVersion,
    kind: ReasonPacket,
) -> Result<(ReasonCode, Properties), ProtocolError> {
    let mut r = Reader::new(body);
    let mut reason_code = ReasonCode::Success;
    let mut properties = Properties::default();
    if version.is_v5() && !r.is_empty() {
        reason_code = ReasonCode::decode_for(r.u8("reason code")?, kind)?;
        if !r.is_empty() {
            let ctx = match kind {
                ReasonPacket::Auth => PropertyContext::Auth,
                _ => PropertyContext::Disconnect,
            };
            properties = Properties::decode(&mut r, ctx)?;
        }
    }
    r.finish(kind.name())?;
    Ok((reason_code, properties))
}

pub(crate) fn reason_body_len(
    rc: ReasonCode,
    props: &Properties,
    version: ProtocolVersion,
) -> usize {
    if !version.is_v5() {
        0
    } else if !props.is_empty() {
        1 + props.encoded_len()
    } else if rc != ReasonCode::Success {
        1
    } else {
        0
    }
}

pub(crate) fn write_reason_body(
    rc: ReasonCode,
    props: &Properties,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if !version.is_v5() {
        return Ok(());
    }
    let has_props = !props.is_empty();
    if has_props || rc != ReasonCode::Success {
        out.put_u8(rc.as_u8());
    }
    if has_props {
        props.write(out)?;
    }
    Ok(())
}
