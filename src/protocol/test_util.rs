//! Helpers for the codec's hex-vector tests: hex in, packets out, and back.

use bytes::BytesMut;

use super::{decode, encode, encoded_len, DecodeLimits, Packet, ProtocolError, ProtocolVersion};

/// Bytes from hex digits; whitespace is ignored.
pub(crate) fn hex(s: &str) -> BytesMut {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex string {s:?}");
    let nibble = |c: u8| {
        (c as char)
            .to_digit(16)
            .unwrap_or_else(|| panic!("bad hex {s:?}")) as u8
    };
    digits
        .chunks(2)
        .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
        .collect::<Vec<u8>>()[..]
        .into()
}

/// Lower-case hex of `b`, bytes separated by spaces.
pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes exactly one whole packet from `s` on a connection of `version`
/// (`None`: before CONNECT), asserting the buffer is fully consumed.
pub(crate) fn decode_hex(
    s: &str,
    version: Option<ProtocolVersion>,
) -> Result<Packet, ProtocolError> {
    let mut buf = hex(s);
    let limits = DecodeLimits {
        version,
        ..DecodeLimits::default()
    };
    let packet = decode(&mut buf, &limits)?.expect("a whole packet is buffered");
    assert!(buf.is_empty(), "left over: {}", to_hex(&buf));
    Ok(packet)
}

/// Encodes `packet`, checks `encoded_len` agrees, and returns the hex.
pub(crate) fn encode_hex(packet: &Packet, version: ProtocolVersion) -> String {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).expect("encodable");
    assert_eq!(
        out.len(),
        encoded_len(packet, version),
        "encoded_len of {packet:?}"
    );
    to_hex(&out)
}

/// Normalises a hex literal to `to_hex` form, for comparisons.
pub(crate) fn norm(s: &str) -> String {
    to_hex(&hex(s))
}
