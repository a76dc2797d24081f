//! The filter → value trie: the matching structure behind the SubTree and RouteTable.
//!
//! One [`Trie`] lives on one core (thread-per-core, owned, never shared: no locks, no
//! `Sync` needed). Each trie level is one topic level. A node holds its literal children
//! in an ahash-keyed map, its `+` child apart from them, and up to two values: the one
//! for the filter ending at this node and the one for the filter ending in `/#` here.
//! Storing `+` and `#` outside the map means matching a topic never hashes a wildcard.
//!
//! Matching ([`Trie::for_each_match`]) is the publish hot path: it splits the topic on
//! `/` lazily, follows the literal path in a loop and keeps only the `+` branches still
//! to explore on a small inline stack, so it allocates nothing unless more than
//! [`INLINE_BRANCHES`] `+` branches are pending at once. Every walk is iterative (no
//! recursion, dropping included), so a filter or topic with thousands of levels cannot
//! overflow a core's stack.
//!
//! Filters are assumed valid (`protocol` validates them); an invalid one is still stored
//! without panicking, with a `#` that is not the last level treated as a literal level,
//! exactly as the reference matcher [`topic_matches`](super::topic_matches) treats it.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::hash_map::EntryRef;
use smallvec::SmallVec;

use super::level::{levels, Level};

/// How many pending `+` branches the match walk keeps on the stack before spilling to
/// the heap. Each pending branch is one `+` filter level met along the topic.
pub const INLINE_BRANCHES: usize = 16;

/// Builds the hasher for the children maps: ahash keyed by one random seed per process.
/// A zero-sized builder keeps every node 32 bytes smaller than a per-map `RandomState`,
/// while level names chosen by clients still cannot be aimed at hash collisions.
#[derive(Clone, Copy, Default)]
struct LevelHasher;

impl BuildHasher for LevelHasher {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
        SEED.get_or_init(ahash::RandomState::new).build_hasher()
    }
}

type Children<T> = hashbrown::HashMap<Box<str>, Node<T>, LevelHasher>;

/// A stored filter: its text (handed to visitors of matches) and the owner's value.
struct Leaf<T> {
    filter: Box<str>,
    value: T,
}

/// One topic level of the trie.
struct Node<T> {
    /// Children for literal levels, keyed by the level text (may be empty: "a//b").
    children: Children<T>,
    /// The child for a `+` level.
    plus: Option<Box<Node<T>>>,
    /// The filter that ends at this node.
    value: Option<Box<Leaf<T>>>,
    /// The filter that ends with `#` right below this node; it matches this node's level
    /// too [MQTT-4.7.1-2].
    hash: Option<Box<Leaf<T>>>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            children: Children::with_hasher(LevelHasher),
            plus: None,
            value: None,
            hash: None,
        }
    }

    /// How many things hang off this node; a node whose only content is the path to a
    /// removed filter is pruned with it.
    fn content(&self) -> usize {
        self.children.len()
            + usize::from(self.plus.is_some())
            + usize::from(self.value.is_some())
            + usize::from(self.hash.is_some())
    }

    fn child(&self, step: Level<'_>) -> Option<&Node<T>> {
        match step {
            Level::Literal(level) => self.children.get(level),
            Level::Plus => self.plus.as_deref(),
            Level::Hash => None,
        }
    }

    fn child_mut(&mut self, step: Level<'_>) -> Option<&mut Node<T>> {
        match step {
            Level::Literal(level) => self.children.get_mut(level),
            Level::Plus => self.plus.as_deref_mut(),
            Level::Hash => None,
        }
    }

    /// Moves the children out, so that dropping this node never recurses.
    fn take_children_into(&mut self, out: &mut Vec<Node<T>>) {
        out.extend(self.children.drain().map(|(_, child)| child));
        if let Some(plus) = self.plus.take() {
            out.push(*plus);
        }
    }
}

impl<T> Drop for Node<T> {
    /// Tears the subtree down with an explicit stack: a chain of many thousand levels
    /// would otherwise overflow the stack through recursive drops.
    fn drop(&mut self) {
        if self.children.is_empty() && self.plus.is_none() {
            return;
        }
        let mut doomed = Vec::new();
        self.take_children_into(&mut doomed);
        while let Some(mut node) = doomed.pop() {
            node.take_children_into(&mut doomed);
        }
    }
}

