//! One pool connection of a link: connect to the remote cluster as an MQTT 5 client
//! (announcing the link), then pipeline PUBLISH packets — many per write, QoS 1/2 up to
//! `max_inflight` unacknowledged — while a reader takes the acknowledgements and a
//! pinger measures the round trip and detects a half-open connection. On loss, the
//! unacknowledged messages go back to the front of the queue and the connection is
//! retried with capped, jittered exponential back-off.
//!
//! Link shard only: three tasks per connection (this loop + reader + pinger).

use std::cell::Cell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::inflight::Acked;
use super::metrics::LinkMetrics;
use super::outbound::{Link, PoolConn};
use super::wire::Announce;
use crate::message::Message;
use crate::protocol::{
    self, Connect, DecodeLimits, MqttStr, Packet, Properties, ProtocolVersion, PubResp, Publish,
    QoS, ReasonCode,
};

/// Limit for the TCP connect and the CONNACK.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Stop filling one write beyond this many bytes.
const WRITE_CHUNK: usize = 256 * 1024;

/// Why a connection attempt or a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connect to {0}: timed out")]
    ConnectTimeout(SocketAddr),
    #[error("refused by the remote: CONNACK {code:#04x} ({reason:?})")]
    Refused { code: u8, reason: ReasonCode },
    #[error("no CONNACK from the remote")]
    NoConnAck,
    #[error("protocol error from the remote: {0}")]
    Protocol(#[from] protocol::ProtocolError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode CONNECT: {0}")]
    Encode(#[from] protocol::EncodeError),
    #[error("keep-alive expired: the connection is half-open")]
    KeepAlive,
    #[error("the remote disconnected: {0:?}")]
    Disconnected(ReasonCode),
}

/// Runs one pool connection until the link is stopped.
pub async fn run(link: Rc<Link>, conn: Rc<PoolConn>) {
    let mut attempt: u32 = 0;
    while !conn.stop.get() {
        match session(&link, &conn).await {
            Ok(()) => attempt = 0,
            Err(e) => {
                if !conn.stop.get() {
                    tracing::warn!(link = %link.name, conn = conn.index, error = %e, "link connection failed");
                    link.metrics.set_last_error(e.to_string());
                }
            }
        }
        link.set_conn_up(&conn, false);
        requeue_inflight(&link, &conn);
        if conn.stop.get() {
            break;
        }
        let delay = backoff(
            link.config.reconnect_min_ms,
            link.config.reconnect_max_ms,
            attempt,
        );
        attempt = attempt.saturating_add(1);
        sleep_unless_stopped(&conn, delay).await;
    }
}

/// Jittered exponential back-off: min·2^attempt capped at max, then ±25 %.
fn backoff(min_ms: u64, max_ms: u64, attempt: u32) -> Duration {
    let base = min_ms.saturating_mul(1u64 << attempt.min(20)).min(max_ms);
    let jitter_range = base / 4;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = if jitter_range == 0 {
        0
    } else {
        u64::from(nanos) % (2 * jitter_range)
    };
    Duration::from_millis(base - jitter_range + jitter)
}

async fn sleep_unless_stopped(conn: &PoolConn, total: Duration) {
    let step = Duration::from_millis(50);
    let deadline = Instant::now() + total;
    while !conn.stop.get() && Instant::now() < deadline {
        glommio::timer::sleep(step.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

fn requeue_inflight(link: &Link, conn: &PoolConn) {
    let entries = conn.inflight.borrow_mut().drain();
    let msgs: Vec<Arc<Message>> = entries
        .into_iter()
        .filter(|e| !e.route_op)
        .map(|e| e.msg)
        .collect();
    link.refresh_inflight();
    if !msgs.is_empty() && !conn.stop.get() {
        link.requeue_front(conn, msgs);
    }
    conn.route_ops.borrow_mut().clear();
    conn.raw.borrow_mut().clear();
}

fn resolve(server: &str) -> Result<SocketAddr, ConnError> {
    let hostport = server.strip_prefix("mqtt://").unwrap_or(server);
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ConnError::Resolve(server.to_owned()))
}

/// How the tasks of one live connection tell each other it is over.
#[derive(Debug, Default)]
struct Life {
    why: std::cell::RefCell<Option<String>>,
}

impl Life {
    fn end(&self, why: impl Into<String>) {
        let mut w = self.why.borrow_mut();
        if w.is_none() {
            *w = Some(why.into());
        }
    }

    fn ended(&self) -> bool {
        self.why.borrow().is_some()
    }
}

/// One connection's life: connect, handshake, run until it breaks.
async fn session(link: &Rc<Link>, conn: &Rc<PoolConn>) -> Result<(), ConnError> {
    let addr = resolve(&link.config.server)?;
    let connecting = glommio::timer::timeout(HANDSHAKE_TIMEOUT, async {
        Ok(TcpStream::connect(addr)
            .await
            .map_err(|e| std::io::Error::other(e.to_string())))
    });
    let mut stream = match connecting.await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(ConnError::Connect { addr, source }),
        Err(_) => return Err(ConnError::ConnectTimeout(addr)),
    };
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    handshake(link, conn, &mut stream, &mut buf).await?;
    if conn.ever_up.replace(true) {
        LinkMetrics::add(&link.metrics.reconnects, 1);
    }
    tracing::info!(link = %link.name, conn = conn.index, server = %link.config.server, "link connected");
    if conn.index == 0 {
        let mut ops = conn.route_ops.borrow_mut();
        ops.clear();
        ops.extend(link.snapshot_ops());
    }
    link.set_conn_up(conn, true);

    // SAFETY: dup of the live socket; the reader's TcpStream owns the copy.
    let rfd = unsafe { libc::dup(stream.as_raw_fd()) };
    if rfd < 0 {
        return Err(ConnError::Io(std::io::Error::last_os_error()));
    }
    let reader = unsafe { TcpStream::from_raw_fd(rfd) };
    let life = Rc::new(Life::default());
    let ping_sent = Rc::new(Cell::new(None::<Instant>));
    let keepalive = Duration::from_secs(u64::from(link.config.keepalive.max(1)));
    let _ = reader.set_read_timeout(Some(keepalive * 3 / 2));
    conn.fd.set(Some(stream.as_raw_fd()));
    let reader_task = glommio::spawn_local(read_loop(
        link.clone(),
        conn.clone(),
        reader,
        buf,
        life.clone(),
        ping_sent.clone(),
    ))
    .detach();
    let pinger =
        glommio::spawn_local(ping_loop(conn.clone(), keepalive, life.clone(), ping_sent)).detach();
    let result = write_loop(link, conn, &mut stream, &life).await;
    life.end("closed");
    conn.fd.set(None);
    let _ = stream.shutdown(std::net::Shutdown::Both).await;
    drop(stream);
    let _ = reader_task.await;
    let _ = pinger.await;
    result
}

async fn handshake(
    link: &Link,
    conn: &PoolConn,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<(), ConnError> {
    let mut properties = Properties {
        receive_maximum: Some(u16::MAX),
        ..Properties::default()
    };
    Announce {
        cluster: link.local_cluster.to_string(),
        incarnation: link.incarnation.to_string(),
    }
    .to_properties(&mut properties);
    let connect = Connect {
        protocol: ProtocolVersion::V5,
        clean_start: true,
        keep_alive: link.config.keepalive,
        client_id: MqttStr::from(conn.client_id.as_str()),
        will: None,
        username: link.config.username.as_deref().map(MqttStr::from),
        password: link
            .config
            .password
            .as_ref()
            .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes())),
        properties,
    };
    let mut out = BytesMut::new();
    protocol::encode(
        &Packet::Connect(Box::new(connect)),
        ProtocolVersion::V5,
        &mut out,
    )?;
    stream.write_all(&out).await?;
    let limits = DecodeLimits {
        version: Some(ProtocolVersion::V5),
        max_packet_size: u32::MAX,
    };
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    loop {
        if let Some(packet) = protocol::decode(buf, &limits)? {
            return match packet {
                Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => Ok(()),
                Packet::ConnAck(ack) => Err(ConnError::Refused {
                    code: ack.reason_code.as_u8(),
                    reason: ack.reason_code,
                }),
                _ => Err(ConnError::NoConnAck),
            };
        }
        if Instant::now() > deadline || read_some(stream, buf).await? == 0 {
            return Err(ConnError::NoConnAck);
        }
    }
}

async fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    let len = buf.len();
    buf.resize(len + 64 * 1024, 0);
    let result = stream.read(&mut buf[len..]).await;
    let n = *result.as_ref().unwrap_or(&0);
    buf.truncate(len + n);
    result
}

