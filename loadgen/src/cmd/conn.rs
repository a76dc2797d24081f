//! `conn`: opens N connections at a given rate and holds them, reporting the
//! connect rate, failures and, given the broker's pid, its resident memory
//! per connection (VmRSS before the first connection and after the last).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cli::ConnArgs;
use crate::run::report::{round1, Latency};
use crate::run::runner::{self, Kind, RunSpec};
use crate::stats::{get, Stats};

use super::{
    client_options, core_options, interrupt_flag, plans, resolve, run_id, setup_timeout, CmdError,
};

/// The summary of `conn`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConnSummary {
    pub command: &'static str,
    pub requested: u64,
    pub connected: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Seconds until every connection was open (or failed).
    pub connect_s: f64,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// TCP connect to CONNACK.
    pub connect_us: Latency,
    /// Seconds the connections were held.
    pub held_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_rss_before_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_rss_after_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_rss_per_conn_bytes: Option<f64>,
    pub errors: Vec<String>,
}

/// VmRSS in KiB from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The resident memory of process `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .as_deref()
        .and_then(parse_vm_rss)
}

/// Runs `conn` and prints its summary.
pub fn run(args: &ConnArgs) -> Result<(), CmdError> {
    let b = &args.broker;
    let addr = resolve(&b.host, b.port)?;
    if let Some(pid) = args.broker_pid {
        if rss_kib(pid).is_none() {
            return Err(CmdError::Usage(format!(
                "--broker-pid {pid}: cannot read /proc/{pid}/status"
            )));
        }
    }
    let id = run_id();
    let holders = (0..args.count)
        .map(|i| (addr, format!("{}-{id}-c{i}", b.client_prefix)))
        .collect();
    let clients = u64::from(args.count);
    let spec = RunSpec {
        kind: Kind::Conn,
        clients,
        setup_timeout: setup_timeout(clients, b.conn_rate, b.connect_timeout),
        duration: args.duration,
        drain: Duration::ZERO,
        fanout: None,
        total_limit: None,
    };
    let stats = Arc::new(Stats::default());
    let before = args.broker_pid.and_then(rss_kib);
    let mut after = None;
    let outcome = runner::run_with(
        &spec,
        core_options(b),
        plans(b.cores, Vec::new(), Vec::new(), holders, b.conn_rate),
        &client_options(b),
        &stats,
        &*interrupt_flag()?,
        &mut || after = args.broker_pid.and_then(rss_kib),
    )?;
    let connected = get(&stats.connected);
    let connect_s = outcome.setup.as_secs_f64();
    let per_conn = match (before, after) {
        (Some(b), Some(a)) if connected > 0 => {
            Some(round1((a as f64 - b as f64) * 1024.0 / connected as f64))
        }
        _ => None,
    };
    let summary = ConnSummary {
        command: "conn",
        requested: clients,
        connected,
        failed: get(&stats.connect_failed),
        dropped: get(&stats.dropped),
        connect_s: (connect_s * 100.0).round() / 100.0,
        connect_rate: round1(connected as f64 / connect_s.max(1e-9)),
        connect_us: Latency::of(&stats.connect_latency()),
        held_s: round1(outcome.publishing.as_secs_f64()),
        broker_rss_before_kib: before,
        broker_rss_after_kib: after,
        broker_rss_per_conn_bytes: per_conn,
        errors: stats.errors(),
    };
    let text = summary_text(&summary);
    if args.json {
        eprint!("{text}");
        match serde_json::to_string(&summary) {
            Ok(j) => println!("{j}"),
            Err(e) => return Err(CmdError::Usage(format!("cannot write JSON: {e}"))),
        }
    } else {
        print!("{text}");
    }
    if summary.connected == 0 {
        return Err(CmdError::NoClients);
    }
    Ok(())
}

fn summary_text(s: &ConnSummary) -> String {
    let mut t = format!(
        "conn: {} of {} connected in {:.2} s ({:.1} conn/s), {} failed, {} dropped, held {:.1} s\n  connect {}\n",
        s.connected,
        s.requested,
        s.connect_s,
        s.connect_rate,
        s.failed,
        s.dropped,
        s.held_s,
        s.connect_us.line()
    );
    if let (Some(b), Some(a)) = (s.broker_rss_before_kib, s.broker_rss_after_kib) {
        t += &format!(
            "  broker RSS {b} KiB → {a} KiB: {} bytes per connection\n",
            s.broker_rss_per_conn_bytes
                .map_or("-".to_string(), |v| format!("{v:.0}"))
        );
    }
    for e in &s.errors {
        t += &format!("  error: {e}\n");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_vm_rss_read_from_proc_status() {
        let status = "Name:\tmeridian\nVmPeak:\t  9000 kB\nVmRSS:\t    5432 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(5432));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn can_this_process_read_its_own_rss() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
