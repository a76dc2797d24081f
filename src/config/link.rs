//! `[[link]]`: one cluster link, configured on this cluster and naming a remote one.
//!
//! The same keys are used by the admin API's JSON (`/api/v1/links`), except that
//! `password` is never echoed back. [`LinkConfig::validate`] holds the rules one
//! link must satisfy, [`LinkConfig::validate_set`] those of the whole list; the
//! config file and the admin API both go through them.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::protocol::validate_topic_filter;
use crate::router::{covers, SHARE_PREFIX};
use server::parse_server;

mod server;

/// One link to a remote cluster (DESIGN "Cluster linking").
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// The remote cluster's name (its `node.cluster`).
    pub name: String,
    /// The remote cluster's MQTT address: `host:port` or `mqtt://host:port`.
    pub server: String,
    /// Client ids of this link's connections are `<clientid_prefix>-<n>`.
    #[serde(default = "default_prefix")]
    pub clientid_prefix: String,
    /// Credentials valid on the remote cluster. The remote accepts a link only if
    /// its own link back to us has the same username and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Topic filters this cluster wants to receive from the remote one.
    pub topics: Vec<String>,
    /// Persistent connections to the remote cluster; a topic always uses the same one.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// A disabled link keeps its configuration but holds no connections.
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Unacknowledged QoS 1/2 messages per connection.
    #[serde(default = "default_max_inflight")]
    pub max_inflight: usize,
    /// Messages kept for the remote while it is unreachable (all connections).
    #[serde(default = "default_backlog_messages")]
    pub backlog_messages: usize,
    /// Payload bytes kept for the remote while it is unreachable.
    #[serde(default = "default_backlog_bytes")]
    pub backlog_bytes: u64,
    /// MQTT keep-alive of the link connections, seconds; detects half-open connections.
    #[serde(default = "default_keepalive")]
    pub keepalive: u16,
    /// Reconnect back-off: first delay and cap, milliseconds (jittered, doubling).
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Reserved for TLS on links (arrives with the security work); setting it is an
    /// error until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<toml::Value>,
}

fn default_prefix() -> String {
    "meridian-link".to_owned()
}
fn default_pool_size() -> usize {
    4
}
fn default_true() -> bool {
    true
}
fn default_max_inflight() -> usize {
    4096
}
fn default_backlog_messages() -> usize {
    100_000
}
fn default_backlog_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_keepalive() -> u16 {
    30
}
fn default_reconnect_min_ms() -> u64 {
    500
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}

/// A link name (a remote `node.cluster`) may be at most this many characters.
const MAX_NAME_LEN: usize = 64;
/// `clientid_prefix` may be at most this many characters.
const MAX_PREFIX_LEN: usize = 64;
/// Topic levels allowed in a link's topic filters.
const MAX_TOPIC_LEVELS: usize = 32;
/// The link protocol's own topics; never requested from a remote.
const LINK_TOPIC_PREFIX: &str = "$LINK";
/// Upper bound for `pool_size`.
const MAX_POOL_SIZE: usize = 64;
/// Upper bound for `max_inflight`: the largest MQTT 5 Receive Maximum.
const MAX_INFLIGHT: usize = 65_535;
/// A smaller backlog could not hold one modest message.
const MIN_BACKLOG_BYTES: u64 = 1024;
/// Upper bound for `reconnect_max_ms`: one hour.
const MAX_RECONNECT_MS: u64 = 3_600_000;

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

impl LinkConfig {
    /// Checks every rule of one link. `key` names it in errors (`link[0]`,
    /// `link "huawei"`); `local_cluster` is this cluster's `node.cluster`.
    pub fn validate(&self, key: &str, local_cluster: &str) -> Result<(), ConfigError> {
        self.validate_name(key, local_cluster)?;
        parse_server(&self.server).map_err(|problem| invalid(format!("{key}.server"), problem))?;
        self.validate_credentials(key)?;
        self.validate_topics(key)?;
        self.validate_bounds(key)?;
        if self.tls.is_some() {
            return Err(invalid(
                format!("{key}.tls"),
                "link TLS is not available yet (reserved key)",
            ));
        }
        Ok(())
    }

