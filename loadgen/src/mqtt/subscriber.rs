//! A subscriber: one task per connection that subscribes, then reads big
//! chunks, takes every PUBLISH in them (borrowed, through the reader's fast
//! path), records latency and sequence per publisher from the payload header,
//! and answers QoS 1/2 with one write per chunk.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use ahash::AHashMap;
use bytes::BytesMut;
use futures_lite::io::AsyncWriteExt;
use meridian::protocol::{
    encode, MqttStr, Packet, Properties, PubResp, QoS, Subscribe, SubscriptionOptions,
};

use super::client::{connect, ClientError};
use super::reader::Incoming;
use crate::clock::now_ns;
use crate::payload::Header;
use crate::run::control::{ExecCtx, Phase};
use crate::seq::SeqTracker;
use crate::stats::add;

/// Sequence trackers by publisher id (aHash: the lookup is per message).
pub type Trackers = AHashMap<u32, SeqTracker>;

/// Where a subscriber records sequence numbers: its own trackers, or those of
/// the shared-subscription group it belongs to (members on any executor).
#[derive(Clone, Debug)]
pub enum Tracking {
    Own(Rc<RefCell<Trackers>>),
    Group(Arc<Mutex<Trackers>>),
}

impl Tracking {
    /// Records `(publisher, seq)` arrivals in order; one lookup per run of
    /// arrivals from the same publisher.
    fn record(&self, arrivals: &[(u32, u32)]) {
        if arrivals.is_empty() {
            return;
        }
        match self {
            Tracking::Own(t) => record_into(&mut t.borrow_mut(), arrivals),
            Tracking::Group(t) => {
                record_into(&mut t.lock().unwrap_or_else(|p| p.into_inner()), arrivals)
            }
        }
    }
}

fn record_into(trackers: &mut Trackers, arrivals: &[(u32, u32)]) {
    for run in arrivals.chunk_by(|a, b| a.0 == b.0) {
        let tracker = trackers.entry(run[0].0).or_default();
        for &(_, seq) in run {
            tracker.record(seq);
        }
    }
}

/// What one subscriber subscribes to.
#[derive(Clone, Debug)]
pub struct SubscriberSpec {
    pub client_id: String,
    pub addr: SocketAddr,
    pub filters: Vec<String>,
    pub qos: QoS,
    /// The group's trackers, for members of a shared subscription.
    pub group: Option<Arc<Mutex<Trackers>>>,
}

/// Runs one subscriber until the run ends or its connection does.
pub async fn run(
    ctx: Rc<ExecCtx>,
    opts: Rc<super::client::ClientOptions>,
    spec: SubscriberSpec,
    tracking: Tracking,
) {
    let mut client = match connect(&opts, spec.addr, &spec.client_id).await {
        Ok(c) => c,
        Err(e) => {
            add(&ctx.stats.connect_failed, 1);
            ctx.stats.note_error(&spec.client_id, e.to_string());
            return;
        }
    };
    add(&ctx.stats.connected, 1);
    ctx.hist
        .record_connect(client.connect_time.as_micros() as u64);
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: spec
            .filters
            .iter()
            .map(|f| {
                (
                    MqttStr::from(f.as_str()),
                    SubscriptionOptions::new(spec.qos),
                )
            })
            .collect(),
    });
    if let Err(e) = client.send(&subscribe).await {
        ctx.stats.note_error(&spec.client_id, e.to_string());
        return;
    }
    let mut out = BytesMut::new();
    let mut arrivals = Vec::new();
    let why = loop {
        match client.reader.fill().await {
            Ok(0) => break ClientError::Closed.to_string(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
        let now = now_ns();
        out.clear();
        arrivals.clear();
        let (mut received, mut bytes) = (0u64, 0u64);
        let mut failure = None;
        loop {
            let packet = match client.reader.try_next() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            };
            let packet = match packet {
                Incoming::Publish(p) => {
                    received += 1;
                    bytes += p.payload.len() as u64;
                    if let Some(h) = Header::read_plausible(p.payload, now) {
                        ctx.hist.record_latency(h.latency_us(now));
                        arrivals.push((h.publisher, h.seq));
                    }
                    let ack = match p.qos {
                        QoS::AtMostOnce => None,
                        QoS::AtLeastOnce => Some(Packet::PubAck(PubResp::new(p.packet_id))),
                        QoS::ExactlyOnce => Some(Packet::PubRec(PubResp::new(p.packet_id))),
                    };
                    if let Some(ack) = ack {
                        let _ = encode(&ack, client.version, &mut out);
                    }
                    continue;
                }
                Incoming::Other(packet) => packet,
            };
            match packet {
                Packet::PubRel(r) => {
                    let _ = encode(
                        &Packet::PubComp(PubResp::new(r.packet_id)),
                        client.version,
                        &mut out,
                    );
                }
                Packet::SubAck(s) => match s.reason_codes.iter().find(|c| c.is_error()) {
                    Some(code) => {
                        failure = Some(format!("subscription refused: {code:?}"));
                        break;
                    }
                    None => {
                        add(&ctx.stats.subscribed, 1);
                        add(&ctx.stats.ready, 1);
                    }
                },
                Packet::Disconnect(d) => {
                    failure = Some(format!("DISCONNECT from the broker: {:?}", d.reason_code));
                    break;
                }
                _ => {}
            }
        }
        tracking.record(&arrivals);
        add(&ctx.stats.received, received);
        add(&ctx.stats.received_bytes, bytes);
        if let Some(why) = failure {
            break why;
        }
        if !out.is_empty() {
            if let Err(e) = client.writer.write_all(&out).await {
                break e.to_string();
            }
        }
    };
    if ctx.control.phase() < Phase::Done {
        add(&ctx.stats.dropped, 1);
        ctx.stats.note_error(&spec.client_id, why.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn are_interleaved_publishers_tracked_apart_and_in_order() {
        let mut t = Trackers::new();
        record_into(&mut t, &[(1, 0), (1, 1), (2, 0), (1, 3), (1, 2), (2, 0)]);
        let one = t[&1].counts();
        assert_eq!(
            (one.unique, one.reordered, one.duplicates, one.gaps),
            (4, 1, 0, 0)
        );
        let two = t[&2].counts();
        assert_eq!((two.unique, two.duplicates), (1, 1));
        record_into(&mut t, &[]);
        assert_eq!(t.len(), 2);
    }
}
