//! Cluster linking (DESIGN "Cluster linking"): the link shard's connections to remote
//! clusters, route replication, forwarding with a bounded backlog, and the registry
//! the admin API changes at runtime.

pub mod command;
pub mod metrics;
pub mod registry;

pub use command::LinkCommand;
pub use metrics::{LinkMetrics, LinkState};
