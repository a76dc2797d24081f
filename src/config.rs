//! The broker's configuration: the TOML schema, its built-in defaults and validation.
//!
//! `meridian` with no `--config` runs on [`Config::default`]: one MQTT listener on
//! `0.0.0.0:1883`, one data-path executor per available CPU, no admin API.
//! `--config FILE` goes through [`Config::load`]. Every key has a default, unknown
//! keys are rejected by name, and [`Config::validate`] checks every value once at
//! start-up, so the rest of the broker can trust what it reads here. Errors name
//! the key (`listener[1].bind`, `limits.max_inflight`) and say what is wrong.
//!
//! Lives on the control thread; shards receive a clone at start-up.

mod link;
mod validate;

pub use link::LinkConfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The MQTT port served when no listener is configured.
const DEFAULT_BIND: &str = "0.0.0.0:1883";

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this process is and how many cores it uses.
    #[serde(default)]
    pub node: NodeConfig,
    /// Where MQTT clients connect; at least one.
    #[serde(default = "default_listeners")]
    pub listener: Vec<ListenerConfig>,
    /// The admin HTTP API; absent means no admin API is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<AdminConfig>,
    /// Per-process and per-session bounds (DESIGN principle 5: bounded everything).
    #[serde(default)]
    pub limits: Limits,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Latency/CPU trade-offs.
    #[serde(default)]
    pub tuning: TuningConfig,
    /// Links to remote clusters (`[[link]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<LinkConfig>,
    /// The file this configuration was read from, if any; relative TLS paths are
    /// resolved against its directory.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[node]`: this process's identity and executor count.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// This cluster's name; remote clusters name their links after it.
    pub cluster: String,
    /// Data-path executors, one pinned per CPU; 1..=available CPUs.
    pub cores: usize,
}

/// One `[[listener]]`: a TCP (optionally TLS) port for MQTT clients.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// The address as written in the file, e.g. `"0.0.0.0:1883"` or `"localhost:1883"`.
    pub bind: String,
    /// TLS settings; absent means plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// `bind` resolved to a socket address by [`Config::validate`].
    #[serde(skip)]
    pub resolved: Option<SocketAddr>,
}

/// `tls = { cert, key, ca }` on a listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain presented to clients.
    pub cert: PathBuf,
    /// PEM private key for `cert`.
    pub key: PathBuf,
    /// PEM CA bundle; when present, clients must present a certificate it signed (mTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

/// `[admin]`: the HTTP admin API and Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The address as written, e.g. `"127.0.0.1:18083"`.
    pub bind: String,
    /// `bind` resolved to a socket address by [`Config::validate`].
    #[serde(skip)]
    pub resolved: Option<SocketAddr>,
}

/// `[limits]`: what the broker refuses, drops or caps, and when.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open client connections per process; more are refused (5.0: CONNACK 0x97
    /// Quota exceeded, 3.1.1: 0x03 Server unavailable) and counted. At least 1.
    pub max_connections: usize,
    /// Largest whole packet accepted, in bytes; larger ends the connection
    /// (5.0: DISCONNECT 0x95 Packet too large). 64..=268435455.
    pub max_packet_size: u32,
    /// Outbound QoS 1/2 messages in flight per session; also the Receive Maximum
    /// the broker announces. 1..=65535.
    pub max_inflight: u16,
    /// Messages queued per session beyond the inflight window or while offline;
    /// on overflow the new message is dropped and counted. At least 1.
    pub max_queued_messages: usize,
    /// Topic levels allowed in a topic name or filter. 1..=1024.
    pub max_topic_levels: usize,
    /// Cap on a client's requested session expiry, in seconds (0: sessions end
    /// with the connection).
    pub max_session_expiry: u32,
    /// Cap on a client's keep alive, in seconds; 5.0 clients asking more are
    /// told the Server Keep Alive. 1..=65535.
    pub max_keepalive: u16,
    /// Retained topics stored in total; beyond it a new retained topic is not
    /// stored (counted). 0 stores none.
    pub max_retained_messages: usize,
}

/// `[tuning]`: trade-offs that are off by default.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TuningConfig {
    /// Write-coalescing window in microseconds (0 = off, the default). A connection
    /// woken with something to send waits for its core's next flush tick (one timer
    /// per core, ticking every window while writers wait), so more messages share one
    /// write: less CPU per message when a connection gets several messages per
    /// window, at the price of up to this much added latency. At most 100000 (0.1 s).
    pub write_coalesce_us: u64,
    /// How long an idle core spins before it parks, in microseconds (0 = park at
    /// once, the default). Spinning cuts the wake-up latency of cross-core hops
    /// (~30 µs parked, ~6.5 µs spinning) at the price of CPU burnt while idle.
    /// At most 1000.
    pub spin_before_park_us: u64,
}

