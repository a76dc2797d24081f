//! Hand-written MQTT bytes for raw-socket tests: encoders for the packets a
//! test sends (independent of the broker's codec) and small decoders for the
//! fields a test checks in what comes back.

/// Control packet types (the fixed header's high nibble).
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBACK: u8 = 9;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;

/// The Variable Byte Integer encoding of `n` (1–4 bytes).
pub fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

/// A packet: fixed-header byte, remaining length, body.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(varint(body.len()));
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string or binary field.
pub fn field(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("field fits u16");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A v5 property block: its length, then `properties` (already encoded).
pub fn props(properties: &[u8]) -> Vec<u8> {
    let mut out = varint(properties.len());
    out.extend_from_slice(properties);
    out
}

/// A Will for [`Connect`].
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    /// v5 Will Properties, encoded (ignored for level 4).
    pub properties: Vec<u8>,
}

/// A CONNECT packet to encode; `level` 4 is MQTT 3.1.1, 5 is MQTT 5.0.
pub struct Connect<'a> {
    pub level: u8,
    pub client_id: &'a str,
    pub clean: bool,
    pub keepalive: u16,
    /// v5 CONNECT properties, encoded (ignored for level 4).
    pub properties: Vec<u8>,
    pub will: Option<Will<'a>>,
}

impl<'a> Connect<'a> {
    /// A plain CONNECT: no will, no properties.
    pub fn new(level: u8, client_id: &'a str, clean: bool, keepalive: u16) -> Self {
        Connect {
            level,
            client_id,
            clean,
            keepalive,
            properties: Vec::new(),
            will: None,
        }
    }

    /// The encoded packet.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.clean {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        let mut body = field(b"MQTT");
        body.push(self.level);
        body.push(flags);
        body.extend_from_slice(&self.keepalive.to_be_bytes());
        if self.level == 5 {
            body.extend(props(&self.properties));
        }
        body.extend(field(self.client_id.as_bytes()));
        if let Some(will) = &self.will {
            if self.level == 5 {
                body.extend(props(&will.properties));
            }
            body.extend(field(will.topic.as_bytes()));
            body.extend(field(will.payload));
        }
        frame(0x10, &body)
    }
}

/// A SUBSCRIBE with one filter and its options byte (QoS in bits 0–1).
pub fn subscribe(pkid: u16, filter: &str, options: u8, v5: bool) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    if v5 {
        body.push(0);
    }
    body.extend(field(filter.as_bytes()));
    body.push(options);
    frame(0x82, &body)
}

/// A PUBLISH; `pkid` is written only for QoS > 0, `properties` only when `Some` (v5).
pub fn publish(
    topic: &[u8],
    qos: u8,
    retain: bool,
    pkid: u16,
    payload: &[u8],
    properties: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = field(topic);
    if qos > 0 {
        body.extend_from_slice(&pkid.to_be_bytes());
    }
    if let Some(properties) = properties {
        body.extend(props(properties));
    }
    body.extend_from_slice(payload);
    frame(0x30 | (qos << 1) | u8::from(retain), &body)
}

/// PUBACK for `pkid` (both versions: reason 0x00 may be omitted in v5).
pub fn puback(pkid: u16) -> Vec<u8> {
    frame(0x40, &pkid.to_be_bytes())
}

/// PUBREC for `pkid`.
pub fn pubrec(pkid: u16) -> Vec<u8> {
    frame(0x50, &pkid.to_be_bytes())
}

/// PUBREL for `pkid`.
pub fn pubrel(pkid: u16) -> Vec<u8> {
    frame(0x62, &pkid.to_be_bytes())
}

/// PUBCOMP for `pkid`.
pub fn pubcomp(pkid: u16) -> Vec<u8> {
    frame(0x70, &pkid.to_be_bytes())
}

/// PINGREQ.
pub fn pingreq() -> Vec<u8> {
    vec![0xC0, 0x00]
}

/// A v5 DISCONNECT with `reason` and no properties.
pub fn disconnect_v5(reason: u8) -> Vec<u8> {
    vec![0xE0, 0x02, reason, 0x00]
}

/// The packet type of a whole packet.
pub fn kind(packet: &[u8]) -> u8 {
    packet[0] >> 4
}

/// How many bytes the fixed header of `packet` takes.
fn header_len(packet: &[u8]) -> usize {
    1 + packet[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1
}

/// The body of a packet (after the fixed header).
pub fn body(packet: &[u8]) -> &[u8] {
    &packet[header_len(packet)..]
}

/// Decodes a Variable Byte Integer at the start of `bytes`: (value, length).
pub fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("malformed variable byte integer from broker: {bytes:02x?}");
}

/// A CONNACK's (session present, return/reason code).
pub fn connack(packet: &[u8]) -> (bool, u8) {
    assert_eq!(kind(packet), CONNACK, "expected CONNACK, got {packet:02x?}");
    let body = body(packet);
    (body[0] & 1 == 1, body[1])
}

/// A DISCONNECT's reason code (0x00 when the packet has no body).
pub fn disconnect_reason(packet: &[u8]) -> u8 {
    assert_eq!(
        kind(packet),
        DISCONNECT,
        "expected DISCONNECT, got {packet:02x?}"
    );
    body(packet).first().copied().unwrap_or(0)
}

/// The packet id of an ack-like packet (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK).
pub fn ack_pkid(packet: &[u8]) -> u16 {
    let body = body(packet);
    u16::from_be_bytes([body[0], body[1]])
}

/// The first return/reason code of a SUBACK.
pub fn suback_code(packet: &[u8], v5: bool) -> u8 {
    assert_eq!(kind(packet), SUBACK, "expected SUBACK, got {packet:02x?}");
    let body = body(packet);
    if v5 {
        let (len, n) = read_varint(&body[2..]);
        body[2 + n + len]
    } else {
        body[2]
    }
}

/// The fields of a received PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPublish {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    pub topic: Vec<u8>,
    pub pkid: Option<u16>,
    /// v5 properties, still encoded (empty for 3.1.1).
    pub properties: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Decodes a PUBLISH sent by the broker to a 3.1.1 (`v5 = false`) or 5.0 client.
pub fn parse_publish(packet: &[u8], v5: bool) -> RxPublish {
    assert_eq!(kind(packet), PUBLISH, "expected PUBLISH, got {packet:02x?}");
    let flags = packet[0] & 0x0F;
    let qos = (flags >> 1) & 3;
    let body = body(packet);
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = body[2..2 + topic_len].to_vec();
    let mut at = 2 + topic_len;
    let pkid = (qos > 0).then(|| {
        at += 2;
        u16::from_be_bytes([body[at - 2], body[at - 1]])
    });
    let mut properties = Vec::new();
    if v5 {
        let (len, n) = read_varint(&body[at..]);
        properties = body[at + n..at + n + len].to_vec();
        at += n + len;
    }
    RxPublish {
        dup: flags & 0x08 != 0,
        qos,
        retain: flags & 1 == 1,
        topic,
        pkid,
        properties,
        payload: body[at..].to_vec(),
    }
}
