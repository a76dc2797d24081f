//! The MQTT session of one client: its subscriptions, the messages queued for it, the
//! QoS 1/2 messages inflight to it, and the QoS 2 packet ids it has sent us that await
//! PUBREL. Outlives connections when the client asked for a persistent session.
//!
//! Lives on its owner core only (`SessionRef` is an `Rc`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ahash::{AHashMap, AHashSet};
use bytes::BytesMut;

use super::delivery::Delivery;
use super::link::ConnLink;
use super::packet_ids::PacketIds;
use crate::message::Message;
use crate::protocol::{
    self, MqttStr, Packet, ProtocolVersion, PubResp, QoS, ReasonCode, SubscriptionOptions,
};

/// How a session is shared on its core.
pub type SessionRef = Rc<RefCell<Session>>;

/// Stop filling one write buffer beyond this many bytes: keeps a slow subscriber's
/// pending bytes bounded and lets other connections run between writes.
const WRITE_CHUNK: usize = 64 * 1024;

/// One subscription as the session remembers it (to clean up and to answer
/// retain-handling 1: "only if the subscription did not exist").
#[derive(Debug, Clone)]
pub struct SubEntry {
    pub options: SubscriptionOptions,
    /// 5.0 Subscription Identifier given with the SUBSCRIBE, if any.
    pub sub_id: Option<u32>,
}

/// Where a QoS 1/2 message sent to the client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflightStage {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREC received and PUBREL sent; waiting for PUBCOMP (QoS 2).
    Released,
}

/// A message sent to the client and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Inflight {
    pub packet_id: u16,
    pub stage: InflightStage,
    pub delivery: Delivery,
}

/// What became of a QoS 0 message offered to [`Session::send_now`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentNow {
    /// Encoded for the writer.
    Delivered,
    /// Expired before it could be sent [MQTT-3.3.2-5]: dropped.
    Expired,
    /// Larger than the client's Maximum Packet Size: discarded as if delivered
    /// [MQTT-3.1.2-25].
    TooLarge,
}

/// Counters a session reports back to its core after filling a write.
#[derive(Debug, Default, Clone, Copy)]
pub struct FillStats {
    pub delivered: u64,
    pub expired: u64,
    pub too_large: u64,
}

/// The state of one client's session.
#[derive(Debug)]
pub struct Session {
    pub client_id: MqttStr,
    /// Protocol version of the latest connection (how queued messages get encoded).
    pub version: ProtocolVersion,
    /// Subscriptions by full filter text (including any `$share/<group>/` prefix).
    pub subscriptions: AHashMap<Arc<str>, SubEntry>,
    /// Seconds the session outlives its connection (0: ends with it).
    pub expiry_interval: u32,
    /// Messages waiting for the inflight window or for the client to come back.
    pub queue: VecDeque<Delivery>,
    /// QoS 1/2 messages sent and not yet fully acknowledged, oldest first.
    pub inflight: VecDeque<Inflight>,
    /// How many inflight messages the client accepts: min(its Receive Maximum, ours).
    pub window: usize,
    /// Upper bound of `queue`, from `limits.max_queued_messages`.
    pub max_queued: usize,
    /// QoS 2 packet ids received from the client and not yet released (PUBREL).
    pub incoming_qos2: AHashSet<u16>,
    pub packet_ids: PacketIds,
    /// The live connection, if the client is connected.
    pub conn: Option<Rc<ConnLink>>,
    /// Bumped on every (re)connect, so timers and old connections can tell whether
    /// the session they knew is still the same incarnation.
    pub generation: u64,
}

impl Session {
    pub fn new(
        client_id: MqttStr,
        version: ProtocolVersion,
        window: usize,
        max_queued: usize,
    ) -> Self {
        Session {
            client_id,
            version,
            subscriptions: AHashMap::new(),
            expiry_interval: 0,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            window: window.max(1),
            max_queued: max_queued.max(1),
            incoming_qos2: AHashSet::new(),
            packet_ids: PacketIds::default(),
            conn: None,
            generation: 0,
        }
    }