/// `[log]`: the tracing filter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing_subscriber::EnvFilter` directive such as `"info"` or
    /// `"meridian=debug,warn"`; the `RUST_LOG` environment variable overrides it.
    pub level: String,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not TOML of the expected shape (syntax, unknown key, wrong type).
    #[error("cannot parse config {origin}: {source}")]
    Parse {
        /// The file path, or `(text)` when parsed from a string.
        origin: String,
        /// toml's message, which points at the line, column and key.
        source: toml::de::Error,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config: {key}: {problem}")]
    Invalid {
        /// The dotted key, e.g. `limits.max_inflight` or `listener[1].bind`.
        key: String,
        /// What is wrong with its value.
        problem: String,
    },
}

/// The CPUs this process may run on (cgroup and affinity aware), at least 1.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn default_listeners() -> Vec<ListenerConfig> {
    vec![ListenerConfig::default()]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node: NodeConfig::default(),
            listener: default_listeners(),
            admin: None,
            limits: Limits::default(),
            log: LogConfig::default(),
            tuning: TuningConfig::default(),
            link: Vec::new(),
            source: None,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            cluster: "meridian".to_string(),
            cores: available_cpus(),
        }
    }
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            bind: DEFAULT_BIND.to_string(),
            tls: None,
            resolved: Some(SocketAddr::from(([0, 0, 0, 0], 1883))),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100_000,
            max_packet_size: 1_048_576,
            max_inflight: 128,
            max_queued_messages: 1000,
            max_topic_levels: 32,
            max_session_expiry: 86_400,
            max_keepalive: 65_535,
            max_retained_messages: 100_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
        }
    }
}

impl ListenerConfig {
    /// The address to bind. After [`Config::validate`] this is `bind` resolved;
    /// on an unvalidated value it is `bind` parsed literally, or `0.0.0.0:1883`
    /// if that fails.
    pub fn addr(&self) -> SocketAddr {
        resolved_or_literal(self.resolved, &self.bind)
    }
}

impl AdminConfig {
    /// The address to bind, with the same rules as [`ListenerConfig::addr`].
    pub fn addr(&self) -> SocketAddr {
        resolved_or_literal(self.resolved, &self.bind)
    }
}

fn resolved_or_literal(resolved: Option<SocketAddr>, bind: &str) -> SocketAddr {
    resolved
        .or_else(|| bind.parse().ok())
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 1883)))
}

