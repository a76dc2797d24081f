//! Ports for the brokers the integration tests start, picked below the kernel's
//! ephemeral range (32768–60999 by default), so that no client connection of a test
//! running in parallel can take a port between the moment it is picked and the
//! moment the broker binds it (the broker then refuses to start: the port is served).

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Ports handed out come from `FIRST..FIRST + SPAN`.
const FIRST: u32 = 20_000;
const SPAN: u32 = 12_000;

/// A port on 127.0.0.1 below the ephemeral range that nothing listened on just now.
/// Each test process starts at its own offset (from its pid) and walks forward.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 97) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}
