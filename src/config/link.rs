//! `[[link]]`: one cluster link, configured on this cluster and naming a remote one.
//!
//! The same keys are used by the admin API's JSON (`/api/v1/links`), except that
//! `password` is never echoed back.

use serde::{Deserialize, Serialize};

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
