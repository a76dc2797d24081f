//! One configured link as the link shard runs it: its pool of connections to the
//! remote cluster, the routes it asks for, and its bounded backlog.
//!
//! Link shard only.
//!
//! Backlog policy (DESIGN principle 5): messages for the remote wait in the queue of
//! the connection their topic hashes to, up to `backlog_messages` and `backlog_bytes`
//! for the whole link. When full, a new QoS 0 message is dropped; a new QoS 1/2 message
//! evicts the oldest QoS 0 message of its connection's queue, else the oldest message.
//! Every drop is counted in `dropped`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::inflight::Inflight;
use super::metrics::{LinkMetrics, LinkState};
use super::routes::{LocalRoutes, OutRoutes, RouteChange};
use super::wire;
use crate::config::LinkConfig;
use crate::message::Message;
use crate::notify::Notify;
use crate::protocol::QoS;

/// The messages waiting on one pool connection, oldest first, knowing how many are
/// QoS 0 so the overflow policy finds a QoS 0 victim without scanning when there is
/// none.
#[derive(Debug, Default)]
pub struct SendQueue {
    items: VecDeque<Arc<Message>>,
    qos0: usize,
}

impl SendQueue {
    pub fn front(&self) -> Option<&Arc<Message>> {
        self.items.front()
    }

    pub fn push_back(&mut self, msg: Arc<Message>) {
        self.qos0 += usize::from(msg.qos == QoS::AtMostOnce);
        self.items.push_back(msg);
    }

    pub fn push_front(&mut self, msg: Arc<Message>) {
        self.qos0 += usize::from(msg.qos == QoS::AtMostOnce);
        self.items.push_front(msg);
    }

    pub fn pop_front(&mut self) -> Option<Arc<Message>> {
        let msg = self.items.pop_front()?;
        self.qos0 -= usize::from(msg.qos == QoS::AtMostOnce);
        Some(msg)
    }

    /// Removes the message the overflow policy gives up: the oldest QoS 0 one if
    /// there is any, else the oldest.
    pub fn evict(&mut self) -> Option<Arc<Message>> {
        if self.qos0 == 0 {
            return self.pop_front();
        }
        let pos = self.items.iter().position(|m| m.qos == QoS::AtMostOnce)?;
        self.qos0 -= 1;
        self.items.remove(pos)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Arc<Message>> + '_ {
        self.qos0 = 0;
        self.items.drain(..)
    }
}

/// One connection of a link's pool, shared by its tasks and the link.
#[derive(Debug)]
pub struct PoolConn {
    pub index: usize,
    pub client_id: String,
    /// Messages waiting to be sent, oldest first (the backlog while disconnected).
    pub queue: RefCell<SendQueue>,
    /// Route operations waiting to be sent (connection 0 only): (topic, payload).
    pub route_ops: RefCell<VecDeque<(&'static str, Bytes)>>,
    /// Encoded control packets (PUBREL, PINGREQ) for the writer.
    pub raw: RefCell<BytesMut>,
    pub inflight: RefCell<Inflight>,
    pub wake: Notify,
    /// The connection's handshake is done and it may send.
    pub up: Cell<bool>,
    /// The link is being stopped: end the connection for good.
    pub stop: Cell<bool>,
    /// The writer's socket while connected, so a stop can shut it.
    pub fd: Cell<Option<RawFd>>,
    /// The connection was up before: the next time counts as a reconnect.
    pub ever_up: Cell<bool>,
}

impl PoolConn {
    fn new(index: usize, prefix: &str) -> Self {
        PoolConn {
            index,
            client_id: format!("{prefix}-{index}"),
            queue: RefCell::new(SendQueue::default()),
            route_ops: RefCell::new(VecDeque::new()),
            raw: RefCell::new(BytesMut::new()),
            inflight: RefCell::new(Inflight::default()),
            wake: Notify::default(),
            up: Cell::new(false),
            stop: Cell::new(false),
            fd: Cell::new(None),
            ever_up: Cell::new(false),
        }
    }

