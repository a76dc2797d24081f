//! A single-waiter wake-up flag for the two halves of one connection task on
//! one executor (the reader tells the writer that acks freed the window or
//! that a PUBREL is due). Not `Send`: executor-local by construction.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::task::{Poll, Waker};

/// A sticky notification: a `notify` before the wait is not lost.
#[derive(Debug, Default)]
pub struct LocalNotify {
    flag: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl LocalNotify {
    /// Wakes the waiter, or lets the next wait return at once.
    pub fn notify(&self) {
        self.flag.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Completes after the next (or a pending) `notify`.
    pub fn notified(&self) -> impl Future<Output = ()> + '_ {
        futures_lite::future::poll_fn(move |cx| {
            if self.flag.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_notify_before_the_wait_remembered_once() {
        let n = LocalNotify::default();
        n.notify();
        futures_lite::future::block_on(n.notified());
        let pending = futures_lite::future::block_on(futures_lite::future::poll_once(n.notified()));
        assert_eq!(pending, None);
    }
}
