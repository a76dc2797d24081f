//! Property tests: the trie and the filter algebra against the reference matcher.
//!
//! Filters and topics come from a tiny alphabet (`a`, `b`, the empty level, `$x`, plus
//! `+` and a trailing `#` in filters) so that random ones collide often: most filters
//! share prefixes, and many topics match. Topics are also made *from* the filters
//! (each wildcard filled in) so every filter is matched by some topic under test.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::{covers, intersect, topic_matches, Trie};

const LITERALS: [&str; 4] = ["a", "b", "", "$x"];

fn literal() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&LITERALS[..])
}

/// A valid filter of 0–5 levels (0 levels is the empty string, read as one empty level).
fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => literal(), 1 => Just("+")];
    (vec(level, 0..=5), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#");
        }
        levels.join("/")
    })
}

/// A topic of 0–5 levels; `c` never occurs in a filter, so only a wildcard matches it.
fn topic() -> impl Strategy<Value = String> {
    let level = prop_oneof![literal(), Just("c")];
    vec(level, 0..=5).prop_map(|levels| levels.join("/"))
}

/// A topic `filter` matches, unless the '$' rule forbids it: `+` takes the next of
/// `fill`, `#` takes as many of them as `fill` has levels modulo 3.
fn instantiate(filter: &str, fill: &[&str]) -> String {
    let mut fills = fill.iter().copied().cycle();
    let mut out: Vec<&str> = Vec::new();
    for level in filter.split('/') {
        match level {
            "+" => out.extend(fills.next()),
            "#" => out.extend(fills.by_ref().take(fill.len() % 3)),
            literal => out.push(literal),
        }
    }
    if out.is_empty() {
        out.push("c");
    }
    out.join("/")
}

fn fill() -> impl Strategy<Value = Vec<&'static str>> {
    vec(prop_oneof![literal(), Just("c")], 1..=4)
}

/// The `(filter, value)` pairs of `trie` matching `topic`, sorted.
fn trie_matches(trie: &Trie<usize>, topic: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    trie.for_each_match_with_filter(topic, |filter, value| {
        found.push((filter.to_owned(), *value))
    });
    found.sort();
    found
}

