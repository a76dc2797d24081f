//! Framing ([MQTT-2.1]): the fixed header, the remaining length, and the
//! two-phase [`decode`] entry point (is a whole packet buffered? then parse it).

use bytes::{Buf, BytesMut};

use super::error::ProtocolError;
use super::packet::Packet;
use super::qos::ProtocolVersion;
use super::wire::MAX_VAR_INT;

/// The largest packet the wire format can carry: 1 type byte, 4 length bytes
/// and a 268 435 455-byte body.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VAR_INT;

/// Decoding context of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The connection's negotiated version; `None` before CONNECT, when only
    /// CONNECT is accepted [MQTT-3.1.0-1]. Once set, CONNECT is refused
    /// [MQTT-3.1.0-2].
    pub version: Option<ProtocolVersion>,
    /// Largest accepted packet, whole (fixed header included).
    pub max_packet_size: u32,
}

impl Default for DecodeLimits {
    /// Before CONNECT, any size the wire format allows.
    fn default() -> Self {
        DecodeLimits {
            version: None,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }
}

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(None)`, consuming nothing, while `buf` holds less than a whole
/// packet. Otherwise consumes exactly one packet (`split_to` + `freeze`, so its
/// topic, strings and payload are zero-copy slices of that one allocation) and
/// returns it. A packet larger than `max_packet_size` fails as soon as its fixed
/// header is buffered, and a bad first byte fails as soon as it arrives. After
/// an error the buffer's content is unspecified: close the connection.
pub fn decode(buf: &mut BytesMut, limits: &DecodeLimits) -> Result<Option<Packet>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    Packet::check_first_byte(first, limits.version)?;
    let Some((len_bytes, remaining)) = parse_remaining_length(&buf[1..])? else {
        return Ok(None);
    };
    let header_len = 1 + len_bytes;
    let size = header_len + remaining;
    if size > limits.max_packet_size as usize {
        return Err(ProtocolError::PacketTooLarge {
            size,
            max: limits.max_packet_size,
        });
    }
    if buf.len() < size {
        return Ok(None);
    }
    let mut body = buf.split_to(size).freeze();
    body.advance(header_len);
    Packet::decode_body(first, &body, limits.version).map(Some)
}

/// Reads the remaining length after the first byte: `Ok(None)` if more bytes
/// are needed, else `(bytes used, value)`. More than 4 bytes is malformed
/// [MQTT-1.5.5/2.2.3]; non-minimal encodings are accepted.
pub(crate) fn parse_remaining_length(buf: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut value = 0usize;
    for (i, &b) in buf.iter().take(4).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((i + 1, value)));
        }
    }
    if buf.len() >= 4 {
        return Err(ProtocolError::VarIntTooLong {
            what: "remaining length",
        });
    }
    Ok(None)
}