    /// Queues a delivery. Returns false (and drops it) when the queue is full: the
    /// documented policy is to drop the newest message, whatever its QoS, and count it.
    /// QoS 0 messages are not queued for an offline client at all (the spec lets a
    /// server choose; like Mosquitto's default, we don't).
    pub fn enqueue(&mut self, delivery: Delivery) -> bool {
        if self.conn.is_none() && delivery.qos == QoS::AtMostOnce {
            return false;
        }
        if self.queue.len() >= self.max_queued {
            return false;
        }
        self.queue.push_back(delivery);
        true
    }

    /// The QoS 0 fast path of fan-out: when the client is connected, nothing is
    /// queued ahead of the message and the connection's pending bytes have room, the
    /// message is encoded there at once, with no queue entry and no reference to it
    /// kept. Order holds because everything pending is written before anything
    /// queued. The caller wakes the writer when it was delivered; `None`: queue it
    /// instead.
    pub fn send_now(
        &self,
        msg: &Message,
        retain: bool,
        sub_ids: &[u32],
        now: Instant,
    ) -> Option<SentNow> {
        let link = self.conn.as_ref()?;
        if !self.queue.is_empty() {
            return None;
        }
        let mut pending = link.pending.borrow_mut();
        if pending.len() >= WRITE_CHUNK {
            return None;
        }
        if msg.is_expired(now) {
            return Some(SentNow::Expired);
        }
        let out = msg.publish_out(QoS::AtMostOnce, retain, 0, false, sub_ids, now);
        Some(
            match out.encode_within(link.version, link.max_packet_out as usize, &mut pending) {
                Ok(true) => SentNow::Delivered,
                Ok(false) | Err(_) => SentNow::TooLarge,
            },
        )
    }

    /// Encodes what can be sent now into `out`: queued messages in order, QoS 0 at
    /// once, QoS 1/2 while the inflight window has room. Expired messages are dropped
    /// [MQTT-3.3.2-5]; one larger than the client's Maximum Packet Size is discarded
    /// as if delivered [MQTT-3.1.2-25].
    pub fn fill(&mut self, out: &mut BytesMut, link: &ConnLink, now: Instant) -> FillStats {
        let mut stats = FillStats::default();
        while out.len() < WRITE_CHUNK {
            let Some(front) = self.queue.front() else {
                break;
            };
            if front.msg.is_expired(now) {
                self.queue.pop_front();
                stats.expired += 1;
                continue;
            }
            if front.qos != QoS::AtMostOnce && self.inflight.len() >= self.window {
                break;
            }
            let Some(delivery) = self.queue.pop_front() else {
                break;
            };
            let packet_id = if delivery.qos == QoS::AtMostOnce {
                0
            } else {
                let inflight = &self.inflight;
                self.packet_ids
                    .allocate(|id| inflight.iter().any(|i| i.packet_id == id))
            };
            let encoded = delivery.out(packet_id, false, now).encode_within(
                link.version,
                link.max_packet_out as usize,
                out,
            );
            if !matches!(encoded, Ok(true)) {
                stats.too_large += 1;
                continue;
            }
            stats.delivered += 1;
            if delivery.qos != QoS::AtMostOnce {
                self.inflight.push_back(Inflight {
                    packet_id,
                    stage: InflightStage::Published,
                    delivery,
                });
            }
        }
        stats
    }

    /// Re-sends everything inflight after a reconnect, in the original order: PUBLISH
    /// with DUP set [MQTT-4.4.0-1], or PUBREL for messages already PUBREC'd.
    pub fn resend_inflight(&mut self, out: &mut BytesMut, link: &ConnLink, now: Instant) {
        for inflight in &self.inflight {
            // An encode failure means the packet cannot be represented for this client
            // (too large for it): it stays inflight and is acknowledged by nobody; the
            // window shrinks by one until the session ends. Never seen in practice.
            let _ = match inflight.stage {
                InflightStage::Published => inflight
                    .delivery
                    .out(inflight.packet_id, true, now)
                    .encode_within(link.version, usize::MAX, out)
                    .map(|_| ()),
                InflightStage::Released => protocol::encode(
                    &Packet::PubRel(PubResp {
                        packet_id: inflight.packet_id,
                        reason_code: ReasonCode::Success,
                        properties: Default::default(),
                    }),
                    link.version,
                    out,
                ),
            };
        }
    }

