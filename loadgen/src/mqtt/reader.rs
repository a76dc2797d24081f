//! The read half of a client connection: [`PacketReader`] reads straight into
//! its own buffer and hands out one packet at a time. PUBLISH, the packet a
//! load generator receives millions of, takes a borrowed fast path
//! ([`PublishView`]: QoS, packet id and the payload as a slice of the buffer,
//! nothing allocated or copied); every other packet is copied out and decoded
//! by Meridian's codec.
//!
//! The fast path checks what framing needs (remaining length, packet size
//! limit, QoS, DUP, field lengths, packet id) and reports malformed packets
//! with the same [`ProtocolError`] as the codec. It trusts the broker under
//! test for the rest: the topic is skipped without UTF-8 or wildcard checks and
//! MQTT 5 properties are skipped by their length, unread. A PUBLISH with an
//! empty topic (a topic alias, or an error) goes through the codec.

use bytes::BytesMut;
use futures_lite::io::{AsyncRead, AsyncReadExt};
use meridian::protocol::{
    decode, DecodeLimits, Packet, ProtocolError, ProtocolVersion, QoS, MAX_PACKET_SIZE,
};

use super::client::ClientError;

/// Initial buffer size, and so the most asked of the socket per read until a
/// larger packet makes the buffer grow.
const READ_CHUNK: usize = 64 * 1024;
/// The PUBLISH packet type.
const PUBLISH: u8 = 3;
/// Longest fixed header: the type byte and a 4-byte remaining length.
const MAX_HEADER: usize = 5;

/// A received PUBLISH, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishView<'a> {
    pub qos: QoS,
    /// 0 for QoS 0.
    pub packet_id: u16,
    pub payload: &'a [u8],
}

