//! The executors of a run: `cores` glommio executors (pinned when asked), each
//! given its share of the clients as an [`ExecPlan`]. An executor opens its
//! clients at its share of the connection rate, keeps one task per client,
//! flushes its latencies a few times a second, and at [`Phase::Done`] cancels
//! its tasks and hands back an [`ExecReport`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use super::control::{Control, ExecCtx, Phase, PhaseWatch};
use crate::mqtt::client::ClientOptions;
use crate::mqtt::holder;
use crate::mqtt::publisher::{self, PubCounters, PublisherSpec};
use crate::mqtt::subscriber::{self, SubscriberSpec, Trackers, Tracking};
use crate::rate::RateSchedule;
use crate::seq::SeqCounts;
use crate::stats::{LocalHist, Stats};

/// io_uring buffer memory per executor: small, the locked-memory limit is 8 MiB.
const IO_MEMORY: usize = 512 * 1024;
/// How often an executor merges its latencies into the shared histogram.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Where executors run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreOptions {
    /// Executors to start.
    pub cores: usize,
    /// Pin executor `i` to online CPU `pin_from + i`; `None` lets the kernel place them.
    pub pin_from: Option<usize>,
}

/// Why executors could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("--cores {cores}{pin}: this machine has {available} CPUs")]
    TooManyCores {
        cores: usize,
        pin: String,
        available: usize,
    },
    #[error("--cores must be at least 1")]
    NoCores,
    #[error("cannot start an executor: {0}")]
    Spawn(String),
    #[error("an executor failed: {0}")]
    Join(String),
}

impl CoreOptions {
    /// Checks the request against the CPUs this process may use.
    pub fn check(&self) -> Result<(), ExecError> {
        let available = std::thread::available_parallelism().map_or(1, usize::from);
        let highest = self.cores + self.pin_from.unwrap_or(0);
        if self.cores == 0 {
            return Err(ExecError::NoCores);
        }
        if highest > available {
            return Err(ExecError::TooManyCores {
                cores: self.cores,
                pin: self
                    .pin_from
                    .map_or(String::new(), |p| format!(" pinned from CPU {p}")),
                available,
            });
        }
        Ok(())
    }
}

/// One executor's share of the clients.
#[derive(Debug, Default)]
pub struct ExecPlan {
    /// Opened first, so they are subscribed before anything is published.
    pub subscribers: Vec<SubscriberSpec>,
    pub publishers: Vec<PublisherSpec>,
    /// Held connections (`conn`): address and client id.
    pub holders: Vec<(SocketAddr, String)>,
    /// Connections per second this executor opens (0: all at once).
    pub conn_rate: f64,
}

impl ExecPlan {
    /// Clients in this plan.
    pub fn clients(&self) -> usize {
        self.subscribers.len() + self.publishers.len() + self.holders.len()
    }
}

/// What an executor hands back at the end of a run.
#[derive(Debug, Default)]
pub struct ExecReport {
    /// (publisher id, messages sent, publishes acknowledged).
    pub publishers: Vec<(u32, u64, u64)>,
    /// (publisher id, counts) for each (own-tracking subscriber, publisher) stream.
    pub streams: Vec<(u32, SeqCounts)>,
}

/// Running executors.
pub struct Executors {
    handles: Vec<ExecutorJoinHandle<ExecReport>>,
}

impl Executors {
    /// Starts one executor per plan.
    pub fn start(
        cores: CoreOptions,
        plans: Vec<ExecPlan>,
        opts: &ClientOptions,
        stats: &Arc<Stats>,
        control: &Arc<Control>,
    ) -> Result<Executors, ExecError> {
        cores.check()?;
        let mut handles = Vec::with_capacity(plans.len());
        for (i, plan) in plans.into_iter().enumerate() {
            let placement = match cores.pin_from {
                Some(first) => Placement::Fixed(first + i),
                None => Placement::Unbound,
            };
            let (opts, stats, control) = (opts.clone(), Arc::clone(stats), Arc::clone(control));
            let handle = LocalExecutorBuilder::new(placement)
                .name(&format!("loadgen-{i}"))
                .io_memory(IO_MEMORY)
                .spawn(move || drive(plan, opts, stats, control))
                .map_err(|e| ExecError::Spawn(e.to_string()))?;
            handles.push(handle);
        }
        Ok(Executors { handles })
    }

    /// Waits for every executor (after [`Phase::Done`]) and collects their reports.
    pub fn join(self) -> Result<Vec<ExecReport>, ExecError> {
        self.handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => Ok(r),
                Err(e) => Err(ExecError::Join(e.to_string())),
            })
            .collect()
    }
}

