//! Run-wide counters and latency histograms, shared by all executors and read
//! by the progress line and the summary. Counters are relaxed atomics added
//! per batch; latencies are recorded into an executor-local histogram
//! ([`LocalHist`]) and merged into the shared one a few times per second.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use hdrhistogram::Histogram;

/// Highest latency a histogram records (one hour, in microseconds); longer
/// values are clamped.
const MAX_US: u64 = 3_600_000_000;

/// A fresh latency histogram: 1 µs to one hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_US, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e:?}"),
    }
}

/// Counters of one run, shared by every executor (one per process).
#[derive(Debug)]
pub struct Stats {
    /// Connections whose CONNACK accepted them.
    pub connected: AtomicU64,
    /// Connections that failed (TCP, refused CONNACK, protocol error).
    pub connect_failed: AtomicU64,
    /// Established connections that ended before the run did.
    pub dropped: AtomicU64,
    /// Subscribers whose SUBACK arrived.
    pub subscribed: AtomicU64,
    /// Clients ready for the run: publishers and held connections connected,
    /// subscribers subscribed.
    pub ready: AtomicU64,
    /// PUBLISH packets written by publishers.
    pub sent: AtomicU64,
    /// Publishes acknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2).
    pub acked: AtomicU64,
    /// PUBLISH packets received by subscribers (duplicates included).
    pub received: AtomicU64,
    /// Payload bytes received by subscribers.
    pub received_bytes: AtomicU64,
    /// Publishes currently unacknowledged, summed over publishers.
    pub inflight: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    connect_latency: Mutex<Histogram<u64>>,
    errors: Mutex<Vec<ErrorCount>>,
}

/// One kind of client error: its message, how many clients hit it, and the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorCount {
    pub message: String,
    pub clients: u64,
    pub first_client: String,
}

/// Distinct error messages kept for the summary.
const MAX_ERRORS: usize = 8;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connected: AtomicU64::new(0),
            connect_failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            subscribed: AtomicU64::new(0),
            ready: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            received: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
            latency: Mutex::new(new_histogram()),
            connect_latency: Mutex::new(new_histogram()),
            errors: Mutex::new(Vec::new()),
        }
    }
}

fn lock(m: &Mutex<Histogram<u64>>) -> MutexGuard<'_, Histogram<u64>> {
    // A panic while holding the lock leaves a histogram that is still valid.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Reads a counter.
pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Stats {
    /// Merges an executor's recent end-to-end latencies.
    pub fn merge_latency(&self, local: &Histogram<u64>) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = lock(&self.latency).add(local);
    }

    /// Merges an executor's recent connect latencies (TCP connect to CONNACK).
    pub fn merge_connect_latency(&self, local: &Histogram<u64>) {
        let _ = lock(&self.connect_latency).add(local);
    }

    /// Notes that `client` failed with `message`. Clients failing the same way
    /// are counted together; the first few distinct messages are kept for the
    /// summary and echoed on stderr when first seen.
    pub fn note_error(&self, client: &str, message: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = errors.iter_mut().find(|e| e.message == message) {
            e.clients += 1;
        } else if errors.len() < MAX_ERRORS {
            eprintln!("error: {client}: {message}");
            errors.push(ErrorCount {
                message,
                clients: 1,
                first_client: client.to_string(),
            });
        }
    }

    /// The distinct errors so far, as `message (N clients, first: id)`.
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|e| {
                format!(
                    "{} ({} clients, first: {})",
                    e.message, e.clients, e.first_client
                )
            })
            .collect()
    }

    /// A copy of the end-to-end latency histogram so far (µs).
    pub fn latency(&self) -> Histogram<u64> {
        lock(&self.latency).clone()
    }

    /// A copy of the connect latency histogram so far (µs).
    pub fn connect_latency(&self) -> Histogram<u64> {
        lock(&self.connect_latency).clone()
    }

    /// The counters at this instant.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connected: get(&self.connected),
            connect_failed: get(&self.connect_failed),
            dropped: get(&self.dropped),
            subscribed: get(&self.subscribed),
            ready: get(&self.ready),
            sent: get(&self.sent),
            acked: get(&self.acked),
            received: get(&self.received),
            received_bytes: get(&self.received_bytes),
            inflight: get(&self.inflight),
        }
    }
}

/// The counters of [`Stats`] at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub connected: u64,
    pub connect_failed: u64,
    pub dropped: u64,
    pub subscribed: u64,
    pub ready: u64,
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    pub received_bytes: u64,
    pub inflight: u64,
}

/// An executor-local latency histogram (one per executor), flushed into
/// [`Stats`] periodically so recording never takes a lock.
#[derive(Debug)]
pub struct LocalHist {
    latency: RefCell<Histogram<u64>>,
    connect: RefCell<Histogram<u64>>,
}

impl Default for LocalHist {
    fn default() -> Self {
        LocalHist {
            latency: RefCell::new(new_histogram()),
            connect: RefCell::new(new_histogram()),
        }
    }
}

impl LocalHist {
    /// Records one end-to-end latency in microseconds.
    pub fn record_latency(&self, us: u64) {
        self.latency
            .borrow_mut()
            .saturating_record(us.clamp(1, MAX_US));
    }

    /// Records one connect latency in microseconds.
    pub fn record_connect(&self, us: u64) {
        self.connect
            .borrow_mut()
            .saturating_record(us.clamp(1, MAX_US));
    }

    /// Moves everything recorded so far into `stats`.
    pub fn flush(&self, stats: &Stats) {
        let mut l = self.latency.borrow_mut();
        if !l.is_empty() {
            stats.merge_latency(&l);
            l.reset();
        }
        let mut c = self.connect.borrow_mut();
        if !c.is_empty() {
            stats.merge_connect_latency(&c);
            c.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_a_flush_move_local_latencies_into_the_shared_histogram() {
        let stats = Stats::default();
        let local = LocalHist::default();
        local.record_latency(100);
        local.record_latency(300);
        local.record_connect(5_000);
        local.flush(&stats);
        local.flush(&stats);
        let h = stats.latency();
        assert_eq!(h.len(), 2);
        assert_eq!(h.max(), 300);
        assert_eq!(stats.connect_latency().len(), 1);
    }

    #[test]
    fn is_a_zero_latency_recorded_as_one_microsecond() {
        let stats = Stats::default();
        let local = LocalHist::default();
        local.record_latency(0);
        local.flush(&stats);
        assert_eq!(stats.latency().min(), 1);
    }

    #[test]
    fn are_clients_failing_the_same_way_counted_together() {
        let stats = Stats::default();
        stats.note_error("c1", "refused".into());
        stats.note_error("c2", "refused".into());
        stats.note_error("c3", "timed out".into());
        assert_eq!(
            stats.errors(),
            vec![
                "refused (2 clients, first: c1)".to_string(),
                "timed out (1 clients, first: c3)".to_string()
            ]
        );
    }

    #[test]
    fn does_the_snapshot_read_the_counters() {
        let stats = Stats::default();
        add(&stats.sent, 5);
        add(&stats.received, 7);
        let s = stats.snapshot();
        assert_eq!((s.sent, s.received, s.acked), (5, 7, 0));
    }
}
