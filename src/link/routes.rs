//! The link shard's view of this cluster's subscriptions, and what each link asks its
//! remote cluster for: local filter ∩ link topic, reference-counted so a route goes
//! out once however many local filters produce it, and is withdrawn with the last.
//!
//! Link shard only. Fed by the cores' route broadcasts (a core announces a filter
//! when its local subscriber count goes 0→1 and withdraws it on 1→0).

use ahash::AHashMap;

use crate::router::intersect;

/// Local filters with at least one subscriber somewhere in this process.
#[derive(Debug, Default)]
pub struct LocalRoutes {
    /// Filter → how many (core, group) route holders have it.
    holders: AHashMap<String, u32>,
}

impl LocalRoutes {
    /// Applies a core's route change. Returns `Some(true)` when the filter appears in
    /// the process, `Some(false)` when it disappears, `None` otherwise.
    pub fn apply(&mut self, filter: &str, add: bool) -> Option<bool> {
        if add {
            let n = self.holders.entry(filter.to_owned()).or_insert(0);
            *n += 1;
            (*n == 1).then_some(true)
        } else {
            let n = self.holders.get_mut(filter)?;
            *n -= 1;
            if *n == 0 {
                self.holders.remove(filter);
                Some(false)
            } else {
                None
            }
        }
    }

    pub fn filters(&self) -> impl Iterator<Item = &str> {
        self.holders.keys().map(String::as_str)
    }
}

/// What one link asks its remote for.
#[derive(Debug, Default)]
pub struct OutRoutes {
    topics: Vec<String>,
    /// Intersection filter → how many (local filter, link topic) pairs produce it.
    counts: AHashMap<String, u32>,
}

/// A change of an outgoing route set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChange {
    pub filter: String,
    pub add: bool,
}

impl OutRoutes {
    /// The routes for `topics` given the current local filters.
    pub fn new(topics: Vec<String>, local: &LocalRoutes) -> Self {
        let mut out = OutRoutes {
            topics,
            counts: AHashMap::new(),
        };
        for f in local.filters() {
            out.on_local(f, true);
        }
        out
    }

    /// A local filter appeared (`add`) or disappeared: the resulting changes.
    pub fn on_local(&mut self, filter: &str, add: bool) -> Vec<RouteChange> {
        let mut changes = Vec::new();
        for topic in &self.topics {
            let Some(both) = intersect(filter, topic) else {
                continue;
            };
            if add {
                let n = self.counts.entry(both.clone()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    changes.push(RouteChange {
                        filter: both,
                        add: true,
                    });
                }
            } else if let Some(n) = self.counts.get_mut(&both) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&both);
                    changes.push(RouteChange {
                        filter: both,
                        add: false,
                    });
                }
            }
        }
        changes
    }

    /// Every route currently asked for (for the snapshot after a reconnect).
    pub fn snapshot(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.counts.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(filters: &[&str]) -> LocalRoutes {
        let mut l = LocalRoutes::default();
        for f in filters {
            l.apply(f, true);
        }
        l
    }

    #[test]
    fn does_a_link_ask_only_for_the_intersection() {
        let out = OutRoutes::new(
            vec!["global/#".into()],
            &local(&["global/+/temp", "#", "other/x"]),
        );
        assert_eq!(out.snapshot(), vec!["global/#", "global/+/temp"]);
    }

    #[test]
    fn is_a_shared_route_withdrawn_only_with_its_last_source() {
        let mut out = OutRoutes::new(vec!["a/+".into(), "+/b".into()], &LocalRoutes::default());
        assert_eq!(
            out.on_local("a/b", true),
            vec![RouteChange {
                filter: "a/b".into(),
                add: true
            }]
        );
        assert_eq!(
            out.on_local("a/#", true),
            vec![RouteChange {
                filter: "a/+".into(),
                add: true
            }]
        );
        // "a/b" is still produced by "a/#" ∩ "+/b": nothing is withdrawn yet.
        assert!(out.on_local("a/b", false).is_empty());
        let mut gone = out.on_local("a/#", false);
        gone.sort_by(|x, y| x.filter.cmp(&y.filter));
        let names: Vec<(&str, bool)> = gone.iter().map(|c| (c.filter.as_str(), c.add)).collect();
        assert_eq!(names, vec![("a/+", false), ("a/b", false)]);
        assert!(out.on_local("zzz", true).is_empty());
    }

    #[test]
    fn does_a_filter_held_by_two_cores_appear_once() {
        let mut l = LocalRoutes::default();
        assert_eq!(l.apply("x", true), Some(true));
        assert_eq!(l.apply("x", true), None);
        assert_eq!(l.apply("x", false), None);
        assert_eq!(l.apply("x", false), Some(false));
        assert_eq!(l.apply("x", false), None);
    }
}