/// Splits the first level off `rest`: the level and what follows it (`None` when it
/// was the last level).
fn split_level(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('/') {
        Some((level, more)) => (level, Some(more)),
        None => (rest, None),
    }
}

/// Filter → value trie, one per core; `T` is what the owner keeps per filter (a
/// subscriber set, a route destination set).
pub struct Trie<T> {
    root: Node<T>,
    /// Number of filters stored.
    len: usize,
}

impl<T> Default for Trie<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Trie<T> {
    /// An empty trie (allocates nothing).
    pub fn new() -> Self {
        Trie {
            root: Node::new(),
            len: 0,
        }
    }

    /// Number of filters stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no filter is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value stored for exactly `filter` (no wildcard matching: `a/+` finds only
    /// the filter `a/+`).
    pub fn get(&self, filter: &str) -> Option<&T> {
        let mut node = &self.root;
        for step in levels(filter) {
            if let Level::Hash = step {
                return node.hash.as_deref().map(|leaf| &leaf.value);
            }
            node = node.child(step)?;
        }
        node.value.as_deref().map(|leaf| &leaf.value)
    }

    /// The value stored for exactly `filter`, mutably.
    pub fn get_mut(&mut self, filter: &str) -> Option<&mut T> {
        let mut node = &mut self.root;
        for step in levels(filter) {
            if let Level::Hash = step {
                return node.hash.as_deref_mut().map(|leaf| &mut leaf.value);
            }
            node = node.child_mut(step)?;
        }
        node.value.as_deref_mut().map(|leaf| &mut leaf.value)
    }

    /// Returns the value for `filter`, inserting `make()` if absent.
    pub fn entry_or_insert_with(&mut self, filter: &str, make: impl FnOnce() -> T) -> &mut T {
        let mut node = &mut self.root;
        let mut slot = None;
        for step in levels(filter) {
            node = match step {
                // Looks the level up by `&str`; allocates its key only when inserting.
                Level::Literal(level) => match node.children.entry_ref(level) {
                    EntryRef::Occupied(child) => child.into_mut(),
                    EntryRef::Vacant(slot) => slot.insert_with_key(level.into(), Node::new()),
                },
                Level::Plus => node.plus.get_or_insert_with(|| Box::new(Node::new())),
                Level::Hash => {
                    slot = Some(&mut node.hash);
                    break;
                }
            };
        }
        let slot = slot.unwrap_or(&mut node.value);
        if slot.is_none() {
            self.len += 1;
        }
        let leaf = slot.get_or_insert_with(|| {
            Box::new(Leaf {
                filter: filter.into(),
                value: make(),
            })
        });
        &mut leaf.value
    }

    /// Removes `filter` and prunes the nodes that held nothing else, so memory returns
    /// when subscriptions go. Returns the value it stored.
    pub fn remove(&mut self, filter: &str) -> Option<T> {
        // Pass 1, read-only: does the filter exist, and from which depth down does the
        // path hold nothing but it? `cut` is the depth of the topmost node of that
        // trailing chain of single-content nodes: it and all below it become empty.
        let mut node = &self.root;
        let mut depth: usize = 0;
        let mut cut = None;
        let mut ends_in_hash = false;
        for step in levels(filter) {
            if let Level::Hash = step {
                node.hash.as_ref()?;
                ends_in_hash = true;
                break;
            }
            node = node.child(step)?;
            depth += 1;
            if node.content() == 1 {
                cut.get_or_insert(depth);
            } else {
                cut = None;
            }
        }
        if !ends_in_hash && node.value.is_none() {
            return None;
        }

        // Pass 2: take the leaf out.
        let mut node = &mut self.root;
        let mut slot = None;
        for step in levels(filter) {
            if let Level::Hash = step {
                slot = Some(&mut node.hash);
                break;
            }
            node = node.child_mut(step)?;
        }
        let leaf = slot.unwrap_or(&mut node.value).take()?;
        self.len -= 1;

        // Pass 3: unhook the now-empty chain from the last node that still holds more.
        if let Some(cut) = cut {
            self.unhook(filter, cut);
        }
        Some(leaf.value)
    }

