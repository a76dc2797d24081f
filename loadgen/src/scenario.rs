//! The `bench` scenarios: which publishers publish to which topics, what each
//! subscriber subscribes to, and how many receivers each message should reach.

use serde::Serialize;

/// A benchmark shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// N publishers, each on its own topic, → subscribers to all of them (`+`).
    FanIn,
    /// Publishers on one topic → N subscribers of that topic.
    FanOut,
    /// N pairs: publisher i → subscriber i, one topic per pair.
    P2p,
    /// N publishers → one `$share` group of subscribers: each message to one member.
    Shared,
}

impl Scenario {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::FanIn => "fan-in",
            Scenario::FanOut => "fan-out",
            Scenario::P2p => "p2p",
            Scenario::Shared => "shared",
        }
    }

    /// Subscribers when `--subscribers` is not given.
    pub fn default_subscribers(self, publishers: u32) -> u32 {
        match self {
            Scenario::P2p => publishers,
            _ => 1,
        }
    }
}

/// Why a scenario cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0} needs at least one publisher and one subscriber")]
    Empty(&'static str),
    #[error(
        "p2p runs pairs: --subscribers ({subscribers}) must equal --publishers ({publishers})"
    )]
    Unpaired { publishers: u32, subscribers: u32 },
}

/// Topics and filters of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// (publisher id, topic), ids from 0.
    pub publishers: Vec<(u32, String)>,
    /// Each subscriber's filters.
    pub subscribers: Vec<Vec<String>>,
    /// Receivers each message should reach.
    pub fanout: u64,
    /// Subscribers form one shared-subscription group (track sequences per group).
    pub shared_group: bool,
}

/// Lays out `scenario` under topic `prefix`; `group` names the `$share` group.
pub fn layout(
    scenario: Scenario,
    publishers: u32,
    subscribers: u32,
    prefix: &str,
    group: &str,
) -> Result<Layout, ScenarioError> {
    if publishers == 0 || subscribers == 0 {
        return Err(ScenarioError::Empty(scenario.name()));
    }
    let base = format!("{prefix}/{}", scenario.name());
    let pubs_on = |topic: &dyn Fn(u32) -> String| (0..publishers).map(|i| (i, topic(i))).collect();
    let subs_on =
        |filter: &dyn Fn(u32) -> String| (0..subscribers).map(|i| vec![filter(i)]).collect();
    Ok(match scenario {
        Scenario::FanIn => Layout {
            publishers: pubs_on(&|i| format!("{base}/{i}")),
            subscribers: subs_on(&|_| format!("{base}/+")),
            fanout: u64::from(subscribers),
            shared_group: false,
        },
        Scenario::FanOut => Layout {
            publishers: pubs_on(&|_| base.clone()),
            subscribers: subs_on(&|_| base.clone()),
            fanout: u64::from(subscribers),
            shared_group: false,
        },
        Scenario::P2p => {
            if subscribers != publishers {
                return Err(ScenarioError::Unpaired {
                    publishers,
                    subscribers,
                });
            }
            Layout {
                publishers: pubs_on(&|i| format!("{base}/{i}")),
                subscribers: subs_on(&|i| format!("{base}/{i}")),
                fanout: 1,
                shared_group: false,
            }
        }
        Scenario::Shared => Layout {
            publishers: pubs_on(&|i| format!("{base}/{i}")),
            subscribers: subs_on(&|_| format!("$share/{group}/{base}/+")),
            fanout: 1,
            shared_group: true,
        },
    })
}

/// Replaces every `%i` in `pattern` with `index`.
pub fn expand(pattern: &str, index: u32) -> String {
    pattern.replace("%i", &index.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_fan_out_put_every_subscriber_on_the_publishers_topic() {
        let l = layout(Scenario::FanOut, 1, 3, "mlg/x", "g").expect("layout");
        assert_eq!(l.publishers, vec![(0, "mlg/x/fan-out".to_string())]);
        assert_eq!(l.subscribers, vec![vec!["mlg/x/fan-out".to_string()]; 3]);
        assert_eq!(l.fanout, 3);
    }

    #[test]
    fn does_fan_in_collect_every_publisher_with_one_wildcard() {
        let l = layout(Scenario::FanIn, 3, 1, "p", "g").expect("layout");
        assert_eq!(l.publishers[2], (2, "p/fan-in/2".to_string()));
        assert_eq!(l.subscribers, vec![vec!["p/fan-in/+".to_string()]]);
        assert_eq!(l.fanout, 1);
    }

    #[test]
    fn does_p2p_pair_publisher_i_with_subscriber_i() {
        let l = layout(Scenario::P2p, 2, 2, "p", "g").expect("layout");
        assert_eq!(l.publishers[1].1, "p/p2p/1");
        assert_eq!(l.subscribers[1], vec!["p/p2p/1".to_string()]);
        assert_eq!(
            layout(Scenario::P2p, 2, 3, "p", "g"),
            Err(ScenarioError::Unpaired {
                publishers: 2,
                subscribers: 3
            })
        );
    }

    #[test]
    fn does_shared_use_one_share_group_and_deliver_once() {
        let l = layout(Scenario::Shared, 4, 2, "p", "grp").expect("layout");
        assert_eq!(l.subscribers[0], vec!["$share/grp/p/shared/+".to_string()]);
        assert_eq!(l.fanout, 1);
        assert!(l.shared_group);
    }

    #[test]
    fn is_an_empty_scenario_refused() {
        assert_eq!(
            layout(Scenario::FanOut, 0, 1, "p", "g"),
            Err(ScenarioError::Empty("fan-out"))
        );
    }

    #[test]
    fn does_percent_i_become_the_client_index() {
        assert_eq!(expand("dev/%i/temp/%i", 7), "dev/7/temp/7");
        assert_eq!(expand("plain", 7), "plain");
    }
}