async fn write_loop(
    link: &Link,
    conn: &PoolConn,
    stream: &mut TcpStream,
    life: &Life,
) -> Result<(), ConnError> {
    let mut out = BytesMut::with_capacity(64 * 1024);
    let window = link.config.max_inflight.max(1);
    loop {
        if let Some(why) = life.why.borrow().clone() {
            return Err(if why == "keepalive" {
                ConnError::KeepAlive
            } else {
                ConnError::Io(std::io::Error::other(why))
            });
        }
        if conn.stop.get() {
            return Ok(());
        }
        fill(link, conn, &mut out, window);
        if out.is_empty() {
            conn.wake.notified().await;
            continue;
        }
        stream.write_all(&out).await?;
        out.clear();
        if out.capacity() > 4 << 20 {
            out = BytesMut::with_capacity(64 * 1024);
        }
    }
}

/// Encodes what may be sent now: control packets, route operations, then queued
/// messages while the inflight window has room.
fn fill(link: &Link, conn: &PoolConn, out: &mut BytesMut, window: usize) {
    {
        let mut raw = conn.raw.borrow_mut();
        out.extend_from_slice(&raw);
        raw.clear();
    }
    let mut inflight = conn.inflight.borrow_mut();
    while inflight.len() < window && out.len() < WRITE_CHUNK {
        let Some((topic, payload)) = conn.route_ops.borrow_mut().pop_front() else {
            break;
        };
        let msg = Arc::new(Message {
            topic: MqttStr::from(topic),
            payload,
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::default(),
            expires_at: None,
            publisher: MqttStr::from(conn.client_id.as_str()),
            origin: crate::message::Origin::Client,
        });
        let id = inflight.push(msg.clone(), true);
        encode_message(&msg, id, out);
    }
    let now = Instant::now();
    let (mut sent, mut bytes) = (0u64, 0u64);
    let mut queue = conn.queue.borrow_mut();
    while out.len() < WRITE_CHUNK {
        let Some(front) = queue.front() else { break };
        if front.qos != QoS::AtMostOnce && inflight.len() >= window {
            break;
        }
        let Some(msg) = queue.pop_front() else { break };
        link.account(-1, -(msg.payload.len() as i64));
        if msg.is_expired(now) {
            continue;
        }
        let id = if msg.qos == QoS::AtMostOnce {
            0
        } else {
            inflight.push(msg.clone(), false)
        };
        encode_message(&msg, id, out);
        sent += 1;
        bytes += msg.payload.len() as u64;
    }
    LinkMetrics::add(&link.metrics.messages_forwarded, sent);
    LinkMetrics::add(&link.metrics.bytes_forwarded, bytes);
    drop(inflight);
    link.refresh_inflight();
}

