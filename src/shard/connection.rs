//! A client connection's life: read the CONNECT, hand the socket to the session's
//! owner core if that is another core, then run the reader (decode every complete
//! packet in the buffer, handle it) and the writer (one coalesced write of everything
//! pending) until the connection ends, and clean up (will, session expiry).
//!
//! Reader and writer are two tasks on the owner core sharing one descriptor (a
//! [`SharedStream`], borrowed only inside a poll), so neither waits for the other.
//! An idle connection costs what these tasks keep while waiting: keep their state
//! small (set-up is synchronous, rare packets are boxed, reads borrow a per-core
//! scratch buffer).

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use std::cell::RefCell;
use std::sync::Arc;

use bytes::BytesMut;
use glommio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use crate::metrics::CoreMetrics;
use crate::protocol::{
    self, Connect, DecodeLimits, Disconnect, MqttStr, Packet, Properties, ProtocolError,
    ProtocolVersion, ReasonCode,
};
use crate::session::{CloseReason, ConnLink, SessionRef};

use super::connect::{self, ConnKind};
use super::core::Core;
use super::handler::{self, ConnState, Flow, Step};
use super::mesh::{CoreMsg, Handoff};
use super::transport::{SharedStream, Transport};
use super::will;

/// A client must send CONNECT within this time after the TCP connection opens.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a writer may take to flush its last bytes before the socket is forced shut.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves a freshly accepted socket: reads CONNECT, then runs the session here or
/// hands the socket to its owner core.
pub async fn serve(
    core: Rc<Core>,
    stream: TcpStream,
    peer: Option<SocketAddr>,
    tls: Option<Arc<ServerConfig>>,
) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(CONNECT_TIMEOUT));
    let mut buf = BytesMut::new();
    let mut io = Transport::new(SharedStream::new(stream), None);
    if let Some(config) = tls {
        let session = match ServerConnection::new(config) {
            Ok(conn) => Rc::new(RefCell::new(conn)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a TLS session");
                return;
            }
        };
        if let Err(e) = super::tls::handshake(&io.stream, &session, &mut buf).await {
            tracing::debug!(?peer, error = %e, "TLS handshake failed");
            return;
        }
        io.tls = Some(session);
    }
    let limits = DecodeLimits {
        version: None,
        max_packet_size: core.config.limits.max_packet_size,
    };
    let connect = loop {
        // Read before decoding: a failed decode leaves the buffer unspecified.
        let asked = protocol::peek_connect_version(&buf);
        match protocol::decode(&mut buf, &limits) {
            Ok(Some(Packet::Connect(c))) => break c,
            Ok(Some(_)) => {
                // The codec accepts only CONNECT first; anything else is a violation [MQTT-3.1.0-1].
                CoreMetrics::add(&core.metrics.protocol_errors, 1);
                return;
            }
            Ok(None) => {}
            Err(e) => {
                refuse_bad_connect(&core, &mut io, asked, &e, peer).await;
                return;
            }
        }
        match io.read_more(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    };
    let mut connect = connect;
    let mut assigned = false;
    if connect.client_id.is_empty() {
        if !connect.protocol.is_v5() && !connect.clean_start {
            // 3.1.1: an empty id needs clean session 1 [MQTT-3.1.3-8].
            let refusal = connect::refusal_connack(ReasonCode::ClientIdentifierNotValid);
            if let Some(out) = encode_connack(&connect, refusal) {
                let _ = io.write_all(&out).await;
            }
            return;
        }
        connect.client_id = core.assign_client_id();
        assigned = true;
    }
    let owner = core.owner_of(connect.client_id.as_str());
    if owner != core.id() {
        // SAFETY: dup of a live descriptor we own; the copy is owned by the OwnedFd.
        let fd = unsafe { libc::dup(io.stream.raw_fd()) };
        if fd < 0 {
            return;
        }
        let tls = io
            .tls
            .take()
            .and_then(|s| Rc::try_unwrap(s).ok())
            .map(|s| Box::new(s.into_inner()));
        drop(io);
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let handoff = Handoff {
            fd,
            connect,
            buf,
            peer,
            assigned_id: assigned,
            tls,
        };
        core.mesh.send(owner, CoreMsg::Handoff(Box::new(handoff)));
        return;
    }
    run(core, io, connect, buf, peer, assigned).await;
}

/// Starts a connection handed over by another core.
pub async fn adopt(core: Rc<Core>, handoff: Box<Handoff>) {
    let Handoff {
        fd,
        connect,
        buf,
        peer,
        assigned_id,
        tls,
    } = *handoff;
    // SAFETY: the descriptor came to us by ownership; TcpStream takes it over.
    let stream = unsafe { TcpStream::from_raw_fd(fd.into_raw_fd()) };
    let io = Transport::new(
        SharedStream::new(stream),
        tls.map(|t| Rc::new(RefCell::new(*t))),
    );
    run(core, io, connect, buf, peer, assigned_id).await;
}

