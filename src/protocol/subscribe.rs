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
