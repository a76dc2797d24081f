//! Filter algebra for cluster linking: the intersection of two filters, and whether one
//! filter covers another.
//!
//! A link to a remote cluster carries topic filters (what we want from it). For every
//! local subscription we ask the remote for `intersect(subscription, link_filter)`:
//! exactly the topics both want, never more. [`covers`] lets the link code drop a
//! request that another request already covers.
//!
//! Both work level by level; the two subtleties are spelled out where they are handled:
//! `#` also matches its parent level [MQTT-4.7.1-2], and a filter starting with a
//! wildcard matches no `$` topic [MQTT-4.7.2-1].

use super::level::{levels, Level};

/// The filter matching exactly the topics matched by both `a` and `b`, or `None` if no
/// topic matches both.
///
/// `intersect("global/+/temp", "global/#") == Some("global/+/temp")`,
/// `intersect("a/+/c", "a/b/#") == Some("a/b/c")`, `intersect("a/#", "a") == Some("a")`,
/// `intersect("+/x", "$SYS/#") == None` (the `$` rule).
pub fn intersect(a: &str, b: &str) -> Option<String> {
    let mut out = FilterText::with_capacity(a.len().max(b.len()));
    let mut xs = levels(a);
    let mut ys = levels(b);
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => break,
            // '#' matches its parent level: both filters match topics ending here.
            (Some(Level::Hash), None) | (None, Some(Level::Hash)) => break,
            (Some(_), None) | (None, Some(_)) => return None,
            // '#' matches any continuation, so the other filter's rest decides alone.
            (Some(Level::Hash), Some(y)) => {
                out.push(y);
                ys.by_ref().for_each(|y| out.push(y));
                break;
            }
            (Some(x), Some(Level::Hash)) => {
                out.push(x);
                xs.by_ref().for_each(|x| out.push(x));
                break;
            }
            (Some(Level::Plus), Some(Level::Plus)) => out.push(Level::Plus),
            (Some(Level::Plus), Some(literal)) | (Some(literal), Some(Level::Plus)) => {
                out.push(literal)
            }
            (Some(x), Some(y)) if x == y => out.push(x),
            (Some(_), Some(_)) => return None,
        }
    }
    // [MQTT-4.7.2-1]: if either side starts with a wildcard it matches no '$' topic, so a
    // result whose first level is a literal starting with '$' (taken from the other
    // side) matches nothing both do.
    let out = out.finish();
    if out.starts_with('$') && (starts_with_wildcard(a) || starts_with_wildcard(b)) {
        return None;
    }
    Some(out)
}

/// True if every topic matched by `inner` is also matched by `outer`.
///
/// `covers("a/#", "a/+/c")`, `covers("#", "a")`, `covers("a/#", "a")`; not
/// `covers("+/b", "$x/b")` (the `$` rule) nor `covers("a/+", "a/#")` (`a/#` also
/// matches `a`).
pub fn covers(outer: &str, inner: &str) -> bool {
    // [MQTT-4.7.2-1]: `inner` can match a '$' topic only if it starts with a literal
    // '$' level, and then `outer` must not start with a wildcard.
    if inner.starts_with('$') && starts_with_wildcard(outer) {
        return false;
    }
    // A lone "#" matches the same topics as "+/#": a topic has at least one level, so
    // the "parent level" that '#' also matches never exists at the root. Reading it
    // that way lets "+/#" be seen to cover it, level by level.
    if inner == "#" {
        return covers_levels(levels(outer), [Level::Plus, Level::Hash].into_iter());
    }
    covers_levels(levels(outer), levels(inner))
}

fn covers_levels<'o, 'i>(
    mut outer: impl Iterator<Item = Level<'o>>,
    mut inner: impl Iterator<Item = Level<'i>>,
) -> bool {
    loop {
        match (outer.next(), inner.next()) {
            // '#' covers its parent level and everything below it.
            (Some(Level::Hash), _) | (None, None) => return true,
            (Some(Level::Plus), Some(Level::Plus | Level::Literal(_))) => {}
            (Some(Level::Literal(o)), Some(Level::Literal(i))) if o == i => {}
            // Anything else leaves a topic of `inner` that `outer` misses: a literal
            // against '+' or '#', '+' against '#' (which also matches the parent), or
            // one filter ending before the other.
            _ => return false,
        }
    }
}

