//! A single-waiter, single-threaded wake-up flag: "there is something for you".
//!
//! Used where one task waits for others on the same core to hand it work (a
//! connection's writer, a mesh flusher). Notifications coalesce: many `notify` calls
//! before the waiter runs wake it once, which is what batches writes and sends.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Lives on one core (not `Send`).
#[derive(Default)]
pub struct Notify {
    pending: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    /// Marks work pending and wakes the waiter, if one waits.
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Completes once a notification is pending, and consumes it.
    pub async fn notified(&self) {
        poll_fn(|cx| {
            if self.pending.replace(false) {
                Poll::Ready(())
            } else {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("pending", &self.pending.get())
            .finish()
    }
}
