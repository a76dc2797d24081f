//! [`Properties`]: every MQTT 5.0 property in one struct, and its decoding
//! ([MQTT-2.2.2]); the encode side is in `property_encode`. Decoding rejects unknown identifiers, properties not allowed
//! where they appear, duplicates of single-valued ones and invalid values.

use bytes::Bytes;
use smallvec::SmallVec;

use super::error::ProtocolError;
use super::property_id::{PropertyContext, PropertyId};
use super::string::MqttStr;
use super::wire::Reader;

/// The properties of one packet (or of a will). Absent properties are `None`
/// / empty; MQTT 3.x packets always have empty properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    /// 0x01, PUBLISH/will: 0 unspecified bytes, 1 UTF-8 payload.
    pub payload_format_indicator: Option<u8>,
    /// 0x02, PUBLISH/will: seconds until the message expires.
    pub message_expiry_interval: Option<u32>,
    /// 0x03, PUBLISH/will: MIME type of the payload.
    pub content_type: Option<MqttStr>,
    /// 0x08, PUBLISH/will: topic for a response (request/response pattern).
    pub response_topic: Option<MqttStr>,
    /// 0x09, PUBLISH/will: correlates a response with its request.
    pub correlation_data: Option<Bytes>,
    /// 0x0B: one on SUBSCRIBE; one per matching subscription on PUBLISH
    /// (server → client). Values 1..=268_435_455.
    pub subscription_identifiers: SmallVec<[u32; 1]>,
    /// 0x11, CONNECT/CONNACK/DISCONNECT: seconds the session outlives the connection.
    pub session_expiry_interval: Option<u32>,
    /// 0x12, CONNACK: the client id the server assigned to an empty one.
    pub assigned_client_identifier: Option<MqttStr>,
    /// 0x13, CONNACK: keep alive the server imposes.
    pub server_keep_alive: Option<u16>,
    /// 0x15, CONNECT/CONNACK/AUTH: extended authentication method.
    pub authentication_method: Option<MqttStr>,
    /// 0x16, CONNECT/CONNACK/AUTH: extended authentication data.
    pub authentication_data: Option<Bytes>,
    /// 0x17, CONNECT: 0 = no reason strings / user properties on errors.
    pub request_problem_information: Option<u8>,
    /// 0x18, will: seconds to wait before publishing the will.
    pub will_delay_interval: Option<u32>,
    /// 0x19, CONNECT: 1 = client wants Response Information in CONNACK.
    pub request_response_information: Option<u8>,
    /// 0x1A, CONNACK: basis for response topics.
    pub response_information: Option<MqttStr>,
    /// 0x1C, CONNACK/DISCONNECT: another server to use.
    pub server_reference: Option<MqttStr>,
    /// 0x1F, acks/DISCONNECT/AUTH: human-readable diagnostics.
    pub reason_string: Option<MqttStr>,
    /// 0x21, CONNECT/CONNACK: inflight QoS 1/2 limit (non-zero).
    pub receive_maximum: Option<u16>,
    /// 0x22, CONNECT/CONNACK: highest topic alias accepted.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23, PUBLISH: topic alias (non-zero; the broker checks the maximum).
    pub topic_alias: Option<u16>,
    /// 0x24, CONNACK: 0 or 1; absent means 2.
    pub maximum_qos: Option<u8>,
    /// 0x25, CONNACK: 0 or 1.
    pub retain_available: Option<u8>,
    /// 0x26, everywhere, repeatable, order kept.
    pub user_properties: Vec<(MqttStr, MqttStr)>,
    /// 0x27, CONNECT/CONNACK: largest packet the sender accepts (non-zero).
    pub maximum_packet_size: Option<u32>,
    /// 0x28, CONNACK: 0 or 1.
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29, CONNACK: 0 or 1.
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A, CONNACK: 0 or 1.
    pub shared_subscription_available: Option<u8>,
}

