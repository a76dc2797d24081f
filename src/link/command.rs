//! What the control thread asks of the link shard. Sent over a crossbeam channel;
//! the link shard applies commands in order.

use std::sync::Arc;

use super::metrics::LinkMetrics;
use crate::config::LinkConfig;

/// A change to the set of links, already validated and persisted by the registry.
// Commands are rare (admin actions) and never on the data path: boxing the large
// variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum LinkCommand {
    /// Start the link, or restart it with this new configuration. `metrics` is the
    /// link's counter block, shared with the admin API (kept across updates).
    Upsert {
        config: LinkConfig,
        metrics: Arc<LinkMetrics>,
    },
    /// Stop the link and forget it (its routes and backlog are dropped).
    Remove { name: String },
}
