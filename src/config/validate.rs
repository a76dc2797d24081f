//! The rules a [`Config`] must satisfy before the broker starts: ranges, names,
//! addresses that resolve, TLS files that can be read. Every failure is a
//! [`ConfigError::Invalid`] naming the key (`listener[1].bind`) and the problem.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, Limits, LinkConfig, LogConfig, NodeConfig, TlsConfig};

/// `node.cluster` may be at most this many characters.
const MAX_CLUSTER_NAME_LEN: usize = 64;
/// The largest packet MQTT can express: a 4-byte Remaining Length of 268,435,455.
const MQTT_MAX_PACKET_SIZE: u32 = 268_435_455;
/// A packet limit below this could not carry a CONNECT with a modest client id.
const MIN_PACKET_SIZE: u32 = 64;
/// Upper bound for `limits.max_topic_levels`.
const MAX_TOPIC_LEVELS: usize = 1024;

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Checks `config` for a machine with `cpus` usable CPUs; fills the `resolved`
/// addresses and makes TLS paths absolute (see [`Config::validate`]).
pub(super) fn validate(config: &mut Config, cpus: usize) -> Result<(), ConfigError> {
    validate_node(&config.node, cpus)?;
    if config.listener.is_empty() {
        return Err(invalid(
            "listener",
            "the list is empty; configure at least one [[listener]] (or omit the key for 0.0.0.0:1883)",
        ));
    }
    let source = config.source.clone();
    for i in 0..config.listener.len() {
        let key = format!("listener[{i}]");
        let addr = resolve_bind(&format!("{key}.bind"), &config.listener[i].bind)?;
        if let Some(j) = config.listener[..i]
            .iter()
            .position(|l| l.resolved == Some(addr))
        {
            return Err(invalid(
                format!("{key}.bind"),
                format!("{addr} is already used by listener[{j}]"),
            ));
        }
        let listener = &mut config.listener[i];
        listener.resolved = Some(addr);
        if let Some(tls) = listener.tls.as_mut() {
            validate_tls(&format!("{key}.tls"), tls, source.as_deref())?;
        }
    }
    if let Some(admin) = config.admin.as_mut() {
        let addr = resolve_bind("admin.bind", &admin.bind)?;
        if let Some(j) = config
            .listener
            .iter()
            .position(|l| l.resolved == Some(addr))
        {
            return Err(invalid(
                "admin.bind",
                format!("{addr} is already used by listener[{j}]"),
            ));
        }
        admin.resolved = Some(addr);
    }
    validate_limits(&config.limits)?;
    validate_log(&config.log)?;
    if config.tuning.spin_before_park_us > 1_000 {
        return Err(invalid(
            "tuning.spin_before_park_us",
            format!(
                "{} is out of range (0..=1000 microseconds)",
                config.tuning.spin_before_park_us
            ),
        ));
    }
    if config.tuning.write_coalesce_us > 100_000 {
        return Err(invalid(
            "tuning.write_coalesce_us",
            format!(
                "{} is out of range (0..=100000 microseconds)",
                config.tuning.write_coalesce_us
            ),
        ));
    }
    LinkConfig::validate_set(&config.link, &config.node.cluster)
}