    /// Ends the connection (link removed or reconfigured).
    pub fn shut(&self) {
        self.stop.set(true);
        if let Some(fd) = self.fd.get() {
            // SAFETY: `fd` is set only while the writer owns the open descriptor.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
        self.wake.notify();
    }
}

/// A running link.
#[derive(Debug)]
pub struct Link {
    pub name: Arc<str>,
    pub config: LinkConfig,
    pub metrics: Arc<LinkMetrics>,
    pub routes: RefCell<OutRoutes>,
    pub conns: Vec<Rc<PoolConn>>,
    /// This process's cluster name and incarnation, announced at CONNECT.
    pub local_cluster: Arc<str>,
    pub incarnation: Arc<str>,
    backlog_messages: Cell<usize>,
    backlog_bytes: Cell<u64>,
    /// Pool connections whose handshake is done.
    connected: Cell<usize>,
}

impl Link {
    pub fn new(
        config: LinkConfig,
        metrics: Arc<LinkMetrics>,
        local: &LocalRoutes,
        local_cluster: Arc<str>,
        incarnation: Arc<str>,
    ) -> Self {
        let pool = if config.enable {
            config.pool_size.max(1)
        } else {
            0
        };
        let conns = (0..pool)
            .map(|i| Rc::new(PoolConn::new(i, &config.clientid_prefix)))
            .collect();
        let routes = OutRoutes::new(config.topics.clone(), local);
        LinkMetrics::set(&metrics.routes_out, routes.len() as u64);
        metrics.set_state(if config.enable {
            LinkState::Connecting
        } else {
            LinkState::Disabled
        });
        Link {
            name: Arc::from(config.name.as_str()),
            config,
            metrics,
            routes: RefCell::new(routes),
            conns,
            local_cluster,
            incarnation,
            backlog_messages: Cell::new(0),
            backlog_bytes: Cell::new(0),
            connected: Cell::new(0),
        }
    }

    /// The pool connection a topic always uses, so per-topic order holds.
    pub fn conn_for(&self, topic: &str) -> Option<&Rc<PoolConn>> {
        if self.conns.is_empty() {
            return None;
        }
        let state = ahash::RandomState::with_seeds(1, 2, 3, 4);
        let mut h = state.build_hasher();
        h.write(topic.as_bytes());
        Some(&self.conns[(h.finish() % self.conns.len() as u64) as usize])
    }

    /// Queues a message for the remote, applying the backlog policy.
    pub fn enqueue(&self, msg: Arc<Message>) {
        let Some(conn) = self.conn_for(msg.topic.as_str()) else {
            // Disabled link: nothing will ever carry it.
            LinkMetrics::add(&self.metrics.dropped, 1);
            return;
        };
        let len = msg.payload.len() as u64;
        let full = |link: &Link, extra: u64| {
            link.backlog_messages.get() + 1 > link.config.backlog_messages
                || link.backlog_bytes.get() + extra > link.config.backlog_bytes
        };
        let mut queue = conn.queue.borrow_mut();
        while full(self, len) {
            if msg.qos == QoS::AtMostOnce {
                LinkMetrics::add(&self.metrics.dropped, 1);
                return;
            }
            match queue.evict() {
                Some(old) => {
                    self.account(-1, -(old.payload.len() as i64));
                    LinkMetrics::add(&self.metrics.dropped, 1);
                }
                None => {
                    // The other connections' queues hold the backlog: drop the new one.
                    LinkMetrics::add(&self.metrics.dropped, 1);
                    return;
                }
            }
        }
        queue.push_back(msg);
        drop(queue);
        self.account(1, len as i64);
        conn.wake.notify();
    }

    /// Puts messages that were inflight on a lost connection back at the front of its
    /// queue (oldest first), to be sent again.
    pub fn requeue_front(&self, conn: &PoolConn, msgs: Vec<Arc<Message>>) {
        let n = msgs.len();
        let bytes: u64 = msgs.iter().map(|m| m.payload.len() as u64).sum();
        let mut queue = conn.queue.borrow_mut();
        for m in msgs.into_iter().rev() {
            queue.push_front(m);
        }
        drop(queue);
        self.account(n as i64, bytes as i64);
        LinkMetrics::add(&self.metrics.resent, n as u64);
    }

    /// Publishes the number of unacknowledged messages over the whole pool.
    pub fn refresh_inflight(&self) {
        let total: usize = self
            .conns
            .iter()
            .map(|c| c.inflight.borrow().messages())
            .sum();
        LinkMetrics::set(&self.metrics.inflight, total as u64);
    }