    /// Drops the child at depth `cut` on `filter`'s path, and so the chain below it.
    fn unhook(&mut self, filter: &str, cut: usize) {
        let mut path = levels(filter);
        let mut parent = &mut self.root;
        for step in path.by_ref().take(cut.saturating_sub(1)) {
            let Some(child) = parent.child_mut(step) else {
                return;
            };
            parent = child;
        }
        match path.next() {
            Some(Level::Literal(level)) => drop(parent.children.remove(level)),
            Some(Level::Plus) => parent.plus = None,
            Some(Level::Hash) | None => {}
        }
    }

    /// Calls `visit(value)` once for every stored filter that matches `topic`, in no
    /// particular order. Allocates nothing (see [`INLINE_BRANCHES`]).
    pub fn for_each_match<'a>(&'a self, topic: &str, mut visit: impl FnMut(&'a T)) {
        self.for_each_leaf(topic, |leaf| visit(&leaf.value));
    }

    /// Calls `visit(filter, value)` once for every stored filter that matches `topic`,
    /// in no particular order. The filter text is stored in the trie, so this costs no
    /// more than [`Trie::for_each_match`].
    pub fn for_each_match_with_filter<'a>(
        &'a self,
        topic: &str,
        mut visit: impl FnMut(&'a str, &'a T),
    ) {
        self.for_each_leaf(topic, |leaf| visit(&leaf.filter, &leaf.value));
    }

    /// The match walk. A node is reached with `rest`, the topic levels not yet
    /// consumed (`None`: the topic ended at this node's level). The literal path is
    /// followed in place; `+` branches wait on `pending`.
    fn for_each_leaf<'a, 't>(&'a self, topic: &'t str, mut visit: impl FnMut(&'a Leaf<T>)) {
        if self.len == 0 {
            return;
        }
        let mut pending: SmallVec<[(&'a Node<T>, Option<&'t str>); INLINE_BRANCHES]> =
            SmallVec::new();
        let mut node = &self.root;
        let mut rest = Some(topic);
        // A filter starting with a wildcard never matches a '$' topic [MQTT-4.7.2-1];
        // this only concerns the root's `+` and `#`.
        let mut wildcards = !topic.starts_with('$');
        loop {
            loop {
                if wildcards {
                    if let Some(leaf) = node.hash.as_deref() {
                        visit(leaf);
                    }
                }
                let Some(levels) = rest else {
                    if let Some(leaf) = node.value.as_deref() {
                        visit(leaf);
                    }
                    break;
                };
                let (level, more) = split_level(levels);
                if wildcards {
                    if let Some(plus) = node.plus.as_deref() {
                        pending.push((plus, more));
                    }
                }
                wildcards = true;
                match node.children.get(level) {
                    Some(child) => {
                        node = child;
                        rest = more;
                    }
                    None => break,
                }
            }
            match pending.pop() {
                Some((next, next_rest)) => {
                    node = next;
                    rest = next_rest;
                }
                None => return,
            }
        }
    }

    /// Iterates all `(filter, value)` pairs, in no particular order (for snapshots,
    /// e.g. route replication).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            stack: vec![&self.root],
            pending: None,
            remaining: self.len,
        }
    }

    /// Number of trie nodes below the root: 0 for an empty trie, which shows pruning
    /// gave all memory back. Walks the whole trie (diagnostics and tests).
    pub fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            stack.extend(node.children.values());
            stack.extend(node.plus.as_deref());
            count += node.children.len() + usize::from(node.plus.is_some());
        }
        count
    }
}

