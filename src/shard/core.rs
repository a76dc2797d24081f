//! `Core`: the state one data-path core owns and the routing it does.
//!
//! One per core, reached only from that core's tasks (`Rc`, `RefCell`): the sessions
//! whose owner this core is, their subscriptions (SubTree), this core's replica of the
//! RouteTable and of the retained messages, and its counters. Other cores are reached
//! through the [`Mesh`] only.
//!
//! Publish path: [`Core::publish`] looks the topic up in the RouteTable, delivers to
//! local sessions directly and queues one `Deliver` per other interested core.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use smallvec::SmallVec;

use super::flush_tick::FlushTick;
use super::mesh::{CoreMsg, Mesh, RouteDest};
use crate::config::Config;
use crate::link::remote::RemoteRoutes;
use crate::link::wire::RouteOp;
use crate::message::{Message, Origin};
use crate::metrics::CoreMetrics;
use crate::protocol::{MqttStr, QoS};
use crate::retain::{RetainOutcome, RetainStore};
use crate::router::{split_shared, RouteTable, SubTree};
use crate::session::{Delivery, SentNow, SessionRef, SubEntry};

/// A session as a SubTree subscriber: compared by identity.
#[derive(Clone, Debug)]
pub struct SessionHandle(pub SessionRef);

impl PartialEq for SessionHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// What the SubTree keeps per subscription.
#[derive(Clone, Debug)]
pub struct SubOpts {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub sub_id: Option<u32>,
}

/// State shared by all cores of the process (atomics only).
#[derive(Debug, Default)]
pub struct Shared {
    /// Open client connections in the whole process (for `limits.max_connections`).
    pub connections: AtomicUsize,
    /// Set by the signal handler: cores close their connections and stop.
    pub shutdown: AtomicBool,
}

/// The result of one subscription request.
#[derive(Debug, Clone, Copy)]
pub struct Subscribed {
    /// The session already had this subscription (retain handling 1 sends nothing).
    pub existed: bool,
    /// A route was broadcast: wait for a barrier before acknowledging.
    pub route_changed: bool,
}

/// Per-core broker state.
pub struct Core {
    pub config: Arc<Config>,
    pub shared: Arc<Shared>,
    pub metrics: Arc<CoreMetrics>,
    pub mesh: Rc<Mesh>,
    /// The configured links: who may connect as a link peer.
    pub links: Arc<crate::link::registry::LinkRegistry>,
    pub sessions: RefCell<AHashMap<MqttStr, SessionRef>>,
    pub subtree: RefCell<SubTree<SessionHandle, SubOpts>>,
    pub routes: RefCell<RouteTable>,
    pub retained: RefCell<RetainStore>,
    /// Reused per publish: the sessions a message goes to.
    scratch: RefCell<Vec<Hit>>,
    /// Routes remote clusters asked for, by link name (for links whose connection 0
    /// this core owns).
    pub remote_routes: RefCell<AHashMap<Arc<str>, RemoteRoutes>>,
    /// Outstanding barriers: token → (acks still missing, waiting task).
    barriers: RefCell<AHashMap<u64, (usize, Option<Waker>)>>,
    next_token: Cell<u64>,
    /// Source of assigned client ids.
    next_client: Cell<u64>,
    /// The write-coalescing window's clock, when `[tuning] write_coalesce_us` is set.
    pub flush_tick: Option<Rc<FlushTick>>,
}

