//! Topic matching: which stored filters match a published topic.
//!
//! - [`topic_matches`] (`matcher.rs`): the reference matcher, the spec as code.
//! - [`Trie`] (`trie.rs`): the filter → value trie each core owns; the SubTree ("which
//!   sessions?") and the RouteTable ("which cores and links?") are built on it. Its
//!   match walk is the publish hot path and allocates nothing.
//! - [`intersect`] / [`covers`] (`intersect.rs`): filter algebra for cluster linking —
//!   a local subscription ∩ a link's filter is what to ask the remote cluster for.
//! - [`split_shared`] (`shared.rs`): takes `$share/<group>/<filter>` apart.
//! - [`SubTree`] (`subtree.rs`): filter → this core's subscribers (plain and shared).
//! - [`RouteTable`] (`route_table.rs`): filter → cores (and links) with subscribers.
//!
//! Everything here assumes the filters and topics it gets are valid (`protocol`
//! validates them) and still never panics on anything else.

mod intersect;
mod level;
mod matcher;
#[cfg(test)]
mod properties;
mod route_table;
mod shared;
mod subtree;
mod trie;

pub use intersect::{covers, intersect};
pub use matcher::topic_matches;
pub use route_table::{CoreMask, GroupRoute, RouteTable, Routes};
pub use shared::{split_shared, SHARE_PREFIX};
pub use subtree::{Change, FilterSubs, SharedGroup, SubTree};
pub use trie::{Iter, Trie, INLINE_BRANCHES};
