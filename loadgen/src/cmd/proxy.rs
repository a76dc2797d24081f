//! `proxy`: runs the WAN emulator until Ctrl-C (or `--duration`), with a
//! status line every second.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::ProxyArgs;
use crate::proxy::{CutSchedule, Proxy, ProxyOptions, ProxyStats};

use super::{interrupt_flag, resolve_str, CmdError};

/// Runs `proxy`.
pub fn run(args: &ProxyArgs) -> Result<(), CmdError> {
    if let Some(p) = args.cut_random {
        if !(0.0..=1.0).contains(&p) {
            return Err(CmdError::Usage(format!(
                "--cut-random {p}: a probability per second, between 0 and 1"
            )));
        }
    }
    let listen = resolve_str(&args.listen)?;
    let upstream = resolve_str(&args.upstream)?;
    let opts = ProxyOptions {
        delay: args.delay,
        bandwidth: args.bandwidth,
        cuts: CutSchedule {
            every: args.cut_every,
            random_per_sec: args.cut_random,
            length: args.cut_for,
        },
        connect_timeout: None,
    };
    let proxy = Proxy::start(listen, upstream, opts).map_err(CmdError::Proxy)?;
    eprintln!(
        "proxy {} → {upstream}: delay {:?} each way{}",
        proxy.local_addr(),
        args.delay,
        args.bandwidth.map_or(String::new(), |b| format!(
            ", {:.1} Mbit/s each way",
            b as f64 * 8e-6
        ))
    );
    let interrupt = interrupt_flag()?;
    let start = Instant::now();
    let mut last = ProxyStats::default();
    let mut last_at = start;
    while !interrupt.load(Ordering::Relaxed) && args.duration.is_none_or(|d| start.elapsed() < d) {
        thread::sleep(Duration::from_millis(50));
        if last_at.elapsed() >= Duration::from_secs(1) {
            let s = proxy.stats();
            let dt = last_at.elapsed().as_secs_f64();
            let mbit = |now: u64, before: u64| (now - before) as f64 * 8e-6 / dt;
            eprintln!(
                "[{:6.1}s] live {} accepted {} refused {} cuts {}{} | up {:.2} Mbit/s down {:.2} Mbit/s",
                start.elapsed().as_secs_f64(),
                s.live,
                s.accepted,
                s.refused,
                s.cuts,
                if s.cut_now { " (CUT)" } else { "" },
                mbit(s.bytes_up, last.bytes_up),
                mbit(s.bytes_down, last.bytes_down)
            );
            last = s;
            last_at = Instant::now();
        }
    }
    let s = proxy.stats();
    println!(
        "proxy: {} connections accepted, {} refused, {} cuts, {} bytes up, {} bytes down",
        s.accepted, s.refused, s.cuts, s.bytes_up, s.bytes_down
    );
    Ok(())
}
