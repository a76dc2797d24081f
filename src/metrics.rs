//! Broker counters. Each core owns one `CoreMetrics` and is its only writer (relaxed
//! atomic adds on an uncontended cache line); the control thread sums the cores'
//! counters when it reports them.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// Counters of one core.
        #[derive(Debug, Default)]
        pub struct CoreMetrics { $( $(#[doc = $doc])* pub $name: AtomicU64, )* }

        impl CoreMetrics {
            /// (name, value) of every counter, for reports.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name.load(Ordering::Relaxed)), )* ]
            }

            /// A counter's description (its doc comment), for metric help texts.
            pub fn help(name: &str) -> &'static str {
                match name {
                    $( stringify!($name) => concat!($($doc),*).trim_start(), )*
                    _ => "",
                }
            }
        }
    };
}

counters! {
    /// Client connections currently open (after CONNECT).
    connections,
    /// CONNECTs accepted.
    connects,
    /// Connections refused because `limits.max_connections` was reached.
    refused_max_connections,
    /// Connections closed for a protocol violation or malformed packet.
    protocol_errors,
    /// Packets refused because they exceed `limits.max_packet_size`.
    packets_too_large,
    /// Connections closed because the keep-alive expired.
    keepalive_timeouts,
    /// PUBLISH packets received from clients.
    messages_received,
    /// PUBLISH packets written to subscribers.
    messages_delivered,
    /// Deliveries dropped because the session's queue was full (`limits.max_queued_messages`).
    dropped_queue_full,
    /// QoS 0 deliveries not queued for an offline session.
    dropped_offline_qos0,
    /// Deliveries dropped because the message expired before it could be sent.
    dropped_expired,
    /// Deliveries dropped because they exceed the client's Maximum Packet Size.
    dropped_too_large_for_client,
    /// Retained messages not stored because `limits.max_retained_messages` was reached.
    retained_refused,
    /// Sessions taken over by a new connection with the same client id.
    takeovers,
    /// Sessions ended by session expiry.
    sessions_expired,
    /// Connections that announced themselves as a cluster link and were refused.
    links_refused,
    /// PUBLISH or SUBSCRIBE by ordinary clients on the reserved `$LINK/…` topics, refused.
    reserved_topic_refused,
}

impl CoreMetrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        // Hot paths add their batch's counts, often 0: spare the atomic then.
        if n != 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Subtracts `n` from a gauge-like counter.
    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }
}