/// Splits `items` round-robin over `n` buckets.
pub fn round_robin<T>(items: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..n.max(1)).map(|_| Vec::new()).collect();
    let len = out.len();
    for (i, item) in items.into_iter().enumerate() {
        out[i % len].push(item);
    }
    out
}

enum Job {
    Sub(SubscriberSpec),
    Pub(PublisherSpec),
    Hold(SocketAddr, String),
}

async fn drive(
    plan: ExecPlan,
    opts: ClientOptions,
    stats: Arc<Stats>,
    control: Arc<Control>,
) -> ExecReport {
    let ctx = Rc::new(ExecCtx {
        stats,
        control,
        phase: PhaseWatch::default(),
        hist: LocalHist::default(),
    });
    let opts = Rc::new(opts);
    let watcher = glommio::spawn_local({
        let ctx = Rc::clone(&ctx);
        async move { ctx.phase.follow(&ctx.control).await }
    });
    let flusher = glommio::spawn_local({
        let ctx = Rc::clone(&ctx);
        async move {
            loop {
                glommio::timer::sleep(FLUSH_EVERY).await;
                ctx.hist.flush(&ctx.stats);
            }
        }
    });
    let mut jobs: VecDeque<Job> = plan
        .subscribers
        .into_iter()
        .map(Job::Sub)
        .chain(plan.publishers.into_iter().map(Job::Pub))
        .chain(plan.holders.into_iter().map(|(a, c)| Job::Hold(a, c)))
        .collect();
    let mut tasks = Vec::with_capacity(jobs.len());
    let mut own_trackers: Vec<Rc<RefCell<Trackers>>> = Vec::new();
    let mut counters: Vec<(u32, Rc<PubCounters>)> = Vec::new();
    let mut sched = RateSchedule::new(Instant::now(), plan.conn_rate, None);
    while !jobs.is_empty() && ctx.control.phase() < Phase::Done {
        let now = Instant::now();
        let due = sched.due(now, jobs.len() as u64);
        for job in jobs.drain(..due as usize) {
            let ctx = Rc::clone(&ctx);
            let opts = Rc::clone(&opts);
            let task = match job {
                Job::Sub(spec) => {
                    let tracking = match &spec.group {
                        Some(g) => Tracking::Group(Arc::clone(g)),
                        None => {
                            let own = Rc::new(RefCell::new(Trackers::new()));
                            own_trackers.push(Rc::clone(&own));
                            Tracking::Own(own)
                        }
                    };
                    glommio::spawn_local(subscriber::run(ctx, opts, spec, tracking))
                }
                Job::Pub(spec) => {
                    let c = Rc::new(PubCounters::default());
                    counters.push((spec.id, Rc::clone(&c)));
                    glommio::spawn_local(publisher::run(ctx, opts, spec, c))
                }
                Job::Hold(addr, id) => glommio::spawn_local(holder::run(ctx, opts, addr, id)),
            };
            tasks.push(task);
        }
        sched.take(due);
        if !jobs.is_empty() {
            let now = Instant::now();
            glommio::timer::sleep(sched.next_wake(now).saturating_duration_since(now)).await;
        }
    }
    watcher.await;
    drop(tasks);
    drop(flusher);
    ctx.hist.flush(&ctx.stats);
    ExecReport {
        publishers: counters
            .iter()
            .map(|(id, c)| (*id, c.sent.get(), c.acked.get()))
            .collect(),
        streams: own_trackers
            .iter()
            .flat_map(|t| {
                t.borrow()
                    .iter()
                    .map(|(p, tr)| (*p, tr.counts()))
                    .collect::<Vec<_>>()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn are_clients_dealt_round_robin() {
        let buckets = round_robin((0..5).collect(), 2);
        assert_eq!(buckets, vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(round_robin(vec![1], 0), vec![vec![1]]);
    }

    #[test]
    fn are_more_cores_than_cpus_refused() {
        let too_many = CoreOptions {
            cores: 10_000,
            pin_from: None,
        };
        assert!(matches!(
            too_many.check(),
            Err(ExecError::TooManyCores { .. })
        ));
        let none = CoreOptions {
            cores: 0,
            pin_from: None,
        };
        assert!(matches!(none.check(), Err(ExecError::NoCores)));
        let one = CoreOptions {
            cores: 1,
            pin_from: Some(0),
        };
        assert!(one.check().is_ok());
    }
}
