//! The clock stamped into payloads: `CLOCK_MONOTONIC` in nanoseconds. It is the
//! same in every thread and every process of one host, so a `pub` and a `sub`
//! run separately on one machine can still measure latency.

/// Nanoseconds of `CLOCK_MONOTONIC` (time since boot, never jumps).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists
    // on Linux, so the call cannot fail.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_the_clock_never_go_backwards() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        assert!(a > 0);
    }
}