    /// PUBACK from the client: the QoS 1 message with this id is done. Returns
    /// whether it was inflight.
    pub fn on_puback(&mut self, packet_id: u16) -> bool {
        self.remove_inflight(packet_id, InflightStage::Published, QoS::AtLeastOnce)
    }

    /// PUBREC from the client: move to Released. Returns whether it was known
    /// (the caller answers PUBREL either way, with 0x92 if unknown, [MQTT-4.3.3-?]).
    pub fn on_pubrec(&mut self, packet_id: u16) -> bool {
        match self.inflight.iter_mut().find(|i| i.packet_id == packet_id) {
            Some(i) if i.delivery.qos == QoS::ExactlyOnce => {
                i.stage = InflightStage::Released;
                true
            }
            _ => false,
        }
    }

    /// PUBCOMP from the client: the QoS 2 message is done.
    pub fn on_pubcomp(&mut self, packet_id: u16) -> bool {
        self.remove_inflight(packet_id, InflightStage::Released, QoS::ExactlyOnce)
    }

    fn remove_inflight(&mut self, packet_id: u16, stage: InflightStage, qos: QoS) -> bool {
        // Acks nearly always come in order: the match is usually at the front.
        match self.inflight.iter().position(|i| i.packet_id == packet_id) {
            Some(pos)
                if self.inflight[pos].stage == stage && self.inflight[pos].delivery.qos == qos =>
            {
                self.inflight.remove(pos);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, Origin};
    use crate::protocol::{decode, Bytes, DecodeLimits, Properties};
    use smallvec::SmallVec;

    fn delivery(topic: &str, qos: QoS) -> Delivery {
        Delivery {
            msg: Arc::new(Message {
                topic: MqttStr::from(topic),
                payload: Bytes::from_static(b"x"),
                qos,
                retain: false,
                properties: Properties::default(),
                expires_at: None,
                publisher: MqttStr::from("p"),
                origin: Origin::Client,
            }),
            qos,
            retain: false,
            sub_ids: SmallVec::new(),
        }
    }

    fn connected(window: usize, max_queued: usize) -> (Session, ConnLink) {
        let mut s = Session::new(MqttStr::from("c"), ProtocolVersion::V5, window, max_queued);
        let link = ConnLink::new(ProtocolVersion::V5, u32::MAX);
        s.conn = Some(Rc::new(ConnLink::new(ProtocolVersion::V5, u32::MAX)));
        (s, link)
    }

    fn decode_all(mut out: BytesMut) -> Vec<Packet> {
        let limits = DecodeLimits {
            version: Some(ProtocolVersion::V5),
            max_packet_size: u32::MAX,
        };
        let mut v = Vec::new();
        while let Some(p) = decode(&mut out, &limits).expect("valid packets") {
            v.push(p);
        }
        v
    }

    #[test]
    fn does_the_inflight_window_hold_back_qos1_beyond_it() {
        let (mut s, link) = connected(2, 10);
        for _ in 0..3 {
            assert!(s.enqueue(delivery("t", QoS::AtLeastOnce)));
        }
        let mut out = BytesMut::new();
        let stats = s.fill(&mut out, &link, Instant::now());
        assert_eq!(stats.delivered, 2);
        assert_eq!(s.inflight.len(), 2);
        assert_eq!(s.queue.len(), 1);
        assert!(s.on_puback(s.inflight[0].packet_id));
        let mut out = BytesMut::new();
        assert_eq!(s.fill(&mut out, &link, Instant::now()).delivered, 1);
    }

    #[test]
    fn is_the_newest_message_dropped_when_the_queue_is_full() {
        let (mut s, _link) = connected(1, 2);
        assert!(s.enqueue(delivery("a", QoS::AtLeastOnce)));
        assert!(s.enqueue(delivery("b", QoS::AtLeastOnce)));
        assert!(!s.enqueue(delivery("c", QoS::AtLeastOnce)));
        assert_eq!(s.queue.len(), 2);
    }

    #[test]
    fn are_inflight_messages_resent_with_dup_after_reconnect() {
        // [MQTT-4.4.0-1]
        let (mut s, link) = connected(5, 10);
        s.enqueue(delivery("a", QoS::AtLeastOnce));
        s.enqueue(delivery("b", QoS::ExactlyOnce));
        let mut out = BytesMut::new();
        s.fill(&mut out, &link, Instant::now());
        let pid_b = s.inflight[1].packet_id;
        assert!(s.on_pubrec(pid_b));
        let mut out = BytesMut::new();
        s.resend_inflight(&mut out, &link, Instant::now());
        let packets = decode_all(out);
        assert_eq!(packets.len(), 2);
        match &packets[0] {
            Packet::Publish(p) => {
                assert!(p.dup);
                assert_eq!(p.topic.as_str(), "a");
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
        assert!(matches!(&packets[1], Packet::PubRel(r) if r.packet_id == pid_b));
    }

    fn pending_of(s: &Session) -> Vec<Packet> {
        let link = s.conn.as_ref().expect("connected");
        let bytes = link.pending.borrow().clone();
        decode_all(bytes)
    }

    #[test]
    fn is_a_qos0_message_encoded_for_the_writer_at_once_when_nothing_waits_ahead() {
        let (s, _link) = connected(5, 10);
        let d = delivery("a/b", QoS::AtMostOnce);
        let sent = s.send_now(&d.msg, false, &[7], Instant::now());
        assert_eq!(sent, Some(SentNow::Delivered));
        match &pending_of(&s)[..] {
            [Packet::Publish(p)] => {
                assert_eq!(
                    (p.topic.as_str(), p.qos, p.retain),
                    ("a/b", QoS::AtMostOnce, false)
                );
                assert_eq!(&p.properties.subscription_identifiers[..], &[7]);
            }
            other => panic!("expected one PUBLISH, got {other:?}"),
        }
        assert!(s.queue.is_empty(), "nothing was queued");
    }

    #[test]
    fn does_a_qos0_message_queue_behind_earlier_messages_so_order_holds() {
        let (mut s, _link) = connected(1, 10);
        assert!(s.enqueue(delivery("first", QoS::AtLeastOnce)));
        let d = delivery("second", QoS::AtMostOnce);
        assert_eq!(s.send_now(&d.msg, false, &[], Instant::now()), None);
        assert!(pending_of(&s).is_empty());
    }

    #[test]
    fn does_a_qos0_message_queue_when_the_pending_bytes_are_full() {
        let (s, _link) = connected(5, 10);
        s.conn
            .as_ref()
            .expect("connected")
            .pending
            .borrow_mut()
            .resize(WRITE_CHUNK, 0);
        let d = delivery("a", QoS::AtMostOnce);
        assert_eq!(s.send_now(&d.msg, false, &[], Instant::now()), None);
    }

    #[test]
    fn is_an_offline_client_not_sent_anything_at_once() {
        let s = Session::new(MqttStr::from("c"), ProtocolVersion::V5, 5, 10);
        let d = delivery("a", QoS::AtMostOnce);
        assert_eq!(s.send_now(&d.msg, false, &[], Instant::now()), None);
    }

    #[test]
    fn is_a_qos0_message_over_the_clients_maximum_packet_size_discarded_mqtt_3_1_2_25() {
        let mut s = Session::new(MqttStr::from("c"), ProtocolVersion::V5, 5, 10);
        s.conn = Some(Rc::new(ConnLink::new(ProtocolVersion::V5, 8)));
        let d = delivery("a/long/topic", QoS::AtMostOnce);
        assert_eq!(
            s.send_now(&d.msg, false, &[], Instant::now()),
            Some(SentNow::TooLarge)
        );
        assert!(pending_of(&s).is_empty());
    }

    #[test]
    fn is_an_expired_qos0_message_dropped_mqtt_3_3_2_5() {
        let (s, _link) = connected(5, 10);
        let now = Instant::now();
        let msg = Message {
            topic: MqttStr::from("a"),
            payload: Bytes::from_static(b"x"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
            expires_at: Some(now),
            publisher: MqttStr::from("p"),
            origin: Origin::Client,
        };
        assert_eq!(s.send_now(&msg, false, &[], now), Some(SentNow::Expired));
        assert!(pending_of(&s).is_empty());
    }

    #[test]
    fn is_an_offline_client_spared_qos0_messages() {
        let mut s = Session::new(MqttStr::from("c"), ProtocolVersion::V5, 5, 10);
        assert!(!s.enqueue(delivery("a", QoS::AtMostOnce)));
        assert!(s.enqueue(delivery("a", QoS::AtLeastOnce)));
    }
}
