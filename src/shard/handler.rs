//! What the broker does with each packet a connected client sends: one `on_<packet>`
//! per packet type behind one dispatch, as in Mosquitto. Runs in the connection's
//! reader task on the session's owner core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::message::{Message, Origin};
use crate::metrics::CoreMetrics;
use crate::protocol::{
    self, Disconnect, MqttStr, Packet, Properties, PubResp, Publish, QoS, ReasonCode, SubAck,
    Subscribe, UnsubAck, Unsubscribe, Will,
};
use crate::session::{CloseReason, ConnLink, SessionRef, SubEntry};

use super::connect::{ConnKind, Negotiated, TOPIC_ALIAS_MAX};
use super::core::{Core, SubOpts};
use crate::link::wire::{self, RouteOp};
use crate::link::{LinkMetrics, LinkState};

/// What the reader does after a packet.
#[derive(Debug)]
pub enum Step {
    /// Done with this packet.
    Done(Flow),
    /// Wait for a cross-core barrier (every core has applied this core's route or
    /// retained updates), then finish with [`finish`]. Rare (new routes, retained
    /// QoS ≥ 1), so it is boxed and the reader's task stays small.
    AfterBarrier(Box<Deferred>),
}

/// The rest of a packet's handling, after the barrier.
#[derive(Debug)]
pub struct Deferred {
    /// The acknowledgement to send (SUBACK, PUBACK, PUBREC).
    pub ack: Packet,
    /// Filters whose retained messages to queue after the SUBACK.
    pub retained: Vec<(String, SubOpts)>,
}

/// Completes a deferred packet once the barrier is passed.
pub fn finish(core: &Core, conn: &mut ConnState, deferred: Deferred) {
    conn.send(&deferred.ack);
    for (filter, opts) in deferred.retained {
        core.send_retained(&conn.session, &filter, &opts);
    }
}

/// How a packet's handling ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// End the connection. `will` says whether the Will Message is published.
    Close {
        reason: CloseReason,
        will: bool,
    },
}

/// The per-connection state the handlers need besides the session.
pub struct ConnState {
    pub link: std::rc::Rc<ConnLink>,
    pub session: SessionRef,
    pub negotiated: Negotiated,
    pub client_id: MqttStr,
    /// Boxed: most clients have none, and the reader task keeps this for the
    /// connection's whole life.
    pub will: Option<Box<Will>>,
    /// Topic aliases the client set (5.0), index = alias - 1.
    pub aliases: Vec<Option<MqttStr>>,
    /// An ordinary client, or a remote cluster's link.
    pub kind: ConnKind,
    /// For a link connection: that link's counters (and state: a link disabled or
    /// deleted here stops accepting messages at once).
    pub link_metrics: Option<Arc<LinkMetrics>>,
}

impl ConnState {
    /// Encodes a packet for the writer and wakes it.
    pub fn send(&self, packet: &Packet) {
        let mut pending = self.link.pending.borrow_mut();
        // Our own control packets always encode; a failure would be a codec bug and
        // only costs this one packet.
        if let Err(e) = protocol::encode(packet, self.link.version, &mut pending) {
            tracing::warn!(client = %self.client_id, error = %e, "could not encode a control packet");
        }
        drop(pending);
        self.link.wake.notify();
    }

    fn is_v5(&self) -> bool {
        self.link.version.is_v5()
    }

    /// Closing for a protocol violation: 5.0 clients learn why [MQTT-4.13.1-1].
    pub fn violation(&self, reason: ReasonCode) -> Flow {
        let reason = if self.is_v5() {
            CloseReason::Disconnect(reason)
        } else {
            CloseReason::Quiet
        };
        Flow::Close { reason, will: true }
    }
}

