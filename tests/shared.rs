//! Shared subscriptions (`$share/<group>/<filter>`, MQTT 5.0 §4.8.2): each
//! message goes to exactly one member of each group, members on both cores
//! share the load, and groups, plain subscribers and departures behave.

mod common;

use std::collections::BTreeMap;

use common::v5::V5;
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::QoS;

/// Connects `count` members (ids varied so both cores own some) and
/// subscribes each to `filter` at QoS 1.
async fn members(broker: &Broker, prefix: &str, count: usize, filter: &str) -> Vec<V5> {
    let mut members = Vec::new();
    for i in 0..count {
        let mut member = V5::connect(broker, &format!("{prefix}-{i}-{}", i * 104_729)).await;
        member.subscribe(filter, QoS::AtLeastOnce).await;
        members.push(member);
    }
    members
}

/// Publishes payloads `0..count` to `topic` at QoS 1, each acknowledged.
async fn publish_numbered(broker: &Broker, topic: &str, count: usize) {
    let mut publisher = V5::connect(broker, "shared-publisher").await;
    for n in 0..count {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, n.to_string().as_bytes())
            .await;
    }
}

/// Everything `client` receives until it has been quiet for [`QUIET`]
/// (waiting up to [`WAIT`] for the first message), as numbers.
async fn drain(client: &mut V5) -> Vec<usize> {
    let mut got = Vec::new();
    while let Some(publish) = client
        .try_recv(if got.is_empty() { WAIT } else { QUIET })
        .await
    {
        let text = String::from_utf8_lossy(&publish.payload).into_owned();
        got.push(
            text.parse()
                .unwrap_or_else(|_| panic!("unexpected payload {text:?}")),
        );
    }
    got
}

/// How often each number occurs across `lists`.
fn tally(lists: &[Vec<usize>]) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for n in lists.iter().flatten() {
        *counts.entry(*n).or_insert(0) += 1;
    }
    counts
}

/// Asserts that `lists` together hold each of `0..count` exactly once.
fn assert_exactly_once(lists: &[Vec<usize>], count: usize, what: &str) {
    let counts = tally(lists);
    let missing: Vec<usize> = (0..count).filter(|n| !counts.contains_key(n)).collect();
    let repeated: Vec<(usize, usize)> = counts.into_iter().filter(|(_, c)| *c > 1).collect();
    assert!(
        missing.is_empty() && repeated.is_empty(),
        "{what}: missing {missing:?}, delivered more than once {repeated:?}"
    );
}

/// Is each of 200 messages delivered to exactly one of 4 group members, and
/// does every member get a share?
#[tokio::test]
async fn each_message_goes_to_exactly_one_member_and_all_members_share() {
    let broker = Broker::start("");
    let mut group = members(&broker, "sh-one", 4, "$share/g/sh/t").await;
    publish_numbered(&broker, "sh/t", 200).await;
    let mut lists = Vec::new();
    for member in &mut group {
        lists.push(drain(member).await);
    }
    assert_exactly_once(&lists, 200, "group g");
    let sizes: Vec<usize> = lists.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|n| *n > 0),
        "a member got nothing: {sizes:?}"
    );
}

/// Do two groups on the same filter each get every message once, and a
/// plain subscriber get all of them in order?
#[tokio::test]
async fn two_groups_and_a_plain_subscriber_each_get_every_message() {
    let broker = Broker::start("");
    let mut g1 = members(&broker, "sh-g1", 2, "$share/g1/sh/two").await;
    let mut g2 = members(&broker, "sh-g2", 2, "$share/g2/sh/two").await;
    let mut plain = V5::connect(&broker, "sh-plain").await;
    plain.subscribe("sh/two", QoS::AtLeastOnce).await;
    publish_numbered(&broker, "sh/two", 50).await;

    for (name, group) in [("g1", &mut g1), ("g2", &mut g2)] {
        let mut lists = Vec::new();
        for member in group.iter_mut() {
            lists.push(drain(member).await);
        }
        assert_exactly_once(&lists, 50, name);
    }
    assert_eq!(drain(&mut plain).await, (0..50).collect::<Vec<_>>());
}

/// When a member disconnects, do the remaining members get every later
/// message exactly once?
#[tokio::test]
async fn remaining_members_get_everything_after_one_leaves() {
    let broker = Broker::start("");
    let mut group = members(&broker, "sh-leave", 3, "$share/g/sh/leave").await;
    let leaver = group.remove(0);
    leaver.disconnect().await;
    publish_numbered(&broker, "sh/leave", 60).await;
    let mut lists = Vec::new();
    for member in &mut group {
        lists.push(drain(member).await);
    }
    assert_exactly_once(&lists, 60, "after a member left");
}

/// When a member's connection drops abruptly, is nothing lost for the group?
#[tokio::test]
async fn remaining_members_get_everything_after_one_drops() {
    let broker = Broker::start("");
    let mut group = members(&broker, "sh-drop", 3, "$share/g/sh/drop").await;
    drop(group.remove(0));
    tokio::time::sleep(QUIET).await;
    publish_numbered(&broker, "sh/drop", 60).await;
    let mut lists = Vec::new();
    for member in &mut group {
        lists.push(drain(member).await);
    }
    assert_exactly_once(&lists, 60, "after a member dropped");
}