impl Properties {
    /// True when no property is set (the wire form is a single 0x00).
    pub fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.content_type.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.subscription_identifiers.is_empty()
            && self.session_expiry_interval.is_none()
            && self.assigned_client_identifier.is_none()
            && self.server_keep_alive.is_none()
            && self.authentication_method.is_none()
            && self.authentication_data.is_none()
            && self.request_problem_information.is_none()
            && self.will_delay_interval.is_none()
            && self.request_response_information.is_none()
            && self.response_information.is_none()
            && self.server_reference.is_none()
            && self.reason_string.is_none()
            && self.receive_maximum.is_none()
            && self.topic_alias_maximum.is_none()
            && self.topic_alias.is_none()
            && self.maximum_qos.is_none()
            && self.retain_available.is_none()
            && self.user_properties.is_empty()
            && self.maximum_packet_size.is_none()
            && self.wildcard_subscription_available.is_none()
            && self.subscription_identifier_available.is_none()
            && self.shared_subscription_available.is_none()
    }

    /// Reads a property length and that many bytes of properties for `ctx`.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        ctx: PropertyContext,
    ) -> Result<Properties, ProtocolError> {
        let len = r.var_int("property length")? as usize;
        let mut p = Properties::default();
        if len == 0 {
            return Ok(p);
        }
        let mut r = r.sub(len, "properties")?;
        while !r.is_empty() {
            let raw = r.var_int("property identifier")?;
            let id = PropertyId::from_u32(raw).ok_or(ProtocolError::UnknownProperty(raw))?;
            if !id.allowed_in(ctx) {
                return Err(ProtocolError::PropertyNotAllowed {
                    property: id.name(),
                    packet: ctx.name(),
                });
            }
            p.read_one(&mut r, id, ctx)?;
        }
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(ProtocolError::AuthDataWithoutMethod);
        }
        Ok(p)
    }

    fn read_one(
        &mut self,
        r: &mut Reader<'_>,
        id: PropertyId,
        ctx: PropertyContext,
    ) -> Result<(), ProtocolError> {
        use PropertyId::*;
        let name = id.name();
        match id {
            PayloadFormatIndicator => set(&mut self.payload_format_indicator, flag(r, id)?, id),
            MessageExpiryInterval => set(&mut self.message_expiry_interval, r.u32(name)?, id),
            ContentType => set(&mut self.content_type, r.string(name)?, id),
            ResponseTopic => set(&mut self.response_topic, r.string(name)?, id),
            CorrelationData => set(&mut self.correlation_data, r.binary(name)?, id),
            SubscriptionIdentifier => {
                let v = r.var_int(name)?;
                if v == 0 {
                    return Err(invalid(id, v));
                }
                if ctx != PropertyContext::Publish && !self.subscription_identifiers.is_empty() {
                    return Err(ProtocolError::DuplicateProperty { property: name });
                }
                self.subscription_identifiers.push(v);
                Ok(())
            }
            SessionExpiryInterval => set(&mut self.session_expiry_interval, r.u32(name)?, id),
            AssignedClientIdentifier => {
                set(&mut self.assigned_client_identifier, r.string(name)?, id)
            }
            ServerKeepAlive => set(&mut self.server_keep_alive, r.u16(name)?, id),
            AuthenticationMethod => set(&mut self.authentication_method, r.string(name)?, id),
            AuthenticationData => set(&mut self.authentication_data, r.binary(name)?, id),
            RequestProblemInformation => {
                set(&mut self.request_problem_information, flag(r, id)?, id)
            }
            WillDelayInterval => set(&mut self.will_delay_interval, r.u32(name)?, id),
            RequestResponseInformation => {
                set(&mut self.request_response_information, flag(r, id)?, id)
            }
            ResponseInformation => set(&mut self.response_information, r.string(name)?, id),
            ServerReference => set(&mut self.server_reference, r.string(name)?, id),
            ReasonString => set(&mut self.reason_string, r.string(name)?, id),
            ReceiveMaximum => set(&mut self.receive_maximum, non_zero_u16(r, id)?, id),
            TopicAliasMaximum => set(&mut self.topic_alias_maximum, r.u16(name)?, id),
            TopicAlias => set(&mut self.topic_alias, non_zero_u16(r, id)?, id),
            MaximumQoS => set(&mut self.maximum_qos, flag(r, id)?, id),
            RetainAvailable => set(&mut self.retain_available, flag(r, id)?, id),
            UserProperty => {
                let key = r.string(name)?;
                let value = r.string(name)?;
                self.user_properties.push((key, value));
                Ok(())
            }
            MaximumPacketSize => {
                let v = r.u32(name)?;
                if v == 0 {
                    return Err(invalid(id, v));
                }
                set(&mut self.maximum_packet_size, v, id)
            }
            WildcardSubscriptionAvailable => {
                set(&mut self.wildcard_subscription_available, flag(r, id)?, id)
            }
            SubscriptionIdentifierAvailable => set(
                &mut self.subscription_identifier_available,
                flag(r, id)?,
                id,
            ),
            SharedSubscriptionAvailable => {
                set(&mut self.shared_subscription_available, flag(r, id)?, id)
            }
        }
    }
}

