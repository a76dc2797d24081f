//! CONNECT ([MQTT-3.1]): the first packet of a connection, which fixes its
//! protocol version. Accepts 3.1 ("MQIsdp", level 3), 3.1.1 and 5.0.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::frame::parse_remaining_length;
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::{ProtocolVersion, QoS};
use super::string::MqttStr;
use super::topic::reject_wildcards;
use super::wire::{prefixed_len, put_binary, put_str, Reader};

/// A client's request to open a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Connect {
    /// The version the client speaks; every later packet uses it.
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.x).
    pub clean_start: bool,
    /// Seconds; 0 disables keep alive.
    pub keep_alive: u16,
    /// May be empty (the server assigns one in 5.0, or with clean session in 3.1.1).
    pub client_id: MqttStr,
    /// The message the server publishes if the connection ends abnormally.
    pub will: Option<Will>,
    pub username: Option<MqttStr>,
    pub password: Option<Bytes>,
    /// 5.0 CONNECT properties (empty for 3.x).
    pub properties: Properties,
}

/// The will message of a CONNECT.
#[derive(Clone, Debug, PartialEq)]
pub struct Will {
    pub topic: MqttStr,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 will properties (empty for 3.x).
    pub properties: Properties,
}

const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

impl Connect {
    pub(crate) fn decode(body: &Bytes) -> Result<Connect, ProtocolError> {
        let mut r = Reader::new(body);
        let name = r.binary("protocol name")?;
        let level = r.u8("protocol level")?;
        let protocol = match (&name[..], level) {
            (b"MQTT", 4) => ProtocolVersion::V3_1_1,
            (b"MQTT", 5) => ProtocolVersion::V5,
            (b"MQIsdp", 3) => ProtocolVersion::V3_1,
            (b"MQTT" | b"MQIsdp", other) => {
                return Err(ProtocolError::UnsupportedProtocolLevel(other))
            }
            _ => return Err(ProtocolError::InvalidProtocolName),
        };
        let v5 = protocol.is_v5();
        let flags = r.u8("connect flags")?;
        if flags & RESERVED != 0 {
            return Err(ProtocolError::ConnectReservedFlag);
        }
        let will_flag = flags & WILL != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & WILL_RETAIN != 0;
        if !will_flag && will_qos != 0 {
            return Err(ProtocolError::WillQoSWithoutWill);
        }
        if !will_flag && will_retain {
            return Err(ProtocolError::WillRetainWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos).ok_or(ProtocolError::InvalidWillQoS)?;
        if !v5 && flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(ProtocolError::PasswordWithoutUsername);
        }
        let clean_start = flags & CLEAN_START != 0;
        let keep_alive = r.u16("keep alive")?;
        let properties = if v5 {
            Properties::decode(&mut r, PropertyContext::Connect)?
        } else {
            Properties::default()
        };
        let client_id = r.string("client identifier")?;
        if client_id.is_empty()
            && (protocol == ProtocolVersion::V3_1
                || (protocol == ProtocolVersion::V3_1_1 && !clean_start))
        {
            return Err(ProtocolError::ClientIdRejected);
        }
        let will = if will_flag {
            let properties = if v5 {
                Properties::decode(&mut r, PropertyContext::Will)?
            } else {
                Properties::default()
            };
            let topic = r.string("will topic")?;
            if topic.is_empty() {
                return Err(ProtocolError::EmptyTopicName);
            }
            reject_wildcards(&topic)?;
            let payload = r.binary("will payload")?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary("password")?)
        } else {
            None
        };
        r.finish("CONNECT")?;
        Ok(Connect {
            protocol,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        let v5 = version.is_v5();
        let mut len = prefixed_len(version.protocol_name().len()) + 1 + 1 + 2;
        if v5 {
            len += self.properties.encoded_len();
        }
        len += prefixed_len(self.client_id.len());
        if let Some(will) = &self.will {
            if v5 {
                len += will.properties.encoded_len();
            }
            len += prefixed_len(will.topic.len()) + prefixed_len(will.payload.len());
        }
        len += self.username.as_ref().map_or(0, |u| prefixed_len(u.len()));
        len += self.password.as_ref().map_or(0, |p| prefixed_len(p.len()));
        len
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let v5 = version.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::NotInVersion {
                what: "a password without a user name",
                version,
            });
        }
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL | (will.qos as u8) << 3;
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        put_str(out, version.protocol_name(), "protocol name")?;
        out.put_u8(version.level());
        out.put_u8(flags);
        out.put_u16(self.keep_alive);
        if v5 {
            self.properties.write(out)?;
        }
        put_str(out, &self.client_id, "client identifier")?;
        if let Some(will) = &self.will {
            if v5 {
                will.properties.write(out)?;
            }
            put_str(out, &will.topic, "will topic")?;
            put_binary(out, &will.payload, "will payload")?;
        }
        if let Some(username) = &self.username {
            put_str(out, username, "user name")?;
        }
        if let Some(password) = &self.password {
            put_binary(out, password, "password")?;
        }
        Ok(())
    }
}