/// One packet from [`PacketReader::try_next`], borrowed from the reader (a
/// `Packet` is hundreds of bytes: moving one per PUBLISH would cost more than
/// parsing it).
#[derive(Clone, Copy, Debug)]
pub enum Incoming<'a> {
    Publish(PublishView<'a>),
    /// Any other packet, decoded by the codec.
    Other(&'a Packet),
}

/// Reads packets off a connection: one read fills the free end of the buffer
/// with as much as the socket has, then [`PacketReader::try_next`] takes the
/// packets in it one by one. Bytes of an incomplete packet move to the front
/// before the next read; the buffer grows only for a packet larger than it.
pub struct PacketReader<R> {
    io: R,
    buf: Vec<u8>,
    /// Next unread byte.
    start: usize,
    /// End of the bytes read.
    end: usize,
    version: ProtocolVersion,
    limits: DecodeLimits,
    /// Where a packet other than PUBLISH is copied for the codec; its
    /// allocation is reused once the previous packet is dropped.
    scratch: BytesMut,
    /// The last packet other than PUBLISH, lent out by `try_next`.
    other: Option<Packet>,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    /// A reader for a connection that has sent CONNECT with `version`.
    pub fn new(io: R, version: ProtocolVersion) -> Self {
        Self::with_limits(io, version, READ_CHUNK, MAX_PACKET_SIZE)
    }

    /// A reader whose buffer starts at `capacity` bytes and that refuses
    /// packets larger than `max_packet_size`.
    fn with_limits(io: R, version: ProtocolVersion, capacity: usize, max_packet_size: u32) -> Self {
        PacketReader {
            io,
            buf: vec![0; capacity.max(MAX_HEADER)],
            start: 0,
            end: 0,
            version,
            limits: DecodeLimits {
                version: Some(version),
                max_packet_size,
            },
            scratch: BytesMut::new(),
            other: None,
        }
    }

    /// Waits for the next bytes; returns how many arrived (0 at end of stream).
    pub async fn fill(&mut self) -> Result<usize, ClientError> {
        self.make_room()?;
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Moves the unread bytes to the front, and grows the buffer if it is
    /// still full: to the size of the packet at the front when that is larger,
    /// else (a caller that does not take its packets) to twice the size.
    fn make_room(&mut self) -> Result<(), ClientError> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end < self.buf.len() {
            return Ok(());
        }
        // A malformed fixed header fails here, before the buffer grows for it.
        self.front()?;
        let size = match parse_fixed_header(&self.buf[..self.end]) {
            Ok(Some((header, remaining))) => header + remaining,
            _ => 0,
        };
        let len = if size > self.buf.len() {
            size
        } else {
            self.buf.len() * 2
        };
        self.buf.resize(len, 0);
        Ok(())
    }

    /// The packet at the front if it is all buffered: (first byte, fixed
    /// header length, size). Otherwise the codec judges the fixed header, so
    /// a bad first byte, a bad remaining length or a packet over the size
    /// limit fail as soon as they arrive, with the codec's error.
    fn front(&self) -> Result<Option<(u8, usize, usize)>, ProtocolError> {
        let avail = &self.buf[self.start..self.end];
        let Some(&first) = avail.first() else {
            return Ok(None);
        };
        if let Ok(Some((header, remaining))) = parse_fixed_header(avail) {
            let size = header + remaining;
            if size <= avail.len() && size <= self.limits.max_packet_size as usize {
                return Ok(Some((first, header, size)));
            }
        }
        let mut head = BytesMut::from(&avail[..avail.len().min(MAX_HEADER)]);
        // Not `Some`: a packet within the fixed header's bytes is complete.
        decode(&mut head, &self.limits).map(|_| None)
    }

    /// The next whole packet already buffered, if any; PUBLISH borrowed (see
    /// the module doc). A complete packet is consumed even when malformed.
    pub fn try_next(&mut self) -> Result<Option<Incoming<'_>>, ClientError> {
        let Some((first, header, size)) = self.front()? else {
            return Ok(None);
        };
        let start = self.start;
        self.start += size;
        let packet = &self.buf[start..start + size];
        if first >> 4 == PUBLISH {
            let p = parse_publish(packet, header, self.version)?;
            return Ok(Some(Incoming::Publish(p)));
        }
        // Dropped first, so that the scratch allocation can be reused.
        self.other = None;
        let p = codec_decode(packet, &mut self.scratch, &self.limits)?;
        Ok(Some(Incoming::Other(self.other.insert(p))))
    }

    /// The next whole packet already buffered, all of it decoded by the codec
    /// (PUBLISH too). A complete packet is consumed even when malformed.
    pub fn try_next_packet(&mut self) -> Result<Option<Packet>, ClientError> {
        let Some((_, _, size)) = self.front()? else {
            return Ok(None);
        };
        let start = self.start;
        self.start += size;
        let packet = &self.buf[start..start + size];
        self.other = None;
        Ok(Some(codec_decode(packet, &mut self.scratch, &self.limits)?))
    }

    /// The next packet, reading as needed; `Closed` at end of stream.
    pub async fn next(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(p) = self.try_next_packet()? {
                return Ok(p);
            }
            if self.fill().await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }
}

/// Decodes one whole packet with the codec, copied into `scratch`.
fn codec_decode(
    packet: &[u8],
    scratch: &mut BytesMut,
    limits: &DecodeLimits,
) -> Result<Packet, ProtocolError> {
    scratch.clear();
    scratch.extend_from_slice(packet);
    // A whole packet never decodes as `None`; were it to, it would be short.
    decode(scratch, limits)?.ok_or(ProtocolError::UnexpectedEnd { what: "packet" })
}

/// The fixed header at the front of `buf`: `Ok(None)` until it is all there,
/// else (header length, remaining length). A remaining length of more than 4
/// bytes is malformed [MQTT-1.5.5/2.2.3], as in the codec.
fn parse_fixed_header(buf: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut value = 0usize;
    for (i, &b) in buf.iter().skip(1).take(4).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((i + 2, value)));
        }
    }
    if buf.len() >= MAX_HEADER {
        return Err(ProtocolError::VarIntTooLong {
            what: "remaining length",
        });
    }
    Ok(None)
}

