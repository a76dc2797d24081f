//! UNSUBSCRIBE ([MQTT-3.10]): topic filters to remove.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, ProtocolError};
use super::properties::Properties;
use super::property_id::PropertyContext;
use super::qos::ProtocolVersion;
use super::string::MqttStr;
use super::wire::{prefixed_len, put_str, Reader};

/// A request to remove subscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    /// 5.0: user properties only (empty for 3.x).
    pub properties: Properties,
    /// At least one filter, in the client's order.
    pub filters: Vec<MqttStr>,
}

impl Unsubscribe {
    pub(crate) fn decode(
        body: &Bytes,
        version: ProtocolVersion,
    ) -> Result<Unsubscribe, ProtocolError> {
        let mut r = Reader::new(body);
        let packet_id = r.packet_id("UNSUBSCRIBE")?;
        let properties = if version.is_v5() {
            Properties::decode(&mut r, PropertyContext::Unsubscribe)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string("topic filter")?);
        }
        if filters.is_empty() {
            return Err(ProtocolError::NoUnsubscribeFilters);
        }
        Ok(Unsubscribe {
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
        2 + props
            + self
                .filters
                .iter()
                .map(|f| prefixed_len(f.len()))
                .sum::<usize>()
    }

    pub(crate) fn write_body(
        &self,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if self.packet_id == 0 {
            return Err(EncodeError::ZeroPacketId {
                packet: "UNSUBSCRIBE",
            });
        }
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out)?;
        }
        for filter in &self.filters {
            put_str(out, filter, "topic filter")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{decode_hex, encode_hex, norm};
    use crate::protocol::Packet;

    const V3: Option<ProtocolVersion> = Some(ProtocolVersion::V3_1_1);
    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

    #[test]
    fn does_an_unsubscribe_list_its_filters() {
        let expected = Unsubscribe {
            packet_id: 2,
            properties: Properties::default(),
            filters: vec![MqttStr::from("a")],
        };
        let p = decode_hex("a2 05 00 02 00 01 61", V3).expect("valid");
        assert_eq!(p, Packet::Unsubscribe(expected.clone()));
        assert_eq!(
            decode_hex("a2 06 00 02 00 00 01 61", V5),
            Ok(Packet::Unsubscribe(expected))
        );
        assert_eq!(
            encode_hex(&p, ProtocolVersion::V5),
            norm("a2 06 00 02 00 00 01 61")
        );
    }

    #[test]
    fn is_an_unsubscribe_without_filters_a_protocol_error_mqtt_3_10_3_2() {
        assert_eq!(
            decode_hex("a2 02 00 02", V3),
            Err(ProtocolError::NoUnsubscribeFilters)
        );
    }

    #[test]
    fn is_packet_id_0_refused_mqtt_2_2_1_3() {
        assert_eq!(
            decode_hex("a2 05 00 00 00 01 61", V3),
            Err(ProtocolError::ZeroPacketId {
                packet: "UNSUBSCRIBE"
            })
        );
    }

    #[test]
    fn is_a_subscription_identifier_refused_in_unsubscribe() {
        assert_eq!(
            decode_hex("a2 08 00 02 02 0b 01 00 01 61", V5),
            Err(ProtocolError::PropertyNotAllowed {
                property: "Subscription Identifier",
                packet: "UNSUBSCRIBE"
            })
        );
    }
}