/// Dispatches one packet from a connected client.
pub fn on_packet(core: &Core, conn: &mut ConnState, packet: Packet) -> Step {
    let flow = match packet {
        Packet::Publish(p) => return on_publish(core, conn, p),
        Packet::PubAck(r) => {
            conn.session.borrow_mut().on_puback(r.packet_id);
            conn.link.wake.notify();
            Flow::Continue
        }
        Packet::PubRec(r) => on_pubrec(conn, r),
        Packet::PubRel(r) => on_pubrel(conn, r),
        Packet::PubComp(r) => {
            conn.session.borrow_mut().on_pubcomp(r.packet_id);
            conn.link.wake.notify();
            Flow::Continue
        }
        Packet::Subscribe(s) => return on_subscribe(core, conn, s),
        Packet::Unsubscribe(u) => on_unsubscribe(core, conn, u),
        Packet::PingReq => {
            conn.send(&Packet::PingResp);
            Flow::Continue
        }
        Packet::Disconnect(d) => on_disconnect(core, conn, d),
        // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
        Packet::Connect(_) => conn.violation(ReasonCode::ProtocolError),
        // No enhanced authentication was agreed, so AUTH is a protocol error [MQTT-4.12.0-1];
        // server-to-client packets from a client are protocol errors too.
        Packet::Auth(_)
        | Packet::ConnAck(_)
        | Packet::SubAck(_)
        | Packet::UnsubAck(_)
        | Packet::PingResp => conn.violation(ReasonCode::ProtocolError),
    };
    Step::Done(flow)
}

fn on_publish(core: &Core, conn: &mut ConnState, p: Publish) -> Step {
    match publish_step(core, conn, p) {
        Ok(step) => step,
        Err(flow) => Step::Done(flow),
    }
}

/// `Err` carries an early end (a violation, or a packet handled without routing).
fn publish_step(core: &Core, conn: &mut ConnState, mut p: Publish) -> Result<Step, Flow> {
    CoreMetrics::add(&core.metrics.messages_received, 1);
    // Topic alias (5.0): resolve or learn it [MQTT-3.3.2-12..].
    if let Some(alias) = p.properties.topic_alias.take() {
        if alias == 0 || alias > TOPIC_ALIAS_MAX {
            return Err(conn.violation(ReasonCode::TopicAliasInvalid));
        }
        let slot = usize::from(alias - 1);
        if conn.aliases.len() <= slot {
            conn.aliases.resize(slot + 1, None);
        }
        if p.topic.is_empty() {
            match &conn.aliases[slot] {
                Some(t) => p.topic = t.clone(),
                None => return Err(conn.violation(ReasonCode::ProtocolError)),
            }
        } else {
            conn.aliases[slot] = Some(p.topic.clone());
        }
    }
    if protocol::validate_topic_name(p.topic.as_str(), core.config.limits.max_topic_levels).is_err()
    {
        return Err(conn.violation(ReasonCode::TopicNameInvalid));
    }
    if conn
        .link_metrics
        .as_ref()
        .is_some_and(|m| m.state() == LinkState::Disabled)
    {
        // The link was disabled or deleted here: take nothing more from it (not
        // acknowledged, so the remote keeps it for when the link is back).
        return Err(Flow::Close {
            reason: CloseReason::Disconnect(ReasonCode::AdministrativeAction),
            will: false,
        });
    }
    let packet_id = p.packet_id;
    let qos = p.qos;
    if wire::is_reserved(p.topic.as_str()) {
        return Err(on_reserved_publish(core, conn, p));
    }
    if qos == QoS::ExactlyOnce {
        let mut session = conn.session.borrow_mut();
        if session.incoming_qos2.contains(&packet_id) {
            // A resend of a message we already have: acknowledge, do not route again.
            drop(session);
            conn.send(&Packet::PubRec(ack(packet_id)));
            return Err(Flow::Continue);
        }
        if session.incoming_qos2.len() >= usize::from(core.config.limits.max_inflight) {
            // More unreleased QoS 2 messages than our Receive Maximum [MQTT-3.3.4-9].
            drop(session);
            return Err(conn.violation(ReasonCode::ReceiveMaximumExceeded));
        }
        session.incoming_qos2.insert(packet_id);
    }
    let retain = p.retain;
    let origin = match &conn.kind {
        ConnKind::Client => Origin::Client,
        ConnKind::Link(_) => {
            if let Some(m) = &conn.link_metrics {
                LinkMetrics::add(&m.messages_received, 1);
            }
            Origin::Link
        }
    };
    let msg = Arc::new(message_from_publish(p, conn.client_id.clone(), origin));
    core.publish(msg);
    let reply = match qos {
        QoS::AtMostOnce => return Ok(Step::Done(Flow::Continue)),
        QoS::AtLeastOnce => Packet::PubAck(ack(packet_id)),
        QoS::ExactlyOnce => Packet::PubRec(ack(packet_id)),
    };
    if retain {
        // A new subscriber anywhere must find the retained message once we ack it.
        return Ok(Step::AfterBarrier(Box::new(Deferred {
            ack: reply,
            retained: Vec::new(),
        })));
    }
    conn.send(&reply);
    Ok(Step::Done(Flow::Continue))
}

