//! One level of a topic filter, classified: a literal, `+`, or a trailing `#`.
//!
//! The trie and the filter algebra read filters through [`levels`], so they agree on
//! what a level means, and with the reference matcher: `#` is the multi-level wildcard
//! only as the last level [MQTT-4.7.1-2]; anywhere else (an invalid filter, which
//! `protocol` rejects) it is taken literally rather than panicking.

/// One level of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level<'f> {
    /// A level matched by exactly this text (possibly empty: `a//b`).
    Literal(&'f str),
    /// `+`: any one level.
    Plus,
    /// `#` as the last level: the parent level and any number of child levels.
    Hash,
}

impl<'f> Level<'f> {
    /// The level as filter text.
    pub(crate) fn text(self) -> &'f str {
        match self {
            Level::Literal(text) => text,
            Level::Plus => "+",
            Level::Hash => "#",
        }
    }

    pub(crate) fn is_wildcard(self) -> bool {
        !matches!(self, Level::Literal(_))
    }
}

/// The levels of `filter`, first to last (always at least one: `""` is one empty level).
pub(crate) fn levels(filter: &str) -> impl Iterator<Item = Level<'_>> + Clone {
    let mut split = filter.split('/').peekable();
    std::iter::from_fn(move || {
        let level = split.next()?;
        Some(match level {
            "+" => Level::Plus,
            "#" if split.peek().is_none() => Level::Hash,
            literal => Level::Literal(literal),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{levels, Level};

    #[test]
    fn are_levels_split_on_every_slash_including_empty_ones() {
        let got: Vec<_> = levels("/a//+/#").collect();
        assert_eq!(
            got,
            [
                Level::Literal(""),
                Level::Literal("a"),
                Level::Literal(""),
                Level::Plus,
                Level::Hash
            ]
        );
    }

    #[test]
    fn is_a_hash_before_the_last_level_a_literal() {
        let got: Vec<_> = levels("#/a").collect();
        assert_eq!(got, [Level::Literal("#"), Level::Literal("a")]);
    }

    #[test]
    fn is_the_empty_filter_one_empty_level() {
        let got: Vec<_> = levels("").collect();
        assert_eq!(got, [Level::Literal("")]);
    }
}