impl Core {
    pub fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        metrics: Arc<CoreMetrics>,
        links: Arc<crate::link::registry::LinkRegistry>,
        mesh: Rc<Mesh>,
    ) -> Self {
        let window = config.tuning.write_coalesce_us;
        let flush_tick = (window > 0).then(|| FlushTick::new(Duration::from_micros(window)));
        Core {
            config,
            shared,
            metrics,
            links,
            mesh,
            sessions: RefCell::new(AHashMap::new()),
            subtree: RefCell::new(SubTree::default()),
            routes: RefCell::new(RouteTable::default()),
            retained: RefCell::new(RetainStore::default()),
            scratch: RefCell::new(Vec::new()),
            remote_routes: RefCell::new(AHashMap::new()),
            barriers: RefCell::new(AHashMap::new()),
            next_token: Cell::new(1),
            next_client: Cell::new(1),
            flush_tick,
        }
    }

    pub fn id(&self) -> usize {
        self.mesh.me()
    }

    /// The core that owns the session of `client_id`.
    pub fn owner_of(&self, client_id: &str) -> usize {
        owner_core(client_id, self.mesh.cores())
    }

    /// A fresh client id for a client that sent an empty one [MQTT-3.1.3-6], made so
    /// that it is owned by this core (no hand-off needed).
    pub fn assign_client_id(&self) -> MqttStr {
        loop {
            let n = self.next_client.get();
            self.next_client.set(n + 1);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let id = format!("meridian-{:x}-{}-{}", nanos & 0xffff_ffff, self.id(), n);
            if self.owner_of(&id) == self.id() {
                return MqttStr::from(id);
            }
        }
    }

    // ----- publishing -------------------------------------------------------------

    /// Routes a message published on this core: retained update, then delivery to
    /// this core's sessions and to every other core with matching subscribers.
    pub fn publish(&self, msg: Arc<Message>) {
        if msg.retain {
            self.apply_retain(msg.clone());
            self.mesh.broadcast(|| CoreMsg::Retain(msg.clone()));
        }
        let cores = self.mesh.cores();
        let me = self.id();
        let mut plain: u64 = 0;
        let mut groups: SmallVec<[GroupPick; 2]> = SmallVec::new();
        let mut links: SmallVec<[Arc<str>; 1]> = SmallVec::new();
        // Only what this cluster's own clients published crosses a link: a message
        // that arrived over a link is never forwarded again, so meshes cannot loop.
        let forward = msg.origin == Origin::Client;
        self.routes
            .borrow()
            .for_each_match(msg.topic.as_str(), |filter, routes| {
                plain |= routes.cores;
                for g in &routes.groups {
                    if let Some(core) = g.pick_core() {
                        groups.push((core, Arc::from(filter), g.name.clone()));
                    }
                }
                if forward {
                    for l in &routes.links {
                        if !links.contains(l) {
                            links.push(l.clone());
                        }
                    }
                }
            });
        if !links.is_empty() {
            let to = self.mesh.link_shard();
            self.mesh.send(
                to,
                CoreMsg::Forward {
                    msg: msg.clone(),
                    links,
                },
            );
        }
        for core in 0..cores {
            let is_plain = plain & (1u64 << core) != 0;
            let mut mine: SmallVec<[(Arc<str>, Arc<str>); 1]> = SmallVec::new();
            for (c, f, g) in &groups {
                if *c == core {
                    mine.push((f.clone(), g.clone()));
                }
            }
            if !is_plain && mine.is_empty() {
                continue;
            }
            if core == me {
                self.deliver_local(&msg, is_plain, &mine);
            } else {
                self.mesh.send(
                    core,
                    CoreMsg::Deliver {
                        msg: msg.clone(),
                        plain: is_plain,
                        groups: mine,
                    },
                );
            }
        }
    }

    /// Delivers to this core's sessions: every plain subscriber if `plain`, and one
    /// member of each listed shared group. A session with several matching
    /// subscriptions gets one copy at the highest granted QoS with all their
    /// subscription ids [MQTT-3.3.4-2/3].
    pub fn deliver_local(&self, msg: &Arc<Message>, plain: bool, groups: &[(Arc<str>, Arc<str>)]) {
        let mut hits = self.scratch.borrow_mut();
        hits.clear();
        let mut filters_matched = 0usize;
        self.subtree
            .borrow()
            .for_each_match(msg.topic.as_str(), |filter, subs| {
                filters_matched += 1;
                if plain {
                    for (sess, opts) in &subs.direct {
                        if opts.no_local && sess.0.borrow().client_id == msg.publisher {
                            continue;
                        }
                        hits.push(Hit::new(sess, opts));
                    }
                }
                for (gf, gname) in groups {
                    if &**gf != filter {
                        continue;
                    }
                    if let Some(group) = subs.groups.iter().find(|g| g.name == *gname) {
                        if let Some((sess, opts)) = group.pick(|s| s.0.borrow().conn.is_some()) {
                            hits.push(Hit::new(sess, opts));
                        }
                    }
                }
            });
        if filters_matched > 1 && hits.len() > 1 {
            merge_overlapping(&mut hits);
        }
        let now = Instant::now();
        let (mut sent, mut expired, mut too_large) = (0, 0, 0);
        for hit in hits.drain(..) {
            let qos = msg.qos.min(hit.qos);
            let retain = msg.retain && hit.retain_as_published;
            if qos == QoS::AtMostOnce {
                let session = hit.session.0.borrow();
                match session.send_now(msg, retain, &hit.sub_ids, now) {
                    Some(SentNow::Delivered) => {
                        sent += 1;
                        if let Some(conn) = &session.conn {
                            conn.wake.notify();
                        }
                        continue;
                    }
                    Some(SentNow::Expired) => {
                        expired += 1;
                        continue;
                    }
                    Some(SentNow::TooLarge) => {
                        too_large += 1;
                        continue;
                    }
                    None => {}
                }
            }
            let delivery = Delivery {
                msg: msg.clone(),
                qos,
                retain,
                sub_ids: hit.sub_ids,
            };
            self.enqueue(&hit.session.0, delivery);
        }
        CoreMetrics::add(&self.metrics.messages_delivered, sent);
        CoreMetrics::add(&self.metrics.dropped_expired, expired);
        CoreMetrics::add(&self.metrics.dropped_too_large_for_client, too_large);
    }

    /// Puts a delivery in a session's queue and wakes its writer; counts a drop.
    pub fn enqueue(&self, session: &SessionRef, delivery: Delivery) {
        let mut s = session.borrow_mut();
        let offline = s.conn.is_none();
        let qos0 = delivery.qos == QoS::AtMostOnce;
        if s.enqueue(delivery) {
            if let Some(conn) = &s.conn {
                conn.wake.notify();
            }
        } else if offline && qos0 {
            CoreMetrics::add(&self.metrics.dropped_offline_qos0, 1);
        } else {
            CoreMetrics::add(&self.metrics.dropped_queue_full, 1);
        }
    }

    fn apply_retain(&self, msg: Arc<Message>) {
        let limit = self.config.limits.max_retained_messages;
        if self.retained.borrow_mut().set(msg, limit) == RetainOutcome::LimitReached {
            CoreMetrics::add(&self.metrics.retained_refused, 1);
        }
    }

    /// Queues the retained messages matching `filter` for a new subscription
    /// [MQTT-3.3.1-9]: RETAIN set, QoS downgraded to the subscription's.
    pub fn send_retained(&self, session: &SessionRef, filter: &str, opts: &SubOpts) {
        let now = Instant::now();
        let mut found = Vec::new();
        self.retained.borrow().for_each_match(filter, |m| {
            if !m.is_expired(now) {
                found.push(m.clone());
            }
        });
        for msg in found {
            let mut sub_ids = SmallVec::new();
            if let Some(id) = opts.sub_id {
                sub_ids.push(id);
            }
            let qos = msg.qos.min(opts.qos);
            self.enqueue(
                session,
                Delivery {
                    msg,
                    qos,
                    retain: true,
                    sub_ids,
                },
            );
        }
    }

    // ----- subscriptions ----------------------------------------------------------

    /// Adds a subscription for `session` (filter already validated; `filter` may be
    /// `$share/<group>/<f>`), broadcasting a route if this core had no subscriber of it.
    pub fn subscribe(
        &self,
        session: &SessionRef,
        filter: &str,
        opts: SubOpts,
        entry: SubEntry,
    ) -> Subscribed {
        let (group, inner) = match split_shared(filter) {
            Some((g, f)) => (Some(g), f),
            None => (None, filter),
        };
        let change =
            self.subtree
                .borrow_mut()
                .subscribe(inner, group, SessionHandle(session.clone()), opts);
        let existed = session
            .borrow_mut()
            .subscriptions
            .insert(Arc::from(filter), entry)
            .is_some();
        if change.route {
            self.broadcast_route(inner, group, true);
        }
        Subscribed {
            existed: existed || !change.changed,
            route_changed: change.route,
        }
    }

    /// Removes a subscription; returns whether the session had it.
    pub fn unsubscribe(&self, session: &SessionRef, filter: &str) -> bool {
        let had = session.borrow_mut().subscriptions.remove(filter).is_some();
        let (group, inner) = match split_shared(filter) {
            Some((g, f)) => (Some(g), f),
            None => (None, filter),
        };
        let change =
            self.subtree
                .borrow_mut()
                .unsubscribe(inner, group, &SessionHandle(session.clone()));
        if change.route {
            self.broadcast_route(inner, group, false);
        }
        had
    }

    /// Ends a session: drops all its subscriptions (and so its routes) and forgets it.
    pub fn end_session(&self, session: &SessionRef) {
        let filters: Vec<Arc<str>> = session.borrow().subscriptions.keys().cloned().collect();
        for f in filters {
            self.unsubscribe(session, &f);
        }
        let id = session.borrow().client_id.clone();
        let mut sessions = self.sessions.borrow_mut();
        if sessions.get(&id).is_some_and(|s| Rc::ptr_eq(s, session)) {
            sessions.remove(&id);
        }
    }

    fn broadcast_route(&self, filter: &str, group: Option<&str>, add: bool) {
        let me = self.id();
        {
            let mut routes = self.routes.borrow_mut();
            if add {
                routes.add(filter, group, me);
            } else {
                routes.remove(filter, group, me);
            }
        }
        let filter: Arc<str> = Arc::from(filter);
        let group: Option<Arc<str>> = group.map(Arc::from);
        self.mesh.broadcast(|| CoreMsg::Route {
            filter: filter.clone(),
            group: group.clone(),
            dest: RouteDest::Core(me),
            add,
        });
    }

    /// Applies a route operation a remote cluster sent over its link, installing the
    /// resulting routes in every core's RouteTable. Returns the remote's route count.
    pub fn on_link_route_op(&self, link: &Arc<str>, op: RouteOp) -> usize {
        let (changes, count) = {
            let mut all = self.remote_routes.borrow_mut();
            let remote = all.entry(link.clone()).or_default();
            let changes = remote.apply(op);
            (changes, remote.len())
        };
        for change in changes {
            self.apply_link_route(link, &change.filter, change.add);
            let filter: Arc<str> = Arc::from(change.filter.as_str());
            self.mesh.broadcast(|| CoreMsg::Route {
                filter: filter.clone(),
                group: None,
                dest: RouteDest::Link(link.clone()),
                add: change.add,
            });
        }
        count
    }

    /// The link to `link` was deleted: end that cluster's link connections here and
    /// drop every route it asked for (on every core), if this core holds them.
    fn drop_link_routes(&self, link: &Arc<str>) {
        for session in self.sessions.borrow().values() {
            if let Some(conn) = &session.borrow().conn {
                if conn.peer_cluster.borrow().as_ref() == Some(link) {
                    conn.request_close(crate::session::CloseReason::Disconnect(
                        crate::protocol::ReasonCode::AdministrativeAction,
                    ));
                }
            }
        }
        let Some(mut remote) = self.remote_routes.borrow_mut().remove(link) else {
            return;
        };
        for change in remote.clear() {
            self.apply_link_route(link, &change.filter, false);
            let filter: Arc<str> = Arc::from(change.filter.as_str());
            self.mesh.broadcast(|| CoreMsg::Route {
                filter: filter.clone(),
                group: None,
                dest: RouteDest::Link(link.clone()),
                add: false,
            });
        }
    }

    fn apply_link_route(&self, link: &Arc<str>, filter: &str, add: bool) {
        let mut routes = self.routes.borrow_mut();
        if add {
            routes.add_link(filter, link);
        } else {
            routes.remove_link(filter, link);
        }
    }

    // ----- barrier ----------------------------------------------------------------

    /// Waits until every other core has applied everything this core sent it so far
    /// (route updates, retained updates). Used before SUBACK, so a message published
    /// anywhere after the client saw its SUBACK is routed to it.
    pub async fn barrier(&self) {
        let peers = self.mesh.peers() - 1;
        if peers == 0 {
            return;
        }
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        self.barriers.borrow_mut().insert(token, (peers, None));
        let me = self.id();
        self.mesh.broadcast(|| CoreMsg::Barrier { from: me, token });
        poll_fn(|cx| {
            let mut barriers = self.barriers.borrow_mut();
            match barriers.get_mut(&token) {
                Some((0, _)) | None => {
                    barriers.remove(&token);
                    Poll::Ready(())
                }
                Some((_, waker)) => {
                    *waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Applies a message from another core. Hand-offs are returned to the caller,
    /// which owns connection start-up.
    pub fn on_core_msg(&self, msg: CoreMsg) -> Option<Box<super::mesh::Handoff>> {
        match msg {
            CoreMsg::Handoff(h) => return Some(h),
            CoreMsg::Route {
                filter,
                dest: RouteDest::Link(link),
                add,
                ..
            } => self.apply_link_route(&link, &filter, add),
            // Only the link shard forwards to links.
            CoreMsg::Forward { .. } => {}
            CoreMsg::LinkRemoved { name } => self.drop_link_routes(&name),
            CoreMsg::Route {
                filter,
                group,
                dest: RouteDest::Core(core),
                add,
            } => {
                let mut routes = self.routes.borrow_mut();
                if add {
                    routes.add(&filter, group.as_deref(), core);
                } else {
                    routes.remove(&filter, group.as_deref(), core);
                }
            }
            CoreMsg::Deliver { msg, plain, groups } => self.deliver_local(&msg, plain, &groups),
            CoreMsg::Retain(msg) => self.apply_retain(msg),
            CoreMsg::Barrier { from, token } => self.mesh.send(from, CoreMsg::BarrierAck { token }),
            CoreMsg::BarrierAck { token } => {
                if let Some((missing, waker)) = self.barriers.borrow_mut().get_mut(&token) {
                    *missing = missing.saturating_sub(1);
                    if *missing == 0 {
                        if let Some(w) = waker.take() {
                            w.wake();
                        }
                    }
                }
            }
        }
        None
    }
}

/// `hash(client_id) % cores`: the core that owns a client's session.
pub fn owner_core(client_id: &str, cores: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    // Fixed keys: every core (and every restart) must agree on the owner.
    let state = ahash::RandomState::with_seeds(0x6d65_7269, 0x6469_616e, 0x6d71_7474, 0x636f_7265);
    let mut h = state.build_hasher();
    h.write(client_id.as_bytes());
    (h.finish() % cores.max(1) as u64) as usize
}

/// A shared group's pick for one message: (core, filter, group).
type GroupPick = (usize, Arc<str>, Arc<str>);

/// One session a message goes to, with what its matching subscriptions ask for.
#[derive(Debug)]
struct Hit {
    session: SessionHandle,
    qos: QoS,
    retain_as_published: bool,
    sub_ids: SmallVec<[u32; 1]>,
}

impl Hit {
    fn new(session: &SessionHandle, opts: &SubOpts) -> Self {
        Hit {
            session: session.clone(),
            qos: opts.qos,
            retain_as_published: opts.retain_as_published,
            sub_ids: opts.sub_id.into_iter().collect(),
        }
    }
}

/// Collapses several matches of one session into one: highest QoS, all subscription
/// ids, retain-as-published if any asked for it.
fn merge_overlapping(hits: &mut Vec<Hit>) {
    hits.sort_by_key(|h| Rc::as_ptr(&h.session.0) as usize);
    let mut merged: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits.drain(..) {
        match merged.last_mut() {
            Some(acc) if acc.session == hit.session => {
                acc.qos = acc.qos.max(hit.qos);
                acc.retain_as_published |= hit.retain_as_published;
                acc.sub_ids.extend(hit.sub_ids);
            }
            _ => merged.push(hit),
        }
    }
    *hits = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_owner_core_stable_and_in_range() {
        for cores in 1..8 {
            for id in ["a", "client-1", "", "ü"] {
                let o = owner_core(id, cores);
                assert!(o < cores);
                assert_eq!(o, owner_core(id, cores));
            }
        }
    }
}
