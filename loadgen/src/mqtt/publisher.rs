//! A publisher: one task per connection that sends benchmark messages at its
//! rate. Each wake-up encodes every message that has come due into one buffer
//! and writes it once; QoS 1/2 publishes are limited by an inflight window, and
//! the read half of the same task takes the acks (and queues PUBRELs).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use meridian::protocol::{
    encode, encode_publish, publish_encoded_len, Disconnect, MqttStr, Packet, Properties,
    ProtocolVersion, PubResp, Publish, QoS,
};

use super::client::{connect, ClientOptions};
use super::inflight::Inflight;
use super::notify::LocalNotify;
use super::reader::{Incoming, PacketReader};
use crate::payload;
use crate::rate::RateSchedule;
use crate::run::control::{ExecCtx, Phase};
use crate::stats::{add, Stats};

/// Largest batch written at once.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Longest sleep between looks at the phase.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// What one publisher sends.
#[derive(Clone, Debug)]
pub struct PublisherSpec {
    /// Stamped into every payload; unique within the run.
    pub id: u32,
    pub client_id: String,
    pub addr: SocketAddr,
    pub topic: String,
    pub qos: QoS,
    pub retain: bool,
    /// Payload bytes (at least the 16-byte header).
    pub size: usize,
    /// Messages per second; 0 is as fast as the window and the socket allow.
    pub rate: f64,
    /// Messages to send in all, if bounded.
    pub limit: Option<u64>,
    /// QoS 1/2 publishes awaiting acknowledgement, at most.
    pub inflight: usize,
    /// Shortest sleep between two writes (`--tick`).
    pub tick: Duration,
}

/// A publisher's own counts, read by its executor at the end.
#[derive(Debug, Default)]
pub struct PubCounters {
    pub sent: Cell<u64>,
    pub acked: Cell<u64>,
}

/// State shared by the two halves of one publisher.
struct Flow {
    window: RefCell<Inflight>,
    wake_writer: LocalNotify,
    /// The connection ended (either side).
    closed: Cell<bool>,
    /// We sent DISCONNECT: the broker closing is expected.
    leaving: Cell<bool>,
}

/// Runs one publisher until its limit, the end of the run, or its connection.
pub async fn run(
    ctx: Rc<ExecCtx>,
    opts: Rc<ClientOptions>,
    spec: PublisherSpec,
    counters: Rc<PubCounters>,
) {
    let client = match connect(&opts, spec.addr, &spec.client_id).await {
        Ok(c) => c,
        Err(e) => {
            add(&ctx.stats.connect_failed, 1);
            ctx.stats.note_error(&spec.client_id, e.to_string());
            return;
        }
    };
    add(&ctx.stats.connected, 1);
    add(&ctx.stats.ready, 1);
    ctx.hist
        .record_connect(client.connect_time.as_micros() as u64);
    let flow = Flow {
        window: RefCell::new(Inflight::new(spec.inflight)),
        wake_writer: LocalNotify::default(),
        closed: Cell::new(false),
        leaving: Cell::new(false),
    };
    let version = client.version;
    futures_lite::future::zip(
        write_side(&ctx, &spec, &flow, &counters, client.writer, version),
        read_side(&ctx, &spec, &flow, &counters, client.reader),
    )
    .await;
}

fn put_pubrels(flow: &Flow, version: ProtocolVersion, out: &mut BytesMut) {
    let mut window = flow.window.borrow_mut();
    for id in window.pending_rel.drain(..) {
        // A PUBREL of a non-zero id always encodes.
        let _ = encode(&Packet::PubRel(PubResp::new(id)), version, out);
    }
}

async fn write_side<W: AsyncWrite + Unpin>(
    ctx: &ExecCtx,
    spec: &PublisherSpec,
    flow: &Flow,
    counters: &PubCounters,
    mut w: W,
    version: ProtocolVersion,
) {
    ctx.phase.reached(Phase::Publishing).await;
    let mut publish = Publish {
        dup: false,
        qos: spec.qos,
        retain: spec.retain,
        topic: MqttStr::from(spec.topic.as_str()),
        packet_id: 0,
        payload: Bytes::from(payload::template(spec.size)),
        properties: Properties::default(),
    };
    let size = publish.payload.len();
    let qos0 = spec.qos == QoS::AtMostOnce;
    let per_msg = publish_encoded_len(
        &Publish {
            packet_id: 1,
            ..publish.clone()
        },
        version,
    );
    let cap = (MAX_BATCH_BYTES / per_msg).max(1) as u64;
    let mut sched = RateSchedule::new(Instant::now(), spec.rate, spec.limit).with_tick(spec.tick);
    let mut out = BytesMut::with_capacity(MAX_BATCH_BYTES.min(per_msg * cap as usize));
    let mut seq: u32 = 0;
    while ctx.control.phase() == Phase::Publishing && !sched.is_exhausted() && !flow.closed.get() {
        let now = Instant::now();
        let room = if qos0 {
            u64::MAX
        } else {
            flow.window.borrow().free() as u64
        };
        let due = sched.due(now, cap.min(room));
        out.clear();
        put_pubrels(flow, version, &mut out);
        for _ in 0..due {
            if !qos0 {
                let Some(id) = flow.window.borrow_mut().allocate() else {
                    break;
                };
                publish.packet_id = id;
            }
            if let Err(e) = encode_publish(&publish, version, &mut out) {
                ctx.stats.note_error(&spec.client_id, e.to_string());
                return;
            }
            let end = out.len();
            payload::stamp(&mut out[end - size..end], spec.id, seq);
            seq = seq.wrapping_add(1);
        }
        sched.take(due);
        counters.sent.set(counters.sent.get() + due);
        add(&ctx.stats.sent, due);
        if !qos0 {
            add(&ctx.stats.inflight, due);
        }
        if !out.is_empty() && w.write_all(&out).await.is_err() {
            flow.closed.set(true);
            break;
        }
        let window_full = !qos0 && flow.window.borrow().free() == 0;
        let now = Instant::now();
        let wait = if window_full {
            MAX_SLEEP
        } else {
            sched
                .next_wake(now)
                .saturating_duration_since(now)
                .min(MAX_SLEEP)
        };
        futures_lite::future::or(glommio::timer::sleep(wait), flow.wake_writer.notified()).await;
    }
    drain(ctx, flow, &mut w, version, &mut out).await;
}

