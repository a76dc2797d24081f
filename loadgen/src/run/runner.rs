//! The main thread of a run: starts the executors, moves the run through its
//! phases (setup, publishing, draining, done), prints a progress line every
//! second on stderr, and collects the executors' reports.
//!
//! Ctrl-C moves to the next phase: setup or draining end the run, publishing
//! starts draining.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::control::{Control, Phase};
use super::executor::{CoreOptions, ExecError, ExecPlan, ExecReport, Executors};
use crate::mqtt::client::ClientOptions;
use crate::stats::{Snapshot, Stats};

/// How often the main thread looks at the counters.
const POLL: Duration = Duration::from_millis(20);
/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What the progress line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bench,
    Pub,
    Sub,
    Conn,
}

/// How a run proceeds.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub kind: Kind,
    /// Clients that should become ready during setup.
    pub clients: u64,
    /// Longest wait for every client to be ready.
    pub setup_timeout: Duration,
    /// Length of the publishing (or holding) phase; `None` runs until Ctrl-C
    /// (or until `total_limit` messages are sent).
    pub duration: Option<Duration>,
    /// Longest wait after publishing for acks and deliveries.
    pub drain: Duration,
    /// Deliveries expected per message sent, so draining can end early.
    pub fanout: Option<u64>,
    /// Publishing ends when this many messages are sent.
    pub total_limit: Option<u64>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// From the start until every client was ready (or setup gave up).
    pub setup: Duration,
    /// Length of the publishing (or holding) phase.
    pub publishing: Duration,
    pub reports: Vec<ExecReport>,
}

/// Runs `plans` (one per executor) through the phases of `spec`.
pub fn run(
    spec: &RunSpec,
    cores: CoreOptions,
    plans: Vec<ExecPlan>,
    opts: &ClientOptions,
    stats: &Arc<Stats>,
    interrupt: &AtomicBool,
) -> Result<RunOutcome, ExecError> {
    run_with(spec, cores, plans, opts, stats, interrupt, &mut || {})
}

/// [`run`], calling `at_end_of_run` when publishing (or holding) ends, while
/// every connection is still open.
pub fn run_with(
    spec: &RunSpec,
    cores: CoreOptions,
    plans: Vec<ExecPlan>,
    opts: &ClientOptions,
    stats: &Arc<Stats>,
    interrupt: &AtomicBool,
    at_end_of_run: &mut dyn FnMut(),
) -> Result<RunOutcome, ExecError> {
    let control = Arc::new(Control::default());
    let executors = Executors::start(cores, plans, opts, stats, &control)?;
    let mut progress = Progress::new(spec.kind, Arc::clone(stats));
    let started = Instant::now();

    let mut interrupted = false;
    loop {
        let s = stats.snapshot();
        if s.ready + s.connect_failed + s.dropped >= spec.clients {
            break;
        }
        if started.elapsed() >= spec.setup_timeout {
            eprintln!(
                "setup: only {} of {} clients ready after {:.1} s; going on",
                s.ready,
                spec.clients,
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if interrupt.swap(false, Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        progress.tick("setup");
        thread::sleep(POLL);
    }
    let setup = started.elapsed();
    if spec.clients > 0 && stats.snapshot().ready == 0 {
        // Nobody to run with: end now (the errors are in the summary).
        interrupted = true;
    }

    let publishing_start = Instant::now();
    if !interrupted {
        control.advance(Phase::Publishing);
        progress.restart();
        loop {
            let elapsed = publishing_start.elapsed();
            if spec.duration.is_some_and(|d| elapsed >= d)
                || spec.total_limit.is_some_and(|l| stats.snapshot().sent >= l)
                || interrupt.swap(false, Ordering::Relaxed)
            {
                break;
            }
            progress.tick("run");
            thread::sleep(POLL);
        }
    }
    let publishing = publishing_start.elapsed();
    at_end_of_run();

    if !interrupted {
        control.advance(Phase::Draining);
        let drain_start = Instant::now();
        while drain_start.elapsed() < spec.drain {
            let s = stats.snapshot();
            let delivered = spec.fanout.is_none_or(|f| s.received >= s.sent * f);
            if (s.inflight == 0 && delivered) || interrupt.swap(false, Ordering::Relaxed) {
                break;
            }
            progress.tick("drain");
            thread::sleep(POLL);
        }
    }
    control.advance(Phase::Done);
    let reports = executors.join()?;
    Ok(RunOutcome {
        setup,
        publishing,
        reports,
    })
}

/// The once-a-second progress line on stderr.
struct Progress {
    kind: Kind,
    stats: Arc<Stats>,
    start: Instant,
    last_at: Instant,
    last: Snapshot,
}

impl Progress {
    fn new(kind: Kind, stats: Arc<Stats>) -> Self {
        let now = Instant::now();
        Progress {
            kind,
            last: stats.snapshot(),
            stats,
            start: now,
            last_at: now,
        }
    }

    /// Measures the next lines from now (a new phase).
    fn restart(&mut self) {
        self.start = Instant::now();
        self.last_at = self.start;
        self.last = self.stats.snapshot();
    }

    fn tick(&mut self, phase: &str) {
        let now = Instant::now();
        let dt = now.duration_since(self.last_at);
        if dt < PROGRESS_EVERY {
            return;
        }
        let s = self.stats.snapshot();
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / dt.as_secs_f64();
        let t = now.duration_since(self.start).as_secs_f64();
        let conns = format!(
            "conns {} (failed {}, dropped {})",
            s.connected, s.connect_failed, s.dropped
        );
        let p99 = || {
            let h = self.stats.latency();
            if h.is_empty() {
                "p99 -".to_string()
            } else {
                format!("p99 {:.3} ms", h.value_at_quantile(0.99) as f64 / 1000.0)
            }
        };
        let line = match self.kind {
            Kind::Conn => format!(
                "{conns} | {:.0} conn/s",
                rate(s.connected, self.last.connected)
            ),
            Kind::Pub => format!(
                "{conns} | sent {} ({:.0}/s) acked {} inflight {}",
                s.sent,
                rate(s.sent, self.last.sent),
                s.acked,
                s.inflight
            ),
            Kind::Sub => format!(
                "{conns} | recv {} ({:.0}/s) | {}",
                s.received,
                rate(s.received, self.last.received),
                p99()
            ),
            Kind::Bench => format!(
                "{conns} | sent {:.0}/s recv {:.0}/s | sent {} recv {} inflight {} | {}",
                rate(s.sent, self.last.sent),
                rate(s.received, self.last.received),
                s.sent,
                s.received,
                s.inflight,
                p99()
            ),
        };
        eprintln!("[{phase} {t:5.1}s] {line}");
        self.last = s;
        self.last_at = now;
    }
}
