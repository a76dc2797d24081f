//! The plain, obviously-correct reference matcher for MQTT topic filters
//! (MQTT 3.1.1 §4.7 / MQTT 5.0 §4.7).
//!
//! [`topic_matches`] is the specification written as code, one level at a time. The
//! [`Trie`](super::Trie) must agree with it exactly (the property tests check that), and
//! the cluster-link code uses it where one filter is tested against one topic.

/// Does `filter` match `topic`?
///
/// - `+` matches exactly one level, including an empty one (`sport/+` matches `sport/`).
/// - `#` as the last level matches the parent level and any number of child levels
///   (`sport/#` matches `sport`, `sport/`, `sport/a/b`) [MQTT-4.7.1-2].
/// - Empty levels are levels: `a//b` has three, `/a` has two.
/// - A filter whose first level is `+` or `#` never matches a topic that starts with `$`
///   [MQTT-4.7.2-1].
///
/// Filters are assumed valid (see `protocol` for validation); anything else is still
/// answered without panicking: a `#` that is not the last level is compared literally.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    if topic.starts_with('$') && matches!(filter_levels.clone().next(), Some("+" | "#")) {
        return false;
    }
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) if filter_levels.clone().next().is_none() => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn does_plus_match_an_empty_last_level_sport_slash() {
        assert!(topic_matches("sport/+", "sport/"));
    }

    #[test]
    fn does_plus_match_the_parent_level_alone() {
        // '+' needs a level to match; "sport" has none after "sport".
        assert!(!topic_matches("sport/+", "sport"));
    }

    #[test]
    fn does_hash_match_the_parent_level_mqtt_4_7_1_2() {
        // [MQTT-4.7.1-2]: '#' includes the parent level.
        assert!(topic_matches("sport/#", "sport"));
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1"
        ));
    }

    #[test]
    fn does_hash_match_any_number_of_child_levels() {
        assert!(topic_matches("sport/#", "sport/"));
        assert!(topic_matches("sport/#", "sport/tennis"));
        assert!(topic_matches("sport/#", "sport/tennis/player1/ranking"));
        assert!(!topic_matches("sport/#", "sports"));
        assert!(!topic_matches("sport/tennis/#", "sport"));
    }

    #[test]
    fn does_lone_hash_match_every_ordinary_topic() {
        assert!(topic_matches("#", "a"));
        assert!(topic_matches("#", "/"));
        assert!(topic_matches("#", "a/b/c"));
    }

    #[test]
    fn does_plus_match_slash_finance() {
        // "/finance" has two levels: "" and "finance".
        assert!(!topic_matches("+", "/finance"));
    }

    #[test]
    fn does_slash_plus_match_slash_finance() {
        assert!(topic_matches("/+", "/finance"));
    }

    #[test]
    fn does_plus_slash_plus_match_slash_finance() {
        assert!(topic_matches("+/+", "/finance"));
    }

    #[test]
    fn are_empty_levels_compared_as_levels() {
        assert!(topic_matches("a//b", "a//b"));
        assert!(topic_matches("a/+/b", "a//b"));
        assert!(!topic_matches("a/b", "a//b"));
        assert!(!topic_matches("a/b", "a/b/"));
    }

    #[test]
    fn does_plus_match_exactly_one_level() {
        assert!(topic_matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!topic_matches(
            "sport/tennis/+",
            "sport/tennis/player1/ranking"
        ));
        assert!(topic_matches("sport/+/player1", "sport/tennis/player1"));
    }

    #[test]
    fn does_hash_match_dollar_sys_mqtt_4_7_2_1() {
        // [MQTT-4.7.2-1]: a filter starting with a wildcard never matches a '$' topic.
        assert!(!topic_matches("#", "$SYS/x"));
        assert!(!topic_matches("#", "$SYS"));
        assert!(!topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(!topic_matches("+", "$x"));
    }

    #[test]
    fn does_dollar_sys_hash_match_dollar_sys_x() {
        assert!(topic_matches("$SYS/#", "$SYS/x"));
        assert!(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(topic_matches("$SYS/#", "$SYS"));
    }

    #[test]
    fn does_the_dollar_rule_apply_only_to_the_first_level() {
        assert!(topic_matches("a/+", "a/$x"));
        assert!(topic_matches("a/#", "a/$x/b"));
    }

    #[test]
    fn is_matching_case_sensitive() {
        assert!(!topic_matches("ACCOUNTS", "Accounts"));
    }

    #[test]
    fn is_a_hash_that_is_not_the_last_level_taken_literally() {
        // Invalid filter [MQTT-4.7.1-2]; protocol rejects it, but we must not panic.
        assert!(!topic_matches("a/#/b", "a/x/b"));
        assert!(topic_matches("a/#/b", "a/#/b"));
    }
}