/// Answers a CONNECT that could not be decoded: CONNACK with the reason where the
/// protocol has one (unsupported version: 0x01 for 3.x [MQTT-3.1.2-2], 0x84 for 5.0;
/// malformed 5.0 CONNECT: its reason code), then close.
async fn refuse_bad_connect(
    core: &Core,
    io: &mut Transport,
    asked: Option<ProtocolVersion>,
    e: &ProtocolError,
    peer: Option<SocketAddr>,
) {
    CoreMetrics::add(&core.metrics.protocol_errors, 1);
    if e.reason_code() == ReasonCode::PacketTooLarge {
        CoreMetrics::add(&core.metrics.packets_too_large, 1);
    }
    tracing::debug!(?peer, error = %e, "refusing CONNECT");
    // Unsupported level: CONNACK 0x01 in 3.1.1 form [MQTT-3.1.2-2] (5.0 clients read it
    // as a refusal too); a 5.0 CONNECT that fails to decode: CONNACK with the error's
    // reason code [MQTT-4.13.1-1]; 3.1.1: close without answer, except a bad client id
    // (0x02).
    let (version, reason) = match (asked, e.reason_code()) {
        (_, ReasonCode::UnsupportedProtocolVersion) => (
            Some(ProtocolVersion::V3_1_1),
            ReasonCode::UnsupportedProtocolVersion,
        ),
        (Some(ProtocolVersion::V5), rc) => (Some(ProtocolVersion::V5), rc),
        (Some(v), ReasonCode::ClientIdentifierNotValid) => {
            (Some(v), ReasonCode::ClientIdentifierNotValid)
        }
        _ => (None, ReasonCode::MalformedPacket),
    };
    if let Some(version) = version {
        let mut out = BytesMut::new();
        if protocol::encode(
            &Packet::ConnAck(connect::refusal_connack(reason)),
            version,
            &mut out,
        )
        .is_ok()
        {
            let _ = io.write_all(&out).await;
        }
    }
}

/// The CONNACK encoded in the client's version, if it can be.
fn encode_connack(connect: &Connect, connack: protocol::ConnAck) -> Option<BytesMut> {
    let mut out = BytesMut::new();
    protocol::encode(&Packet::ConnAck(connack), connect.protocol, &mut out).ok()?;
    Some(out)
}

/// Runs an accepted connection on the session's owner core until it ends.
async fn run(
    core: Rc<Core>,
    mut io: Transport,
    connect: Box<Connect>,
    buf: BytesMut,
    peer: Option<SocketAddr>,
    assigned: bool,
) {
    // Setting up is synchronous; the connection then lives in a task of its own.
    match open(&core, &io, connect, peer, assigned) {
        Ok(state) => {
            // Nothing left over from the CONNECT's read: let its buffer go now.
            let buf = if buf.is_empty() { BytesMut::new() } else { buf };
            glommio::spawn_local(live(core, io, buf, state)).detach();
        }
        Err(Some(refusal)) => {
            let _ = io.write_all(&refusal).await;
        }
        Err(None) => {}
    }
}

/// The reader of a connection, for the connection's whole life: its own task, so
/// what setting up needed (the TLS handshake, the CONNECT, the hand-off) is freed,
/// and the future it keeps while the client is idle is only the connection state and
/// a read waiting for bytes. (Written as a function returning an `async move` block:
/// an `async fn` keeps its arguments twice.)
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn live(
    core: Rc<Core>,
    mut io: Transport,
    mut buf: BytesMut,
    mut state: ConnState,
) -> impl Future<Output = ()> {
    async move {
        let flow = read_loop(&core, &mut io, &mut buf, &mut state).await;
        detach(&core, &mut state, flow);
    }
}

