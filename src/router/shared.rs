//! Shared-subscription filters (MQTT 5.0 §4.8.2): `$share/<ShareName>/<filter>`.
//!
//! The router keeps a shared subscription under its plain filter, grouped by share
//! name; this file only takes the text apart. Validating it (and answering a client
//! with a reason code) is `protocol`'s job.

/// The prefix that marks a shared subscription.
pub const SHARE_PREFIX: &str = "$share/";

/// Takes a `$share/<group>/<filter>` apart into `(group, filter)`.
///
/// `None` when `filter` is not a shared subscription or is a malformed one: an empty
/// share name, a share name holding `+` or `#` [MQTT-4.8.2-1], or no `/` and non-empty
/// filter after the share name [MQTT-4.8.2-2]. The share name cannot hold `/`, since
/// the first `/` after it ends it. The prefix is case-sensitive: `$SHARE/g/a` is an
/// ordinary filter.
pub fn split_shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let (group, inner) = rest.split_once('/')?;
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return None;
    }
    Some((group, inner))
}

#[cfg(test)]
mod tests {
    use super::split_shared;

    #[test]
    fn is_share_group_filter_taken_apart() {
        assert_eq!(
            split_shared("$share/consumer1/sport/tennis/+"),
            Some(("consumer1", "sport/tennis/+"))
        );
        assert_eq!(split_shared("$share/g/#"), Some(("g", "#")));
    }

    #[test]
    fn does_the_inner_filter_keep_its_empty_levels() {
        assert_eq!(split_shared("$share/g//a"), Some(("g", "/a")));
        assert_eq!(split_shared("$share/g/a/"), Some(("g", "a/")));
    }

    #[test]
    fn is_an_ordinary_filter_not_shared() {
        assert_eq!(split_shared("sport/#"), None);
        assert_eq!(split_shared("$SYS/#"), None);
        assert_eq!(split_shared("$SHARE/g/a"), None);
        assert_eq!(split_shared("$sharex/g/a"), None);
    }

    #[test]
    fn is_a_share_without_a_filter_rejected_mqtt_4_8_2_2() {
        assert_eq!(split_shared("$share/g"), None);
        assert_eq!(split_shared("$share/g/"), None);
        assert_eq!(split_shared("$share/"), None);
    }

    #[test]
    fn is_an_empty_or_wildcard_share_name_rejected_mqtt_4_8_2_1() {
        assert_eq!(split_shared("$share//a"), None);
        assert_eq!(split_shared("$share/+/a"), None);
        assert_eq!(split_shared("$share/g#/a"), None);
    }
}
