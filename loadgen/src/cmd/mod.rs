//! The subcommands: each turns its arguments into executor plans, runs them
//! and prints the summary. Shared here: address resolution, client options,
//! Ctrl-C, and writing the JSON / histogram / SVG outputs.

pub mod bench;
pub mod conn;
pub mod proxy;
pub mod pubsub;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::cli::{BrokerArgs, OutputArgs};
use crate::mqtt::client::ClientOptions;
use crate::mqtt::publisher::PublisherSpec;
use crate::mqtt::subscriber::SubscriberSpec;
use crate::run::executor::{round_robin, CoreOptions, ExecError, ExecPlan};
use crate::run::report::{Connections, Latency, Summary};
use crate::scenario::ScenarioError;
use crate::stats::Stats;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, io::Error),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{0}: {1}")]
    File(PathBuf, io::Error),
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("proxy: {0}")]
    Proxy(io::Error),
    #[error("no client could connect")]
    NoClients,
}

/// Raises the open-file limit to its hard maximum: every client is a socket.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill and setrlimit to read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A short id unique to this run, for client ids and topics.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:06x}",
        (nanos ^ std::process::id().rotate_left(20)) & 0xFF_FFFF
    )
}

/// The first address of `host:port`.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, CmdError> {
    let name = format!("{host}:{port}");
    resolve_str(&name)
}

/// The first address of `name` (`host:port`).
pub fn resolve_str(name: &str) -> Result<SocketAddr, CmdError> {
    name.to_socket_addrs()
        .map_err(|e| CmdError::Resolve(name.to_string(), e))?
        .next()
        .ok_or_else(|| {
            CmdError::Resolve(
                name.to_string(),
                io::Error::new(io::ErrorKind::NotFound, "no address"),
            )
        })
}

/// Client options from the broker arguments (clean start, `--keepalive`).
pub fn client_options(b: &BrokerArgs) -> ClientOptions {
    ClientOptions {
        version: b.mqtt.into(),
        username: b.username.clone(),
        password: b.password.clone(),
        keep_alive: b.keepalive,
        clean_start: true,
        connect_timeout: b.connect_timeout,
    }
}

/// Deals the clients over `cores` executor plans, each with its share of `conn_rate`.
pub fn plans(
    cores: usize,
    subscribers: Vec<SubscriberSpec>,
    publishers: Vec<PublisherSpec>,
    holders: Vec<(SocketAddr, String)>,
    conn_rate: f64,
) -> Vec<ExecPlan> {
    let n = cores.max(1);
    let mut subs = round_robin(subscribers, n).into_iter();
    let mut pubs = round_robin(publishers, n).into_iter();
    let mut holds = round_robin(holders, n).into_iter();
    (0..n)
        .map(|_| ExecPlan {
            subscribers: subs.next().unwrap_or_default(),
            publishers: pubs.next().unwrap_or_default(),
            holders: holds.next().unwrap_or_default(),
            conn_rate: conn_rate / n as f64,
        })
        .collect()
}

/// The connection counts of a finished run.
pub fn connections(stats: &Stats) -> Connections {
    let s = stats.snapshot();
    Connections {
        connected: s.connected,
        failed: s.connect_failed,
        dropped: s.dropped,
        connect_us: Latency::of(&stats.connect_latency()),
    }
}

/// Executor placement from the broker arguments.
pub fn core_options(b: &BrokerArgs) -> CoreOptions {
    CoreOptions {
        cores: b.cores,
        pin_from: b.pin_from,
    }
}

/// A flag raised by Ctrl-C (SIGINT) or SIGTERM.
pub fn interrupt_flag() -> Result<Arc<AtomicBool>, CmdError> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag)).map_err(CmdError::Signal)?;
    }
    Ok(flag)
}

/// Setup time allowed for `clients` at `conn_rate`: the time the rate needs plus 10 s.
pub fn setup_timeout(
    clients: u64,
    conn_rate: f64,
    connect_timeout: std::time::Duration,
) -> std::time::Duration {
    let pacing = if conn_rate > 0.0 {
        clients as f64 / conn_rate
    } else {
        0.0
    };
    std::time::Duration::from_secs_f64(pacing + 10.0) + connect_timeout
}

/// The plot's file name: FILE with the extension .svg.
fn svg_path(hist: &Path) -> Result<PathBuf, CmdError> {
    if hist.extension().is_some_and(|e| e == "svg") {
        return Err(CmdError::Usage(format!(
            "--hist {}: the histogram file must not end in .svg (the plot goes there)",
            hist.display()
        )));
    }
    Ok(hist.with_extension("svg"))
}

/// Prints the summary (readable on stdout, or on stderr with JSON on stdout)
/// and writes the histogram files.
pub fn emit(summary: &Summary, out: &OutputArgs, latency: &Histogram<u64>) -> Result<(), CmdError> {
    if let Some(hist) = &out.hist {
        let svg = svg_path(hist)?;
        std::fs::write(hist, crate::hgrm::to_text(latency))
            .map_err(|e| CmdError::File(hist.clone(), e))?;
        let title = format!(
            "{} {} — {} pub → {} sub, QoS {}, {} B",
            summary.command,
            summary.scenario.as_deref().unwrap_or(""),
            summary.publishers,
            summary.subscribers,
            summary.qos,
            summary.size
        );
        std::fs::write(&svg, crate::svg::percentile_plot(latency, &title))
            .map_err(|e| CmdError::File(svg.clone(), e))?;
    }
    if out.json {
        eprint!("{}", summary.text());
        match serde_json::to_string(summary) {
            Ok(j) => println!("{j}"),
            Err(e) => return Err(CmdError::Usage(format!("cannot write JSON: {e}"))),
        }
    } else {
        print!("{}", summary.text());
    }
    if summary.connections.connected == 0 {
        return Err(CmdError::NoClients);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_the_plot_go_beside_the_histogram() {
        assert_eq!(
            svg_path(Path::new("out/lat.hgrm")).ok(),
            Some(PathBuf::from("out/lat.svg"))
        );
        assert_eq!(
            svg_path(Path::new("lat")).ok(),
            Some(PathBuf::from("lat.svg"))
        );
        assert!(svg_path(Path::new("lat.svg")).is_err());
    }

    #[test]
    fn is_a_run_id_six_hex_digits() {
        let id = run_id();
        assert_eq!(id.len(), 6);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
