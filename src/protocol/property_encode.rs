//! The wire form of [`Properties`] on the encode side: the property list's
//! length (so [`super::encoded_len`] needs no buffer) and the writer, which
//! emits properties in identifier order.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::EncodeError;
use super::properties::Properties;
use super::property_id::PropertyId;
use super::string::MqttStr;
use super::wire::{prefixed_len, put_binary, put_str, put_var_int, var_int_len, MAX_VAR_INT};

impl Properties {
    /// Bytes of the property list, without its length prefix.
    pub(crate) fn wire_len(&self) -> usize {
        self.wire_len_with(self.message_expiry_interval, &self.subscription_identifiers)
    }

    /// [`Properties::wire_len`] with the two PUBLISH properties that differ per
    /// subscriber given apart (they replace this list's own).
    pub(crate) fn wire_len_with(&self, message_expiry: Option<u32>, sub_ids: &[u32]) -> usize {
        fn s(v: &Option<MqttStr>) -> usize {
            v.as_ref().map_or(0, |s| 1 + prefixed_len(s.len()))
        }
        fn b(v: &Option<Bytes>) -> usize {
            v.as_ref().map_or(0, |b| 1 + prefixed_len(b.len()))
        }
        fn n<T>(v: &Option<T>, size: usize) -> usize {
            v.as_ref().map_or(0, |_| 1 + size)
        }
        n(&self.payload_format_indicator, 1)
            + n(&message_expiry, 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + sub_ids
                .iter()
                .map(|&v| 1 + var_int_len(v as usize))
                .sum::<usize>()
            + n(&self.session_expiry_interval, 4)
            + s(&self.assigned_client_identifier)
            + n(&self.server_keep_alive, 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(&self.request_problem_information, 1)
            + n(&self.will_delay_interval, 4)
            + n(&self.request_response_information, 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(&self.receive_maximum, 2)
            + n(&self.topic_alias_maximum, 2)
            + n(&self.topic_alias, 2)
            + n(&self.maximum_qos, 1)
            + n(&self.retain_available, 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 1 + prefixed_len(k.len()) + prefixed_len(v.len()))
                .sum::<usize>()
            + n(&self.maximum_packet_size, 4)
            + n(&self.wildcard_subscription_available, 1)
            + n(&self.subscription_identifier_available, 1)
            + n(&self.shared_subscription_available, 1)
    }

    /// Bytes of the property length plus the property list.
    pub(crate) fn encoded_len(&self) -> usize {
        let len = self.wire_len();
        var_int_len(len) + len
    }

    /// Writes the property length and the properties, in identifier order.
    pub(crate) fn write(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.write_with_len(out, self.wire_len())
    }

    /// [`Properties::write`] when the caller already computed `wire_len()`.
    pub(crate) fn write_with_len(&self, out: &mut BytesMut, len: usize) -> Result<(), EncodeError> {
        self.write_with(
            out,
            len,
            self.message_expiry_interval,
            &self.subscription_identifiers,
        )
    }

    /// Writes the property length `len` (from [`Properties::wire_len_with`]) and the
    /// properties, with `message_expiry` and `sub_ids` in place of this list's own.
    pub(crate) fn write_with(
        &self,
        out: &mut BytesMut,
        len: usize,
        message_expiry: Option<u32>,
        sub_ids: &[u32],
    ) -> Result<(), EncodeError> {
        use PropertyId::*;
        put_var_int(out, len, "property length")?;
        if len == 0 {
            return Ok(());
        }
        fn byte(out: &mut BytesMut, id: PropertyId, v: Option<u8>) {
            if let Some(v) = v {
                out.put_u8(id as u8);
                out.put_u8(v);
            }
        }
        fn short(out: &mut BytesMut, id: PropertyId, v: Option<u16>) {
            if let Some(v) = v {
                out.put_u8(id as u8);
                out.put_u16(v);
            }
        }
        fn long(out: &mut BytesMut, id: PropertyId, v: Option<u32>) {
            if let Some(v) = v {
                out.put_u8(id as u8);
                out.put_u32(v);
            }
        }
        fn string(
            out: &mut BytesMut,
            id: PropertyId,
            v: &Option<MqttStr>,
        ) -> Result<(), EncodeError> {
            match v {
                Some(s) => {
                    out.put_u8(id as u8);
                    put_str(out, s, id.name())
                }
                None => Ok(()),
            }
        }
        fn binary(
            out: &mut BytesMut,
            id: PropertyId,
            v: &Option<Bytes>,
        ) -> Result<(), EncodeError> {
            match v {
                Some(b) => {
                    out.put_u8(id as u8);
                    put_binary(out, b, id.name())
                }
                None => Ok(()),
            }
        }
        byte(out, PayloadFormatIndicator, self.payload_format_indicator);
        long(out, MessageExpiryInterval, message_expiry);
        string(out, ContentType, &self.content_type)?;
        string(out, ResponseTopic, &self.response_topic)?;
        binary(out, CorrelationData, &self.correlation_data)?;
        for &v in sub_ids {
            if v > MAX_VAR_INT {
                return Err(EncodeError::VarIntTooLarge {
                    field: SubscriptionIdentifier.name(),
                    value: v,
                });
            }
            out.put_u8(SubscriptionIdentifier as u8);
            put_var_int(out, v as usize, SubscriptionIdentifier.name())?;
        }
        long(out, SessionExpiryInterval, self.session_expiry_interval);
        string(
            out,
            AssignedClientIdentifier,
            &self.assigned_client_identifier,
        )?;
        short(out, ServerKeepAlive, self.server_keep_alive);
        string(out, AuthenticationMethod, &self.authentication_method)?;
        binary(out, AuthenticationData, &self.authentication_data)?;
        byte(
            out,
            RequestProblemInformation,
            self.request_problem_information,
        );
        long(out, WillDelayInterval, self.will_delay_interval);
        byte(
            out,
            RequestResponseInformation,
            self.request_response_information,
        );
        string(out, ResponseInformation, &self.response_information)?;
        string(out, ServerReference, &self.server_reference)?;
        string(out, ReasonString, &self.reason_string)?;
        short(out, ReceiveMaximum, self.receive_maximum);
        short(out, TopicAliasMaximum, self.topic_alias_maximum);
        short(out, TopicAlias, self.topic_alias);
        byte(out, MaximumQoS, self.maximum_qos);
        byte(out, RetainAvailable, self.retain_available);
        for (k, v) in &self.user_properties {
            out.put_u8(UserProperty as u8);
            put_str(out, k, UserProperty.name())?;
            put_str(out, v, UserProperty.name())?;
        }
        long(out, MaximumPacketSize, self.maximum_packet_size);
        byte(
            out,
            WildcardSubscriptionAvailable,
            self.wildcard_subscription_available,
        );
        byte(
            out,
            SubscriptionIdentifierAvailable,
            self.subscription_identifier_available,
        );
        byte(
            out,
            SharedSubscriptionAvailable,
            self.shared_subscription_available,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::property_id::PropertyContext;
    use crate::protocol::test_util::{hex, to_hex};
    use crate::protocol::wire::Reader;

    fn decode(s: &str, ctx: PropertyContext) -> Properties {
        let body = hex(s).freeze();
        Properties::decode(&mut Reader::new(&body), ctx).expect("valid properties")
    }

    #[test]
    fn does_every_connack_property_round_trip() {
        let p = Properties {
            session_expiry_interval: Some(7),
            assigned_client_identifier: Some("id".into()),
            server_keep_alive: Some(30),
            authentication_method: Some("m".into()),
            authentication_data: Some(Bytes::from_static(b"d")),
            response_information: Some("ri".into()),
            server_reference: Some("s".into()),
            reason_string: Some("r".into()),
            receive_maximum: Some(10),
            topic_alias_maximum: Some(5),
            maximum_qos: Some(1),
            retain_available: Some(0),
            user_properties: vec![("k".into(), "v".into())],
            maximum_packet_size: Some(1024),
            wildcard_subscription_available: Some(1),
            subscription_identifier_available: Some(0),
            shared_subscription_available: Some(1),
            ..Properties::default()
        };
        let mut out = BytesMut::new();
        p.write(&mut out).expect("encodable");
        assert_eq!(out.len(), p.encoded_len());
        assert_eq!(decode(&to_hex(&out), PropertyContext::ConnAck), p);
    }

    #[test]
    fn are_empty_properties_a_single_zero() {
        let p = Properties::default();
        assert!(p.is_empty());
        let mut out = BytesMut::new();
        p.write(&mut out).expect("encodable");
        assert_eq!(&out[..], [0]);
        let user = Properties {
            user_properties: vec![("a".into(), "b".into())],
            ..Properties::default()
        };
        assert!(!user.is_empty());
    }

    #[test]
    fn is_a_string_over_65535_bytes_refused_on_encode() {
        let p = Properties {
            reason_string: Some(MqttStr::from("x".repeat(70_000))),
            ..Properties::default()
        };
        let err = p.write(&mut BytesMut::new()).unwrap_err();
        assert_eq!(
            err,
            EncodeError::StringTooLong {
                field: "Reason String",
                len: 70_000
            }
        );
    }
}