impl<T: fmt::Debug> fmt::Debug for Trie<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, T> IntoIterator for &'a Trie<T> {
    type Item = (&'a str, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Iterator over a trie's `(filter, value)` pairs; see [`Trie::iter`].
pub struct Iter<'a, T> {
    /// Nodes not yet visited.
    stack: Vec<&'a Node<T>>,
    /// A node's `#` leaf, when its value leaf went out first.
    pending: Option<&'a Leaf<T>>,
    /// Pairs not yet yielded.
    remaining: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (&'a str, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        let leaf = loop {
            if let Some(leaf) = self.pending.take() {
                break leaf;
            }
            let node = self.stack.pop()?;
            self.stack.extend(node.children.values());
            self.stack.extend(node.plus.as_deref());
            match (node.value.as_deref(), node.hash.as_deref()) {
                (Some(value), hash) => {
                    self.pending = hash;
                    break value;
                }
                (None, Some(hash)) => break hash,
                (None, None) => {}
            }
        };
        self.remaining = self.remaining.saturating_sub(1);
        Some((&leaf.filter, &leaf.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::{Trie, INLINE_BRANCHES};

    /// The filters of `trie` that match `topic`, sorted.
    fn matching(trie: &Trie<u32>, topic: &str) -> Vec<String> {
        let mut found = Vec::new();
        trie.for_each_match_with_filter(topic, |filter, _| found.push(filter.to_owned()));
        found.sort();
        found
    }

    fn trie_of(filters: &[&str]) -> Trie<u32> {
        let mut trie = Trie::new();
        for (n, filter) in (0..).zip(filters) {
            trie.entry_or_insert_with(filter, || n);
        }
        trie
    }

    #[test]
    fn does_an_empty_trie_match_nothing_and_hold_no_nodes() {
        let trie: Trie<u32> = Trie::default();
        assert!(trie.is_empty());
        assert_eq!(trie.node_count(), 0);
        assert_eq!(matching(&trie, "a"), Vec::<String>::new());
    }

    #[test]
    fn which_filters_match_sport_tennis() {
        let trie = trie_of(&[
            "sport/#",
            "sport/+",
            "sport/tennis",
            "#",
            "+/tennis",
            "sport",
        ]);
        assert_eq!(
            matching(&trie, "sport/tennis"),
            ["#", "+/tennis", "sport/#", "sport/+", "sport/tennis"]
        );
    }

    #[test]
    fn does_sport_hash_match_sport_in_the_trie_mqtt_4_7_1_2() {
        let trie = trie_of(&["sport/#", "sport/+", "sport"]);
        assert_eq!(matching(&trie, "sport"), ["sport", "sport/#"]);
        assert_eq!(matching(&trie, "sport/"), ["sport/#", "sport/+"]);
    }

    #[test]
    fn do_wildcards_at_the_root_skip_dollar_topics_mqtt_4_7_2_1() {
        let trie = trie_of(&["#", "+/x", "$SYS/#", "$x/+", "a/+"]);
        assert_eq!(matching(&trie, "$SYS/x"), ["$SYS/#"]);
        assert_eq!(matching(&trie, "$x/x"), ["$x/+"]);
        assert_eq!(matching(&trie, "a/$x"), ["#", "a/+"]);
    }

    #[test]
    fn are_empty_levels_levels_in_the_trie() {
        let trie = trie_of(&["+", "/+", "+/+", "a//b", "a/+/b"]);
        assert_eq!(matching(&trie, "/finance"), ["+/+", "/+"]);
        assert_eq!(matching(&trie, "a//b"), ["a/+/b", "a//b"]);
        assert_eq!(matching(&trie, ""), ["+"]);
    }

    #[test]
    fn does_entry_or_insert_with_keep_an_existing_value() {
        let mut trie = Trie::new();
        *trie.entry_or_insert_with("a/+", || 1) += 10;
        let mut made = 0;
        let value = trie.entry_or_insert_with("a/+", || {
            made += 1;
            5
        });
        assert_eq!(*value, 11);
        assert_eq!(made, 0);
        assert_eq!(trie.len(), 1);
    }

    #[test]
    fn does_get_find_only_the_exact_filter() {
        let mut trie = trie_of(&["a/+", "a/#", "a"]);
        assert_eq!(trie.get("a/+"), Some(&0));
        assert_eq!(trie.get("a/#"), Some(&1));
        assert_eq!(trie.get("a"), Some(&2));
        assert_eq!(trie.get("a/b"), None);
        assert_eq!(trie.get("#"), None);
        if let Some(value) = trie.get_mut("a/#") {
            *value = 7;
        }
        assert_eq!(trie.get("a/#"), Some(&7));
        assert_eq!(trie.get_mut("b"), None);
    }

    #[test]
    fn does_remove_give_the_value_back_and_prune_every_node() {
        let mut trie = trie_of(&["a/b/c", "a/+/#", "#", "a", "+"]);
        assert_eq!(trie.remove("a/+/#"), Some(1));
        assert_eq!(trie.remove("a/+/#"), None);
        assert_eq!(trie.len(), 4);
        assert_eq!(matching(&trie, "a/b/c"), ["#", "a/b/c"]);
        for filter in ["a/b/c", "#", "a", "+"] {
            assert!(trie.remove(filter).is_some(), "{filter}");
        }
        assert!(trie.is_empty());
        assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn does_removing_a_filter_keep_its_neighbours() {
        let mut trie = trie_of(&["a", "a/b", "a/b/c", "a/#"]);
        assert_eq!(trie.node_count(), 3);
        assert_eq!(trie.remove("a/b"), Some(1));
        assert_eq!(trie.node_count(), 3, "a/b/c still needs a and b");
        assert_eq!(trie.remove("a/b/c"), Some(2));
        assert_eq!(trie.node_count(), 1, "only a is left");
        assert_eq!(trie.remove("a/#"), Some(3));
        assert_eq!(matching(&trie, "a"), ["a"]);
        assert_eq!(trie.remove("a"), Some(0));
        assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn does_removing_an_absent_filter_change_nothing() {
        let mut trie = trie_of(&["a/b"]);
        assert_eq!(trie.remove("a"), None);
        assert_eq!(trie.remove("a/#"), None);
        assert_eq!(trie.remove("a/b/c"), None);
        assert_eq!(trie.len(), 1);
        assert_eq!(trie.node_count(), 2);
    }

    #[test]
    fn does_iter_yield_every_filter_once() {
        let trie = trie_of(&["a", "a/#", "+/b", "#", ""]);
        let iter = trie.iter();
        assert_eq!(iter.len(), 5);
        let mut pairs: Vec<(String, u32)> = iter.map(|(f, v)| (f.to_owned(), *v)).collect();
        pairs.sort();
        let expected = [("", 4), ("#", 3), ("+/b", 2), ("a", 0), ("a/#", 1)];
        let expected: Vec<(String, u32)> = expected
            .iter()
            .map(|(f, v)| ((*f).to_owned(), *v))
            .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn are_more_plus_branches_than_the_inline_stack_all_found() {
        let depth = INLINE_BRANCHES + 4;
        let mut filters = vec![vec!["a"; depth].join("/")];
        for i in 0..depth {
            let mut levels = vec!["a"; depth];
            levels[i] = "+";
            filters.push(levels.join("/"));
        }
        let refs: Vec<&str> = filters.iter().map(String::as_str).collect();
        let trie = trie_of(&refs);
        let mut expected = filters.clone();
        expected.sort();
        assert_eq!(matching(&trie, &filters[0]), expected);
    }

    #[test]
    fn does_a_filter_of_many_levels_survive_insert_match_remove_and_drop() {
        // A topic may be 65535 bytes long: every walk must be iterative.
        let depth = 60_000;
        let literal = vec!["a"; depth].join("/");
        let plus = vec!["+"; depth].join("/");
        let mut trie = trie_of(&[&literal, &plus, &format!("{literal}/#")]);
        assert_eq!(matching(&trie, &literal).len(), 3);
        assert_eq!(trie.remove(&literal), Some(0));
        assert_eq!(trie.remove(&plus), Some(1));
        assert_eq!(trie.node_count(), depth);
        drop(trie);
    }

    #[test]
    fn is_an_invalid_hash_level_stored_literally_without_panicking() {
        // [MQTT-4.7.1-2] makes "a/#/b" invalid; protocol rejects it, the trie survives it.
        let mut trie = trie_of(&["a/#/b"]);
        assert_eq!(matching(&trie, "a/x/b"), Vec::<String>::new());
        assert_eq!(matching(&trie, "a/#/b"), ["a/#/b"]);
        assert_eq!(trie.remove("a/#/b"), Some(0));
        assert_eq!(trie.node_count(), 0);
    }
}
