//! [`Packet`]: every MQTT control packet, the dispatch from a fixed header to
//! the packet's decoder, and [`encode`] / [`encoded_len`].

use bytes::{BufMut, Bytes, BytesMut};

use super::auth::Auth;
use super::connack::ConnAck;
use super::connect::Connect;
use super::disconnect::Disconnect;
use super::error::{EncodeError, ProtocolError};
use super::puback::PubResp;
use super::publish::{encode_publish, publish_encoded_len, Publish};
use super::qos::ProtocolVersion;
use super::reason::ReasonPacket;
use super::suback::SubAck;
use super::subscribe::Subscribe;
use super::unsuback::UnsubAck;
use super::unsubscribe::Unsubscribe;
use super::wire::{put_var_int, var_int_len, Reader, MAX_VAR_INT};

/// One MQTT control packet. CONNECT is boxed: it is large and rare.
#[derive(Clone, Debug, PartialEq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubResp),
    PubRec(PubResp),
    PubRel(PubResp),
    PubComp(PubResp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const PUBREL: u8 = 6;
const SUBSCRIBE: u8 = 8;
const UNSUBSCRIBE: u8 = 10;
const AUTH: u8 = 15;

impl Packet {
    /// The packet type, the high nibble of the first byte ([MQTT-2.1.2]).
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::PubRec(_) => 5,
            Packet::PubRel(_) => 6,
            Packet::PubComp(_) => 7,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect(_) => 14,
            Packet::Auth(_) => 15,
        }
    }

    /// Checks what the first byte alone can tell: the packet type exists in
    /// this version and is allowed at this point, and the reserved flags are
    /// right [MQTT-2.1.3-1]. PUBLISH flags are checked by its decoder.
    pub(crate) fn check_first_byte(
        first: u8,
        version: Option<ProtocolVersion>,
    ) -> Result<(), ProtocolError> {
        let packet_type = first >> 4;
        let flags = first & 0x0F;
        match version {
            None if packet_type != CONNECT => {
                return Err(ProtocolError::FirstPacketNotConnect(packet_type))
            }
            Some(_) if packet_type == CONNECT => return Err(ProtocolError::SecondConnect),
            Some(v) if packet_type == AUTH && !v.is_v5() => {
                return Err(ProtocolError::ReservedPacketType(packet_type))
            }
            _ if packet_type == 0 => return Err(ProtocolError::ReservedPacketType(packet_type)),
            _ => {}
        }
        let expected = match packet_type {
            PUBLISH => return Ok(()),
            PUBREL | SUBSCRIBE | UNSUBSCRIBE => 0b0010,
            _ => 0,
        };
        if flags != expected {
            return Err(ProtocolError::ReservedFlags { packet_type, flags });
        }
        Ok(())
    }

    /// Decodes a body whose first byte passed [`Packet::check_first_byte`].
    pub(crate) fn decode_body(
        first: u8,
        body: &Bytes,
        version: Option<ProtocolVersion>,
    ) -> Result<Packet, ProtocolError> {
        let Some(version) = version else {
            return Ok(Packet::Connect(Box::new(Connect::decode(body)?)));
        };
        let empty = |name| Reader::new(body).finish(name);
        Ok(match first >> 4 {
            2 => Packet::ConnAck(ConnAck::decode(body, version)?),
            3 => Packet::Publish(Publish::decode(first & 0x0F, body, version)?),
            4 => Packet::PubAck(PubResp::decode(body, version, ReasonPacket::PubAck)?),
            5 => Packet::PubRec(PubResp::decode(body, version, ReasonPacket::PubRec)?),
            6 => Packet::PubRel(PubResp::decode(body, version, ReasonPacket::PubRel)?),
            7 => Packet::PubComp(PubResp::decode(body, version, ReasonPacket::PubComp)?),
            8 => Packet::Subscribe(Subscribe::decode(body, version)?),
            9 => Packet::SubAck(SubAck::decode(body, version)?),
            10 => Packet::Unsubscribe(Unsubscribe::decode(body, version)?),
            11 => Packet::UnsubAck(UnsubAck::decode(body, version)?),
            12 => {
                empty("PINGREQ")?;
                Packet::PingReq
            }
            13 => {
                empty("PINGRESP")?;
                Packet::PingResp
            }
            14 => Packet::Disconnect(Disconnect::decode(body, version)?),
            15 => Packet::Auth(Auth::decode(body)?),
            other => return Err(ProtocolError::ReservedPacketType(other)),
        })
    }

    fn header_byte(&self) -> u8 {
        let flags = match self {
            Packet::Publish(p) => return p.header_byte(),
            Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 0b0010,
            _ => 0,
        };
        self.packet_type() << 4 | flags
    }

    /// The remaining length in `version`.
    fn body_len(&self, version: ProtocolVersion) -> usize {
        match self {
            Packet::Connect(c) => c.body_len(version),
            Packet::ConnAck(c) => c.body_len(version),
            Packet::Publish(p) => p.body_len(version),
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                r.body_len(version)
            }
            Packet::Subscribe(s) => s.body_len(version),
            Packet::SubAck(s) => s.body_len(version),
            Packet::Unsubscribe(u) => u.body_len(version),
            Packet::UnsubAck(u) => u.body_len(version),
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(d) => d.body_len(version),
            Packet::Auth(a) => a.body_len(version),
        }
    }

    fn write_body(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(c) => c.write_body(version, out),
            Packet::ConnAck(c) => c.write_body(version, out),
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                if r.packet_id == 0 {
                    return Err(EncodeError::ZeroPacketId {
                        packet: "PUBACK/PUBREC/PUBREL/PUBCOMP",
                    });
                }
                r.write_body(version, out)
            }
            Packet::Subscribe(s) => s.write_body(version, out),
            Packet::SubAck(s) => s.write_body(version, out),
            Packet::Unsubscribe(u) => u.write_body(version, out),
            Packet::UnsubAck(u) => u.write_body(version, out),
            Packet::Disconnect(d) => d.write_body(version, out),
            Packet::Auth(a) => a.write_body(version, out),
            Packet::Publish(p) => p.write_body(version, out),
            Packet::PingReq | Packet::PingResp => Ok(()),
        }
    }
}