    /// Books messages entering (+) or leaving (−) the backlog.
    pub fn account(&self, messages: i64, bytes: i64) {
        let m = (self.backlog_messages.get() as i64 + messages).max(0) as usize;
        let b = (self.backlog_bytes.get() as i64 + bytes).max(0) as u64;
        self.backlog_messages.set(m);
        self.backlog_bytes.set(b);
        LinkMetrics::set(&self.metrics.backlog_messages, m as u64);
        LinkMetrics::set(&self.metrics.backlog_bytes, b);
    }

    /// Applies changes of this link's outgoing routes: sent incrementally when
    /// connection 0 is up (otherwise the snapshot after its reconnect carries them).
    pub fn send_route_changes(&self, changes: Vec<RouteChange>) {
        if changes.is_empty() {
            return;
        }
        LinkMetrics::set(&self.metrics.routes_out, self.routes.borrow().len() as u64);
        let Some(conn0) = self.conns.first() else {
            return;
        };
        if !conn0.up.get() {
            return;
        }
        let adds: Vec<&str> = changes
            .iter()
            .filter(|c| c.add)
            .map(|c| c.filter.as_str())
            .collect();
        let dels: Vec<&str> = changes
            .iter()
            .filter(|c| !c.add)
            .map(|c| c.filter.as_str())
            .collect();
        let mut ops = conn0.route_ops.borrow_mut();
        for p in wire::filter_payloads(adds) {
            ops.push_back((wire::TOPIC_ADD, p));
        }
        for p in wire::filter_payloads(dels) {
            ops.push_back((wire::TOPIC_DEL, p));
        }
        drop(ops);
        conn0.wake.notify();
    }

    /// The full route set, as sent after connection 0 (re)connects.
    pub fn snapshot_ops(&self) -> Vec<(&'static str, Bytes)> {
        let routes = self.routes.borrow();
        let mut ops = vec![(wire::TOPIC_BEGIN, Bytes::from(self.incarnation.to_string()))];
        for p in wire::filter_payloads(routes.snapshot()) {
            ops.push((wire::TOPIC_ADD, p));
        }
        ops.push((wire::TOPIC_END, Bytes::new()));
        ops
    }

    /// A pool connection came up or went down: update the link's state.
    pub fn set_conn_up(&self, conn: &PoolConn, up: bool) {
        if conn.up.get() == up {
            return;
        }
        conn.up.set(up);
        let n = if up {
            self.connected.get() + 1
        } else {
            self.connected.get().saturating_sub(1)
        };
        self.connected.set(n);
        let state = if n == self.conns.len() {
            LinkState::Connected
        } else if n == 0 {
            LinkState::Connecting
        } else {
            LinkState::Degraded
        };
        self.metrics.set_state(state);
    }

    /// Stops every connection; returns the queued messages (to carry over).
    pub fn stop(&self) -> Vec<Arc<Message>> {
        let mut left = Vec::new();
        for conn in &self.conns {
            conn.shut();
            let inflight: Vec<Arc<Message>> = conn
                .inflight
                .borrow_mut()
                .drain()
                .into_iter()
                .filter(|e| !e.route_op)
                .map(|e| e.msg)
                .collect();
            left.extend(inflight);
            left.extend(conn.queue.borrow_mut().drain());
        }
        self.account(
            -(self.backlog_messages.get() as i64),
            -(self.backlog_bytes.get() as i64),
        );
        LinkMetrics::set(&self.metrics.inflight, 0);
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Origin;
    use crate::protocol::MqttStr;

    fn msg(topic: &str, qos: QoS) -> Arc<Message> {
        Arc::new(Message {
            topic: MqttStr::from(topic),
            payload: Bytes::new(),
            qos,
            retain: false,
            properties: Default::default(),
            expires_at: None,
            publisher: MqttStr::from("p"),
            origin: Origin::Client,
        })
    }

    #[test]
    fn does_overflow_give_up_the_oldest_qos0_message_first() {
        let mut q = SendQueue::default();
        q.push_back(msg("a", QoS::AtLeastOnce));
        q.push_back(msg("b", QoS::AtMostOnce));
        q.push_back(msg("c", QoS::AtMostOnce));
        assert_eq!(q.evict().map(|m| m.topic.to_string()), Some("b".into()));
        assert_eq!(q.evict().map(|m| m.topic.to_string()), Some("c".into()));
        // No QoS 0 left: the oldest goes.
        assert_eq!(q.evict().map(|m| m.topic.to_string()), Some("a".into()));
        assert!(q.evict().is_none());
    }
}