/// After sending: waits for the outstanding acks (writing PUBRELs as they are
/// due) until the run ends, then says goodbye.
async fn drain<W: AsyncWrite + Unpin>(
    ctx: &ExecCtx,
    flow: &Flow,
    w: &mut W,
    version: ProtocolVersion,
    out: &mut BytesMut,
) {
    while !flow.closed.get()
        && !flow.window.borrow().is_empty()
        && ctx.control.phase() < Phase::Done
    {
        out.clear();
        put_pubrels(flow, version, out);
        if !out.is_empty() && w.write_all(out).await.is_err() {
            return;
        }
        futures_lite::future::or(
            glommio::timer::sleep(MAX_SLEEP),
            flow.wake_writer.notified(),
        )
        .await;
    }
    if flow.closed.get() {
        return;
    }
    // Only a sender that has finished waits for the end of the run to leave,
    // so late acks still count; leaving early would be noticed as a drop.
    ctx.phase.reached(Phase::Draining).await;
    out.clear();
    flow.leaving.set(true);
    if encode(&Packet::Disconnect(Disconnect::normal()), version, out).is_ok() {
        let _ = w.write_all(out).await;
    }
    let _ = w.close().await;
}

async fn read_side<R: AsyncRead + Unpin>(
    ctx: &ExecCtx,
    spec: &PublisherSpec,
    flow: &Flow,
    counters: &PubCounters,
    mut reader: PacketReader<R>,
) {
    let why = loop {
        match reader.fill().await {
            Ok(0) => break "connection closed by the peer".to_string(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
        match take_acks(flow, &mut reader) {
            Ok(acked) => {
                counters.acked.set(counters.acked.get() + acked);
                add(&ctx.stats.acked, acked);
                ctx.stats
                    .inflight
                    .fetch_sub(acked, std::sync::atomic::Ordering::Relaxed);
                flow.wake_writer.notify();
            }
            Err(e) => break e,
        }
    };
    flow.closed.set(true);
    flow.wake_writer.notify();
    let unacked = flow.window.borrow().len() as u64;
    ctx.stats
        .inflight
        .fetch_sub(unacked, std::sync::atomic::Ordering::Relaxed);
    if !flow.leaving.get() && ctx.control.phase() < Phase::Done {
        lost_connection(&ctx.stats, &spec.client_id, &why);
    }
}

fn lost_connection(stats: &Stats, client_id: &str, why: &str) {
    add(&stats.dropped, 1);
    stats.note_error(client_id, why.to_string());
}

/// Handles every buffered packet; returns the publishes whose flow completed.
fn take_acks<R: AsyncRead + Unpin>(
    flow: &Flow,
    reader: &mut PacketReader<R>,
) -> Result<u64, String> {
    let mut acked = 0;
    let mut window = flow.window.borrow_mut();
    while let Some(incoming) = reader.try_next().map_err(|e| e.to_string())? {
        let Incoming::Other(packet) = incoming else {
            continue;
        };
        match packet {
            Packet::PubAck(r) | Packet::PubComp(r) => {
                acked += u64::from(window.release(r.packet_id))
            }
            // An error PUBREC ends the QoS 2 flow [MQTT-4.3.3]; otherwise PUBREL is owed.
            Packet::PubRec(r) if r.reason_code.is_error() => {
                acked += u64::from(window.release(r.packet_id))
            }
            Packet::PubRec(r) => window.pending_rel.push(r.packet_id),
            Packet::Disconnect(d) => {
                return Err(format!("DISCONNECT from the broker: {:?}", d.reason_code))
            }
            _ => {}
        }
    }
    Ok(acked)
}
