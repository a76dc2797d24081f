//! Per-link counters and state, written by the link shard (and by the core that
//! receives the remote's routes), read by the admin API. Atomics only.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Configured with `enable = false`.
    Disabled = 0,
    /// Trying to connect (or waiting out the back-off).
    Connecting = 1,
    /// Every pool connection is up.
    Connected = 2,
    /// Some but not all pool connections are up.
    Degraded = 3,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Disabled => "disabled",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Degraded => "degraded",
        }
    }

    fn from_u8(v: u8) -> LinkState {
        match v {
            1 => LinkState::Connecting,
            2 => LinkState::Connected,
            3 => LinkState::Degraded,
            _ => LinkState::Disabled,
        }
    }
}

/// The counters of one link.
#[derive(Debug, Default)]
pub struct LinkMetrics {
    state: AtomicU8,
    /// Routes the remote asked us for (installed here with destination this link).
    pub routes_in: AtomicU64,
    /// Routes we asked the remote for (our subscriptions ∩ this link's topics).
    pub routes_out: AtomicU64,
    /// Messages sent to the remote and bytes of their payloads.
    pub messages_forwarded: AtomicU64,
    pub bytes_forwarded: AtomicU64,
    /// Messages received from the remote over its link to us.
    pub messages_received: AtomicU64,
    /// Messages waiting for a connection (backlog) and their payload bytes.
    pub backlog_messages: AtomicU64,
    pub backlog_bytes: AtomicU64,
    /// QoS 1/2 messages sent and not yet acknowledged.
    pub inflight: AtomicU64,
    /// Messages dropped by the backlog overflow policy.
    pub dropped: AtomicU64,
    /// QoS 1/2 messages sent again after a reconnect (the remote may see duplicates).
    pub resent: AtomicU64,
    /// Connections (re)established after the first.
    pub reconnects: AtomicU64,
    /// Round-trip time of the last keep-alive ping, microseconds.
    pub rtt_us: AtomicU64,
    /// The last error, for operators ("connection refused", "CONNACK 0x86 ...").
    last_error: Mutex<Option<String>>,
}

impl LinkMetrics {
    pub fn state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, state: LinkState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    pub fn set_last_error(&self, error: impl Into<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(error.into());
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        // Never wraps below zero, even if a decrement races a reset.
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(n))
        });
    }

    pub fn set(counter: &AtomicU64, v: u64) {
        counter.store(v, Ordering::Relaxed);
    }
}