/// Does `filter` start with a `+` or `#` level?
fn starts_with_wildcard(filter: &str) -> bool {
    levels(filter).next().is_some_and(Level::is_wildcard)
}

/// A filter being built level by level.
struct FilterText {
    text: String,
    levels: usize,
}

impl FilterText {
    fn with_capacity(capacity: usize) -> Self {
        FilterText {
            text: String::with_capacity(capacity),
            levels: 0,
        }
    }

    fn push(&mut self, level: Level<'_>) {
        if self.levels > 0 {
            self.text.push('/');
        }
        self.text.push_str(level.text());
        self.levels += 1;
    }

    fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::{covers, intersect};

    #[test]
    fn what_do_global_plus_temp_and_global_hash_share() {
        assert_eq!(
            intersect("global/+/temp", "global/#").as_deref(),
            Some("global/+/temp")
        );
    }

    #[test]
    fn what_does_hash_share_with_global_hash() {
        assert_eq!(intersect("#", "global/#").as_deref(), Some("global/#"));
        assert_eq!(intersect("global/#", "#").as_deref(), Some("global/#"));
    }

    #[test]
    fn what_do_a_plus_c_and_a_b_hash_share() {
        assert_eq!(intersect("a/+/c", "a/b/#").as_deref(), Some("a/b/c"));
    }

    #[test]
    fn do_filters_with_different_literals_share_anything() {
        assert_eq!(intersect("a/b", "c/#"), None);
        assert_eq!(intersect("a/+", "b/+"), None);
        assert_eq!(intersect("a/b", "a/b/c"), None);
    }

    #[test]
    fn does_plus_x_share_anything_with_dollar_sys_mqtt_4_7_2_1() {
        assert_eq!(intersect("+/x", "$SYS/#"), None);
        assert_eq!(intersect("#", "$SYS/#"), None);
        assert_eq!(intersect("$SYS/#", "$SYS/+").as_deref(), Some("$SYS/+"));
    }

    #[test]
    fn does_a_hash_share_its_parent_level_with_a_mqtt_4_7_1_2() {
        assert_eq!(intersect("a/#", "a").as_deref(), Some("a"));
        assert_eq!(intersect("a", "a/#").as_deref(), Some("a"));
        assert_eq!(intersect("+", "a/#").as_deref(), Some("a"));
    }

    #[test]
    fn what_do_a_plus_and_a_hash_share() {
        assert_eq!(intersect("a/+", "a/#").as_deref(), Some("a/+"));
        assert_eq!(intersect("+/#", "#").as_deref(), Some("+/#"));
    }

    #[test]
    fn are_empty_levels_kept_in_the_intersection() {
        assert_eq!(intersect("/+", "+/a").as_deref(), Some("/a"));
        assert_eq!(intersect("+/+", "#").as_deref(), Some("+/+"));
        assert_eq!(intersect("a//#", "+/+/b").as_deref(), Some("a//b"));
    }

    #[test]
    fn does_a_hash_cover_a_plus_c() {
        assert!(covers("a/#", "a/+/c"));
        assert!(covers("a/#", "a"));
        assert!(covers("#", "a"));
        assert!(covers("+/+", "a/+"));
    }

    #[test]
    fn does_plus_b_cover_dollar_x_b_mqtt_4_7_2_1() {
        assert!(!covers("+/b", "$x/b"));
        assert!(!covers("#", "$SYS/x"));
        assert!(covers("$SYS/#", "$SYS/x"));
    }

    #[test]
    fn does_a_plus_cover_a_hash() {
        // "a/#" also matches "a" [MQTT-4.7.1-2], which "a/+" does not.
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/+/#", "a/#"));
    }

    #[test]
    fn does_plus_hash_cover_a_lone_hash() {
        // Every topic has a first level, so "#" and "+/#" match the same topics.
        assert!(covers("+/#", "#"));
        assert!(covers("#", "+/#"));
        assert!(!covers("+", "#"));
    }

    #[test]
    fn does_a_literal_cover_a_wildcard() {
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a", "#"));
        assert!(covers("a/b", "a/b"));
    }
}
