//! The routes a remote cluster asked us for over its link: topic filters for which
//! this cluster forwards its clients' messages to that remote.
//!
//! Lives on the data core that owns the remote's connection 0 (the one that carries
//! route operations, in order); the changes it computes are broadcast to every core's
//! RouteTable with destination `link(name)`.

use ahash::AHashSet;

use super::wire::RouteOp;

/// One remote cluster's route set.
#[derive(Debug, Default)]
pub struct RemoteRoutes {
    /// The remote process incarnation that sent the current set.
    pub incarnation: String,
    installed: AHashSet<String>,
    /// Between `begin` and `end`: the snapshot being received.
    pending: Option<AHashSet<String>>,
}

/// A route to install (`add`) or remove for the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub filter: String,
    pub add: bool,
}

impl RemoteRoutes {
    pub fn len(&self) -> usize {
        self.installed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
    }

    pub fn filters(&self) -> impl Iterator<Item = &str> {
        self.installed.iter().map(String::as_str)
    }

    /// Applies a route operation; returns what changes in the installed set. A
    /// snapshot (`begin` … `end`) replaces the whole set at its end, so routes of a
    /// restarted remote that it no longer has are dropped.
    pub fn apply(&mut self, op: RouteOp) -> Vec<Change> {
        match op {
            RouteOp::Begin { incarnation } => {
                self.incarnation = incarnation;
                self.pending = Some(AHashSet::new());
                Vec::new()
            }
            RouteOp::Add(filters) => match &mut self.pending {
                Some(p) => {
                    p.extend(filters);
                    Vec::new()
                }
                None => filters
                    .into_iter()
                    .filter(|f| self.installed.insert(f.clone()))
                    .map(|filter| Change { filter, add: true })
                    .collect(),
            },
            RouteOp::Del(filters) => match &mut self.pending {
                Some(p) => {
                    for f in &filters {
                        p.remove(f);
                    }
                    Vec::new()
                }
                None => filters
                    .into_iter()
                    .filter(|f| self.installed.remove(f))
                    .map(|filter| Change { filter, add: false })
                    .collect(),
            },
            RouteOp::End => {
                let Some(new) = self.pending.take() else {
                    return Vec::new();
                };
                let mut changes: Vec<Change> = self
                    .installed
                    .difference(&new)
                    .map(|f| Change {
                        filter: f.clone(),
                        add: false,
                    })
                    .collect();
                changes.extend(new.difference(&self.installed).map(|f| Change {
                    filter: f.clone(),
                    add: true,
                }));
                self.installed = new;
                changes
            }
        }
    }

    /// Drops every route (the link was removed): the changes to broadcast.
    pub fn clear(&mut self) -> Vec<Change> {
        self.pending = None;
        self.installed
            .drain()
            .map(|filter| Change { filter, add: false })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<Change>) -> Vec<Change> {
        v.sort_by(|a, b| a.filter.cmp(&b.filter));
        v
    }

    #[test]
    fn does_a_snapshot_after_a_restart_drop_stale_routes() {
        let mut r = RemoteRoutes::default();
        r.apply(RouteOp::Begin {
            incarnation: "1".into(),
        });
        r.apply(RouteOp::Add(vec!["a".into(), "b".into()]));
        assert_eq!(sorted(r.apply(RouteOp::End)).len(), 2);
        // The remote restarts: a new snapshot with only b and c.
        r.apply(RouteOp::Begin {
            incarnation: "2".into(),
        });
        r.apply(RouteOp::Add(vec!["b".into(), "c".into()]));
        assert_eq!(
            sorted(r.apply(RouteOp::End)),
            vec![
                Change {
                    filter: "a".into(),
                    add: false
                },
                Change {
                    filter: "c".into(),
                    add: true
                }
            ]
        );
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn do_incremental_changes_apply_once() {
        let mut r = RemoteRoutes::default();
        assert_eq!(r.apply(RouteOp::Add(vec!["x".into()])).len(), 1);
        assert!(r.apply(RouteOp::Add(vec!["x".into()])).is_empty());
        assert_eq!(
            r.apply(RouteOp::Del(vec!["x".into()])),
            vec![Change {
                filter: "x".into(),
                add: false
            }]
        );
        assert!(r.apply(RouteOp::Del(vec!["x".into()])).is_empty());
    }
}
