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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::hex;
    use crate::protocol::ReasonCode;

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);

    fn limits(version: Option<ProtocolVersion>, max_packet_size: u32) -> DecodeLimits {
        DecodeLimits {
            version,
            max_packet_size,
        }
    }

    #[test]
    fn are_several_buffered_packets_returned_one_by_one() {
        let mut buf = hex("c0 00 32 05 00 01 74 00 07 e0 00");
        let l = limits(V3, MAX_PACKET_SIZE);
        assert_eq!(decode(&mut buf, &l), Ok(Some(Packet::PingReq)));
        assert!(matches!(decode(&mut buf, &l), Ok(Some(Packet::Publish(p))) if p.packet_id == 7));
        assert!(matches!(
            decode(&mut buf, &l),
            Ok(Some(Packet::Disconnect(_)))
        ));
        assert_eq!(decode(&mut buf, &l), Ok(None));
    }

    #[test]
    fn does_a_partial_packet_consume_nothing() {
        let whole = hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31");
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(
                decode(&mut buf, &DecodeLimits::default()),
                Ok(None),
                "cut at {cut}"
            );
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn is_an_oversized_packet_refused_from_its_header_alone() {
        let mut buf = hex("30 ff 7f");
        let err = decode(&mut buf, &limits(V3, 100)).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::PacketTooLarge {
                size: 3 + 16_383,
                max: 100
            }
        );
        assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    }

    #[test]
    fn is_a_packet_exactly_at_the_limit_accepted() {
        let mut buf = hex("c0 00");
        assert_eq!(decode(&mut buf, &limits(V3, 2)), Ok(Some(Packet::PingReq)));
    }

    #[test]
    fn is_a_five_byte_remaining_length_malformed_mqtt_1_5_5() {
        let mut buf = hex("30 ff ff ff ff 01");
        let err = decode(&mut buf, &limits(V3, MAX_PACKET_SIZE)).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::VarIntTooLong {
                what: "remaining length"
            }
        );
        let mut partial = hex("30 ff ff ff");
        assert_eq!(decode(&mut partial, &limits(V3, MAX_PACKET_SIZE)), Ok(None));
    }

    #[test]
    fn must_the_first_packet_be_connect_mqtt_3_1_0_1() {
        let mut buf = hex("c0");
        assert_eq!(
            decode(&mut buf, &DecodeLimits::default()),
            Err(ProtocolError::FirstPacketNotConnect(12))
        );
    }

    #[test]
    fn is_a_second_connect_a_protocol_error_mqtt_3_1_0_2() {
        let mut buf = hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31");
        assert_eq!(
            decode(&mut buf, &limits(V3, MAX_PACKET_SIZE)),
            Err(ProtocolError::SecondConnect)
        );
    }

    #[test]
    fn is_the_payload_a_zero_copy_slice_of_the_read_buffer() {
        let mut buf = hex("30 07 00 01 74 70 6c 64 21");
        let range = buf.as_ptr_range();
        let Ok(Some(Packet::Publish(p))) = decode(&mut buf, &limits(V3, MAX_PACKET_SIZE)) else {
            panic!("a PUBLISH");
        };
        assert!(range.contains(&p.payload.as_ptr()));
        assert!(range.contains(&p.topic.as_bytes().as_ptr()));
        assert_eq!(&p.payload[..], b"pld!");
    }
}
