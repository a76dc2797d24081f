//! Turning a decoded CONNECT into a live session on its owner core: admission
//! (connection limit, unsupported features), client-id rules, session resume or
//! takeover, and the CONNACK with what the broker grants.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::link::registry::LinkAuth;
use crate::link::wire::Announce;
use crate::metrics::CoreMetrics;
use crate::protocol::{ConnAck, Connect, MqttStr, Properties, ProtocolVersion, ReasonCode};
use crate::session::{CloseReason, ConnLink, Session, SessionRef};

use super::core::Core;

/// Largest topic alias a client may use towards us (announced in CONNACK).
pub const TOPIC_ALIAS_MAX: u16 = 64;

/// What the broker agreed with a client at CONNECT.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub version: ProtocolVersion,
    /// Keep-alive in seconds the broker enforces (0: none).
    pub keep_alive: u16,
    /// Session expiry in seconds after the connection ends.
    pub session_expiry: u32,
}

/// Why a CONNECT is refused before any session exists.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub reason: ReasonCode,
}

/// What kind of peer a connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnKind {
    /// An ordinary MQTT client.
    Client,
    /// Another cluster's link connection (authenticated), named by that cluster.
    Link(Arc<str>),
}

/// Checks what must hold before a session is touched; on success the connection
/// is counted against `limits.max_connections` (release it with [`release`]).
pub fn admit(core: &Core, connect: &Connect) -> Result<ConnKind, Refusal> {
    if connect.protocol.is_v5() && connect.properties.authentication_method.is_some() {
        // Enhanced authentication (AUTH exchange) is not offered [MQTT-4.12.0-1].
        return Err(Refusal {
            reason: ReasonCode::BadAuthenticationMethod,
        });
    }
    let kind = match Announce::from_properties(&connect.properties) {
        None => ConnKind::Client,
        Some(announce) => admit_link(core, connect, &announce)?,
    };
    if let Some(will) = &connect.will {
        let levels = core.config.limits.max_topic_levels;
        if crate::protocol::validate_topic_name(will.topic.as_str(), levels).is_err() {
            return Err(Refusal {
                reason: ReasonCode::TopicNameInvalid,
            });
        }
    }
    let max = core.config.limits.max_connections;
    let prev = core.shared.connections.fetch_add(1, Ordering::Relaxed);
    if prev >= max {
        core.shared.connections.fetch_sub(1, Ordering::Relaxed);
        CoreMetrics::add(&core.metrics.refused_max_connections, 1);
        return Err(Refusal {
            reason: ReasonCode::QuotaExceeded,
        });
    }
    CoreMetrics::add(&core.metrics.connections, 1);
    CoreMetrics::add(&core.metrics.connects, 1);
    Ok(kind)
}

/// A connection announcing itself as cluster `announce.cluster`'s link: accepted only
/// if we have a link of that name and the credentials are the ones it is configured
/// with. A refusal is logged and shows in that link's `last_error`.
fn admit_link(core: &Core, connect: &Connect, announce: &Announce) -> Result<ConnKind, Refusal> {
    let username = connect.username.as_ref().map(|u| u.as_str());
    let password = connect.password.as_deref();
    match core.links.accepts(&announce.cluster, username, password) {
        LinkAuth::Accepted => {
            tracing::info!(cluster = %announce.cluster, client = %connect.client_id, incarnation = %announce.incarnation, "link peer connected");
            Ok(ConnKind::Link(Arc::from(announce.cluster.as_str())))
        }
        LinkAuth::UnknownCluster => {
            tracing::warn!(cluster = %announce.cluster, client = %connect.client_id, "refused a link connection: no link of that name is configured");
            CoreMetrics::add(&core.metrics.links_refused, 1);
            Err(Refusal {
                reason: ReasonCode::NotAuthorized,
            })
        }
        LinkAuth::BadCredentials => {
            tracing::warn!(cluster = %announce.cluster, client = %connect.client_id, "refused a link connection: bad username or password");
            CoreMetrics::add(&core.metrics.links_refused, 1);
            if let Some(m) = core.links.metrics(&announce.cluster) {
                m.set_last_error(format!(
                    "refused an incoming link connection from {}: bad username or password",
                    announce.cluster
                ));
            }
            Err(Refusal {
                reason: ReasonCode::BadUserNameOrPassword,
            })
        }
    }
}

