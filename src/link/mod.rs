//! Cluster linking (DESIGN "Cluster linking"): the link shard's connections to remote
//! clusters, route replication, forwarding with a bounded backlog, and the registry
//! the admin API changes at runtime.
//!
//! Where things live: `shard`, `outbound`, `conn`, `inflight` and `routes` run on the
//! link shard's executor only; `remote` (the routes a remote cluster asked us for) on
//! the data core that owns the remote's connection 0; `registry` on the control side
//! (behind a lock, never on the publish path); `wire` is shared vocabulary.

pub mod command;
mod conn;
mod inflight;
pub mod metrics;
mod outbound;
pub mod registry;
pub mod remote;
mod routes;
pub mod shard;
pub mod wire;

pub use command::LinkCommand;
pub use metrics::{LinkMetrics, LinkState};