impl Config {
    /// Parses TOML text, fills defaults and validates. `source` is the file the text
    /// came from: it is named in parse errors and anchors relative TLS paths.
    pub fn from_toml_str(text: &str, source: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: source.map_or_else(|| "(text)".to_string(), |p| p.display().to_string()),
            source: e,
        })?;
        config.source = source.map(Path::to_path_buf);
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the TOML file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Config::from_toml_str(&text, Some(path))
    }

    /// Checks every value, resolves each `bind` into `resolved`, and rewrites
    /// relative TLS paths to absolute ones under the config file's directory (the
    /// working directory when there is no file). Safe to call more than once.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        validate::validate(self, available_cpus())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> String {
        match Config::from_toml_str(text, Some(Path::new("/etc/meridian.toml"))) {
            Ok(config) => panic!("expected an error for {text:?}, got {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn does_the_default_config_serve_1883_on_all_cpus_with_the_documented_limits() {
        let config = Config::default();
        assert_eq!(config.node.cluster, "meridian");
        assert_eq!(config.node.cores, available_cpus());
        assert_eq!(config.listener.len(), 1);
        assert_eq!(config.listener[0].bind, "0.0.0.0:1883");
        assert_eq!(config.listener[0].addr(), "0.0.0.0:1883".parse().unwrap());
        assert_eq!(config.listener[0].tls, None);
        assert_eq!(config.admin, None);
        assert_eq!(
            config.limits,
            Limits {
                max_connections: 100_000,
                max_packet_size: 1_048_576,
                max_inflight: 128,
                max_queued_messages: 1000,
                max_topic_levels: 32,
                max_session_expiry: 86_400,
                max_keepalive: 65_535,
                max_retained_messages: 100_000,
            }
        );
        assert_eq!(config.log.level, "info");
        assert_eq!(config.source, None);
    }

    #[test]
    fn is_the_default_config_valid() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn does_an_empty_file_give_the_defaults() {
        assert_eq!(Config::from_toml_str("", None).unwrap(), Config::default());
    }

    #[test]
    fn does_a_file_with_only_a_cluster_name_fill_every_other_default() {
        let config = Config::from_toml_str("[node]\ncluster = \"x\"\n", None).unwrap();
        let expected = Config {
            node: NodeConfig {
                cluster: "x".to_string(),
                ..NodeConfig::default()
            },
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn does_a_full_example_parse_into_every_field() {
        let text = r#"
            [node]
            cluster = "aliyun"
            cores = 1

            [[listener]]
            bind = "127.0.0.1:1883"

            [[listener]]
            bind = "127.0.0.1:11883"

            [admin]
            bind = "127.0.0.1:18083"

            [limits]
            max_connections = 5000
            max_packet_size = 65536
            max_inflight = 32
            max_queued_messages = 200
            max_topic_levels = 8
            max_session_expiry = 3600
            max_keepalive = 600
            max_retained_messages = 10

            [log]
            level = "meridian=debug,warn"
        "#;
        let source = Path::new("/etc/meridian/meridian.toml");
        let config = Config::from_toml_str(text, Some(source)).unwrap();
        assert_eq!(config.node.cluster, "aliyun");
        assert_eq!(config.node.cores, 1);
        let addrs: Vec<SocketAddr> = config.listener.iter().map(ListenerConfig::addr).collect();
        assert_eq!(
            addrs,
            vec![
                "127.0.0.1:1883".parse().unwrap(),
                "127.0.0.1:11883".parse().unwrap()
            ]
        );
        assert_eq!(
            config.admin.as_ref().map(AdminConfig::addr),
            Some("127.0.0.1:18083".parse().unwrap())
        );
        assert_eq!(
            config.limits,
            Limits {
                max_connections: 5000,
                max_packet_size: 65536,
                max_inflight: 32,
                max_queued_messages: 200,
                max_topic_levels: 8,
                max_session_expiry: 3600,
                max_keepalive: 600,
                max_retained_messages: 10,
            }
        );
        assert_eq!(config.log.level, "meridian=debug,warn");
        assert_eq!(config.source.as_deref(), Some(source));
    }

    #[test]
    fn does_a_serialized_config_parse_back_to_itself() {
        let mut config = Config {
            admin: Some(AdminConfig {
                bind: "127.0.0.1:18083".to_string(),
                resolved: None,
            }),
            ..Config::default()
        };
        config.validate().unwrap();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(Config::from_toml_str(&text, None).unwrap(), config);
    }

    #[test]
    fn is_an_unknown_key_rejected_naming_it() {
        let err = parse_error("[node]\nclustr = \"x\"\n");
        assert!(
            err.starts_with("cannot parse config /etc/meridian.toml: "),
            "{err}"
        );
        assert!(err.contains("unknown field `clustr`"), "{err}");
        let err = parse_error("[limits]\nmax_inflights = 3\n");
        assert!(err.contains("unknown field `max_inflights`"), "{err}");
    }

    #[test]
    fn is_an_unknown_section_rejected_naming_it() {
        let err = parse_error("[[bridge]]\nname = \"huawei\"\n");
        assert!(err.contains("unknown field `bridge`"), "{err}");
    }

    #[test]
    fn is_a_coalescing_window_over_100ms_rejected_naming_the_key() {
        let err = parse_error("[tuning]\nwrite_coalesce_us = 200000\n");
        assert!(err.contains("tuning.write_coalesce_us"), "{err}");
        let ok = Config::from_toml_str("[tuning]\nwrite_coalesce_us = 1000\n", None);
        assert_eq!(ok.map(|c| c.tuning.write_coalesce_us).ok(), Some(1000));
    }

    #[test]
    fn is_a_spin_over_1ms_rejected_naming_the_key() {
        let err = parse_error("[tuning]\nspin_before_park_us = 5000\n");
        assert!(err.contains("tuning.spin_before_park_us"), "{err}");
    }

    #[test]
    fn is_a_wrong_type_rejected_pointing_at_the_line() {
        let err = parse_error("[limits]\nmax_inflight = \"many\"\n");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("max_inflight"), "{err}");
        let err = parse_error("[node]\ncores = -1\n");
        assert!(err.contains("cores = -1"), "{err}");
    }

    #[test]
    fn is_a_listener_without_bind_rejected() {
        let err = parse_error("[[listener]]\ntls = { cert = \"a\", key = \"b\" }\n");
        assert!(err.contains("missing field `bind`"), "{err}");
    }

    #[test]
    fn does_loading_a_missing_file_name_the_path() {
        let path = Path::new("/nonexistent/meridian.toml");
        let err = Config::load(path).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read config file /nonexistent/meridian.toml: "),
            "{err}"
        );
    }

    #[test]
    fn does_loading_a_file_record_its_path() {
        let path = std::env::temp_dir().join(format!("meridian-load-{}.toml", std::process::id()));
        std::fs::write(&path, "[node]\ncluster = \"from-file\"\ncores = 1\n").unwrap();
        let config = Config::load(&path);
        std::fs::remove_file(&path).unwrap();
        let config = config.unwrap();
        assert_eq!(config.node.cluster, "from-file");
        assert_eq!(config.source, Some(path));
    }

    #[test]
    fn does_addr_on_an_unvalidated_listener_fall_back_to_the_literal_bind() {
        let listener = ListenerConfig {
            bind: "127.0.0.1:2000".to_string(),
            tls: None,
            resolved: None,
        };
        assert_eq!(listener.addr(), "127.0.0.1:2000".parse().unwrap());
    }
}
