//! The MQTT data representations ([MQTT-1.5]): a bounds-checked reader over a
//! packet's `Bytes` that hands out zero-copy slices, and the matching writers
//! into a `BytesMut`.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::string::MqttStr;

/// The largest value a Variable Byte Integer can hold [MQTT-1.5.5].
pub const MAX_VAR_INT: u32 = 268_435_455;

/// Reads one packet body. Never reads past `end`; every read that would is an
/// `UnexpectedEnd` (malformed) error naming the field.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.remaining() < n {
            return Err(ProtocolError::UnexpectedEnd { what });
        }
        let buf: &'a Bytes = self.buf;
        let s = &buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, ProtocolError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A Packet Identifier, which must be non-zero [MQTT-2.2.1-3].
    pub(crate) fn packet_id(&mut self, packet: &'static str) -> Result<u16, ProtocolError> {
        match self.u16("packet identifier")? {
            0 => Err(ProtocolError::ZeroPacketId { packet }),
            id => Ok(id),
        }
    }

    /// A Variable Byte Integer [MQTT-1.5.5]; more than 4 bytes is malformed.
    pub(crate) fn var_int(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let mut value = 0u32;
        for i in 0..4 {
            let b = self.u8(what)?;
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtocolError::VarIntTooLong { what })
    }

    /// The next `n` bytes as a zero-copy slice.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, ProtocolError> {
        if self.remaining() < n {
            return Err(ProtocolError::UnexpectedEnd { what });
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Binary Data: a two-byte length and that many bytes [MQTT-1.5.6].
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, ProtocolError> {
        let len = self.u16(what)?;
        self.bytes(usize::from(len), what)
    }

    /// A UTF-8 Encoded String [MQTT-1.5.4], validated.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<MqttStr, ProtocolError> {
        let b = self.binary(what)?;
        MqttStr::validated(b, what)
    }

    /// Everything left, as a zero-copy slice.
    pub(crate) fn rest(&mut self) -> Bytes {
        let b = self.buf.slice(self.pos..self.end);
        self.pos = self.end;
        b
    }

    /// A reader over the next `len` bytes (a length-prefixed section); this
    /// reader moves past them.
    pub(crate) fn sub(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<Reader<'a>, ProtocolError> {
        if self.remaining() < len {
            return Err(ProtocolError::UnexpectedEnd { what });
        }
        let sub = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + len,
        };
        self.pos += len;
        Ok(sub)
    }

    /// Fails if any bytes are left: the packet is longer than its fields.
    pub(crate) fn finish(&self, packet: &'static str) -> Result<(), ProtocolError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ProtocolError::TrailingBytes { packet, count }),
        }
    }
}

/// Bytes a Variable Byte Integer of `v` takes.
pub(crate) fn var_int_len(v: usize) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a Variable Byte Integer; `v` must be at most [`MAX_VAR_INT`].
pub(crate) fn put_var_int(
    out: &mut BytesMut,
    v: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    if v > MAX_VAR_INT as usize {
        return Err(EncodeError::VarIntTooLarge {
            field,
            value: u32::try_from(v).unwrap_or(u32::MAX),
        });
    }
    let mut v = v;
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.put_u8(byte);
            return Ok(());
        }
        out.put_u8(byte | 0x80);
    }
}

/// Bytes a length-prefixed string or binary field of `len` bytes takes.
pub(crate) fn prefixed_len(len: usize) -> usize {
    2 + len
}

/// Writes a UTF-8 Encoded String.
pub(crate) fn put_str(out: &mut BytesMut, s: &str, field: &'static str) -> Result<(), EncodeError> {
    let len = u16::try_from(s.len()).map_err(|_| EncodeError::StringTooLong {
        field,
        len: s.len(),
    })?;
    out.put_u16(len);
    out.put_slice(s.as_bytes());
    Ok(())
}

/// Writes Binary Data.
pub(crate) fn put_binary(
    out: &mut BytesMut,
    b: &[u8],
    field: &'static str,
) -> Result<(), EncodeError> {
    let len = u16::try_from(b.len()).map_err(|_| EncodeError::BinaryTooLong {
        field,
        len: b.len(),
    })?;
    out.put_u16(len);
    out.put_slice(b);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var_int_bytes(v: usize) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_var_int(&mut out, v, "test").expect("in range");
        out.to_vec()
    }

    #[test]
    fn do_var_ints_use_the_spec_boundaries_mqtt_1_5_5() {
        assert_eq!(var_int_bytes(0), [0x00]);
        assert_eq!(var_int_bytes(127), [0x7F]);
        assert_eq!(var_int_bytes(128), [0x80, 0x01]);
        assert_eq!(var_int_bytes(16_383), [0xFF, 0x7F]);
        assert_eq!(var_int_bytes(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(var_int_bytes(2_097_152), [0x80, 0x80, 0x80, 0x01]);
        assert_eq!(var_int_bytes(268_435_455), [0xFF, 0xFF, 0xFF, 0x7F]);
        for v in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            assert_eq!(var_int_len(v), var_int_bytes(v).len());
        }
    }

    #[test]
    fn is_a_var_int_above_the_maximum_refused_on_encode() {
        let mut out = BytesMut::new();
        let err = put_var_int(&mut out, 268_435_456, "x");
        assert_eq!(
            err,
            Err(EncodeError::VarIntTooLarge {
                field: "x",
                value: 268_435_456
            })
        );
    }

    #[test]
    fn is_a_five_byte_var_int_malformed() {
        let b = Bytes::from_static(&[0x80, 0x80, 0x80, 0x80, 0x01]);
        let err = Reader::new(&b).var_int("remaining length");
        assert_eq!(
            err,
            Err(ProtocolError::VarIntTooLong {
                what: "remaining length"
            })
        );
    }

    #[test]
    fn is_a_non_minimal_var_int_accepted() {
        let b = Bytes::from_static(&[0x81, 0x00]);
        assert_eq!(Reader::new(&b).var_int("x"), Ok(1));
    }

    #[test]
    fn does_a_string_longer_than_the_packet_fail_as_unexpected_end() {
        let b = Bytes::from_static(&[0x00, 0x05, b'a', b'b']);
        let err = Reader::new(&b).string("topic name");
        assert_eq!(
            err,
            Err(ProtocolError::UnexpectedEnd { what: "topic name" })
        );
    }

    #[test]
    fn does_a_sub_reader_stop_at_its_section() {
        let b = Bytes::from_static(&[1, 2, 3, 4]);
        let mut r = Reader::new(&b);
        let mut sub = r.sub(2, "props").expect("fits");
        assert_eq!(sub.u16("x"), Ok(0x0102));
        assert_eq!(sub.u8("y"), Err(ProtocolError::UnexpectedEnd { what: "y" }));
        assert_eq!(r.u16("z"), Ok(0x0304));
        assert!(r.finish("test").is_ok());
    }
}
