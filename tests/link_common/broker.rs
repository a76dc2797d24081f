//! Real `meridian` processes for the link tests: a config per cluster (free ports,
//! `[[link]]` entries) written to a private temporary directory, the process started
//! from the debug build and killed (SIGKILL) when the [`Broker`] drops.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a broker may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[path = "../support/ports.rs"]
mod ports;
pub use ports::free_port;

/// One `[[link]]` entry (also the JSON body the admin API takes).
#[derive(Clone, Debug)]
pub struct LinkSpec {
    pub name: String,
    pub server: String,
    pub clientid_prefix: String,
    pub username: String,
    pub password: String,
    pub topics: Vec<String>,
    pub pool_size: usize,
    pub enable: bool,
}

impl LinkSpec {
    /// A link from `local` to the cluster `remote` listening on `server`, with the
    /// test defaults: user `link`, password `secret`, pool of 2.
    pub fn new(local: &str, remote: &str, server: SocketAddr, topics: &[&str]) -> LinkSpec {
        LinkSpec {
            name: remote.to_owned(),
            server: server.to_string(),
            clientid_prefix: format!("from-{local}"),
            username: "link".to_owned(),
            password: "secret".to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            pool_size: 2,
            enable: true,
        }
    }

    /// The entry as TOML, with the short keep-alive and back-off tests need.
    pub fn toml(&self) -> String {
        let topics: Vec<String> = self.topics.iter().map(|t| format!("{t:?}")).collect();
        format!(
            "[[link]]\nname = {:?}\nserver = {:?}\nclientid_prefix = {:?}\n\
             username = {:?}\npassword = {:?}\ntopics = [{}]\npool_size = {}\n\
             enable = {}\nkeepalive = 2\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n",
            self.name,
            self.server,
            self.clientid_prefix,
            self.username,
            self.password,
            topics.join(", "),
            self.pool_size,
            self.enable,
        )
    }

    /// The entry as the admin API's JSON.
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "server": self.server,
            "clientid_prefix": self.clientid_prefix,
            "username": self.username,
            "password": self.password,
            "topics": self.topics,
            "pool_size": self.pool_size,
            "enable": self.enable,
            "keepalive": 2,
            "reconnect_min_ms": 100,
            "reconnect_max_ms": 1000,
        })
    }
}

/// What a broker is started with.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub cluster: String,
    pub mqtt: SocketAddr,
    pub admin: SocketAddr,
    pub links: Vec<LinkSpec>,
}

impl BrokerConfig {
    /// Cluster `cluster` on fresh free ports, without links yet.
    pub fn new(cluster: &str) -> BrokerConfig {
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        BrokerConfig {
            cluster: cluster.to_owned(),
            mqtt: addr(free_port()),
            admin: addr(free_port()),
            links: Vec::new(),
        }
    }

    /// Adds a link from this cluster to `remote` receiving `topics`.
    pub fn link_to(&mut self, remote: &BrokerConfig, topics: &[&str]) -> &mut LinkSpec {
        self.links.push(LinkSpec::new(
            &self.cluster,
            &remote.cluster,
            remote.mqtt,
            topics,
        ));
        let last = self.links.len() - 1;
        &mut self.links[last]
    }

    fn toml(&self) -> String {
        let mut text = format!(
            "[node]\ncluster = {:?}\ncores = 2\n\n[[listener]]\nbind = \"{}\"\n\n\
             [admin]\nbind = \"{}\"\n\n[limits]\nmax_queued_messages = 100000\n\n\
             [log]\nlevel = \"info\"\n\n",
            self.cluster, self.mqtt, self.admin
        );
        for link in &self.links {
            let _ = writeln!(text, "{}", link.toml());
        }
        text
    }
}

/// A running `meridian` process; killed on drop (its directory removed unless a
/// test failed, when the end of its log is printed instead).
pub struct Broker {
    pub config: BrokerConfig,
    dir: PathBuf,
    child: Option<Child>,
    /// Starts so far, to name each run's log file.
    runs: u32,
}

impl Broker {
    /// Writes the config and starts the broker; returns once MQTT and the admin API
    /// accept connections.
    pub fn start(config: BrokerConfig) -> Broker {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "meridian-link-test-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            config.cluster
        ));
        fs::create_dir_all(&dir).expect("create the broker's temporary directory");
        fs::write(dir.join("meridian.toml"), config.toml()).expect("write the config");
        let mut broker = Broker {
            config,
            dir,
            child: None,
            runs: 0,
        };
        broker.spawn();
        broker
    }

    /// Where MQTT clients connect.
    pub fn mqtt(&self) -> SocketAddr {
        self.config.mqtt
    }

    /// Where the admin API is served.
    pub fn admin(&self) -> SocketAddr {
        self.config.admin
    }

    pub fn cluster(&self) -> &str {
        &self.config.cluster
    }

    /// Kills the process at once (SIGKILL: no goodbye to link peers).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same config file (a new incarnation).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The log of the current run.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join(format!("broker-{}.log", self.runs))).unwrap_or_default()
    }

    fn spawn(&mut self) {
        self.runs += 1;
        let log_path = self.dir.join(format!("broker-{}.log", self.runs));
        let log = fs::File::create(&log_path).expect("create the broker log");
        let err = log.try_clone().expect("clone the log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("--config")
            .arg(self.dir.join("meridian.toml"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start target/debug/meridian");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        for addr in [self.config.mqtt, self.config.admin] {
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(child) = self.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!(
                            "{} exited during start-up ({status}):\n{}",
                            self.config.cluster,
                            self.log()
                        );
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "{} does not accept connections on {addr} after {START_TIMEOUT:?}:\n{}",
                    self.config.cluster,
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "--- last lines of {}'s log ({}) ---",
                self.config.cluster,
                self.dir.display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
