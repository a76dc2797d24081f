//! The phases of a run, set by the main thread and watched by every executor,
//! and the per-executor context client tasks share.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::stats::{LocalHist, Stats};

/// Where a run is. Phases only move forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Clients connect and subscribe.
    Setup = 0,
    /// Publishers send.
    Publishing = 1,
    /// Publishers stop and wait for their acks; subscribers keep receiving.
    Draining = 2,
    /// Everything stops; executors report.
    Done = 3,
}

/// The run's phase, shared by the main thread and all executors.
#[derive(Debug, Default)]
pub struct Control {
    phase: AtomicU8,
}

/// How often an executor's phase watcher looks at the shared phase.
pub const PHASE_POLL: Duration = Duration::from_millis(1);

impl Control {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Setup,
            1 => Phase::Publishing,
            2 => Phase::Draining,
            _ => Phase::Done,
        }
    }

    /// Moves to `phase` (never backwards).
    pub fn advance(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::AcqRel);
    }
}

/// An executor's view of the phase: one watcher task polls [`Control`] and
/// wakes every task waiting here, so thousands of waiting clients cost one
/// timer, not one each (one per executor).
#[derive(Debug)]
pub struct PhaseWatch {
    current: Cell<Phase>,
    waiters: RefCell<Vec<Waker>>,
}

impl Default for PhaseWatch {
    fn default() -> Self {
        PhaseWatch {
            current: Cell::new(Phase::Setup),
            waiters: RefCell::new(Vec::new()),
        }
    }
}

impl PhaseWatch {
    /// Records `phase` and wakes the waiters if it moved forward.
    pub fn set(&self, phase: Phase) {
        if phase > self.current.get() {
            self.current.set(phase);
            for w in self.waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    /// Completes once the phase is at least `phase`.
    pub fn reached(&self, phase: Phase) -> impl Future<Output = ()> + '_ {
        futures_lite::future::poll_fn(move |cx| {
            if self.current.get() >= phase {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    /// Follows `control` until [`Phase::Done`] (the executor's watcher task).
    pub async fn follow(&self, control: &Control) {
        loop {
            let phase = control.phase();
            self.set(phase);
            if phase == Phase::Done {
                return;
            }
            glommio::timer::sleep(PHASE_POLL).await;
        }
    }
}

/// What the client tasks of one executor share (one per executor).
pub struct ExecCtx {
    pub stats: Arc<Stats>,
    pub control: Arc<Control>,
    /// This executor's view of `control`, for waiting.
    pub phase: PhaseWatch,
    /// Latencies recorded on this executor, flushed into `stats` periodically.
    pub hist: LocalHist,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn do_phases_never_move_backwards() {
        let c = Control::default();
        assert_eq!(c.phase(), Phase::Setup);
        c.advance(Phase::Draining);
        c.advance(Phase::Publishing);
        assert_eq!(c.phase(), Phase::Draining);
        c.advance(Phase::Done);
        assert_eq!(c.phase(), Phase::Done);
    }

    #[test]
    fn does_a_waiter_wake_when_its_phase_comes_and_not_before() {
        use futures_lite::future::{block_on, poll_once};
        let w = PhaseWatch::default();
        let mut wait = Box::pin(w.reached(Phase::Draining));
        assert_eq!(block_on(poll_once(&mut wait)), None);
        w.set(Phase::Publishing);
        assert_eq!(block_on(poll_once(&mut wait)), None);
        w.set(Phase::Done);
        assert_eq!(block_on(poll_once(&mut wait)), Some(()));
        assert!(w.waiters.borrow().is_empty());
    }
}