/// A PUBLISH on `$LINK/…`: a route operation from a link peer; refused for anyone
/// else (5.0: reason 0x87 in the ack; 3.1.1 has no way to say it, the message is
/// acknowledged and dropped).
fn on_reserved_publish(core: &Core, conn: &mut ConnState, p: Publish) -> Flow {
    let reason = match &conn.kind {
        ConnKind::Link(name) => {
            match RouteOp::parse(p.topic.as_str(), &p.payload) {
                Some(op) => {
                    let count = core.on_link_route_op(name, op);
                    if let Some(m) = &conn.link_metrics {
                        LinkMetrics::set(&m.routes_in, count as u64);
                    }
                }
                None => {
                    tracing::warn!(link = %name, topic = %p.topic, "unknown link operation ignored")
                }
            }
            ReasonCode::Success
        }
        ConnKind::Client => {
            CoreMetrics::add(&core.metrics.reserved_topic_refused, 1);
            tracing::debug!(client = %conn.client_id, topic = %p.topic, "refused a publish to a reserved $LINK topic");
            ReasonCode::NotAuthorized
        }
    };
    let ack = PubResp {
        packet_id: p.packet_id,
        reason_code: reason,
        properties: Properties::default(),
    };
    match p.qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => conn.send(&Packet::PubAck(ack)),
        // A refused QoS 2 message ends with the PUBREC [MQTT-4.3.3-?]; an accepted
        // one waits for PUBREL like any other.
        QoS::ExactlyOnce => {
            if reason == ReasonCode::Success {
                conn.session.borrow_mut().incoming_qos2.insert(p.packet_id);
            }
            conn.send(&Packet::PubRec(ack));
        }
    }
    Flow::Continue
}

/// The message a PUBLISH carries, with the properties that travel to subscribers.
pub fn message_from_publish(p: Publish, publisher: MqttStr, origin: Origin) -> Message {
    let mut properties = p.properties;
    properties.topic_alias = None;
    properties.subscription_identifiers.clear();
    let expires_at = properties
        .message_expiry_interval
        .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
    Message {
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        properties,
        expires_at,
        publisher,
        origin,
    }
}

/// The message a Will becomes when it is published.
pub fn message_from_will(will: Will, publisher: MqttStr) -> Message {
    let mut properties = will.properties;
    properties.will_delay_interval = None;
    let expires_at = properties
        .message_expiry_interval
        .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
    Message {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties,
        expires_at,
        publisher,
        origin: Origin::Client,
    }
}

fn ack(packet_id: u16) -> PubResp {
    PubResp {
        packet_id,
        reason_code: ReasonCode::Success,
        properties: Properties::default(),
    }
}

fn on_pubrec(conn: &mut ConnState, r: PubResp) -> Flow {
    let known = conn.session.borrow_mut().on_pubrec(r.packet_id);
    let reason = if known {
        ReasonCode::Success
    } else {
        ReasonCode::PacketIdentifierNotFound
    };
    if r.reason_code.is_error() {
        // The client refused the message: it is done [MQTT-4.3.3-?]; no PUBREL follows.
        conn.session.borrow_mut().on_pubcomp(r.packet_id);
        conn.link.wake.notify();
        return Flow::Continue;
    }
    conn.send(&Packet::PubRel(PubResp {
        packet_id: r.packet_id,
        reason_code: reason,
        properties: Properties::default(),
    }));
    Flow::Continue
}