/// Reads a whole PUBLISH packet (`header` bytes of fixed header, then the
/// body) without copying: see the module doc for what is checked.
fn parse_publish(
    packet: &[u8],
    header: usize,
    version: ProtocolVersion,
) -> Result<PublishView<'_>, ProtocolError> {
    let flags = packet[0] & 0x0F;
    let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(ProtocolError::InvalidQoS)?;
    if flags & 0x08 != 0 && qos == QoS::AtMostOnce {
        return Err(ProtocolError::DupWithQoS0);
    }
    let body = &packet[header..];
    let topic_len = match body {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => return Err(end_of("topic name")),
    };
    let mut pos = 2 + topic_len;
    if pos > body.len() {
        return Err(end_of("topic name"));
    }
    if topic_len == 0 {
        // Rare: a topic alias (5.0) or an error the codec names.
        return codec_publish(packet, version);
    }
    let mut packet_id = 0;
    if qos != QoS::AtMostOnce {
        packet_id = match body.get(pos..pos + 2) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => return Err(end_of("packet identifier")),
        };
        if packet_id == 0 {
            return Err(ProtocolError::ZeroPacketId { packet: "PUBLISH" });
        }
        pos += 2;
    }
    if version.is_v5() {
        let (used, len) = var_int(&body[pos..], "property length")?;
        pos += used;
        if len > body.len() - pos {
            return Err(end_of("properties"));
        }
        pos += len;
    }
    Ok(PublishView {
        qos,
        packet_id,
        payload: &body[pos..],
    })
}

/// A whole PUBLISH decoded by the codec, its payload borrowed from `packet`
/// (where it is the last bytes).
fn codec_publish(
    packet: &[u8],
    version: ProtocolVersion,
) -> Result<PublishView<'_>, ProtocolError> {
    let limits = DecodeLimits {
        version: Some(version),
        max_packet_size: MAX_PACKET_SIZE,
    };
    let short = ProtocolError::UnexpectedEnd { what: "PUBLISH" };
    let Packet::Publish(p) = codec_decode(packet, &mut BytesMut::new(), &limits)? else {
        return Err(short);
    };
    let Some(payload) = packet.len().checked_sub(p.payload.len()) else {
        return Err(short);
    };
    Ok(PublishView {
        qos: p.qos,
        packet_id: p.packet_id,
        payload: &packet[payload..],
    })
}

/// A Variable Byte Integer at the front of `buf`: (bytes used, value).
fn var_int(buf: &[u8], what: &'static str) -> Result<(usize, usize), ProtocolError> {
    let mut value = 0usize;
    for i in 0..4 {
        let b = *buf.get(i).ok_or_else(|| end_of(what))?;
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((i + 1, value));
        }
    }
    Err(ProtocolError::VarIntTooLong { what })
}

