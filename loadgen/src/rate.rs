//! Open-loop rate scheduling: how many messages (or connections) are due by
//! now, and when the next one is. A sender wakes on a coarse tick, sends every
//! message that has come due in one batch, and sleeps until the next is due,
//! instead of arming one timer per message.

use std::time::{Duration, Instant};

/// The default shortest sleep between two batches (`--tick`). Below it, a sender
/// batches: at 2000 msg/s a 1 ms tick sends two messages per write.
pub const MIN_TICK: Duration = Duration::from_millis(1);

/// A fixed-rate schedule from a start instant.
#[derive(Clone, Debug)]
pub struct RateSchedule {
    start: Instant,
    /// Items per second; `None` is "as fast as possible".
    rate: Option<f64>,
    /// Items already taken.
    taken: u64,
    /// Items allowed in total, if bounded.
    limit: Option<u64>,
    /// The shortest sleep between two batches.
    tick: Duration,
}

impl RateSchedule {
    /// A schedule of `rate` items per second from `start`; a rate of 0 (or
    /// less, or not finite) means unlimited.
    pub fn new(start: Instant, rate: f64, limit: Option<u64>) -> Self {
        RateSchedule {
            start,
            rate: (rate.is_finite() && rate > 0.0).then_some(rate),
            taken: 0,
            limit,
            tick: MIN_TICK,
        }
    }

    /// The same schedule with `tick` as its shortest sleep between batches
    /// (zero: wake for every item when it is due).
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Items taken so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// True when a bounded schedule has handed out everything.
    pub fn is_exhausted(&self) -> bool {
        self.limit.is_some_and(|l| self.taken >= l)
    }

    /// How many items are due at `now` and not yet taken, at most `cap`.
    pub fn due(&self, now: Instant, cap: u64) -> u64 {
        let remaining = self
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(self.taken));
        let due = match self.rate {
            None => u64::MAX,
            Some(rate) => {
                let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
                // Item n is due at start + n / rate; count those with n <= elapsed * rate.
                let total = (elapsed * rate).floor() as u64 + 1;
                total.saturating_sub(self.taken)
            }
        };
        due.min(remaining).min(cap)
    }

    /// Marks `n` items as taken.
    pub fn take(&mut self, n: u64) {
        self.taken += n;
    }

    /// When the next item not yet taken is due (`start` for unlimited rates).
    pub fn next_due(&self) -> Instant {
        match self.rate {
            None => self.start,
            Some(rate) => self.start + Duration::from_secs_f64(self.taken as f64 / rate),
        }
    }

    /// When a sender that has just sent what was due should wake: the next
    /// item's due time, but never sooner than one tick ([`MIN_TICK`] unless set
    /// with [`RateSchedule::with_tick`]) from `now`.
    pub fn next_wake(&self, now: Instant) -> Instant {
        self.next_due().max(now + self.tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_a_fine_tick_wake_for_each_item_at_a_low_rate() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 2000.0, None).with_tick(Duration::from_micros(50));
        s.take(s.due(t0, u64::MAX));
        // The second item is due 0.5 ms in: a fine tick wakes then, not at 1 ms.
        assert_eq!(s.next_wake(t0), t0 + Duration::from_micros(500));
        let mut coarse = RateSchedule::new(t0, 2000.0, None);
        coarse.take(1);
        assert_eq!(coarse.next_wake(t0), t0 + MIN_TICK);
    }

    #[test]
    fn is_the_first_item_due_at_once() {
        let t0 = Instant::now();
        let s = RateSchedule::new(t0, 10.0, None);
        assert_eq!(s.due(t0, u64::MAX), 1);
    }

    #[test]
    fn are_twenty_thousand_per_second_twenty_per_millisecond() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 20_000.0, None);
        s.take(s.due(t0, u64::MAX));
        let after_1ms = t0 + Duration::from_millis(1);
        assert_eq!(s.due(after_1ms, u64::MAX), 20);
        s.take(20);
        assert_eq!(s.due(after_1ms, u64::MAX), 0);
        assert_eq!(s.due(t0 + Duration::from_secs(1), u64::MAX), 20_000 - 20);
    }

    #[test]
    fn does_a_slow_rate_sleep_until_the_next_item() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 10.0, None);
        s.take(1);
        assert_eq!(s.next_wake(t0), t0 + Duration::from_millis(100));
        assert_eq!(s.due(t0 + Duration::from_millis(99), u64::MAX), 0);
        assert_eq!(s.due(t0 + Duration::from_millis(100), u64::MAX), 1);
    }

    #[test]
    fn does_a_fast_rate_tick_no_faster_than_a_millisecond() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 1e6, None);
        s.take(1);
        assert_eq!(s.next_wake(t0), t0 + MIN_TICK);
    }

    #[test]
    fn is_the_batch_capped_and_the_backlog_kept() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 1000.0, None);
        let late = t0 + Duration::from_secs(1);
        assert_eq!(s.due(late, 64), 64);
        s.take(64);
        assert_eq!(s.due(late, u64::MAX), 1001 - 64);
    }

    #[test]
    fn does_a_bounded_schedule_stop_at_its_limit() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(t0, 0.0, Some(5));
        assert_eq!(s.due(t0, u64::MAX), 5);
        s.take(5);
        assert!(s.is_exhausted());
        assert_eq!(s.due(t0 + Duration::from_secs(9), u64::MAX), 0);
    }
}