/// The protocol version a buffered CONNECT asks for, read without decoding it.
/// Lets a server answer a CONNECT that fails to decode in the client's version
/// (a 5.0 CONNACK with the error's reason code, or a 3.1.1 return code). `None`
/// if `buf` does not start with (enough of) a CONNECT or the level is unknown.
pub fn peek_connect_version(buf: &[u8]) -> Option<ProtocolVersion> {
    if buf.first()? >> 4 != 1 {
        return None;
    }
    let (header_len, _) = parse_remaining_length(&buf[1..]).ok()??;
    let body = buf.get(1 + header_len..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    ProtocolVersion::from_level(*body.get(2 + name_len)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::{Packet, ReasonCode};

    fn connect(s: &str) -> Result<Connect, ProtocolError> {
        match decode_hex(s, None)? {
            Packet::Connect(c) => Ok(*c),
            other => panic!("not a CONNECT: {other:?}"),
        }
    }

    const V311_FULL: &str = "10 1e 00 04 4d 51 54 54 04 ee 00 3c 00 02 63 31 00 03 77 2f 74 \
                             00 03 62 79 65 00 01 75 00 01 70";
    const V5_WILL: &str = "10 21 00 04 4d 51 54 54 05 06 00 0a 08 11 00 00 00 78 21 00 10 \
                           00 01 63 05 18 00 00 00 05 00 01 77 00 00";

    #[test]
    fn does_a_full_3_1_1_connect_decode_every_field() {
        let c = connect(V311_FULL).expect("valid");
        assert_eq!(c.protocol, ProtocolVersion::V3_1_1);
        assert!(c.clean_start);
        assert_eq!(c.keep_alive, 60);
        assert_eq!(c.client_id, "c1");
        let will = c.will.as_ref().expect("will flag set");
        assert_eq!(
            (will.topic.as_str(), &will.payload[..]),
            ("w/t", &b"bye"[..])
        );
        assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
        assert!(c.properties.is_empty());
        assert_eq!(
            encode_hex(&Packet::Connect(Box::new(c)), ProtocolVersion::V3_1_1),
            norm(V311_FULL)
        );
    }

    #[test]
    fn does_a_5_0_connect_decode_its_and_the_wills_properties() {
        let c = connect(V5_WILL).expect("valid");
        assert_eq!(c.protocol, ProtocolVersion::V5);
        assert_eq!(c.properties.session_expiry_interval, Some(120));
        assert_eq!(c.properties.receive_maximum, Some(16));
        let will = c.will.as_ref().expect("will");
        assert_eq!(will.properties.will_delay_interval, Some(5));
        assert_eq!(
            (will.qos, will.retain, will.payload.len()),
            (QoS::AtMostOnce, false, 0)
        );
        assert_eq!(
            encode_hex(&Packet::Connect(Box::new(c)), ProtocolVersion::V5),
            norm(V5_WILL)
        );
    }

    #[test]
    fn is_an_mqisdp_level_3_connect_accepted() {
        let s = "10 10 00 06 4d 51 49 73 64 70 03 02 00 3c 00 02 63 31";
        let c = connect(s).expect("3.1 is accepted");
        assert_eq!(c.protocol, ProtocolVersion::V3_1);
        assert_eq!(
            encode_hex(&Packet::Connect(Box::new(c)), ProtocolVersion::V3_1),
            norm(s)
        );
    }

    #[test]
    fn is_level_6_unsupported_mqtt_3_1_2_2() {
        let err = connect("10 0e 00 04 4d 51 54 54 06 02 00 3c 00 02 63 31").unwrap_err();
        assert_eq!(err, ProtocolError::UnsupportedProtocolLevel(6));
        assert_eq!(err.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    }

    #[test]
    fn is_a_wrong_protocol_name_refused_mqtt_3_1_2_1() {
        let err = connect("10 0e 00 04 4d 51 54 58 04 02 00 3c 00 02 63 31").unwrap_err();
        assert_eq!(err, ProtocolError::InvalidProtocolName);
        assert_eq!(err.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    }

    #[test]
    fn is_the_reserved_connect_flag_malformed_mqtt_3_1_2_3() {
        let err = connect("10 0e 00 04 4d 51 54 54 04 03 00 3c 00 02 63 31").unwrap_err();
        assert_eq!(err, ProtocolError::ConnectReservedFlag);
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn are_will_qos_and_retain_refused_without_a_will_mqtt_3_1_2_11_13_15() {
        let qos = connect("10 0e 00 04 4d 51 54 54 04 0a 00 3c 00 02 63 31").unwrap_err();
        assert_eq!(qos, ProtocolError::WillQoSWithoutWill);
        let retain = connect("10 0e 00 04 4d 51 54 54 05 22 00 3c 00 00 02 63 31");
        assert_eq!(retain.unwrap_err(), ProtocolError::WillRetainWithoutWill);
    }

    #[test]
    fn is_will_qos_3_malformed() {
        let err = connect("10 0e 00 04 4d 51 54 54 04 1e 00 3c 00 02 63 31").unwrap_err();
        assert_eq!(err, ProtocolError::InvalidWillQoS);
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn is_a_password_without_user_name_refused_in_3_1_1_only_mqtt_3_1_2_22() {
        let v311 = connect("10 11 00 04 4d 51 54 54 04 42 00 3c 00 02 63 31 00 01 70");
        assert_eq!(v311.unwrap_err(), ProtocolError::PasswordWithoutUsername);
        let v5 = connect("10 12 00 04 4d 51 54 54 05 42 00 3c 00 00 02 63 31 00 01 70")
            .expect("5.0 allows it");
        assert_eq!(
            (v5.username, v5.password.as_deref()),
            (None, Some(&b"p"[..]))
        );
    }

    #[test]
    fn are_trailing_bytes_after_the_payload_malformed() {
        let err = connect("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31 ff").unwrap_err();
        assert_eq!(
            err,
            ProtocolError::TrailingBytes {
                packet: "CONNECT",
                count: 1
            }
        );
    }

    #[test]
    fn is_an_empty_client_id_without_clean_session_rejected_in_3_1_1_mqtt_3_1_3_8() {
        let err = connect("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00").unwrap_err();
        assert_eq!(err.reason_code(), ReasonCode::ClientIdentifierNotValid);
        assert!(connect("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00").is_ok());
        assert!(connect("10 0d 00 04 4d 51 54 54 05 00 00 3c 00 00 00").is_ok());
    }

    #[test]
    fn is_a_wildcard_will_topic_invalid_mqtt_3_3_2_2() {
        let s = "10 15 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31 00 03 61 2f 23 00 00";
        assert_eq!(
            connect(s).unwrap_err(),
            ProtocolError::TopicNameWildcard("a/#".into())
        );
    }

    #[test]
    fn is_an_invalid_utf8_client_id_malformed_mqtt_1_5_4_1() {
        let err = connect("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c3 28").unwrap_err();
        assert_eq!(
            err,
            ProtocolError::InvalidUtf8 {
                what: "client identifier"
            }
        );
    }

    #[test]
    fn is_a_session_property_refused_among_will_properties() {
        let s = "10 19 00 04 4d 51 54 54 05 06 00 0a 00 00 01 63 05 11 00 00 00 05 00 01 77 00 00";
        let err = connect(s).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::PropertyNotAllowed {
                property: "Session Expiry Interval",
                packet: "will properties"
            }
        );
    }

    #[test]
    fn can_the_version_be_peeked_before_decoding() {
        assert_eq!(
            peek_connect_version(&crate::protocol::test_util::hex(V5_WILL)),
            Some(ProtocolVersion::V5)
        );
        assert_eq!(
            peek_connect_version(&crate::protocol::test_util::hex("10 21 00 04")),
            None
        );
        assert_eq!(
            peek_connect_version(&crate::protocol::test_util::hex("30 00")),
            None
        );
    }
}
