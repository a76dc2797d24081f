//! PUBLISH ([MQTT-3.3]): the message packet, and the hot path of the broker.
//! Topic and payload are zero-copy slices of the received packet; fan-out
//! encodes the same `Publish` for each subscriber with [`encode_publish`].

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::{ProtocolVersion, QoS};
use super::string::MqttStr;
use super::topic::reject_wildcards;
use super::wire::{prefixed_len, put_str, put_var_int, var_int_len, Reader, MAX_VAR_INT};

/// An application message.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    /// Re-delivery of an earlier attempt (QoS > 0 only).
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in 5.0 when `properties.topic_alias` is set.
    pub topic: MqttStr,
    /// 0 for QoS 0 (absent on the wire), non-zero otherwise.
    pub packet_id: u16,
    pub payload: Bytes,
    /// 5.0 PUBLISH properties (empty for 3.x).
    pub properties: Properties,
}

impl Publish {
    pub(crate) fn decode(
        flags: u8,
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<Publish, ProtocolError> {
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(ProtocolError::InvalidQoS)?;
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(ProtocolError::DupWithQoS0);
        }
        let mut r = Reader::new(body);
        let topic = r.string("topic name")?;
        reject_wildcards(&topic)?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            r.packet_id("PUBLISH")?
        };
        let properties = if version.is_v5() {
            Properties::decode(&mut r, PropertyContext::Publish)?
        } else {
            Properties::default()
        };
        if topic.is_empty() {
            if !version.is_v5() {
                return Err(ProtocolError::EmptyTopicName);
            }
            if properties.topic_alias.is_none() {
                return Err(ProtocolError::EmptyTopicWithoutAlias);
            }
        }
        Ok(Publish {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            payload: r.rest(),
            properties,
        })
    }

    /// The first byte: type 3 and the DUP / QoS / RETAIN flags.
    pub(crate) fn header_byte(&self) -> u8 {
        0x30 | u8::from(self.dup) << 3 | (self.qos as u8) << 1 | u8::from(self.retain)
    }

    /// The remaining length in `version`.
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        self.lengths(version).0
    }

    /// Writes the body; `props` is `properties.wire_len()` (0 for 3.x).
    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        props: usize,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        put_str(out, &self.topic, "topic name")?;
        if self.qos != QoS::AtMostOnce {
            if self.packet_id == 0 {
                return Err(EncodeError::ZeroPacketId { packet: "PUBLISH" });
            }
            out.put_u16(self.packet_id);
        }
        if version.is_v5() {
            self.properties.write_with_len(out, props)?;
        }
        out.put_slice(&self.payload);
        Ok(())
    }

    /// (remaining length, property list length) in `version`.
    fn lengths(&self, version: ProtocolVersion) -> (usize, usize) {
        let mut len = prefixed_len(self.topic.len()) + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            len += 2;
        }
        let mut props = 0;
        if version.is_v5() {
            props = self.properties.wire_len();
            len += var_int_len(props) + props;
        }
        (len, props)
    }
}

/// Size of `p` on the wire (whole packet) in `version`.
pub fn publish_encoded_len(p: &Publish, version: ProtocolVersion) -> usize {
    let (len, _) = p.lengths(version);
    1 + var_int_len(len) + len
}

/// Appends `p` to `out` (the fan-out fast path; same bytes as
/// `encode(&Packet::Publish(..))`). On error `out` is left as it was.
pub fn encode_publish(
    p: &Publish,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    let res = write_publish(p, version, out);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

fn write_publish(
    p: &Publish,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let (len, props) = p.lengths(version);
    if len > MAX_VAR_INT as usize {
        return Err(EncodeError::PacketTooLarge(len));
    }
    out.reserve(1 + var_int_len(len) + len);
    out.put_u8(p.header_byte());
    put_var_int(out, len, "remaining length")?;
    p.write_body(version, props, out)
}