fn set<T>(slot: &mut Option<T>, v: T, id: PropertyId) -> Result<(), ProtocolError> {
    if slot.is_some() {
        return Err(ProtocolError::DuplicateProperty {
            property: id.name(),
        });
    }
    *slot = Some(v);
    Ok(())
}

fn invalid(id: PropertyId, value: u32) -> ProtocolError {
    ProtocolError::InvalidPropertyValue {
        property: id.name(),
        value,
    }
}

/// A byte property whose only values are 0 and 1.
fn flag(r: &mut Reader<'_>, id: PropertyId) -> Result<u8, ProtocolError> {
    let v = r.u8(id.name())?;
    if v > 1 {
        return Err(invalid(id, u32::from(v)));
    }
    Ok(v)
}

/// A two-byte property where 0 is a protocol error.
fn non_zero_u16(r: &mut Reader<'_>, id: PropertyId) -> Result<u16, ProtocolError> {
    let v = r.u16(id.name())?;
    if v == 0 {
        return Err(invalid(id, 0));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::hex;
    use crate::protocol::ReasonCode;

    fn props(s: &str, ctx: PropertyContext) -> Result<Properties, ProtocolError> {
        let body = hex(s).freeze();
        let mut r = Reader::new(&body);
        let p = Properties::decode(&mut r, ctx)?;
        r.finish("test")?;
        Ok(p)
    }

    fn invalid(property: &'static str, value: u32) -> Result<Properties, ProtocolError> {
        Err(ProtocolError::InvalidPropertyValue { property, value })
    }

    #[test]
    fn is_an_unknown_identifier_malformed() {
        let err = props("02 05 00", PropertyContext::Publish).unwrap_err();
        assert_eq!(err, ProtocolError::UnknownProperty(5));
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn is_a_duplicate_single_valued_property_a_protocol_error() {
        let err = props("0a 02 00 00 00 01 02 00 00 00 02", PropertyContext::Publish).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::DuplicateProperty {
                property: "Message Expiry Interval"
            }
        );
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn is_a_property_of_another_packet_malformed_mqtt_2_2_2_2() {
        let err = props("02 24 01", PropertyContext::Publish).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::PropertyNotAllowed {
                property: "Maximum QoS",
                packet: "PUBLISH"
            }
        );
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn which_zero_values_are_protocol_errors() {
        assert_eq!(
            props("02 0b 00", PropertyContext::Publish),
            invalid("Subscription Identifier", 0)
        );
        assert_eq!(
            props("03 21 00 00", PropertyContext::Connect),
            invalid("Receive Maximum", 0)
        );
        assert_eq!(
            props("05 27 00 00 00 00", PropertyContext::ConnAck),
            invalid("Maximum Packet Size", 0)
        );
        assert_eq!(
            props("03 23 00 00", PropertyContext::Publish),
            invalid("Topic Alias", 0)
        );
    }

    #[test]
    fn which_flags_must_be_0_or_1() {
        assert_eq!(
            props("02 01 02", PropertyContext::Publish),
            invalid("Payload Format Indicator", 2)
        );
        assert_eq!(
            props("02 17 02", PropertyContext::Connect),
            invalid("Request Problem Information", 2)
        );
        assert_eq!(
            props("02 19 02", PropertyContext::Connect),
            invalid("Request Response Information", 2)
        );
        assert_eq!(
            props("02 2a 02", PropertyContext::ConnAck),
            invalid("Shared Subscription Available", 2)
        );
        assert!(props("02 01 01", PropertyContext::Will).is_ok());
    }

    #[test]
    fn is_a_property_length_beyond_the_packet_malformed() {
        assert_eq!(
            props("05 02 00 00", PropertyContext::Publish),
            Err(ProtocolError::UnexpectedEnd { what: "properties" })
        );
        assert_eq!(
            props("02 02 00 00 00 00", PropertyContext::Publish),
            Err(ProtocolError::UnexpectedEnd {
                what: "Message Expiry Interval"
            })
        );
    }

    #[test]
    fn do_user_properties_repeat_in_order() {
        let p = props(
            "0e 26 00 01 61 00 01 62 26 00 01 61 00 01 63",
            PropertyContext::Disconnect,
        )
        .expect("valid");
        let pairs: Vec<(&str, &str)> = p
            .user_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "b"), ("a", "c")]);
    }
}