/// Admits the client, attaches its session, queues the CONNACK (and any inflight
/// messages to resend) and starts the writer. A refused CONNECT gives back the
/// encoded refusal CONNACK to send (if it could be encoded).
fn open(
    core: &Rc<Core>,
    io: &Transport,
    mut connect: Box<Connect>,
    peer: Option<SocketAddr>,
    assigned: bool,
) -> Result<ConnState, Option<BytesMut>> {
    // The id lives as long as the session: give it its own few bytes rather than
    // keep the whole buffer the CONNECT was read into.
    connect.client_id = MqttStr::from(connect.client_id.as_str());
    let kind = match connect::admit(core, &connect) {
        Ok(kind) => kind,
        Err(refusal) => {
            tracing::debug!(?peer, client = %connect.client_id, reason = ?refusal.reason, "CONNECT refused");
            return Err(encode_connack(
                &connect,
                connect::refusal_connack(refusal.reason),
            ));
        }
    };
    if let Some(cluster) = connect::held_by_link(core, &connect.client_id, &kind) {
        // An ordinary client may not take over a live link connection's session.
        tracing::warn!(?peer, client = %connect.client_id, %cluster, "refused a client using a link connection's client id");
        connect::release(core);
        let refusal = connect::refusal_connack(ReasonCode::NotAuthorized);
        return Err(encode_connack(&connect, refusal));
    }
    let negotiated = connect::negotiate(core, &connect);
    let max_packet_out = connect.properties.maximum_packet_size.unwrap_or(u32::MAX);
    let link = Rc::new(ConnLink::new(connect.protocol, max_packet_out));
    if let ConnKind::Link(cluster) = &kind {
        *link.peer_cluster.borrow_mut() = Some(cluster.clone());
    }
    let receive_maximum = connect.properties.receive_maximum.unwrap_or(u16::MAX);
    let (session, present) = connect::attach_session(
        core,
        &connect.client_id,
        connect.clean_start,
        &negotiated,
        receive_maximum,
        &link,
    );
    let connack = connect::accept_connack(core, &connect, &negotiated, present, assigned);
    let state = ConnState {
        link: link.clone(),
        session: session.clone(),
        negotiated,
        client_id: connect.client_id.clone(),
        will: connect.will.take().map(Box::new),
        aliases: Vec::new(),
        link_metrics: match &kind {
            ConnKind::Link(name) => core.links.metrics(name),
            ConnKind::Client => None,
        },
        kind,
    };
    state.send(&Packet::ConnAck(connack));
    if present {
        let mut pending = link.pending.borrow_mut();
        session
            .borrow_mut()
            .resend_inflight(&mut pending, &link, Instant::now());
    }
    tracing::debug!(?peer, client = %connect.client_id, version = ?connect.protocol, present, "client connected");

    // The writer shares the socket (and TLS state) with the reader.
    let writer = Transport::new(io.stream.clone(), io.tls.clone());
    let fd = io.stream.raw_fd();
    glommio::spawn_local(write_loop(core.clone(), link, session, writer, fd)).detach();
    Ok(state)
}

