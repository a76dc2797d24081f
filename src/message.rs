//! A published application message as it travels through the broker: from the
//! publisher's connection, through the cores' routing, into subscribers' queues and
//! (later) over cluster links. Shared by reference (`Arc`), never copied: the topic and
//! payload are `Bytes` slices of the publisher's read buffer.

use std::time::Instant;

use crate::protocol::{Bytes, MqttStr, Properties, PublishOut, QoS};

/// One application message. Lives on any core (it is `Send + Sync`), immutable once built.
#[derive(Debug)]
pub struct Message {
    /// Topic name as published (after topic-alias resolution).
    pub topic: MqttStr,
    pub payload: Bytes,
    /// QoS the publisher used; each delivery is downgraded to its subscription's QoS.
    pub qos: QoS,
    /// The publisher's retain flag; live deliveries clear it unless retain-as-published.
    pub retain: bool,
    /// The 5.0 properties that travel with the message to subscribers
    /// ([MQTT-3.3.2-16]..): payload format, content type, response topic, correlation
    /// data, user properties. Topic alias and subscription identifiers are stripped.
    pub properties: Properties,
    /// When the message expires (5.0 Message Expiry Interval), if it does.
    pub expires_at: Option<Instant>,
    /// The publishing client's id, for the 5.0 No Local option [MQTT-3.8.3-3].
    pub publisher: MqttStr,
    /// Where the message entered this cluster: only `Client` messages are forwarded
    /// to cluster links, which is what keeps a mesh of links loop-free.
    pub origin: Origin,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Published by a client of this cluster (or its will).
    Client,
    /// Received from another cluster over a link: delivered locally only.
    Link,
}

impl Message {
    /// Seconds of expiry left, as a 5.0 subscriber must see it [MQTT-3.3.2-6];
    /// `None` when the message never expires.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            // Round up so a message with 0.4 s left is not announced as already expired.
            left.as_millis().div_ceil(1000) as u32
        })
    }

    /// This message as the PUBLISH one subscriber receives: the QoS and RETAIN flag
    /// delivered to it, its packet id and subscription ids, the expiry left at `now`.
    pub fn publish_out<'a>(
        &'a self,
        qos: QoS,
        retain: bool,
        packet_id: u16,
        dup: bool,
        subscription_ids: &'a [u32],
        now: Instant,
    ) -> PublishOut<'a> {
        PublishOut {
            dup,
            qos,
            retain,
            topic: self.topic.as_str(),
            packet_id,
            payload: &self.payload,
            properties: &self.properties,
            message_expiry: self.remaining_expiry(now),
            subscription_ids,
        }
    }

    /// Whether the message has expired and must not be delivered any more.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