fn end_of(what: &'static str) -> ProtocolError {
    ProtocolError::UnexpectedEnd { what }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use futures_lite::future::block_on;
    use meridian::protocol::{encode, MqttStr, Properties, PubResp, Publish, ReasonCode, SubAck};
    use proptest::prelude::*;

    use super::*;

    const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    /// A stream that hands out `data` in reads of the given sizes, in turn.
    struct Chunks {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        reads: usize,
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let want = this.sizes[this.reads % this.sizes.len()].max(1);
            let n = want.min(buf.len()).min(this.data.len() - this.pos);
            buf[..n].copy_from_slice(&this.data[this.pos..this.pos + n]);
            this.pos += n;
            this.reads += 1;
            Poll::Ready(Ok(n))
        }
    }

    /// What a reader made of the stream, in order; an error ends it.
    #[derive(Debug, PartialEq)]
    enum Got {
        Publish {
            qos: QoS,
            packet_id: u16,
            payload: Vec<u8>,
        },
        Other(Box<Packet>),
        Error(String),
    }

    fn got(incoming: Incoming<'_>) -> Got {
        match incoming {
            Incoming::Publish(p) => Got::Publish {
                qos: p.qos,
                packet_id: p.packet_id,
                payload: p.payload.to_vec(),
            },
            Incoming::Other(p) => Got::Other(Box::new(p.clone())),
        }
    }

    fn error(e: impl Into<ClientError>) -> Got {
        Got::Error(e.into().to_string())
    }

    /// Reads `data` through a [`PacketReader`] of `capacity`, in reads of `sizes`.
    fn read_with(
        data: &[u8],
        sizes: &[usize],
        version: ProtocolVersion,
        capacity: usize,
        max_packet_size: u32,
    ) -> Vec<Got> {
        let io = Chunks {
            data: data.to_vec(),
            pos: 0,
            sizes: sizes.to_vec(),
            reads: 0,
        };
        let mut r = PacketReader::with_limits(io, version, capacity, max_packet_size);
        let mut out = Vec::new();
        block_on(async {
            loop {
                loop {
                    match r.try_next() {
                        Ok(Some(p)) => out.push(got(p)),
                        Ok(None) => break,
                        Err(e) => return out.push(error(e)),
                    }
                }
                match r.fill().await {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) => return out.push(error(e)),
                }
            }
        });
        out
    }

    fn read(data: &[u8], sizes: &[usize], version: ProtocolVersion, capacity: usize) -> Vec<Got> {
        read_with(data, sizes, version, capacity, MAX_PACKET_SIZE)
    }

    /// What the codec makes of the whole stream at once.
    fn reference_with(data: &[u8], version: ProtocolVersion, max_packet_size: u32) -> Vec<Got> {
        let limits = DecodeLimits {
            version: Some(version),
            max_packet_size,
        };
        let mut buf = BytesMut::from(data);
        let mut out = Vec::new();
        loop {
            match decode(&mut buf, &limits) {
                Ok(Some(Packet::Publish(p))) => out.push(Got::Publish {
                    qos: p.qos,
                    packet_id: p.packet_id,
                    payload: p.payload.to_vec(),
                }),
                Ok(Some(p)) => out.push(Got::Other(Box::new(p))),
                Ok(None) => return out,
                Err(e) => {
                    out.push(error(e));
                    return out;
                }
            }
        }
    }

    fn reference(data: &[u8], version: ProtocolVersion) -> Vec<Got> {
        reference_with(data, version, MAX_PACKET_SIZE)
    }

    fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &[u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: MqttStr::from(topic),
            packet_id: if qos == QoS::AtMostOnce { 0 } else { packet_id },
            payload: Bytes::copy_from_slice(payload),
            properties: Properties::default(),
        }
    }

    fn wire(packets: &[Packet], version: ProtocolVersion) -> Vec<u8> {
        let mut out = BytesMut::new();
        for p in packets {
            encode(p, version, &mut out).expect("encodes");
        }
        out.to_vec()
    }

    fn v5_properties() -> Properties {
        Properties {
            message_expiry_interval: Some(60),
            content_type: Some(MqttStr::from("text/plain")),
            user_properties: vec![(MqttStr::from("k"), MqttStr::from("v"))],
            subscription_identifiers: [7].into_iter().collect(),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            ..Properties::default()
        }
    }

    /// A mix of every QoS and of packets the subscriber and publisher meet.
    fn mixed(version: ProtocolVersion) -> Vec<Packet> {
        let mut with_props = publish("a/b", QoS::AtLeastOnce, 9, b"props");
        if version.is_v5() {
            with_props.properties = v5_properties();
        }
        vec![
            Packet::SubAck(SubAck {
                packet_id: 1,
                properties: Properties::default(),
                reason_codes: vec![ReasonCode::GrantedQoS1],
            }),
            Packet::Publish(publish("t", QoS::AtMostOnce, 0, b"zero")),
            Packet::Publish(publish("bench/0", QoS::AtLeastOnce, 1, &[0xAB; 64])),
            Packet::Publish(publish("x/y/z", QoS::ExactlyOnce, 65535, b"")),
            Packet::Publish(with_props),
            Packet::PubRel(PubResp::new(65535)),
            Packet::PubAck(PubResp::new(3)),
            Packet::PingResp,
            Packet::Publish(Publish {
                dup: true,
                retain: true,
                ..publish("d", QoS::ExactlyOnce, 2, b"dup")
            }),
        ]
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex"))
            .collect()
    }

    #[test]
    fn does_a_packet_arriving_one_byte_at_a_time_decode_as_a_whole() {
        for version in [V3, V5] {
            let data = wire(&mixed(version), version);
            let expected = reference(&data, version);
            assert_eq!(expected.len(), mixed(version).len());
            assert_eq!(read(&data, &[1], version, 8), expected, "{version:?}");
            assert_eq!(read(&data, &[1], version, READ_CHUNK), expected);
        }
    }

    #[test]
    fn are_many_packets_in_one_read_all_returned() {
        let packets: Vec<Packet> = (1..=500u16)
            .map(|i| Packet::Publish(publish("bench/t", QoS::AtLeastOnce, i, &i.to_be_bytes())))
            .collect();
        for version in [V3, V5] {
            let data = wire(&packets, version);
            let got = read(&data, &[data.len()], version, data.len());
            assert_eq!(got.len(), 500);
            assert_eq!(got, reference(&data, version));
        }
    }

    #[test]
    fn does_a_packet_larger_than_the_buffer_grow_it() {
        let big = vec![0x5A; 100_000];
        let packets = [
            Packet::Publish(publish("small", QoS::AtMostOnce, 0, b"s")),
            Packet::Publish(publish("big", QoS::ExactlyOnce, 4, &big)),
            Packet::Publish(publish("after", QoS::AtLeastOnce, 5, b"a")),
        ];
        for version in [V3, V5] {
            let data = wire(&packets, version);
            let expected = reference(&data, version);
            for sizes in [&[64 * 1024][..], &[1000, 7, 1], &[1]] {
                assert_eq!(read(&data, sizes, version, 64), expected);
            }
            let got = read(&data, &[usize::MAX], version, READ_CHUNK);
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn is_the_tail_of_a_read_kept_for_the_next_one() {
        // Reads that end inside the fixed header, the topic, the packet id and
        // the payload of successive packets, with a buffer that must compact.
        let packets: Vec<Packet> = (1..=40u16)
            .map(|i| Packet::Publish(publish("tail/topic", QoS::AtLeastOnce, i, &[i as u8; 30])))
            .collect();
        let data = wire(&packets, V3);
        let expected = reference(&data, V3);
        for n in [2, 3, 13, 15, 44, 45, 47, 99] {
            assert_eq!(read(&data, &[n], V3, 64), expected, "reads of {n}");
        }
    }

    #[test]
    fn are_v5_properties_skipped_by_their_length() {
        let mut p = publish("a/b", QoS::AtLeastOnce, 77, b"payload");
        p.properties = v5_properties();
        let data = wire(&[Packet::Publish(p)], V5);
        assert_eq!(
            read(&data, &[usize::MAX], V5, 1024),
            vec![Got::Publish {
                qos: QoS::AtLeastOnce,
                packet_id: 77,
                payload: b"payload".to_vec()
            }]
        );
    }

    #[test]
    fn does_a_topic_alias_with_an_empty_topic_use_the_codec() {
        let mut p = publish("", QoS::AtMostOnce, 0, b"aliased");
        p.properties.topic_alias = Some(3);
        let data = wire(&[Packet::Publish(p)], V5);
        let got = read(&data, &[usize::MAX], V5, 1024);
        assert_eq!(got, reference(&data, V5));
        assert_eq!(
            got,
            vec![Got::Publish {
                qos: QoS::AtMostOnce,
                packet_id: 0,
                payload: b"aliased".to_vec()
            }]
        );
    }

    /// Malformed input fails with the codec's error, however it arrives.
    fn assert_same_error(s: &str, version: ProtocolVersion) {
        let data = hex(s);
        let expected = reference(&data, version);
        assert!(
            matches!(expected.last(), Some(Got::Error(_))),
            "{s}: the codec accepts it: {expected:?}"
        );
        for sizes in [&[usize::MAX][..], &[1], &[2, 3]] {
            assert_eq!(read(&data, sizes, version, 8), expected, "{s} in {sizes:?}");
        }
    }

    #[test]
    fn is_malformed_input_an_error_like_the_codec() {
        // Remaining length of five bytes [MQTT-1.5.5].
        assert_same_error("30 ff ff ff ff 01", V3);
        assert_same_error("40 ff ff ff ff 01", V3);
        // QoS 3.
        assert_same_error("36 05 00 01 74 00 01", V3);
        // DUP on QoS 0.
        assert_same_error("38 04 00 01 74 00", V3);
        // No room for the topic length, or the topic past the end.
        assert_same_error("30 01 00", V3);
        assert_same_error("30 00", V3);
        assert_same_error("30 04 00 09 61 62", V3);
        assert_same_error("30 02 00 03 30 00", V3);
        // Packet id missing, short or zero.
        assert_same_error("32 03 00 01 74", V3);
        assert_same_error("32 04 00 01 74 00", V3);
        assert_same_error("34 05 00 01 74 00 00", V3);
        // Empty topic: 3.1.1, and 5.0 without a Topic Alias.
        assert_same_error("30 03 00 00 61", V3);
        assert_same_error("30 04 00 00 00 61", V5);
        // Property length missing, past the end, or too long.
        assert_same_error("30 03 00 01 74", V5);
        assert_same_error("30 05 00 01 74 09 01", V5);
        assert_same_error("30 08 00 01 74 ff ff ff ff 01", V5);
        // Reserved type, bad flags, a second CONNECT: from the first byte.
        assert_same_error("00 00", V3);
        assert_same_error("f0 00", V3);
        assert_same_error("62 02 00 01 40 02 00 01 00 01", V3);
        assert_same_error("41 02 00 01", V3);
        assert_same_error("10 0c 00 04 4d 51", V3);
        // A malformed ack after a good PUBLISH.
        assert_same_error("30 03 00 01 74 40 01 00", V3);
    }

    #[test]
    fn does_a_bad_first_byte_fail_before_the_packet_is_complete() {
        let got = read(&hex("00 7f"), &[usize::MAX], V3, 64);
        assert_eq!(got, vec![error(ProtocolError::ReservedPacketType(0))]);
    }

    #[test]
    fn is_an_oversized_packet_refused_from_its_header() {
        for first in ["30", "90"] {
            // 1 + 2 + 200 bytes, only the header sent: fails at once.
            let data = hex(&format!("{first} c8 01"));
            let too_large = error(ProtocolError::PacketTooLarge {
                size: 203,
                max: 100,
            });
            assert_eq!(read_with(&data, &[1], V3, 8, 100), vec![too_large]);
            assert_eq!(
                reference_with(&data, V3, 100),
                read_with(&data, &[1], V3, 8, 100)
            );
        }
    }

    #[test]
    fn does_a_packet_at_the_end_of_the_stream_end_quietly_when_incomplete() {
        let mut data = wire(&mixed(V3), V3);
        data.truncate(data.len() - 1);
        let got = read(&data, &[5], V3, 16);
        assert_eq!(got, reference(&data, V3));
        assert_eq!(got.len(), mixed(V3).len() - 1);
    }

    #[test]
    fn does_try_next_packet_decode_a_publish_fully() {
        let data = wire(&mixed(V5), V5);
        let io = Chunks {
            data: data.clone(),
            pos: 0,
            sizes: vec![usize::MAX],
            reads: 0,
        };
        let mut r = PacketReader::new(io, V5);
        let mut packets = Vec::new();
        block_on(async {
            while let Ok(p) = r.next().await {
                packets.push(p);
            }
        });
        assert_eq!(packets, mixed(V5));
        // And the codec's checks apply: a wildcard in the topic.
        let bad = hex("30 04 00 01 23 61");
        assert_eq!(read(&bad, &[9], V3, 64).len(), 1);
        let io = Chunks {
            data: bad,
            pos: 0,
            sizes: vec![9],
            reads: 0,
        };
        let mut r = PacketReader::new(io, V3);
        let err = block_on(r.next()).expect_err("wildcard topic");
        assert!(err.to_string().contains("wildcard"), "{err}");
    }

    fn version() -> impl Strategy<Value = ProtocolVersion> {
        prop_oneof![
            Just(ProtocolVersion::V3_1),
            Just(ProtocolVersion::V3_1_1),
            Just(ProtocolVersion::V5)
        ]
    }

    fn qos() -> impl Strategy<Value = QoS> {
        prop_oneof![
            Just(QoS::AtMostOnce),
            Just(QoS::AtLeastOnce),
            Just(QoS::ExactlyOnce)
        ]
    }

    fn properties() -> impl Strategy<Value = Properties> {
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of("[a-z/]{0,12}"),
            proptest::collection::vec(("[a-z]{0,5}", "[a-z]{0,5}"), 0..3),
            proptest::collection::vec(1u32..=268_435_455, 0..3),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            proptest::option::of(1u16..),
        )
            .prop_map(|(expiry, content, user, ids, corr, alias)| Properties {
                message_expiry_interval: expiry,
                content_type: content.map(|c| MqttStr::from(c.as_str())),
                user_properties: user
                    .into_iter()
                    .map(|(k, v)| (MqttStr::from(k.as_str()), MqttStr::from(v.as_str())))
                    .collect(),
                subscription_identifiers: ids.into_iter().collect(),
                correlation_data: corr.map(Bytes::from),
                topic_alias: alias,
                ..Properties::default()
            })
    }

    /// PUBLISH packets valid in `version` (empty topics only with an alias),
    /// and now and then an ack.
    fn packet(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
        let publish = (
            qos(),
            any::<bool>(),
            any::<bool>(),
            "[a-z0-9/]{0,30}",
            1u16..,
            proptest::collection::vec(any::<u8>(), 0..300),
            properties(),
        )
            .prop_map(move |(qos, dup, retain, topic, id, payload, mut props)| {
                if !version.is_v5() {
                    props = Properties::default();
                }
                let topic = match topic.as_str() {
                    "" if props.topic_alias.is_none() => "t".to_string(),
                    _ => topic,
                };
                Packet::Publish(Publish {
                    dup: dup && qos != QoS::AtMostOnce,
                    qos,
                    retain,
                    topic: MqttStr::from(topic.as_str()),
                    packet_id: if qos == QoS::AtMostOnce { 0 } else { id },
                    payload: Bytes::from(payload),
                    properties: props,
                })
            });
        prop_oneof![
            8 => publish,
            1 => (1u16..).prop_map(|id| Packet::PubAck(PubResp::new(id))),
            1 => (1u16..).prop_map(|id| Packet::PubRel(PubResp::new(id))),
        ]
    }

    fn stream() -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
        version().prop_flat_map(|v| (Just(v), proptest::collection::vec(packet(v), 1..20)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn does_the_fast_path_agree_with_the_codec(
            (version, packets) in stream(),
            sizes in proptest::collection::vec(1usize..400, 1..8),
            capacity in 5usize..600,
        ) {
            let data = wire(&packets, version);
            let expected = reference(&data, version);
            prop_assert_eq!(expected.len(), packets.len());
            prop_assert_eq!(read(&data, &sizes, version, capacity), expected);
        }

        #[test]
        fn is_damaged_input_never_a_panic_and_never_stricter_than_the_codec(
            (version, packets) in stream(),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            sizes in proptest::collection::vec(1usize..400, 1..8),
            capacity in 5usize..600,
        ) {
            let mut data = wire(&packets, version);
            for (at, byte) in damage {
                let i = at.index(data.len());
                data[i] = byte;
            }
            let expected = reference(&data, version);
            let got = read(&data, &sizes, version, capacity);
            // The fast path skips some checks (UTF-8, wildcards, property
            // contents), so it may accept more; up to the codec's first error
            // it must agree.
            let clean = expected
                .iter()
                .position(|g| matches!(g, Got::Error(_)))
                .unwrap_or(expected.len());
            prop_assert!(got.len() >= clean);
            prop_assert_eq!(&got[..clean], &expected[..clean]);
            if clean == expected.len() {
                prop_assert_eq!(got, expected);
            }
        }
    }
}