/// Appends `packet` encoded for `version` to `out` (PUBLISH takes the
/// [`encode_publish`] fast path).
///
/// For 3.x, properties are dropped and reason codes become 3.1.1 return codes
/// (CONNACK 0x00..=0x05, SUBACK 0x00..=0x02 / 0x80; PUBACK & co and UNSUBACK
/// carry none). AUTH and a DISCONNECT with a reason code (a server's) cannot be
/// sent in 3.x. For 5.0 the short forms are used where the spec allows.
/// `Connect::protocol` is ignored: `version` decides the protocol name and level.
/// On error `out` is left as it was.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Packet::Publish(p) = packet {
        return encode_publish(p, version, out);
    }
    let start = out.len();
    let res = write_packet(packet, version, out);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

fn write_packet(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let len = packet.body_len(version);
    if len > MAX_VAR_INT as usize {
        return Err(EncodeError::PacketTooLarge(len));
    }
    out.reserve(1 + var_int_len(len) + len);
    out.put_u8(packet.header_byte());
    put_var_int(out, len, "remaining length")?;
    packet.write_body(version, out)
}

/// Size of `packet` on the wire (whole packet) in `version`, without encoding;
/// what [`encode`] writes when it succeeds.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> usize {
    if let Packet::Publish(p) = packet {
        return publish_encoded_len(p, version);
    }
    let len = packet.body_len(version);
    1 + var_int_len(len) + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex};

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    #[test]
    fn must_pubrel_subscribe_unsubscribe_flags_be_0010_mqtt_2_1_3_1() {
        assert!(decode_hex("62 02 00 01", V3).is_ok());
        for (hex, packet_type) in [
            ("60 02 00 01", 6),
            ("80 06 00 01 00 01 61 00", 8),
            ("a0 05 00 01 00 01 61", 10),
        ] {
            assert_eq!(
                decode_hex(hex, V3),
                Err(ProtocolError::ReservedFlags {
                    packet_type,
                    flags: 0
                }),
                "{hex}"
            );
        }
    }

    #[test]
    fn must_other_flags_be_0_mqtt_2_1_3_1() {
        assert_eq!(
            decode_hex("c1 00", V5),
            Err(ProtocolError::ReservedFlags {
                packet_type: 12,
                flags: 1
            })
        );
        assert_eq!(
            decode_hex("42 02 00 01", V5),
            Err(ProtocolError::ReservedFlags {
                packet_type: 4,
                flags: 2
            })
        );
        assert_eq!(
            decode_hex("18 00", None),
            Err(ProtocolError::ReservedFlags {
                packet_type: 1,
                flags: 8
            })
        );
    }

    #[test]
    fn are_packet_types_0_and_15_reserved_in_3_1_1() {
        assert_eq!(
            decode_hex("00 00", V3),
            Err(ProtocolError::ReservedPacketType(0))
        );
        assert_eq!(
            decode_hex("00 00", V5),
            Err(ProtocolError::ReservedPacketType(0))
        );
        assert_eq!(
            decode_hex("f0 00", V3),
            Err(ProtocolError::ReservedPacketType(15))
        );
    }

    #[test]
    fn are_pings_empty() {
        assert_eq!(decode_hex("c0 00", V3), Ok(Packet::PingReq));
        assert_eq!(decode_hex("d0 00", V5), Ok(Packet::PingResp));
        assert_eq!(
            decode_hex("c0 01 00", V3),
            Err(ProtocolError::TrailingBytes {
                packet: "PINGREQ",
                count: 1
            })
        );
        assert_eq!(
            encode_hex(&Packet::PingReq, ProtocolVersion::V3_1_1),
            "c0 00"
        );
        assert_eq!(encode_hex(&Packet::PingResp, ProtocolVersion::V5), "d0 00");
    }

    #[test]
    fn does_each_packet_report_its_type() {
        assert_eq!(Packet::PingReq.packet_type(), 12);
        assert_eq!(Packet::PubRel(PubResp::new(1)).packet_type(), 6);
    }
}