fn encode_message(msg: &Message, packet_id: u16, out: &mut BytesMut) {
    let mut properties = msg.properties.clone();
    properties.message_expiry_interval = msg.remaining_expiry(Instant::now());
    let publish = Publish {
        dup: false,
        qos: msg.qos,
        retain: msg.retain,
        topic: msg.topic.clone(),
        packet_id,
        payload: msg.payload.clone(),
        properties,
    };
    // A message that cannot be encoded (cannot happen for one we decoded) is skipped.
    let _ = protocol::encode_publish(&publish, ProtocolVersion::V5, out);
}

async fn read_loop(
    link: Rc<Link>,
    conn: Rc<PoolConn>,
    mut stream: TcpStream,
    mut buf: BytesMut,
    life: Rc<Life>,
    ping_sent: Rc<Cell<Option<Instant>>>,
) {
    let limits = DecodeLimits {
        version: Some(ProtocolVersion::V5),
        max_packet_size: u32::MAX,
    };
    loop {
        let mut wake = false;
        loop {
            match protocol::decode(&mut buf, &limits) {
                Ok(Some(packet)) => match on_packet(&link, &conn, packet, &ping_sent) {
                    Ok(w) => wake |= w,
                    Err(e) => {
                        life.end(e.to_string());
                        break;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    life.end(format!("protocol error from the remote: {e}"));
                    break;
                }
            }
        }
        link.refresh_inflight();
        if wake || life.ended() {
            conn.wake.notify();
        }
        if life.ended() {
            return;
        }
        match read_some(&mut stream, &mut buf).await {
            Ok(0) => life.end("closed by the remote"),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => life.end("keepalive"),
            Err(e) => life.end(e.to_string()),
        }
    }
}

/// Handles a packet from the remote; returns whether the writer has new work.
fn on_packet(
    link: &Link,
    conn: &PoolConn,
    packet: Packet,
    ping_sent: &Cell<Option<Instant>>,
) -> Result<bool, ConnError> {
    let mut inflight = conn.inflight.borrow_mut();
    let acked = match packet {
        Packet::PubAck(r) => inflight.on_puback(r.packet_id),
        Packet::PubRec(r) => match inflight.on_pubrec(r.packet_id, r.reason_code.is_error()) {
            Acked::Release => {
                let rel = Packet::PubRel(PubResp::new(r.packet_id));
                let _ = protocol::encode(&rel, ProtocolVersion::V5, &mut conn.raw.borrow_mut());
                return Ok(true);
            }
            other => other,
        },
        Packet::PubComp(r) => inflight.on_pubcomp(r.packet_id),
        Packet::PingResp => {
            if let Some(sent) = ping_sent.take() {
                LinkMetrics::set(&link.metrics.rtt_us, sent.elapsed().as_micros() as u64);
            }
            return Ok(false);
        }
        Packet::Disconnect(d) => return Err(ConnError::Disconnected(d.reason_code)),
        Packet::Publish(p) => {
            // The remote forwards to us over its own link, not this one: acknowledge
            // anything it sends here and drop it.
            let ack = PubResp {
                packet_id: p.packet_id,
                reason_code: ReasonCode::Success,
                properties: Properties::default(),
            };
            let reply = match p.qos {
                QoS::AtMostOnce => return Ok(false),
                QoS::AtLeastOnce => Packet::PubAck(ack),
                QoS::ExactlyOnce => Packet::PubRec(ack),
            };
            let _ = protocol::encode(&reply, ProtocolVersion::V5, &mut conn.raw.borrow_mut());
            return Ok(true);
        }
        Packet::PubRel(r) => {
            let comp = Packet::PubComp(PubResp {
                packet_id: r.packet_id,
                reason_code: ReasonCode::Success,
                properties: Properties::default(),
            });
            let _ = protocol::encode(&comp, ProtocolVersion::V5, &mut conn.raw.borrow_mut());
            return Ok(true);
        }
        _ => return Ok(false),
    };
    Ok(matches!(acked, Acked::Done { .. }))
}

/// Sends PINGREQ every half keep-alive and records when, for the round-trip time.
async fn ping_loop(
    conn: Rc<PoolConn>,
    keepalive: Duration,
    life: Rc<Life>,
    ping_sent: Rc<Cell<Option<Instant>>>,
) {
    let period = (keepalive / 2).max(Duration::from_millis(500));
    loop {
        let deadline = Instant::now() + period;
        while Instant::now() < deadline {
            if life.ended() {
                return;
            }
            glommio::timer::sleep(Duration::from_millis(100).min(period)).await;
        }
        if ping_sent.get().is_none() {
            ping_sent.set(Some(Instant::now()));
        }
        let _ = protocol::encode(
            &Packet::PingReq,
            ProtocolVersion::V5,
            &mut conn.raw.borrow_mut(),
        );
        conn.wake.notify();
    }
}
