//! The end-of-run summary: counts, rates, loss / duplicates / reordering per
//! publisher and latency percentiles, as readable text and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::executor::ExecReport;
use crate::seq::SeqCounts;
use crate::stats::Snapshot;

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    /// The percentiles of `h` (µs); all zero when empty.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let q = |q: f64| h.highest_equivalent(h.value_at_quantile(q));
        Latency {
            count: h.len(),
            min: h.min(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.highest_equivalent(h.max()),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }

    /// `p50 0.412 ms  p90 …` for the text summary.
    pub fn line(&self) -> String {
        if self.count == 0 {
            return "no samples".to_string();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

/// Connection counts of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Connections {
    pub connected: u64,
    pub failed: u64,
    pub dropped: u64,
    /// TCP connect to CONNACK.
    pub connect_us: Latency,
}

/// One publisher's delivery record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublisherReport {
    pub id: u32,
    pub sent: u64,
    pub acked: u64,
    /// Deliveries expected (sent × receivers per message).
    pub expected: u64,
    /// Distinct messages received, summed over receivers.
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
}

/// Per-publisher records from the executors' reports and the shared-group
/// trackers. `fanout` is the receivers each message should reach; when it is
/// unknown (`sub` alone), loss is what is missing below the highest sequence
/// number received.
pub fn per_publisher(
    reports: &[ExecReport],
    groups: &[(u32, SeqCounts)],
    fanout: Option<u64>,
) -> Vec<PublisherReport> {
    let mut by_id: BTreeMap<u32, (PublisherReport, SeqCounts)> = BTreeMap::new();
    for r in reports {
        for &(id, sent, acked) in &r.publishers {
            let e = by_id.entry(id).or_default();
            e.0.id = id;
            e.0.sent += sent;
            e.0.acked += acked;
        }
    }
    for (id, counts) in reports.iter().flat_map(|r| r.streams.iter()).chain(groups) {
        let e = by_id.entry(*id).or_default();
        e.0.id = *id;
        e.1.add(counts);
    }
    by_id
        .into_values()
        .map(|(mut p, c)| {
            p.received = c.unique;
            match fanout {
                Some(f) => {
                    p.expected = p.sent * f;
                    p.lost = p.expected.saturating_sub(c.unique);
                }
                None => p.lost = c.gaps,
            }
            p.duplicates = c.duplicates;
            p.reordered = c.reordered;
            p
        })
        .collect()
}

/// The summary of `bench`, `pub` and `sub`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub qos: u8,
    pub size: usize,
    pub publishers: u64,
    pub subscribers: u64,
    pub connections: Connections,
    /// Seconds of publishing.
    pub duration_s: f64,
    pub sent: u64,
    pub acked: u64,
    /// Deliveries expected: sent × receivers per message.
    pub expected: u64,
    /// PUBLISH packets received by subscribers, duplicates included.
    pub received: u64,
    /// Payload bytes received by subscribers.
    pub received_bytes: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Messages sent per second of publishing.
    pub send_rate: f64,
    /// Messages received per second of publishing.
    pub recv_rate: f64,
    pub latency_us: Latency,
    pub per_publisher: Vec<PublisherReport>,
    pub errors: Vec<String>,
}

impl Summary {
    /// Fills the counters from the final snapshot and the per-publisher records.
    pub fn fill(&mut self, s: &Snapshot, pubs: Vec<PublisherReport>, latency: &Histogram<u64>) {
        let secs = self.duration_s.max(1e-9);
        self.sent = s.sent;
        self.acked = s.acked;
        self.received = s.received;
        self.received_bytes = s.received_bytes;
        self.send_rate = round1(s.sent as f64 / secs);
        self.recv_rate = round1(s.received as f64 / secs);
        self.expected = pubs.iter().map(|p| p.expected).sum();
        self.lost = pubs.iter().map(|p| p.lost).sum();
        self.duplicates = pubs.iter().map(|p| p.duplicates).sum();
        self.reordered = pubs.iter().map(|p| p.reordered).sum();
        self.latency_us = Latency::of(latency);
        self.per_publisher = pubs;
    }

