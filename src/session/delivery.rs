//! One message on its way to one subscriber: the shared message plus what is specific
//! to this subscription (granted QoS, retain flag as delivered, subscription ids).

use std::sync::Arc;
use std::time::Instant;

use smallvec::SmallVec;

use crate::message::Message;
use crate::protocol::{PublishOut, QoS};

/// A message queued for, or inflight to, one session.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub msg: Arc<Message>,
    /// min(publish QoS, subscription QoS) [MQTT-3.8.4-8].
    pub qos: QoS,
    /// The RETAIN flag this subscriber sees: set for retained messages sent on
    /// subscribe [MQTT-3.3.1-9], else the publisher's flag only with retain-as-published.
    pub retain: bool,
    /// 5.0 Subscription Identifiers of every matching subscription [MQTT-3.3.4-3].
    pub sub_ids: SmallVec<[u32; 1]>,
}

impl Delivery {
    /// The PUBLISH for this delivery, as the subscriber must see it, borrowing the
    /// shared message (nothing is cloned per subscriber).
    pub fn out(&self, packet_id: u16, dup: bool, now: Instant) -> PublishOut<'_> {
        self.msg
            .publish_out(self.qos, self.retain, packet_id, dup, &self.sub_ids, now)
    }
}
