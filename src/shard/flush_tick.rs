//! The write-coalescing window's clock (`[tuning] write_coalesce_us`): one per core.
//!
//! With the window on, a connection's writer that was woken with something to send
//! does not write at once: it waits for the core's next tick, and every writer that
//! waited writes in the same loop turn. The core keeps one timer for all of its
//! connections (not one per writer: at 100k wake-ups a second, per-writer timers
//! cost more CPU than the writes they saved), and none at all while no writer
//! waits. A message waits at most one window; at a given per-connection rate, the
//! longer the window, the more messages share one `send()`.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::notify::Notify;

/// Ticks every `window` while writers wait for it; idle (no timer) otherwise.
pub struct FlushTick {
    window: Duration,
    /// Ticks so far: a waiter is released once this passes the value it saw.
    ticks: Cell<u64>,
    /// Writers waiting for the next tick.
    waiters: RefCell<Vec<Waker>>,
    /// Wakes the ticker when the first writer starts waiting.
    wanted: Notify,
}

impl FlushTick {
    /// A clock for a window of `window`; [`FlushTick::run`] drives it.
    pub fn new(window: Duration) -> Rc<Self> {
        Rc::new(FlushTick {
            window,
            ticks: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            wanted: Notify::default(),
        })
    }

    /// Completes at the next tick: at most one window from now.
    pub async fn next(&self) {
        let seen = self.ticks.get();
        let mut registered = false;
        poll_fn(|cx| {
            if self.ticks.get() != seen {
                return Poll::Ready(());
            }
            if !registered {
                registered = true;
                let mut waiters = self.waiters.borrow_mut();
                if waiters.is_empty() {
                    self.wanted.notify();
                }
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Ends the current window: releases every waiting writer.
    fn tick(&self) {
        self.ticks.set(self.ticks.get().wrapping_add(1));
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for waker in waiters {
            waker.wake();
        }
    }

    /// The ticker task: while writers wait, one window, then a tick.
    pub async fn run(self: Rc<Self>) {
        loop {
            while self.waiters.borrow().is_empty() {
                self.wanted.notified().await;
            }
            glommio::timer::sleep(self.window).await;
            self.tick();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn on_executor<F, Fut>(f: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        glommio::LocalExecutorBuilder::default()
            .io_memory(64 << 10)
            .spawn(f)
            .expect("executor")
            .join()
            .expect("join");
    }

    #[test]
    fn do_writers_waiting_in_one_window_all_go_at_its_end() {
        on_executor(|| async {
            let tick = FlushTick::new(Duration::from_millis(20));
            glommio::spawn_local(tick.clone().run()).detach();
            let start = Instant::now();
            let done = Rc::new(Cell::new(0));
            let mut tasks = Vec::new();
            for _ in 0..3 {
                let (tick, done) = (tick.clone(), done.clone());
                tasks.push(glommio::spawn_local(async move {
                    tick.next().await;
                    done.set(done.get() + 1);
                    Instant::now()
                }));
            }
            let mut ends = Vec::new();
            for t in tasks {
                ends.push(t.await);
            }
            assert_eq!(done.get(), 3);
            for end in &ends {
                let waited = end.duration_since(start);
                assert!(waited >= Duration::from_millis(20), "waited {waited:?}");
            }
            // All three were released by the same tick.
            assert_eq!(tick.ticks.get(), 1);
        });
    }

    #[test]
    fn does_an_idle_clock_not_tick() {
        on_executor(|| async {
            let tick = FlushTick::new(Duration::from_millis(1));
            glommio::spawn_local(tick.clone().run()).detach();
            glommio::timer::sleep(Duration::from_millis(20)).await;
            assert_eq!(tick.ticks.get(), 0, "no writer waited, so no tick");
            tick.next().await;
            assert_eq!(tick.ticks.get(), 1);
            glommio::timer::sleep(Duration::from_millis(20)).await;
            assert_eq!(tick.ticks.get(), 1, "idle again after the tick");
        });
    }
}