    /// Checks every link of a list (keys `link[i]`) and that no two share a name.
    pub fn validate_set(links: &[LinkConfig], local_cluster: &str) -> Result<(), ConfigError> {
        for (i, link) in links.iter().enumerate() {
            let key = format!("link[{i}]");
            link.validate(&key, local_cluster)?;
            if let Some(j) = links[..i].iter().position(|l| l.name == link.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("{:?} is already the name of link[{j}]", link.name),
                ));
            }
        }
        Ok(())
    }

    /// The remote's host and port from `server` (`host:port`, `mqtt://host:port`,
    /// `[::1]:1883`), without resolving the host. IPv6 hosts come back without
    /// brackets.
    pub fn server_host_port(&self) -> Result<(String, u16), ConfigError> {
        parse_server(&self.server)
            .map_err(|problem| invalid(format!("link {:?}.server", self.name), problem))
    }

    fn validate_name(&self, key: &str, local_cluster: &str) -> Result<(), ConfigError> {
        let key = format!("{key}.name");
        let name = &self.name;
        if name.is_empty() {
            return Err(invalid(key, "must not be empty"));
        }
        let len = name.chars().count();
        if len > MAX_NAME_LEN {
            return Err(invalid(
                key,
                format!("{name:?} is {len} characters, at most {MAX_NAME_LEN} are allowed"),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(invalid(
                key,
                format!("{name:?} contains {c:?}; only A-Z a-z 0-9 _ . - are allowed"),
            ));
        }
        if name == local_cluster {
            return Err(invalid(
                key,
                format!("{name:?} is this cluster's own name (node.cluster); a link names a remote cluster"),
            ));
        }
        Ok(())
    }

    fn validate_credentials(&self, key: &str) -> Result<(), ConfigError> {
        let prefix = &self.clientid_prefix;
        let prefix_key = format!("{key}.clientid_prefix");
        if prefix.is_empty() {
            return Err(invalid(prefix_key, "must not be empty"));
        }
        let len = prefix.chars().count();
        if len > MAX_PREFIX_LEN {
            return Err(invalid(
                prefix_key,
                format!("{prefix:?} is {len} characters, at most {MAX_PREFIX_LEN} are allowed"),
            ));
        }
        if let Some(c) = prefix.chars().find(|c| matches!(c, '/' | '+' | '#')) {
            return Err(invalid(
                prefix_key,
                format!("{prefix:?} contains {c:?}; '/', '+' and '#' are not allowed"),
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(invalid(
                format!("{key}.password"),
                "a password needs a username (set username too)",
            ));
        }
        Ok(())
    }

    fn validate_topics(&self, key: &str) -> Result<(), ConfigError> {
        if self.topics.is_empty() {
            return Err(invalid(
                format!("{key}.topics"),
                "the list is empty; name at least one topic filter to receive from the remote",
            ));
        }
        for (i, filter) in self.topics.iter().enumerate() {
            let topic_key = format!("{key}.topics[{i}]");
            if filter.starts_with(LINK_TOPIC_PREFIX) {
                return Err(invalid(
                    topic_key,
                    format!("{filter:?} is under {LINK_TOPIC_PREFIX}, which is reserved for the link protocol"),
                ));
            }
            if filter.starts_with(SHARE_PREFIX) {
                return Err(invalid(
                    topic_key,
                    format!("{filter:?} is a shared subscription; sharing is local to a cluster, name the plain filter"),
                ));
            }
            validate_topic_filter(filter, MAX_TOPIC_LEVELS).map_err(|e| {
                invalid(
                    topic_key.as_str(),
                    format!("{filter:?} is not a valid topic filter: {e}"),
                )
            })?;
            for (j, other) in self.topics[..i].iter().enumerate() {
                if other == filter {
                    return Err(invalid(
                        topic_key,
                        format!("{filter:?} is listed twice (also topics[{j}])"),
                    ));
                }
                let redundant = if covers(other, filter) {
                    Some((filter, i, other, j))
                } else if covers(filter, other) {
                    Some((other, j, filter, i))
                } else {
                    None
                };
                if let Some((inner, ii, outer, oi)) = redundant {
                    return Err(invalid(
                        format!("{key}.topics[{ii}]"),
                        format!(
                            "topics[{ii}] {inner:?} is redundant: topics[{oi}] {outer:?} already covers it; remove topics[{ii}]"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_bounds(&self, key: &str) -> Result<(), ConfigError> {
        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(invalid(
                format!("{key}.pool_size"),
                format!(
                    "{} is out of range (allowed 1..={MAX_POOL_SIZE})",
                    self.pool_size
                ),
            ));
        }
        if !(1..=MAX_INFLIGHT).contains(&self.max_inflight) {
            return Err(invalid(
                format!("{key}.max_inflight"),
                format!(
                    "{} is out of range (allowed 1..={MAX_INFLIGHT}, an MQTT 5 Receive Maximum)",
                    self.max_inflight
                ),
            ));
        }
        if self.backlog_messages == 0 {
            return Err(invalid(
                format!("{key}.backlog_messages"),
                "0 is out of range: must be at least 1",
            ));
        }
        if self.backlog_bytes < MIN_BACKLOG_BYTES {
            return Err(invalid(
                format!("{key}.backlog_bytes"),
                format!(
                    "{} is out of range: must be at least {MIN_BACKLOG_BYTES}",
                    self.backlog_bytes
                ),
            ));
        }
        if self.keepalive == 0 {
            return Err(invalid(
                format!("{key}.keepalive"),
                "0 is out of range (allowed 1..=65535 seconds; keep-alive detects half-open connections)",
            ));
        }
        if !(1..=MAX_RECONNECT_MS).contains(&self.reconnect_min_ms) {
            return Err(invalid(
                format!("{key}.reconnect_min_ms"),
                format!(
                    "{} is out of range (allowed 1..={MAX_RECONNECT_MS})",
                    self.reconnect_min_ms
                ),
            ));
        }
        if !(self.reconnect_min_ms..=MAX_RECONNECT_MS).contains(&self.reconnect_max_ms) {
            return Err(invalid(
                format!("{key}.reconnect_max_ms"),
                format!(
                    "{} is out of range (allowed reconnect_min_ms {}..={MAX_RECONNECT_MS})",
                    self.reconnect_max_ms, self.reconnect_min_ms
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid link named `huawei` seen from cluster `aliyun`, changed by `edit`.
    fn link(edit: impl FnOnce(&mut LinkConfig)) -> LinkConfig {
        let mut link: LinkConfig = toml::from_str(
            "name = \"huawei\"\nserver = \"emqx-huawei.example:1883\"\n\
             topics = [\"from-cluster\", \"global/#\"]\n",
        )
        .expect("valid link TOML");
        edit(&mut link);
        link
    }

    /// The error message of a link that must be invalid, checked as `link[0]`.
    fn error(edit: impl FnOnce(&mut LinkConfig)) -> String {
        match link(edit).validate("link[0]", "aliyun") {
            Ok(()) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_names(err: &str, key: &str, words: &str) {
        let head = format!("invalid config: {key}: ");
        assert!(err.starts_with(&head), "{err:?} should start with {head:?}");
        assert!(err.contains(words), "{err:?} should mention {words:?}");
    }

    #[test]
    fn does_a_minimal_link_get_the_documented_defaults_and_pass() {
        let link = link(|_| {});
        assert_eq!(link.clientid_prefix, "meridian-link");
        assert_eq!(link.pool_size, 4);
        assert!(link.enable);
        assert_eq!(link.max_inflight, 4096);
        assert_eq!(link.backlog_messages, 100_000);
        assert_eq!(link.backlog_bytes, 64 * 1024 * 1024);
        assert_eq!(link.keepalive, 30);
        assert_eq!(
            (link.reconnect_min_ms, link.reconnect_max_ms),
            (500, 30_000)
        );
        link.validate("link[0]", "aliyun").unwrap();
    }

    #[test]
    fn is_an_empty_or_oddly_spelled_name_rejected() {
        assert_names(
            &error(|l| l.name.clear()),
            "link[0].name",
            "must not be empty",
        );
        let err = error(|l| l.name = "eu/west".into());
        assert_names(&err, "link[0].name", "contains '/'");
        let err = error(|l| l.name = "a".repeat(65));
        assert_names(&err, "link[0].name", "is 65 characters");
        link(|l| l.name = "Huawei_cn-east.2".into())
            .validate("link[0]", "aliyun")
            .unwrap();
    }

    #[test]
    fn is_a_link_named_like_the_local_cluster_rejected() {
        let err = error(|l| l.name = "aliyun".into());
        assert_names(&err, "link[0].name", "this cluster's own name");
    }

    #[test]
    fn are_server_problems_reported_under_the_server_key() {
        let err = error(|l| l.server = "broker.example".into());
        assert_names(&err, "link[0].server", "is not host:port");
        let link = link(|l| l.server = "mqtt://[::1]:1884".into());
        link.validate("link[0]", "aliyun").unwrap();
        assert_eq!(link.server_host_port().unwrap(), ("::1".to_owned(), 1884));
    }

    #[test]
    fn is_mqtts_refused_saying_tls_links_are_not_available_yet() {
        let err = error(|l| l.server = "mqtts://broker.example:8883".into());
        assert_names(
            &err,
            "link[0].server",
            "TLS links (mqtts://) are not available yet",
        );
        let link = link(|l| l.server = "mqtts://broker.example:8883".into());
        let err = link.server_host_port().unwrap_err().to_string();
        assert_names(&err, "link \"huawei\".server", "not available yet");
    }

    #[test]
    fn is_a_bad_clientid_prefix_rejected() {
        let err = error(|l| l.clientid_prefix.clear());
        assert_names(&err, "link[0].clientid_prefix", "must not be empty");
        let err = error(|l| l.clientid_prefix = "a".repeat(65));
        assert_names(&err, "link[0].clientid_prefix", "is 65 characters");
        for c in ['/', '+', '#'] {
            let err = error(|l| l.clientid_prefix = format!("from{c}aliyun"));
            assert_names(&err, "link[0].clientid_prefix", &format!("contains {c:?}"));
        }
    }

    #[test]
    fn does_a_password_need_a_username() {
        let err = error(|l| l.password = Some("secret".into()));
        assert_names(&err, "link[0].password", "needs a username");
        link(|l| {
            l.username = Some("link".into());
            l.password = Some("secret".into());
        })
        .validate("link[0]", "aliyun")
        .unwrap();
    }

    #[test]
    fn is_an_empty_topic_list_rejected() {
        let err = error(|l| l.topics.clear());
        assert_names(&err, "link[0].topics", "the list is empty");
    }

    #[test]
    fn is_a_topic_under_dollar_link_rejected() {
        let err = error(|l| l.topics.push("$LINK/routes/#".into()));
        assert_names(&err, "link[0].topics[2]", "reserved for the link protocol");
        let err = error(|l| l.topics = vec!["$LINK".into()]);
        assert_names(&err, "link[0].topics[0]", "under $LINK");
    }

    #[test]
    fn is_a_shared_subscription_filter_rejected() {
        let err = error(|l| l.topics = vec!["$share/g/global/#".into()]);
        assert_names(&err, "link[0].topics[0]", "shared subscription");
    }

    #[test]
    fn is_an_invalid_filter_rejected_citing_the_spec() {
        // [MQTT-4.7.1-2]: '#' must be last and alone in its level.
        let err = error(|l| l.topics = vec!["a/#/b".into()]);
        assert_names(&err, "link[0].topics[0]", "is not a valid topic filter");
        // [MQTT-4.7.1-3]: '+' must be alone in its level.
        let err = error(|l| l.topics = vec!["x".into(), "a/b+".into()]);
        assert_names(&err, "link[0].topics[1]", "is not a valid topic filter");
        // [MQTT-4.7.3-1]: a filter is at least one character long.
        let err = error(|l| l.topics = vec![String::new()]);
        assert_names(&err, "link[0].topics[0]", "is not a valid topic filter");
        let err = error(|l| l.topics = vec![vec!["a"; 33].join("/")]);
        assert_names(&err, "link[0].topics[0]", "is not a valid topic filter");
    }

    #[test]
    fn is_a_duplicate_topic_rejected_naming_both() {
        let err = error(|l| l.topics.push("from-cluster".into()));
        assert_names(&err, "link[0].topics[2]", "listed twice (also topics[0])");
    }

    #[test]
    fn is_a_covered_topic_rejected_saying_which_covers_which() {
        let err = error(|l| l.topics.push("global/+/temp".into()));
        assert_names(
            &err,
            "link[0].topics[2]",
            "topics[2] \"global/+/temp\" is redundant: topics[1] \"global/#\" already covers it",
        );
        // The covering filter listed after the covered one: the earlier one is redundant.
        let err = error(|l| l.topics = vec!["a/b".into(), "x".into(), "a/+".into()]);
        assert_names(
            &err,
            "link[0].topics[0]",
            "topics[0] \"a/b\" is redundant: topics[2] \"a/+\" already covers it",
        );
    }

    #[test]
    fn are_overlapping_but_not_covering_topics_accepted() {
        // Each pair shares topics ("a/b/c"), yet each also matches topics the other misses.
        link(|l| l.topics = vec!["a/+/c".into(), "a/b/+".into(), "+/x".into()])
            .validate("link[0]", "aliyun")
            .unwrap();
        // [MQTT-4.7.2-1]: "#" does not match "$SYS" topics, so both may be listed.
        link(|l| l.topics = vec!["#".into(), "$SYS/#".into()])
            .validate("link[0]", "aliyun")
            .unwrap();
    }

    #[test]
    fn is_each_bound_out_of_range_rejected_naming_its_key() {
        type Edit = fn(&mut LinkConfig);
        let cases: [(Edit, &str); 11] = [
            (|l| l.pool_size = 0, "link[0].pool_size"),
            (|l| l.pool_size = 65, "link[0].pool_size"),
            (|l| l.max_inflight = 0, "link[0].max_inflight"),
            (|l| l.max_inflight = 65_536, "link[0].max_inflight"),
            (|l| l.backlog_messages = 0, "link[0].backlog_messages"),
            (|l| l.backlog_bytes = 1023, "link[0].backlog_bytes"),
            (|l| l.keepalive = 0, "link[0].keepalive"),
            (|l| l.reconnect_min_ms = 0, "link[0].reconnect_min_ms"),
            (
                |l| l.reconnect_max_ms = l.reconnect_min_ms - 1,
                "link[0].reconnect_max_ms",
            ),
            (
                |l| {
                    l.reconnect_min_ms = 3_600_001;
                    l.reconnect_max_ms = 3_600_001;
                },
                "link[0].reconnect_min_ms",
            ),
            (
                |l| l.reconnect_max_ms = 3_600_001,
                "link[0].reconnect_max_ms",
            ),
        ];
        for (edit, key) in cases {
            assert_names(&error(edit), key, "out of range");
        }
    }

    #[test]
    fn are_the_bound_edges_accepted() {
        link(|l| {
            l.pool_size = 64;
            l.max_inflight = 65_535;
            l.backlog_messages = 1;
            l.backlog_bytes = 1024;
            l.keepalive = 1;
            l.reconnect_min_ms = 1;
            l.reconnect_max_ms = 1;
        })
        .validate("link[0]", "aliyun")
        .unwrap();
        link(|l| {
            l.pool_size = 1;
            l.reconnect_min_ms = 3_600_000;
            l.reconnect_max_ms = 3_600_000;
        })
        .validate("link[0]", "aliyun")
        .unwrap();
    }

    #[test]
    fn is_the_reserved_tls_key_refused() {
        let err = error(|l| l.tls = Some(toml::Value::Boolean(true)));
        assert_names(
            &err,
            "link[0].tls",
            "link TLS is not available yet (reserved key)",
        );
    }

    #[test]
    fn is_a_duplicate_link_name_rejected_naming_the_first() {
        let links = vec![link(|_| {}), link(|l| l.name = "aws".into()), link(|_| {})];
        let err = LinkConfig::validate_set(&links, "aliyun")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid config: link[2].name: \"huawei\" is already the name of link[0]"
        );
    }

    #[test]
    fn does_the_set_check_name_each_link_by_index() {
        let links = vec![
            link(|_| {}),
            link(|l| {
                l.name = "aws".into();
                l.pool_size = 0;
            }),
        ];
        let err = LinkConfig::validate_set(&links, "aliyun")
            .unwrap_err()
            .to_string();
        assert_names(&err, "link[1].pool_size", "out of range");
    }
}
