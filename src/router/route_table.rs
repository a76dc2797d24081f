//! The RouteTable: topic filter → which cores (and later which cluster links) have
//! subscribers for it. Replicated on every core and updated by broadcast messages
//! when a core's local subscriber count of a filter goes 0→1 or 1→0.
//!
//! A publisher's core consults its replica to decide where a message goes; the
//! destination core's SubTree then finds the sessions. Shared-subscription groups are
//! routed per group: the publishing core picks one core per group, so each message
//! reaches exactly one member cluster-wide.

use std::cell::Cell;
use std::sync::Arc;

use super::trie::Trie;

/// A set of cores as a bit mask (core `i` is bit `i`); cores are capped at 64.
pub type CoreMask = u64;

/// Where a filter's subscribers are.
#[derive(Debug, Default)]
pub struct Routes {
    /// Cores with plain subscribers of this filter.
    pub cores: CoreMask,
    /// Shared groups on this filter and the cores with members of each.
    pub groups: Vec<GroupRoute>,
    /// Remote clusters that asked for this filter over their link.
    pub links: Vec<Arc<str>>,
}

impl Routes {
    fn is_empty(&self) -> bool {
        self.cores == 0 && self.groups.is_empty() && self.links.is_empty()
    }
}

/// The cores with members of one shared group on one filter.
#[derive(Debug)]
pub struct GroupRoute {
    pub name: Arc<str>,
    pub cores: CoreMask,
    next: Cell<u32>,
}

impl GroupRoute {
    /// The core that gets the next message of this group: round robin over `cores`.
    pub fn pick_core(&self) -> Option<usize> {
        let n = self.cores.count_ones();
        if n == 0 {
            return None;
        }
        let k = self.next.get() % n;
        self.next.set(self.next.get().wrapping_add(1));
        let mut mask = self.cores;
        for _ in 0..k {
            mask &= mask - 1;
        }
        Some(mask.trailing_zeros() as usize)
    }
}

/// Filter → destinations. One replica per core.
#[derive(Debug, Default)]
pub struct RouteTable {
    trie: Trie<Routes>,
}

impl RouteTable {
    /// Records that `core` has subscribers of `filter` (in `group`, if shared).
    pub fn add(&mut self, filter: &str, group: Option<&str>, core: usize) {
        let routes = self.trie.entry_or_insert_with(filter, Routes::default);
        let bit = 1u64 << core;
        match group {
            None => routes.cores |= bit,
            Some(name) => match routes.groups.iter_mut().find(|g| &*g.name == name) {
                Some(g) => g.cores |= bit,
                None => routes.groups.push(GroupRoute {
                    name: Arc::from(name),
                    cores: bit,
                    next: Cell::new(0),
                }),
            },
        }
    }

    /// Records that `core` no longer has subscribers of `filter` (in `group`).
    pub fn remove(&mut self, filter: &str, group: Option<&str>, core: usize) {
        let Some(routes) = self.trie.get_mut(filter) else {
            return;
        };
        let bit = 1u64 << core;
        match group {
            None => routes.cores &= !bit,
            Some(name) => {
                if let Some(pos) = routes.groups.iter().position(|g| &*g.name == name) {
                    routes.groups[pos].cores &= !bit;
                    if routes.groups[pos].cores == 0 {
                        routes.groups.swap_remove(pos);
                    }
                }
            }
        }
        if routes.is_empty() {
            self.trie.remove(filter);
        }
    }

    /// Records that the remote cluster behind `link` wants `filter`.
    pub fn add_link(&mut self, filter: &str, link: &Arc<str>) {
        let routes = self.trie.entry_or_insert_with(filter, Routes::default);
        if !routes.links.iter().any(|l| l == link) {
            routes.links.push(link.clone());
        }
    }

    /// Records that the remote cluster behind `link` no longer wants `filter`.
    pub fn remove_link(&mut self, filter: &str, link: &str) {
        let Some(routes) = self.trie.get_mut(filter) else {
            return;
        };
        routes.links.retain(|l| &**l != link);
        if routes.is_empty() {
            self.trie.remove(filter);
        }
    }

    /// Calls `visit(filter, routes)` for every filter matching `topic`.
    pub fn for_each_match<'a>(&'a self, topic: &str, visit: impl FnMut(&'a str, &'a Routes)) {
        self.trie.for_each_match_with_filter(topic, visit);
    }

    /// Number of filters with a route.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cores_for(t: &RouteTable, topic: &str) -> CoreMask {
        let mut mask = 0;
        t.for_each_match(topic, |_, r| mask |= r.cores);
        mask
    }

    #[test]
    fn does_a_topic_reach_every_core_with_a_matching_filter() {
        let mut t = RouteTable::default();
        t.add("a/+", None, 0);
        t.add("a/#", None, 1);
        t.add("b", None, 1);
        assert_eq!(cores_for(&t, "a/x"), 0b11);
        assert_eq!(cores_for(&t, "b"), 0b10);
        t.remove("a/#", None, 1);
        assert_eq!(cores_for(&t, "a/x"), 0b01);
        t.remove("a/+", None, 0);
        t.remove("b", None, 1);
        assert!(t.is_empty());
    }

    #[test]
    fn is_a_link_route_kept_apart_from_core_routes() {
        let mut t = RouteTable::default();
        let huawei: Arc<str> = Arc::from("huawei");
        t.add("a/#", None, 0);
        t.add_link("a/#", &huawei);
        t.add_link("a/#", &huawei);
        t.remove("a/#", None, 0);
        let mut links = Vec::new();
        t.for_each_match("a/b", |_, r| links.extend(r.links.iter().cloned()));
        assert_eq!(links, vec![huawei.clone()]);
        t.remove_link("a/#", "huawei");
        assert!(t.is_empty());
    }

    #[test]
    fn does_a_group_spread_over_its_cores() {
        let mut t = RouteTable::default();
        t.add("s", Some("g"), 0);
        t.add("s", Some("g"), 3);
        let mut picks = Vec::new();
        t.for_each_match("s", |_, r| {
            for _ in 0..4 {
                picks.push(r.groups[0].pick_core().expect("a core"));
            }
        });
        assert_eq!(picks, vec![0, 3, 0, 3]);
    }
}