/// The cluster whose live link connection holds `client_id`'s session, if the new
/// connection is not that cluster's link itself.
pub fn held_by_link(core: &Core, client_id: &MqttStr, kind: &ConnKind) -> Option<Arc<str>> {
    let sessions = core.sessions.borrow();
    let session = sessions.get(client_id)?.borrow();
    let cluster = session.conn.as_ref()?.peer_cluster.borrow().clone()?;
    match kind {
        ConnKind::Link(c) if *c == cluster => None,
        _ => Some(cluster),
    }
}

/// Releases what [`admit`] counted.
pub fn release(core: &Core) {
    core.shared.connections.fetch_sub(1, Ordering::Relaxed);
    CoreMetrics::sub(&core.metrics.connections, 1);
}

/// The CONNACK refusing a connection, in the client's version (3.1.1 return codes
/// are mapped by the codec).
pub fn refusal_connack(reason: ReasonCode) -> ConnAck {
    ConnAck {
        session_present: false,
        reason_code: reason,
        properties: Properties::default(),
    }
}

/// Works out keep-alive and session expiry for this client.
pub fn negotiate(core: &Core, connect: &Connect) -> Negotiated {
    let limits = &core.config.limits;
    let keep_alive = if connect.keep_alive > limits.max_keepalive && connect.protocol.is_v5() {
        limits.max_keepalive
    } else {
        connect.keep_alive
    };
    let requested = if connect.protocol.is_v5() {
        connect.properties.session_expiry_interval.unwrap_or(0)
    } else if connect.clean_start {
        0
    } else {
        // 3.1.1 persistent sessions have no expiry in the protocol; the broker's cap applies.
        u32::MAX
    };
    Negotiated {
        version: connect.protocol,
        keep_alive,
        session_expiry: requested.min(limits.max_session_expiry),
    }
}

/// Finds or creates the session for `client_id` and attaches `link` to it, closing
/// any connection that held it (takeover, [MQTT-3.1.4-3]). Returns the session and
/// whether it was resumed (CONNACK Session Present).
pub fn attach_session(
    core: &Core,
    client_id: &MqttStr,
    clean_start: bool,
    negotiated: &Negotiated,
    receive_maximum: u16,
    link: &Rc<ConnLink>,
) -> (SessionRef, bool) {
    let existing = core.sessions.borrow().get(client_id).cloned();
    if let Some(session) = &existing {
        let old = session.borrow_mut().conn.take();
        if let Some(old) = old {
            CoreMetrics::add(&core.metrics.takeovers, 1);
            let reason = if old.version.is_v5() {
                CloseReason::Disconnect(ReasonCode::SessionTakenOver)
            } else {
                CloseReason::Quiet
            };
            old.request_close(reason);
        }
        if clean_start {
            core.end_session(session);
        }
    }
    let limits = &core.config.limits;
    let window = usize::from(receive_maximum.min(limits.max_inflight));
    let (session, present) = match existing {
        Some(s) if !clean_start => (s, true),
        _ => {
            let s = Rc::new(std::cell::RefCell::new(Session::new(
                client_id.clone(),
                negotiated.version,
                window,
                limits.max_queued_messages,
            )));
            core.sessions
                .borrow_mut()
                .insert(client_id.clone(), s.clone());
            (s, false)
        }
    };
    {
        let mut s = session.borrow_mut();
        s.version = negotiated.version;
        s.window = window.max(1);
        s.expiry_interval = negotiated.session_expiry;
        s.generation += 1;
        s.conn = Some(link.clone());
    }
    (session, present)
}

/// The CONNACK for an accepted connection.
pub fn accept_connack(
    core: &Core,
    connect: &Connect,
    negotiated: &Negotiated,
    present: bool,
    assigned: bool,
) -> ConnAck {
    let mut properties = Properties::default();
    if connect.protocol.is_v5() {
        let limits = &core.config.limits;
        properties.receive_maximum = Some(limits.max_inflight);
        properties.maximum_packet_size = Some(limits.max_packet_size);
        properties.topic_alias_maximum = Some(TOPIC_ALIAS_MAX);
        properties.retain_available = Some(1);
        properties.wildcard_subscription_available = Some(1);
        properties.subscription_identifier_available = Some(1);
        properties.shared_subscription_available = Some(1);
        if assigned {
            properties.assigned_client_identifier = Some(connect.client_id.clone());
        }
        if negotiated.keep_alive != connect.keep_alive {
            properties.server_keep_alive = Some(negotiated.keep_alive);
        }
        let asked = connect.properties.session_expiry_interval.unwrap_or(0);
        if negotiated.session_expiry != asked {
            properties.session_expiry_interval = Some(negotiated.session_expiry);
        }
    }
    ConnAck {
        session_present: present,
        reason_code: ReasonCode::Success,
        properties,
    }
}