proptest! {
    #[test]
    fn does_the_trie_match_exactly_what_the_reference_matcher_matches(
        filters in vec(filter(), 0..40),
        removals in vec(any::<Index>(), 0..25),
        topics in vec(topic(), 1..20),
        fill in fill(),
    ) {
        let mut trie = Trie::new();
        let mut model = BTreeMap::new();
        for (n, filter) in filters.iter().enumerate() {
            trie.entry_or_insert_with(filter, || n);
            model.entry(filter.clone()).or_insert(n);
        }
        prop_assert_eq!(trie.len(), model.len());
        if !filters.is_empty() {
            for index in &removals {
                let filter = &filters[index.index(filters.len())];
                prop_assert_eq!(trie.remove(filter), model.remove(filter));
                prop_assert_eq!(trie.len(), model.len());
            }
        }

        let derived = filters.iter().map(|filter| instantiate(filter, &fill));
        for topic in topics.iter().cloned().chain(derived) {
            let expected: Vec<(String, usize)> = model
                .iter()
                .filter(|(filter, _)| topic_matches(filter, &topic))
                .map(|(filter, value)| (filter.clone(), *value))
                .collect();
            prop_assert_eq!(trie_matches(&trie, &topic), expected.clone(), "topic {:?}", topic);
            let mut values = Vec::new();
            trie.for_each_match(&topic, |value| values.push(*value));
            values.sort_unstable();
            let mut expected_values: Vec<usize> = expected.iter().map(|(_, v)| *v).collect();
            expected_values.sort_unstable();
            prop_assert_eq!(values, expected_values);
        }

        for filter in &filters {
            prop_assert_eq!(trie.get(filter), model.get(filter));
        }
        let mut pairs: Vec<(String, usize)> =
            trie.iter().map(|(filter, value)| (filter.to_owned(), *value)).collect();
        pairs.sort();
        let model_pairs: Vec<(String, usize)> =
            model.iter().map(|(filter, value)| (filter.clone(), *value)).collect();
        prop_assert_eq!(pairs, model_pairs);

        for filter in model.keys() {
            prop_assert!(trie.remove(filter).is_some());
        }
        prop_assert!(trie.is_empty());
        prop_assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn does_the_intersection_match_exactly_the_topics_both_filters_match(
        a in filter(),
        b in filter(),
        topics in vec(topic(), 1..30),
        fill in fill(),
    ) {
        let common = intersect(&a, &b);
        let derived = [instantiate(&a, &fill), instantiate(&b, &fill)];
        for topic in topics.iter().chain(&derived) {
            let both = topic_matches(&a, topic) && topic_matches(&b, topic);
            match &common {
                Some(common) => prop_assert_eq!(
                    topic_matches(common, topic), both, "{:?} on {:?}", common, topic
                ),
                None => prop_assert!(!both, "None, yet both match {:?}", topic),
            }
        }
        if let Some(common) = &common {
            prop_assert!(covers(&a, common) && covers(&b, common), "{:?}", common);
            let swapped = intersect(&b, &a);
            prop_assert_eq!(swapped.as_deref(), Some(common.as_str()));
        }
    }

    #[test]
    fn does_a_covering_filter_match_every_topic_the_covered_one_matches(
        outer in filter(),
        inner in filter(),
        topics in vec(topic(), 1..30),
        fill in fill(),
    ) {
        prop_assert!(covers(&inner, &inner));
        if covers(&outer, &inner) {
            let derived = [instantiate(&inner, &fill), instantiate(&outer, &fill)];
            for topic in topics.iter().chain(&derived) {
                if topic_matches(&inner, topic) {
                    prop_assert!(topic_matches(&outer, topic), "{:?}", topic);
                }
            }
        }
    }
}

/// Every filter of 1–3 levels over `a`, the empty level, `$x` and `+`, with or
/// without a trailing `#` (and `#` alone).
fn small_filters() -> Vec<String> {
    let alphabet = ["a", "", "$x", "+"];
    let mut prefixes: Vec<Vec<&str>> = vec![Vec::new()];
    let mut filters = Vec::new();
    for _ in 0..3 {
        let mut longer = Vec::new();
        for prefix in &prefixes {
            let mut with_hash = prefix.clone();
            with_hash.push("#");
            filters.push(with_hash.join("/"));
            for level in alphabet {
                let mut next = prefix.clone();
                next.push(level);
                filters.push(next.join("/"));
                longer.push(next);
            }
        }
        prefixes = longer;
    }
    filters
}

/// Every topic of 1–4 levels over `a`, the empty level, `$x` and `c`: one level more
/// than any small filter, and a literal no filter names, so any difference between two
/// small filters shows on one of these topics.
fn small_topics() -> Vec<String> {
    let alphabet = ["a", "", "$x", "c"];
    let mut level_lists: Vec<Vec<&str>> = vec![Vec::new()];
    let mut topics = Vec::new();
    for _ in 0..4 {
        level_lists = level_lists
            .iter()
            .flat_map(|levels| {
                alphabet.iter().map(move |level| {
                    let mut next = levels.clone();
                    next.push(level);
                    next
                })
            })
            .collect();
        topics.extend(level_lists.iter().map(|levels| levels.join("/")));
    }
    topics
}

#[test]
fn are_intersect_and_covers_exact_on_every_small_filter_pair() {
    let filters = small_filters();
    let topics = small_topics();
    assert_eq!((filters.len(), topics.len()), (105, 340));
    let matched: Vec<Vec<bool>> = filters
        .iter()
        .map(|filter| {
            topics
                .iter()
                .map(|topic| topic_matches(filter, topic))
                .collect()
        })
        .collect();
    for (a, a_matches) in filters.iter().zip(&matched) {
        for (b, b_matches) in filters.iter().zip(&matched) {
            let subset = a_matches
                .iter()
                .zip(b_matches)
                .all(|(&in_a, &in_b)| !in_b || in_a);
            assert_eq!(covers(a, b), subset, "covers({a:?}, {b:?})");
            let common = intersect(a, b);
            for ((topic, &in_a), &in_b) in topics.iter().zip(a_matches).zip(b_matches) {
                let in_common = common.as_deref().is_some_and(|c| topic_matches(c, topic));
                assert_eq!(
                    in_common,
                    in_a && in_b,
                    "{a:?} ∩ {b:?} = {common:?} on {topic:?}"
                );
            }
        }
    }
}
