//! The phases of a run, set by the main thread and watched by every executor,
//! and the per-executor context client tasks share.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
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

/// How often a task waiting for a phase looks again.
const PHASE_POLL: Duration = Duration::from_millis(2);

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

    /// Waits (on an executor) until the phase is at least `phase`.
    pub async fn reached(&self, phase: Phase) {
        while self.phase() < phase {
            glommio::timer::sleep(PHASE_POLL).await;
        }
    }
}

/// What the client tasks of one executor share (one per executor).
pub struct ExecCtx {
    pub stats: Arc<Stats>,
    pub control: Arc<Control>,
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
}
