//! SUBSCRIBE ([MQTT-3.8]): topic filters with their subscription options.
//! Filter syntax is left to [`super::validate_topic_filter`] so a 5.0 server
//! can refuse one filter in its SUBACK instead of dropping the connection.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::{ProtocolVersion, QoS};
use super::string::MqttStr;
use super::topic::parse_shared;
use super::wire::{prefixed_len, put_str, Reader};

/// The options byte of one subscription ([MQTT-3.8.3.1]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Maximum QoS the client accepts for this subscription.
    pub qos: QoS,
    /// 5.0: do not deliver the client's own publications back to it.
    pub no_local: bool,
    /// 5.0: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// 5.0: 0 send retained messages, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

impl SubscriptionOptions {
    /// Options with `qos` and every 5.0 option at its default.
    pub fn new(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        }
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, ProtocolError> {
        let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
        if byte & reserved != 0 {
            return Err(ProtocolError::SubscriptionOptionsReserved(byte));
        }
        let qos = QoS::from_u8(byte & 0x03).ok_or(ProtocolError::SubscriptionQoSInvalid)?;
        let retain_handling = (byte >> 4) & 0x03;
        if retain_handling == 3 {
            return Err(ProtocolError::RetainHandlingInvalid);
        }
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }

    fn encode(self, version: ProtocolVersion) -> u8 {
        let mut b = self.qos as u8;
        if version.is_v5() {
            b |= u8::from(self.no_local) << 2;
            b |= u8::from(self.retain_as_published) << 3;
            b |= (self.retain_handling & 0x03) << 4;
        }
        b
    }
}

/// A request to add subscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscribe {
    pub packet_id: u16,
    /// 5.0: at most one Subscription Identifier, and user properties.
    pub properties: Properties,
    /// At least one (filter, options) pair, in the client's order.
    pub filters: Vec<(MqttStr, SubscriptionOptions)>,
}

impl Subscribe {
    pub(crate) fn decode(
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<Subscribe, ProtocolError> {
        let mut r = Reader::new(body);
        let packet_id = r.packet_id("SUBSCRIBE")?;
        let properties = if version.is_v5() {
            Properties::decode(&mut r, PropertyContext::Subscribe)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            let options = SubscriptionOptions::decode(r.u8("subscription options")?, version)?;
            if options.no_local && parse_shared(&filter).is_some() {
                return Err(ProtocolError::NoLocalOnSharedSubscription(
                    filter.to_string(),
                ));
            }
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(ProtocolError::NoSubscribeFilters);
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        let props = if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        let filters: usize = self
            .filters
            .iter()
            .map(|(f, _)| prefixed_len(f.len()) + 1)
            .sum();
        2 + props + filters
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if self.packet_id == 0 {
            return Err(EncodeError::ZeroPacketId {
                packet: "SUBSCRIBE",
            });
        }
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out)?;
        }
        for (filter, options) in &self.filters {
            put_str(out, filter, "topic filter")?;
            out.put_u8(options.encode(version));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::{Packet, ReasonCode};

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    fn subscribe(s: &str, v: Option<ProtocolVersion>) -> Result<Subscribe, ProtocolError> {
        match decode_hex(s, v)? {
            Packet::Subscribe(p) => Ok(p),
            other => panic!("not a SUBSCRIBE: {other:?}"),
        }
    }

    #[test]
    fn does_a_3_1_1_subscribe_list_its_filters_in_order() {
        let s = "82 0c 00 01 00 03 61 2f 23 01 00 01 62 02";
        let sub = subscribe(s, V3).expect("valid");
        assert_eq!(sub.packet_id, 1);
        let filters: Vec<(&str, QoS)> = sub
            .filters
            .iter()
            .map(|(f, o)| (f.as_str(), o.qos))
            .collect();
        assert_eq!(
            filters,
            [("a/#", QoS::AtLeastOnce), ("b", QoS::ExactlyOnce)]
        );
        assert_eq!(
            encode_hex(&Packet::Subscribe(sub), ProtocolVersion::V3_1_1),
            norm(s)
        );
    }

    #[test]
    fn is_a_subscribe_without_filters_a_protocol_error_mqtt_3_8_3_3() {
        let err = subscribe("82 02 00 01", V3).unwrap_err();
        assert_eq!(err, ProtocolError::NoSubscribeFilters);
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn are_upper_option_bits_malformed_in_3_1_1_mqtt_3_8_3_4() {
        let err = subscribe("82 08 00 01 00 03 61 2f 23 05", V3).unwrap_err();
        assert_eq!(err, ProtocolError::SubscriptionOptionsReserved(0x05));
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
        assert_eq!(
            subscribe("82 08 00 01 00 03 61 2f 23 03", V3),
            Err(ProtocolError::SubscriptionQoSInvalid)
        );
    }

    #[test]
    fn is_packet_id_0_refused_mqtt_2_2_1_3() {
        assert_eq!(
            subscribe("82 08 00 00 00 03 61 2f 23 01", V3),
            Err(ProtocolError::ZeroPacketId {
                packet: "SUBSCRIBE"
            })
        );
    }

    #[test]
    fn does_a_5_0_subscribe_decode_every_option_and_its_identifier() {
        let s = "82 09 00 01 02 0b 05 00 01 62 2e";
        let sub = subscribe(s, V5).expect("valid");
        assert_eq!(&sub.properties.subscription_identifiers[..], &[5]);
        let expected = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: 2,
        };
        assert_eq!(sub.filters, vec![(MqttStr::from("b"), expected)]);
        assert_eq!(
            encode_hex(&Packet::Subscribe(sub.clone()), ProtocolVersion::V5),
            norm(s)
        );
        assert_eq!(
            encode_hex(&Packet::Subscribe(sub), ProtocolVersion::V3_1_1),
            norm("82 06 00 01 00 01 62 02")
        );
    }

    #[test]
    fn are_reserved_option_bits_malformed_in_5_0_mqtt_3_8_3_5() {
        let err = subscribe("82 07 00 01 00 00 01 62 40", V5).unwrap_err();
        assert_eq!(err, ProtocolError::SubscriptionOptionsReserved(0x40));
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }

    #[test]
    fn is_retain_handling_3_refused() {
        assert_eq!(
            subscribe("82 07 00 01 00 00 01 62 30", V5),
            Err(ProtocolError::RetainHandlingInvalid)
        );
    }

    #[test]
    fn is_no_local_on_a_shared_subscription_refused_mqtt_3_8_3_4() {
        let s = "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 04";
        assert_eq!(
            subscribe(s, V5),
            Err(ProtocolError::NoLocalOnSharedSubscription(
                "$share/g/t".into()
            ))
        );
    }

    #[test]
    fn is_a_second_subscription_identifier_a_protocol_error() {
        let err = subscribe("82 0b 00 01 04 0b 05 0b 06 00 01 62 00", V5).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::DuplicateProperty {
                property: "Subscription Identifier"
            }
        );
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn is_subscription_identifier_0_a_protocol_error() {
        assert_eq!(
            subscribe("82 09 00 01 02 0b 00 00 01 62 00", V5),
            Err(ProtocolError::InvalidPropertyValue {
                property: "Subscription Identifier",
                value: 0
            })
        );
    }
}
