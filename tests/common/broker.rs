//! A real `meridian` process for one test: picks a free port, writes a TOML
//! config into its own temp dir, spawns the binary with output captured to a
//! log file, waits (bounded) until the port accepts TCP, and kills it on drop
//! (printing the log tail if the test is failing).

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a broker may take to accept its first TCP connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts: a port picked free can be taken again before the broker binds it.
const START_ATTEMPTS: usize = 3;

/// The config every test broker starts from; a test's `extra_toml` is merged over it.
const BASE_CONFIG: &str = r#"
[node]
cluster = "test"
cores = 2

[limits]
max_connections = 100000
max_packet_size = 1048576
max_inflight = 128
max_queued_messages = 1000
max_topic_levels = 32
max_session_expiry = 86400
max_keepalive = 65535
max_retained_messages = 100000
"#;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A running broker process, killed when dropped.
pub struct Broker {
    /// Behind a mutex so that `&Broker` can ask whether the process still runs.
    child: Mutex<Child>,
    port: u16,
    /// Holds the config and the log; removed on drop.
    dir: PathBuf,
    log: PathBuf,
}

impl Broker {
    /// Starts `meridian --config <file>` with [`BASE_CONFIG`] overridden by
    /// `extra_toml` (tables are merged key by key) and one listener on a free port.
    pub fn start(extra_toml: &str) -> Broker {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(extra_toml) {
                Ok(broker) => return broker,
                Err(error) => last_error = error,
            }
        }
        panic!("meridian did not start: {last_error}");
    }

    /// Starts a broker on exactly `port` (no retry on another port).
    pub fn start_on(port: u16, extra_toml: &str) -> Result<Broker, String> {
        Self::try_start_on(port, extra_toml)
    }

    fn try_start(extra_toml: &str) -> Result<Broker, String> {
        Self::try_start_on(free_port(), extra_toml)
    }

    fn try_start_on(port: u16, extra_toml: &str) -> Result<Broker, String> {
        let dir = std::env::temp_dir().join(format!(
            "meridian-it-{}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
        let config = dir.join("meridian.toml");
        fs::write(&config, config_text(port, extra_toml)).map_err(|e| format!("config: {e}"))?;
        let log = dir.join("meridian.log");
        let out = File::create(&log).map_err(|e| format!("log: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let broker = Broker {
            child: Mutex::new(child),
            port,
            dir,
            log,
        };
        broker.wait_accepting()?;
        Ok(broker)
    }

    fn wait_accepting(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Err(format!(
                    "exited early with {status}; log:\n{}",
                    self.log_text()
                ));
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!(
            "port {} not accepting after {START_TIMEOUT:?}; log:\n{}",
            self.port,
            self.log_text()
        ))
    }

    /// The listener address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The listener port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.lock().id()
    }

    /// The exit status if the process has ended, `None` while it runs.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.lock().try_wait().ok().flatten()
    }

    /// Panics (with the broker log) unless the process is still running.
    pub fn assert_running(&self) {
        if let Some(status) = self.exit_status() {
            panic!("broker process died ({status}); log:\n{}", self.log_text());
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the broker process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.pid()).expect("pid fits i32");
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None` if it still runs.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A `/proc/<pid>/status` field in kB, e.g. `VmRSS` or `VmHWM` (peak RSS).
    pub fn memory_kb(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|line| line.starts_with(&format!("{field}:")))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse().ok())
    }

    /// Everything the broker printed so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let mut child = self.lock();
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "---- meridian log tail (port {}) ----\n{}",
                self.port,
                tail.join("\n")
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[path = "../support/ports.rs"]
mod ports;
pub use ports::free_port;

/// [`BASE_CONFIG`] with `extra_toml` merged over it and the listener on `port`.
fn config_text(port: u16, extra_toml: &str) -> String {
    let mut base: toml::Table = BASE_CONFIG.parse().expect("base config parses");
    let extra: toml::Table = extra_toml.parse().expect("extra_toml parses as TOML");
    merge(&mut base, extra);
    let mut listener = toml::Table::new();
    listener.insert("bind".into(), format!("127.0.0.1:{port}").into());
    base.insert(
        "listener".into(),
        toml::Value::Array(vec![toml::Value::Table(listener)]),
    );
    toml::to_string(&base).expect("config serializes")
}

/// Merges `extra` into `base`: tables recursively, any other value replaces.
fn merge(base: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(into)), toml::Value::Table(from)) => merge(into, from),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