fn on_pubrel(conn: &mut ConnState, r: PubResp) -> Flow {
    let known = conn.session.borrow_mut().incoming_qos2.remove(&r.packet_id);
    let reason = if known {
        ReasonCode::Success
    } else {
        ReasonCode::PacketIdentifierNotFound
    };
    conn.send(&Packet::PubComp(PubResp {
        packet_id: r.packet_id,
        reason_code: reason,
        properties: Properties::default(),
    }));
    Flow::Continue
}

fn on_subscribe(core: &Core, conn: &mut ConnState, s: Subscribe) -> Step {
    let levels = core.config.limits.max_topic_levels;
    let sub_id = s.properties.subscription_identifiers.first().copied();
    let mut reason_codes = Vec::with_capacity(s.filters.len());
    let mut retained_for: Vec<(String, SubOpts)> = Vec::new();
    let mut route_changed = false;
    for (filter, options) in &s.filters {
        let text = filter.as_str();
        if protocol::validate_topic_filter(text, levels).is_err() {
            reason_codes.push(if conn.is_v5() {
                ReasonCode::TopicFilterInvalid
            } else {
                ReasonCode::UnspecifiedError
            });
            continue;
        }
        let inner = protocol::parse_shared(text).map_or(text, |(_, f)| f);
        if wire::is_reserved(inner) {
            // `$LINK/…` is the link protocol's, not for subscribers.
            CoreMetrics::add(&core.metrics.reserved_topic_refused, 1);
            reason_codes.push(if conn.is_v5() {
                ReasonCode::NotAuthorized
            } else {
                ReasonCode::UnspecifiedError
            });
            continue;
        }
        let shared = protocol::parse_shared(text).is_some();
        if shared && options.no_local {
            // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
            return Step::Done(conn.violation(ReasonCode::ProtocolError));
        }
        let opts = SubOpts {
            qos: options.qos,
            no_local: options.no_local,
            retain_as_published: options.retain_as_published,
            sub_id,
        };
        let entry = SubEntry {
            options: *options,
            sub_id,
        };
        let result = core.subscribe(&conn.session, text, opts.clone(), entry);
        route_changed |= result.route_changed;
        // Retained messages are not sent for shared subscriptions [MQTT-3.8.4-?/4.8.2].
        let send_retained = !shared
            && match options.retain_handling {
                0 => true,
                1 => !result.existed,
                _ => false,
            };
        if send_retained {
            retained_for.push((text.to_owned(), opts));
        }
        reason_codes.push(match options.qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
        });
    }
    let deferred = Deferred {
        ack: Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: Properties::default(),
            reason_codes,
        }),
        retained: retained_for,
    };
    if route_changed {
        // Make sure every core routes to us before the client learns it is subscribed.
        return Step::AfterBarrier(Box::new(deferred));
    }
    finish(core, conn, deferred);
    Step::Done(Flow::Continue)
}

fn on_unsubscribe(core: &Core, conn: &mut ConnState, u: Unsubscribe) -> Flow {
    let reason_codes = u
        .filters
        .iter()
        .map(|f| {
            if core.unsubscribe(&conn.session, f.as_str()) {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            }
        })
        .collect();
    conn.send(&Packet::UnsubAck(UnsubAck {
        packet_id: u.packet_id,
        properties: Properties::default(),
        reason_codes,
    }));
    Flow::Continue
}

fn on_disconnect(core: &Core, conn: &mut ConnState, d: Disconnect) -> Flow {
    if let Some(expiry) = d.properties.session_expiry_interval {
        if conn.negotiated.session_expiry == 0 && expiry != 0 {
            // Cannot turn a session that ends with the connection into a lasting one [MQTT-3.14.2-2].
            return conn.violation(ReasonCode::ProtocolError);
        }
        conn.session.borrow_mut().expiry_interval =
            expiry.min(core.config.limits.max_session_expiry);
    }
    // Normal DISCONNECT discards the will [MQTT-3.14.4-3]; 0x04 asks for it.
    let will = d.reason_code == ReasonCode::DisconnectWithWill;
    Flow::Close {
        reason: CloseReason::Quiet,
        will,
    }
}