fn validate_node(node: &NodeConfig, cpus: usize) -> Result<(), ConfigError> {
    let name = &node.cluster;
    if name.is_empty() {
        return Err(invalid("node.cluster", "must not be empty"));
    }
    let len = name.chars().count();
    if len > MAX_CLUSTER_NAME_LEN {
        return Err(invalid(
            "node.cluster",
            format!("{name:?} is {len} characters, at most {MAX_CLUSTER_NAME_LEN} are allowed"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(invalid(
            "node.cluster",
            format!("{name:?} contains {c:?}; only A-Z a-z 0-9 _ . - are allowed"),
        ));
    }
    if node.cores == 0 || node.cores > cpus {
        return Err(invalid(
            "node.cores",
            format!(
                "{} is out of range: this machine has {cpus} CPUs available (allowed 1..={cpus})",
                node.cores
            ),
        ));
    }
    Ok(())
}

/// Parses `host:port`: a literal socket address, or a host name resolved through
/// the system resolver (its first answer is used).
fn resolve_bind(key: &str, bind: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let well_formed = bind
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !well_formed {
        return Err(invalid(
            key,
            format!("{bind:?} is not a socket address (expected host:port)"),
        ));
    }
    let mut addrs = bind
        .to_socket_addrs()
        .map_err(|e| invalid(key, format!("{bind:?} cannot be resolved: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| invalid(key, format!("{bind:?} resolves to no address")))
}

/// Makes each TLS path absolute under the config file's directory (the working
/// directory without a file) and checks that it is a readable file.
fn validate_tls(key: &str, tls: &mut TlsConfig, source: Option<&Path>) -> Result<(), ConfigError> {
    let dir = source
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::path::absolute(dir).map_err(|e| {
        invalid(
            key,
            format!("cannot resolve relative paths from {}: {e}", dir.display()),
        )
    })?;
    tls.cert = readable_file(&format!("{key}.cert"), &tls.cert, &base)?;
    tls.key = readable_file(&format!("{key}.key"), &tls.key, &base)?;
    if let Some(ca) = tls.ca.as_mut() {
        *ca = readable_file(&format!("{key}.ca"), ca, &base)?;
    }
    Ok(())
}

/// `path` joined onto `base` (a no-op when `path` is absolute), if it names a
/// file this process can open.
fn readable_file(key: &str, path: &Path, base: &Path) -> Result<PathBuf, ConfigError> {
    let full = base.join(path);
    let file = std::fs::File::open(&full)
        .map_err(|e| invalid(key, format!("{} cannot be read: {e}", full.display())))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(invalid(key, format!("{} is not a file", full.display())));
    }
    Ok(full)
}

fn validate_limits(limits: &Limits) -> Result<(), ConfigError> {
    if limits.max_connections == 0 {
        return Err(invalid(
            "limits.max_connections",
            "0 would refuse every client; must be at least 1",
        ));
    }
    if !(MIN_PACKET_SIZE..=MQTT_MAX_PACKET_SIZE).contains(&limits.max_packet_size) {
        return Err(invalid(
            "limits.max_packet_size",
            format!(
                "{} is out of range (allowed {MIN_PACKET_SIZE}..={MQTT_MAX_PACKET_SIZE} bytes)",
                limits.max_packet_size
            ),
        ));
    }
    if limits.max_inflight == 0 {
        return Err(invalid(
            "limits.max_inflight",
            "0 is out of range (allowed 1..=65535; a Receive Maximum of 0 is a protocol error)",
        ));
    }
    if limits.max_queued_messages == 0 {
        return Err(invalid(
            "limits.max_queued_messages",
            "0 is out of range: unlimited queues are not allowed, must be at least 1",
        ));
    }
    if !(1..=MAX_TOPIC_LEVELS).contains(&limits.max_topic_levels) {
        return Err(invalid(
            "limits.max_topic_levels",
            format!(
                "{} is out of range (allowed 1..={MAX_TOPIC_LEVELS})",
                limits.max_topic_levels
            ),
        ));
    }
    if limits.max_keepalive == 0 {
        return Err(invalid(
            "limits.max_keepalive",
            "0 is out of range (allowed 1..=65535 seconds)",
        ));
    }
    Ok(())
}

fn validate_log(log: &LogConfig) -> Result<(), ConfigError> {
    if log.level.trim().is_empty() {
        return Err(invalid("log.level", "must not be empty (try \"info\")"));
    }
    tracing_subscriber::EnvFilter::try_new(&log.level)
        .map(|_| ())
        .map_err(|e| {
            invalid(
                "log.level",
                format!("{:?} is not a tracing filter directive: {e}", log.level),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` and validates it for a machine with `cpus` CPUs.
    fn check(text: &str, cpus: usize) -> Result<Config, String> {
        let mut config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        validate(&mut config, cpus).map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// The message for `text`, which must be invalid, with `cores = 1` supplied.
    fn error(text: &str) -> String {
        let text = format!("[node]\ncores = 1\n{text}");
        match check(&text, 1) {
            Ok(config) => panic!("expected an error for {text:?}, got {config:?}"),
            Err(message) => message,
        }
    }

    /// A fresh directory for one test's files.
    fn scratch_dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("meridian-config-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn is_more_cores_than_cpus_rejected_naming_key_and_cpu_count() {
        let err = check("[node]\ncores = 8\n", 2).unwrap_err();
        assert_eq!(
            err,
            "invalid config: node.cores: 8 is out of range: this machine has 2 CPUs available (allowed 1..=2)"
        );
    }

    #[test]
    fn are_zero_cores_rejected() {
        let err = check("[node]\ncores = 0\n", 2).unwrap_err();
        assert!(
            err.starts_with("invalid config: node.cores: 0 is out of range"),
            "{err}"
        );
    }

    #[test]
    fn are_all_cpus_allowed_as_cores() {
        let config = check("[node]\ncores = 2\n", 2).unwrap();
        assert_eq!(config.node.cores, 2);
    }

    #[test]
    fn is_an_empty_cluster_name_rejected() {
        assert_eq!(
            error("cluster = \"\""),
            "invalid config: node.cluster: must not be empty"
        );
    }

    #[test]
    fn is_a_cluster_name_with_a_slash_rejected_naming_the_character() {
        let err = error("cluster = \"eu/west\"");
        assert!(
            err.starts_with("invalid config: node.cluster: \"eu/west\" contains '/'"),
            "{err}"
        );
    }

    #[test]
    fn is_a_65_character_cluster_name_rejected_and_64_accepted() {
        let err = error(&format!("cluster = \"{}\"", "a".repeat(65)));
        assert!(
            err.contains("node.cluster") && err.contains("is 65 characters"),
            "{err}"
        );
        let ok = check(
            &format!("[node]\ncores = 1\ncluster = \"{}\"\n", "a".repeat(64)),
            1,
        );
        assert_eq!(ok.unwrap().node.cluster.len(), 64);
    }

    #[test]
    fn does_a_cluster_name_allow_letters_digits_dot_dash_underscore() {
        let config = check("[node]\ncores = 1\ncluster = \"Aliyun_cn-east.2\"\n", 1).unwrap();
        assert_eq!(config.node.cluster, "Aliyun_cn-east.2");
    }

    #[test]
    fn is_an_explicit_empty_listener_list_rejected() {
        let err = check("listener = []\n[node]\ncores = 1\n", 1).unwrap_err();
        assert!(
            err.starts_with("invalid config: listener: the list is empty"),
            "{err}"
        );
    }

    #[test]
    fn is_a_port_out_of_range_rejected_naming_the_listener() {
        let err =
            error("[[listener]]\nbind = \"0.0.0.0:1883\"\n[[listener]]\nbind = \"0.0.0.0:99999\"");
        assert_eq!(
            err,
            "invalid config: listener[1].bind: \"0.0.0.0:99999\" is not a socket address (expected host:port)"
        );
    }

    #[test]
    fn is_a_bind_without_port_rejected() {
        let err = error("[[listener]]\nbind = \"0.0.0.0\"");
        assert!(
            err.starts_with(
                "invalid config: listener[0].bind: \"0.0.0.0\" is not a socket address"
            ),
            "{err}"
        );
    }

    #[test]
    fn does_localhost_resolve_to_a_loopback_address() {
        let config = check(
            "[node]\ncores = 1\n[[listener]]\nbind = \"localhost:1884\"\n",
            1,
        )
        .unwrap();
        let addr = config.listener[0].addr();
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 1884);
    }

    #[test]
    fn does_an_ipv6_bind_parse() {
        let config = check(
            "[node]\ncores = 1\n[[listener]]\nbind = \"[::1]:1883\"\n",
            1,
        )
        .unwrap();
        assert_eq!(config.listener[0].addr(), "[::1]:1883".parse().unwrap());
    }

    #[test]
    fn is_the_same_address_on_two_listeners_rejected() {
        let err = error(
            "[[listener]]\nbind = \"127.0.0.1:1883\"\n[[listener]]\nbind = \"127.0.0.1:1883\"",
        );
        assert_eq!(
            err,
            "invalid config: listener[1].bind: 127.0.0.1:1883 is already used by listener[0]"
        );
    }

    #[test]
    fn is_an_admin_bind_checked_and_resolved() {
        let err = error("[admin]\nbind = \"nope\"");
        assert!(
            err.starts_with("invalid config: admin.bind: \"nope\" is not a socket address"),
            "{err}"
        );
        let err = error("[admin]\nbind = \"0.0.0.0:1883\"");
        assert_eq!(
            err,
            "invalid config: admin.bind: 0.0.0.0:1883 is already used by listener[0]"
        );
        let config = check(
            "[node]\ncores = 1\n[admin]\nbind = \"127.0.0.1:18083\"\n",
            1,
        )
        .unwrap();
        let admin = config.admin.expect("admin configured");
        assert_eq!(admin.resolved, Some("127.0.0.1:18083".parse().unwrap()));
    }

    #[test]
    fn is_each_limit_out_of_range_rejected_naming_its_key() {
        let cases = [
            ("max_connections = 0", "limits.max_connections"),
            ("max_packet_size = 63", "limits.max_packet_size"),
            ("max_packet_size = 268435456", "limits.max_packet_size"),
            ("max_inflight = 0", "limits.max_inflight"),
            ("max_queued_messages = 0", "limits.max_queued_messages"),
            ("max_topic_levels = 0", "limits.max_topic_levels"),
            ("max_topic_levels = 1025", "limits.max_topic_levels"),
            ("max_keepalive = 0", "limits.max_keepalive"),
        ];
        for (line, key) in cases {
            let err = error(&format!("[limits]\n{line}"));
            assert!(
                err.starts_with(&format!("invalid config: {key}: ")),
                "{line}: {err}"
            );
        }
    }

    #[test]
    fn are_the_limit_range_edges_accepted() {
        let text = "[node]\ncores = 1\n[limits]\nmax_connections = 1\nmax_packet_size = 64\n\
                    max_inflight = 65535\nmax_queued_messages = 1\nmax_topic_levels = 1024\n\
                    max_session_expiry = 0\nmax_keepalive = 1\nmax_retained_messages = 0\n";
        let limits = check(text, 1).unwrap().limits;
        assert_eq!(limits.max_packet_size, 64);
        assert_eq!(limits.max_topic_levels, 1024);
        assert_eq!(limits.max_session_expiry, 0);
        assert_eq!(limits.max_retained_messages, 0);
        let top = check(
            "[node]\ncores = 1\n[limits]\nmax_packet_size = 268435455\n",
            1,
        )
        .unwrap();
        assert_eq!(top.limits.max_packet_size, 268_435_455);
    }

    #[test]
    fn are_links_checked_against_the_cluster_name_and_each_other() {
        let link = "[[link]]\nname = \"huawei\"\nserver = \"h:1883\"\ntopics = [\"a/#\"]\n";
        let err = error(&format!("cluster = \"huawei\"\n{link}"));
        assert!(err.starts_with("invalid config: link[0].name: "), "{err}");
        let err = error(&format!("cluster = \"aliyun\"\n{link}{link}"));
        assert_eq!(
            err,
            "invalid config: link[1].name: \"huawei\" is already the name of link[0]"
        );
        let config = check(&format!("[node]\ncores = 1\n{link}"), 1).unwrap();
        assert_eq!(config.link[0].topics, vec!["a/#".to_string()]);
    }

    #[test]
    fn is_a_bad_log_directive_rejected() {
        let err = error("[log]\nlevel = \"meridian=loud\"");
        assert!(
            err.starts_with("invalid config: log.level: \"meridian=loud\""),
            "{err}"
        );
        assert_eq!(
            error("[log]\nlevel = \" \""),
            "invalid config: log.level: must not be empty (try \"info\")"
        );
    }

    #[test]
    fn is_a_missing_tls_file_rejected_naming_key_and_path() {
        let dir = scratch_dir("missing-tls");
        std::fs::write(dir.join("server.pem"), "cert").unwrap();
        let mut config: Config = toml::from_str(
            "[node]\ncores = 1\n[[listener]]\nbind = \"0.0.0.0:8883\"\n\
             tls = { cert = \"server.pem\", key = \"server.key\" }\n",
        )
        .unwrap();
        config.source = Some(dir.join("meridian.toml"));
        let err = validate(&mut config, 1).unwrap_err().to_string();
        let expected = format!(
            "invalid config: listener[0].tls.key: {} cannot be read",
            dir.join("server.key").display()
        );
        assert!(err.starts_with(&expected), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn are_tls_paths_made_absolute_under_the_config_directory_once() {
        let dir = scratch_dir("tls-paths");
        for name in ["server.pem", "server.key", "ca.pem"] {
            std::fs::write(dir.join(name), "pem").unwrap();
        }
        let mut config: Config = toml::from_str(
            "[node]\ncores = 1\n[[listener]]\nbind = \"0.0.0.0:8883\"\n\
             tls = { cert = \"server.pem\", key = \"server.key\", ca = \"ca.pem\" }\n",
        )
        .unwrap();
        config.source = Some(dir.join("meridian.toml"));
        validate(&mut config, 1).unwrap();
        validate(&mut config, 1).unwrap();
        let tls = config.listener[0].tls.clone().expect("tls configured");
        assert_eq!(tls.cert, dir.join("server.pem"));
        assert_eq!(tls.key, dir.join("server.key"));
        assert_eq!(tls.ca, Some(dir.join("ca.pem")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn is_a_directory_as_tls_cert_rejected() {
        let dir = scratch_dir("tls-dir");
        std::fs::write(dir.join("server.key"), "pem").unwrap();
        let mut config: Config = toml::from_str(&format!(
            "[node]\ncores = 1\n[[listener]]\nbind = \"0.0.0.0:8883\"\n\
             tls = {{ cert = \"{}\", key = \"server.key\" }}\n",
            dir.display()
        ))
        .unwrap();
        config.source = Some(dir.join("meridian.toml"));
        let err = validate(&mut config, 1).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "invalid config: listener[0].tls.cert: {} is not a file",
                dir.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