#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn read_loop<'a>(
    core: &'a Core,
    io: &'a mut Transport,
    buf: &'a mut BytesMut,
    state: &'a mut ConnState,
) -> impl Future<Output = Flow> + 'a {
    async move {
        let keep_alive = state.negotiated.keep_alive;
        let timeout = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        io.stream.set_read_timeout(timeout);
        let limits = DecodeLimits {
            version: Some(state.link.version),
            max_packet_size: core.config.limits.max_packet_size,
        };
        loop {
            loop {
                // The decoded packet is bound (and moved on) before any await, so the
                // task does not keep room for a `Packet` in its state.
                let packet = match protocol::decode(buf, &limits) {
                    Ok(Some(packet)) => packet,
                    Ok(None) => break,
                    Err(e) => {
                        CoreMetrics::add(&core.metrics.protocol_errors, 1);
                        if e.reason_code() == ReasonCode::PacketTooLarge {
                            CoreMetrics::add(&core.metrics.packets_too_large, 1);
                        }
                        tracing::debug!(client = %state.client_id, error = %e, "protocol error");
                        return state.violation(e.reason_code());
                    }
                };
                match handler::on_packet(core, state, packet) {
                    Step::Done(Flow::Continue) => {}
                    Step::Done(flow) => return flow,
                    Step::AfterBarrier(deferred) => {
                        core.barrier().await;
                        handler::finish(core, state, *deferred);
                    }
                }
            }
            if state.link.close.get().is_some() {
                // Taken over or shutting down: the writer is closing the socket.
                return Flow::Close {
                    reason: CloseReason::Quiet,
                    will: true,
                };
            }
            while core.mesh.congested() {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            match io.read_more(buf).await {
                Ok(0) => {
                    return Flow::Close {
                        reason: CloseReason::Quiet,
                        will: true,
                    }
                }
                Ok(_) => {
                    if io.tls_wants_write() {
                        state.link.wake.notify();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    // No packet within 1.5 × keep-alive [MQTT-3.1.2-24].
                    CoreMetrics::add(&core.metrics.keepalive_timeouts, 1);
                    return state.violation(ReasonCode::KeepAliveTimeout);
                }
                Err(_) => {
                    return Flow::Close {
                        reason: CloseReason::Quiet,
                        will: true,
                    }
                }
            }
            glommio::yield_if_needed().await;
        }
    }
}

/// The connection ended: tell the writer, then settle the will and the session.
fn detach(core: &Rc<Core>, state: &mut ConnState, flow: Flow) {
    let Flow::Close {
        reason,
        will: publish_will,
    } = flow
    else {
        return;
    };
    connect::release(core);
    state.link.request_close(reason);
    force_close_later(state.link.clone());
    let ours = {
        let mut s = state.session.borrow_mut();
        let ours = s.conn.as_ref().is_some_and(|c| Rc::ptr_eq(c, &state.link));
        if ours {
            s.conn = None;
        }
        ours
    };
    let shutting_down = core
        .shared
        .shutdown
        .load(std::sync::atomic::Ordering::Relaxed);
    if let Some(w) = state.will.take() {
        if publish_will && !shutting_down {
            will::settle(core, &state.session, *w, state.client_id.clone(), ours);
        }
    }
    if ours {
        will::expire_session_later(core, &state.session);
    }
    tracing::debug!(client = %state.client_id, "client disconnected");
}

/// If the writer is stuck on a client that does not read, shut the socket after a grace.
fn force_close_later(link: Rc<ConnLink>) {
    glommio::spawn_local(async move {
        glommio::timer::sleep(CLOSE_GRACE).await;
        if !link.closed.get() {
            if let Some(fd) = link.fd.get() {
                // SAFETY: `closed` is false, so the writer still owns this descriptor.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
        }
    })
    .detach();
}

/// The writer of a connection: waits for control packets or deliveries, then writes
/// everything pending in one go. (A function returning an `async move` block, so the
/// idle task does not keep its arguments twice.)
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn write_loop(
    core: Rc<Core>,
    link: Rc<ConnLink>,
    session: SessionRef,
    mut io: Transport,
    fd: RawFd,
) -> impl Future<Output = ()> {
    async move {
        link.fd.set(Some(fd));
        let mut out = BytesMut::new();
        loop {
            {
                // Take what was encoded for us (control packets, QoS 0 deliveries):
                // by swapping buffers when ours is empty, so those bytes are not copied.
                let mut pending = link.pending.borrow_mut();
                if out.is_empty() {
                    std::mem::swap(&mut out, &mut *pending);
                } else {
                    out.extend_from_slice(&pending);
                    pending.clear();
                }
            }
            let stats = {
                let mut s = session.borrow_mut();
                let ours = s.conn.as_ref().is_some_and(|c| Rc::ptr_eq(c, &link));
                ours.then(|| s.fill(&mut out, &link, Instant::now()))
            };
            if let Some(stats) = stats {
                CoreMetrics::add(&core.metrics.messages_delivered, stats.delivered);
                CoreMetrics::add(&core.metrics.dropped_expired, stats.expired);
                CoreMetrics::add(&core.metrics.dropped_too_large_for_client, stats.too_large);
            }
            if out.is_empty() && !io.tls_wants_write() {
                if let Some(reason) = link.close.get() {
                    if let CloseReason::Disconnect(rc) = reason {
                        if link.version.is_v5() {
                            encode_disconnect(rc, link.version, &mut out);
                            let _ = io.write_all(&out).await;
                        }
                    }
                    break;
                }
                if out.capacity() > 4096 {
                    // Idle: give the write buffer back (memory per idle connection).
                    out = BytesMut::new();
                }
                {
                    let mut pending = link.pending.borrow_mut();
                    if pending.is_empty() && pending.capacity() > 4096 {
                        *pending = BytesMut::new();
                    }
                }
                link.wake.notified().await;
                if let Some(tick) = &core.flush_tick {
                    // Optional coalescing window ([tuning] write_coalesce_us): let more
                    // messages gather, and write with the core's other writers.
                    tick.next().await;
                }
                continue;
            }
            if io.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
            if out.capacity() > 1 << 20 {
                out = BytesMut::new();
            }
        }
        link.closed.set(true);
        link.fd.set(None);
        if let Some(tls) = &io.tls {
            tls.borrow_mut().send_close_notify();
            let _ = io.write_all(&[]).await;
        }
        io.stream.shutdown();
        drop(io);
    }
}

/// Encodes a DISCONNECT with `reason` into `out`. Its own function so the packet (a
/// few hundred bytes) is not kept in the writer task's state across the write.
fn encode_disconnect(reason: ReasonCode, version: ProtocolVersion, out: &mut BytesMut) {
    let d = Packet::Disconnect(Disconnect {
        reason_code: reason,
        properties: Properties::default(),
    });
    let _ = protocol::encode(&d, version, out);
}

/// Closes every connection on this core for shutdown: 5.0 clients get DISCONNECT 0x8B.
pub fn close_all(core: &Core) {
    for session in core.sessions.borrow().values() {
        if let Some(link) = &session.borrow().conn {
            let reason = if link.version.is_v5() {
                CloseReason::Disconnect(ReasonCode::ServerShuttingDown)
            } else {
                CloseReason::Quiet
            };
            link.request_close(reason);
        }
    }
}

/// Whether every connection of this core has finished closing.
pub fn all_closed(core: &Core) -> bool {
    core.sessions
        .borrow()
        .values()
        .all(|s| s.borrow().conn.as_ref().is_none_or(|l| l.closed.get()))
}
