//! Topic name and topic filter rules ([MQTT-4.7]) and shared subscriptions
//! ([MQTT-4.8.2]). The decoder checks only what a PUBLISH topic needs on every
//! packet (no wildcards); level limits and filter syntax are checked here, by
//! the broker, so a 5.0 SUBACK can refuse one filter with 0x8F.

use super::error::ProtocolError;

const SHARE_PREFIX: &str = "$share/";

/// [MQTT-4.7.3-1] non-empty, [MQTT-3.3.2-2] no wildcards, at most `max_levels`
/// levels ('/' count + 1).
pub fn validate_topic_name(topic: &str, max_levels: usize) -> Result<(), ProtocolError> {
    if topic.is_empty() {
        return Err(ProtocolError::EmptyTopicName);
    }
    reject_wildcards(topic)?;
    check_levels(topic, max_levels)
}

/// [MQTT-4.7.1-2] '#' is last and alone in its level, [MQTT-4.7.1-3] '+' is
/// alone in its level, [MQTT-4.7.3-1] non-empty. `$share/<group>/<filter>` is
/// accepted with a non-empty group free of '+', '#', '/' and a non-empty valid
/// filter [MQTT-4.8.2-1/2]. At most `max_levels` levels (of the inner filter).
pub fn validate_topic_filter(filter: &str, max_levels: usize) -> Result<(), ProtocolError> {
    let inner = if filter.starts_with(SHARE_PREFIX) {
        match parse_shared(filter) {
            Some((group, inner))
                if !group.is_empty() && !group.contains(['+', '#']) && !inner.is_empty() =>
            {
                inner
            }
            _ => return Err(ProtocolError::InvalidSharedSubscription(filter.to_owned())),
        }
    } else {
        filter
    };
    if inner.is_empty() {
        return Err(ProtocolError::EmptyTopicFilter);
    }
    let mut levels = inner.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(ProtocolError::MultiLevelWildcardMisplaced(
                filter.to_owned(),
            ));
        }
        if level.contains('+') && level != "+" {
            return Err(ProtocolError::SingleLevelWildcardMisplaced(
                filter.to_owned(),
            ));
        }
    }
    check_levels(inner, max_levels)
}

/// Splits `$share/group/filter` into `(group, filter)`; `None` if `filter` does
/// not start with `$share/` or has no '/' after the group. The parts may still
/// be invalid (empty, wildcards): [`validate_topic_filter`] checks them.
pub fn parse_shared(filter: &str) -> Option<(&str, &str)> {
    filter.strip_prefix(SHARE_PREFIX)?.split_once('/')
}

/// The check the decoder makes on every PUBLISH and will topic: no wildcard
/// characters [MQTT-3.3.2-2]. One pass, no allocation unless it fails.
pub(crate) fn reject_wildcards(topic: &str) -> Result<(), ProtocolError> {
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(ProtocolError::TopicNameWildcard(topic.to_owned()));
    }
    Ok(())
}

fn check_levels(topic: &str, max: usize) -> Result<(), ProtocolError> {
    let levels = topic.bytes().filter(|&b| b == b'/').count() + 1;
    if levels > max {
        return Err(ProtocolError::TooManyTopicLevels { levels, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 128;

    #[test]
    fn is_an_empty_topic_name_invalid_mqtt_4_7_3_1() {
        assert_eq!(
            validate_topic_name("", MAX),
            Err(ProtocolError::EmptyTopicName)
        );
    }

    #[test]
    fn are_wildcards_in_topic_names_invalid_mqtt_3_3_2_2() {
        for t in ["a/+", "#", "a/b#"] {
            assert_eq!(
                validate_topic_name(t, MAX),
                Err(ProtocolError::TopicNameWildcard(t.into()))
            );
        }
        assert_eq!(validate_topic_name("/", MAX), Ok(()));
        assert_eq!(validate_topic_name("$SYS/uptime", MAX), Ok(()));
    }

    #[test]
    fn does_the_level_limit_count_separators_plus_one() {
        assert_eq!(validate_topic_name("a/b/c", 3), Ok(()));
        assert_eq!(
            validate_topic_name("a/b/c/", 3),
            Err(ProtocolError::TooManyTopicLevels { levels: 4, max: 3 })
        );
        assert_eq!(
            validate_topic_filter("$share/g/a/b/c/d", 3),
            Err(ProtocolError::TooManyTopicLevels { levels: 4, max: 3 })
        );
    }

    #[test]
    fn which_filters_place_hash_correctly_mqtt_4_7_1_2() {
        for ok in ["#", "a/#", "/#", "+/#"] {
            assert_eq!(validate_topic_filter(ok, MAX), Ok(()), "{ok}");
        }
        for bad in ["a#", "a/#/b", "#/", "a/b#", "##"] {
            assert_eq!(
                validate_topic_filter(bad, MAX),
                Err(ProtocolError::MultiLevelWildcardMisplaced(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn which_filters_place_plus_correctly_mqtt_4_7_1_3() {
        for ok in ["+", "+/+", "/+", "a/+/b", "+/"] {
            assert_eq!(validate_topic_filter(ok, MAX), Ok(()), "{ok}");
        }
        for bad in ["a+", "a/+b", "++"] {
            assert_eq!(
                validate_topic_filter(bad, MAX),
                Err(ProtocolError::SingleLevelWildcardMisplaced(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn is_an_empty_filter_invalid_mqtt_4_7_3_1() {
        assert_eq!(
            validate_topic_filter("", MAX),
            Err(ProtocolError::EmptyTopicFilter)
        );
    }

    #[test]
    fn which_shared_filters_are_valid_mqtt_4_8_2_1_and_2() {
        assert_eq!(validate_topic_filter("$share/g/a/+", MAX), Ok(()));
        assert_eq!(validate_topic_filter("$share/g/#", MAX), Ok(()));
        for bad in [
            "$share/g",
            "$share//a",
            "$share/g/",
            "$share/g+/a",
            "$share/#/a",
        ] {
            assert_eq!(
                validate_topic_filter(bad, MAX),
                Err(ProtocolError::InvalidSharedSubscription(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            validate_topic_filter("$share/g/a/#/b", MAX),
            Err(ProtocolError::MultiLevelWildcardMisplaced(
                "$share/g/a/#/b".into()
            ))
        );
    }

    #[test]
    fn does_parse_shared_split_group_and_filter() {
        assert_eq!(parse_shared("$share/g/a/b"), Some(("g", "a/b")));
        assert_eq!(parse_shared("$share/g"), None);
        assert_eq!(parse_shared("$sharex/g/a"), None);
        assert_eq!(parse_shared("a/b"), None);
    }
}
