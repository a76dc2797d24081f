//! The SubTree: topic filter → this core's local subscribers (plain and shared).
//!
//! One per core, owning only the subscriptions of sessions on that core. It answers
//! "which local sessions get this message?" and tells its caller when a filter gains
//! its first or loses its last local subscriber, which is when the RouteTable of
//! every core must learn about it (DESIGN: two-level routing).

use std::cell::Cell;
use std::sync::Arc;

use super::trie::Trie;

/// The subscribers of one filter on this core. `S` identifies a subscriber (a
/// session handle), `V` is what the subscription carries (its options).
#[derive(Debug)]
pub struct FilterSubs<S, V> {
    /// Plain subscriptions: every one of them gets each matching message.
    pub direct: Vec<(S, V)>,
    /// Shared subscriptions `$share/<group>/<filter>` on this filter, one entry per group.
    pub groups: Vec<SharedGroup<S, V>>,
}

impl<S, V> Default for FilterSubs<S, V> {
    fn default() -> Self {
        FilterSubs {
            direct: Vec::new(),
            groups: Vec::new(),
        }
    }
}

/// The local members of one shared-subscription group on one filter.
#[derive(Debug)]
pub struct SharedGroup<S, V> {
    pub name: Arc<str>,
    pub members: Vec<(S, V)>,
    /// Round-robin cursor, so messages spread over the members.
    next: Cell<usize>,
}

impl<S, V> SharedGroup<S, V> {
    /// Picks the member for the next message: round robin, preferring members for
    /// which `usable` is true (connected ones), falling back to any member.
    pub fn pick(&self, usable: impl Fn(&S) -> bool) -> Option<&(S, V)> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        let start = self.next.get() % n;
        for k in 0..n {
            let i = (start + k) % n;
            if usable(&self.members[i].0) {
                self.next.set(i + 1);
                return Some(&self.members[i]);
            }
        }
        self.next.set(start + 1);
        Some(&self.members[start])
    }
}

/// What a subscribe or unsubscribe changed, as the RouteTable needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The subscriber was (un)subscribed (false: it already was / was not).
    pub changed: bool,
    /// The filter (for this group, if shared) went from 0 to 1 local subscribers on
    /// subscribe, or from 1 to 0 on unsubscribe.
    pub route: bool,
}

/// Filter → local subscribers. One per core.
#[derive(Debug)]
pub struct SubTree<S, V> {
    trie: Trie<FilterSubs<S, V>>,
}

impl<S, V> Default for SubTree<S, V> {
    fn default() -> Self {
        SubTree { trie: Trie::new() }
    }
}

impl<S: PartialEq, V> SubTree<S, V> {
    /// Number of distinct filters with local subscribers.
    pub fn filter_count(&self) -> usize {
        self.trie.len()
    }

    /// Adds (or updates the options of) `sub`'s subscription to `filter`, shared in
    /// `group` if given.
    pub fn subscribe(&mut self, filter: &str, group: Option<&str>, sub: S, value: V) -> Change {
        let subs = self.trie.entry_or_insert_with(filter, FilterSubs::default);
        let list = match group {
            None => &mut subs.direct,
            Some(name) => {
                let pos = match subs.groups.iter().position(|g| &*g.name == name) {
                    Some(pos) => pos,
                    None => {
                        subs.groups.push(SharedGroup {
                            name: Arc::from(name),
                            members: Vec::new(),
                            next: Cell::new(0),
                        });
                        subs.groups.len() - 1
                    }
                };
                &mut subs.groups[pos].members
            }
        };
        if let Some(existing) = list.iter_mut().find(|(s, _)| *s == sub) {
            existing.1 = value;
            return Change {
                changed: false,
                route: false,
            };
        }
        list.push((sub, value));
        Change {
            changed: true,
            route: list.len() == 1,
        }
    }