    /// The readable summary.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let what = self
            .scenario
            .as_ref()
            .map_or(self.command.clone(), |s| format!("{} {s}", self.command));
        let _ = writeln!(
            o,
            "{what}: {} publishers, {} subscribers, QoS {}, {} B payload, {:.1} s",
            self.publishers, self.subscribers, self.qos, self.size, self.duration_s
        );
        let c = &self.connections;
        let _ = writeln!(
            o,
            "  connections  {} connected, {} failed, {} dropped; connect {}",
            c.connected,
            c.failed,
            c.dropped,
            c.connect_us.line()
        );
        if self.publishers > 0 {
            let _ = writeln!(
                o,
                "  sent         {} ({:.1} msg/s), acked {}",
                self.sent, self.send_rate, self.acked
            );
        }
        if self.subscribers > 0 {
            let expected = if self.expected > 0 {
                format!(" of {} expected", self.expected)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "  received     {}{expected} ({:.1} msg/s)",
                self.received, self.recv_rate
            );
            let _ = writeln!(
                o,
                "  lost {}  duplicates {}  reordered {}",
                self.lost, self.duplicates, self.reordered
            );
            let _ = writeln!(o, "  latency      {}", self.latency_us.line());
            let mut worst: Vec<&PublisherReport> = self
                .per_publisher
                .iter()
                .filter(|p| p.lost + p.duplicates + p.reordered > 0)
                .collect();
            worst.sort_by_key(|p| std::cmp::Reverse(p.lost + p.duplicates + p.reordered));
            for p in worst.iter().take(5) {
                let _ = writeln!(
                    o,
                    "    publisher {}: sent {} lost {} duplicates {} reordered {}",
                    p.id, p.sent, p.lost, p.duplicates, p.reordered
                );
            }
        }
        for e in &self.errors {
            let _ = writeln!(o, "  error: {e}");
        }
        o
    }
}

/// Rounds to one decimal, for readable JSON rates.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Rounds to three decimals, for readable JSON durations.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    fn counts(unique: u64, duplicates: u64, reordered: u64) -> SeqCounts {
        SeqCounts {
            unique,
            duplicates,
            reordered,
            gaps: 0,
        }
    }

    #[test]
    fn is_loss_what_every_receiver_should_have_had_minus_what_it_got() {
        let reports = vec![
            ExecReport {
                publishers: vec![(0, 100, 0)],
                streams: vec![(0, counts(100, 0, 0))],
            },
            ExecReport {
                publishers: vec![],
                streams: vec![(0, counts(97, 2, 1))],
            },
        ];
        let p = per_publisher(&reports, &[], Some(2));
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0],
            PublisherReport {
                id: 0,
                sent: 100,
                acked: 0,
                expected: 200,
                received: 197,
                lost: 3,
                duplicates: 2,
                reordered: 1
            }
        );
    }

    #[test]
    fn does_a_publisher_nobody_heard_lose_everything() {
        let reports = vec![ExecReport {
            publishers: vec![(4, 10, 10)],
            streams: vec![],
        }];
        let p = per_publisher(&reports, &[(4, counts(0, 0, 0))], Some(1));
        assert_eq!((p[0].expected, p[0].lost), (10, 10));
    }

    #[test]
    fn is_loss_without_a_sender_count_the_gaps() {
        let reports = vec![ExecReport {
            publishers: vec![],
            streams: vec![(
                9,
                SeqCounts {
                    unique: 8,
                    gaps: 2,
                    ..SeqCounts::default()
                },
            )],
        }];
        let p = per_publisher(&reports, &[], None);
        assert_eq!((p[0].received, p[0].lost, p[0].expected), (8, 2, 0));
    }

    #[test]
    fn does_the_json_summary_have_the_contract_keys() {
        let mut h = new_histogram();
        h.saturating_record(250);
        let mut s = Summary {
            command: "bench".into(),
            duration_s: 2.0,
            ..Summary::default()
        };
        let snap = Snapshot {
            sent: 10,
            received: 50,
            ..Snapshot::default()
        };
        s.fill(&snap, vec![], &h);
        let v = serde_json::to_value(&s).expect("json");
        for key in [
            "sent",
            "received",
            "lost",
            "duplicates",
            "reordered",
            "recv_rate",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["recv_rate"], 25.0);
        for key in ["p50", "p90", "p99", "p999", "max"] {
            assert!(
                v["latency_us"][key].as_u64().is_some_and(|x| x >= 250),
                "{key}"
            );
        }
    }
}