    /// Removes `sub`'s subscription to `filter` (in `group` if shared).
    pub fn unsubscribe(&mut self, filter: &str, group: Option<&str>, sub: &S) -> Change {
        let Some(subs) = self.trie.get_mut(filter) else {
            return Change {
                changed: false,
                route: false,
            };
        };
        let (removed, now_empty) = match group {
            None => remove_from(&mut subs.direct, sub),
            Some(name) => match subs.groups.iter().position(|g| &*g.name == name) {
                None => (false, false),
                Some(pos) => {
                    let result = remove_from(&mut subs.groups[pos].members, sub);
                    if subs.groups[pos].members.is_empty() {
                        subs.groups.swap_remove(pos);
                    }
                    result
                }
            },
        };
        if subs.direct.is_empty() && subs.groups.is_empty() {
            self.trie.remove(filter);
        }
        Change {
            changed: removed,
            route: removed && now_empty,
        }
    }

    /// Calls `visit(filter, subs)` for every filter matching `topic`.
    pub fn for_each_match<'a>(
        &'a self,
        topic: &str,
        visit: impl FnMut(&'a str, &'a FilterSubs<S, V>),
    ) {
        self.trie.for_each_match_with_filter(topic, visit);
    }

    /// The subscribers of exactly `filter`.
    pub fn get(&self, filter: &str) -> Option<&FilterSubs<S, V>> {
        self.trie.get(filter)
    }
}

fn remove_from<S: PartialEq, V>(list: &mut Vec<(S, V)>, sub: &S) -> (bool, bool) {
    match list.iter().position(|(s, _)| s == sub) {
        Some(pos) => {
            list.swap_remove(pos);
            (true, list.is_empty())
        }
        None => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_the_first_subscriber_of_a_filter_create_a_route_and_the_last_remove_it() {
        let mut t: SubTree<u32, u8> = SubTree::default();
        assert_eq!(
            t.subscribe("a/+", None, 1, 0),
            Change {
                changed: true,
                route: true
            }
        );
        assert_eq!(
            t.subscribe("a/+", None, 2, 0),
            Change {
                changed: true,
                route: false
            }
        );
        assert_eq!(
            t.subscribe("a/+", None, 2, 1),
            Change {
                changed: false,
                route: false
            }
        );
        assert_eq!(
            t.unsubscribe("a/+", None, &1),
            Change {
                changed: true,
                route: false
            }
        );
        assert_eq!(
            t.unsubscribe("a/+", None, &2),
            Change {
                changed: true,
                route: true
            }
        );
        assert_eq!(t.filter_count(), 0);
    }

    #[test]
    fn is_a_shared_group_routed_separately_from_plain_subscribers() {
        let mut t: SubTree<u32, u8> = SubTree::default();
        assert!(t.subscribe("a", None, 1, 0).route);
        assert!(t.subscribe("a", Some("g"), 2, 0).route);
        assert!(!t.subscribe("a", Some("g"), 3, 0).route);
        assert!(t.subscribe("a", Some("h"), 3, 0).route);
        assert!(!t.unsubscribe("a", Some("g"), &2).route);
        assert!(t.unsubscribe("a", Some("g"), &3).route);
    }

    #[test]
    fn does_a_shared_group_spread_messages_over_its_members() {
        let mut t: SubTree<u32, u8> = SubTree::default();
        for m in 1..=3 {
            t.subscribe("a", Some("g"), m, 0);
        }
        let subs = t.get("a").expect("filter present");
        let picks: Vec<u32> = (0..6)
            .map(|_| subs.groups[0].pick(|_| true).expect("member").0)
            .collect();
        assert_eq!(picks, vec![1, 2, 3, 1, 2, 3]);
        // Member 2 is offline: it is skipped while others are usable.
        let picks: Vec<u32> = (0..4)
            .map(|_| subs.groups[0].pick(|m| *m != 2).expect("member").0)
            .collect();
        assert!(!picks.contains(&2));
    }
}
