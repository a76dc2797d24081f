//! The cluster-link scenario end to end, against real `meridian` processes: two
//! clusters linked both ways exchange `from-cluster` messages exactly once, a topic
//! outside the link's topics stays local, three clusters in a full mesh deliver one
//! copy each without loops, and a `$share` group on the far side gets one copy.

#[allow(dead_code)] // shared by every tests/link_*.rs; each uses a subset
mod link_common;

use std::time::Duration;

use link_common::admin::counter;
use link_common::client::Msg;
use link_common::{linked_pair, wait_connected, wait_counter, Broker, BrokerConfig, Mqtt, WAIT};

fn msg(topic: &str, payload: &str) -> Msg {
    Msg {
        topic: topic.to_owned(),
        payload: payload.to_owned(),
    }
}

fn sorted(mut v: Vec<Msg>) -> Vec<Msg> {
    v.sort_by(|a, b| (&a.topic, &a.payload).cmp(&(&b.topic, &b.payload)));
    v
}

#[test]
fn does_each_cluster_get_both_clusters_messages_exactly_once() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let mut sub_a = Mqtt::connect(a.mqtt(), "sub-a");
    let mut sub_b = Mqtt::connect(b.mqtt(), "sub-b");
    sub_a.subscribe("from-cluster", 1);
    sub_b.subscribe("from-cluster", 1);
    // Each side has asked the other for `from-cluster` ∩ its topics = `from-cluster`.
    wait_counter(&a, "huawei", "routes_in", 1);
    wait_counter(&b, "aliyun", "routes_in", 1);
    assert_eq!(counter(a.admin(), "huawei", "routes_out"), 1);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 1);

    let mut pub_a = Mqtt::connect(a.mqtt(), "pub-a");
    let mut pub_b = Mqtt::connect(b.mqtt(), "pub-b");
    pub_a
        .publish_acked("from-cluster", "hello from aliyun")
        .unwrap();
    pub_b
        .publish_acked("from-cluster", "hello from huawei")
        .unwrap();

    let want = vec![
        msg("from-cluster", "hello from aliyun"),
        msg("from-cluster", "hello from huawei"),
    ];
    for (name, sub) in [("aliyun", &mut sub_a), ("huawei", &mut sub_b)] {
        let mut got = sub.receive(2, WAIT);
        // A duplicate would arrive shortly after: give it the time to.
        got.extend(sub.receive_for(Duration::from_secs(1)));
        assert_eq!(sorted(got), want, "the subscriber on {name}");
    }
    for (broker, link) in [(&a, "huawei"), (&b, "aliyun")] {
        assert_eq!(counter(broker.admin(), link, "messages_forwarded"), 1);
        assert_eq!(counter(broker.admin(), link, "messages_received"), 1);
    }
}

#[test]
fn does_a_topic_outside_the_link_topics_stay_local() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let mut local_a = Mqtt::connect(a.mqtt(), "local-a");
    let mut local_b = Mqtt::connect(b.mqtt(), "local-b");
    local_a.subscribe("local/#", 1);
    local_b.subscribe("local/#", 1);
    local_b.subscribe("from-cluster", 1);
    // Only `from-cluster` is asked for: `local/#` ∩ the link topics is empty.
    wait_counter(&a, "huawei", "routes_in", 1);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 1);

    let mut pub_a = Mqtt::connect(a.mqtt(), "pub-a");
    pub_a.publish_acked("local/door", "open").unwrap();
    assert_eq!(local_a.receive(1, WAIT), vec![msg("local/door", "open")]);
    assert_eq!(local_b.receive_for(Duration::from_secs(1)), vec![]);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 0);

    // The link itself works: a linked topic does cross.
    pub_a.publish_acked("from-cluster", "crosses").unwrap();
    assert_eq!(
        local_b.receive(1, WAIT),
        vec![msg("from-cluster", "crosses")]
    );
    assert_eq!(local_b.receive_for(Duration::from_millis(500)), vec![]);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 1);
}

#[test]
fn does_a_full_mesh_of_three_clusters_deliver_one_copy_each_without_loops() {
    let names = ["aliyun", "huawei", "aws"];
    let mut configs: Vec<BrokerConfig> = names.iter().map(|n| BrokerConfig::new(n)).collect();
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                let remote = configs[j].clone();
                configs[i].link_to(&remote, &["from-cluster"]);
            }
        }
    }
    let brokers: Vec<Broker> = configs.into_iter().map(Broker::start).collect();
    for b in &brokers {
        for other in names.iter().filter(|n| **n != b.cluster()) {
            wait_connected(b, other);
        }
    }
    let mut subs: Vec<Mqtt> = brokers
        .iter()
        .map(|b| {
            let mut s = Mqtt::connect(b.mqtt(), &format!("sub-{}", b.cluster()));
            s.subscribe("from-cluster", 1);
            s
        })
        .collect();
    for b in &brokers {
        for other in names.iter().filter(|n| **n != b.cluster()) {
            wait_counter(b, other, "routes_in", 1);
        }
    }
    for b in &brokers {
        let mut p = Mqtt::connect(b.mqtt(), &format!("pub-{}", b.cluster()));
        p.publish_acked("from-cluster", &format!("from {}", b.cluster()))
            .unwrap();
    }
    let want: Vec<Msg> = sorted(
        names
            .iter()
            .map(|n| msg("from-cluster", &format!("from {n}")))
            .collect(),
    );
    for (b, sub) in brokers.iter().zip(subs.iter_mut()) {
        let mut got = sub.receive(3, WAIT);
        got.extend(sub.receive_for(Duration::from_millis(1500)));
        assert_eq!(sorted(got), want, "the subscriber on {}", b.cluster());
    }
    // Each cluster forwarded only its own client's message, once per link.
    for b in &brokers {
        for other in names.iter().filter(|n| **n != b.cluster()) {
            assert_eq!(
                counter(b.admin(), other, "messages_forwarded"),
                1,
                "{} → {other}",
                b.cluster()
            );
            assert_eq!(
                counter(b.admin(), other, "messages_received"),
                1,
                "{} ← {other}",
                b.cluster()
            );
        }
    }
}

#[test]
fn does_a_shared_group_on_the_far_side_get_one_copy_per_message() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let mut g1 = Mqtt::connect(b.mqtt(), "group-1");
    let mut g2 = Mqtt::connect(b.mqtt(), "group-2");
    g1.subscribe("$share/g/from-cluster", 1);
    g2.subscribe("$share/g/from-cluster", 1);
    // Sharing is local to huawei: aliyun is asked for the plain filter, once.
    wait_counter(&a, "huawei", "routes_in", 1);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 1);

    let mut p = Mqtt::connect(a.mqtt(), "pub-a");
    let n = 20;
    for i in 0..n {
        p.publish("from-cluster", 1, &format!("m{i}"));
    }
    assert_eq!(p.wait_pubacks(n, WAIT), n);
    let mut got = Vec::new();
    for _ in 0..200 {
        got.extend(g1.receive(0, Duration::from_millis(25)));
        got.extend(g2.receive(0, Duration::from_millis(25)));
        if got.len() >= n as usize {
            break;
        }
    }
    got.extend(g1.receive_for(Duration::from_millis(500)));
    got.extend(g2.receive_for(Duration::from_millis(500)));
    let mut payloads: Vec<String> = got.into_iter().map(|m| m.payload).collect();
    payloads.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(payloads, want, "one copy per message across the group");
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), n);
}

#[test]
fn does_a_qos2_message_cross_the_link_exactly_once() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let mut sub_b = Mqtt::connect(b.mqtt(), "sub-b");
    sub_b.subscribe("global/#", 2);
    wait_counter(&a, "huawei", "routes_in", 1);
    let mut pub_a = Mqtt::connect(a.mqtt(), "pub-a");
    for i in 0..10 {
        pub_a.publish("global/q2", 2, &format!("q{i}"));
    }
    let mut got = sub_b.receive(10, WAIT);
    got.extend(sub_b.receive_for(Duration::from_secs(1)));
    let payloads: Vec<String> = got.into_iter().map(|m| m.payload).collect();
    let want: Vec<String> = (0..10).map(|i| format!("q{i}")).collect();
    // One topic uses one pool connection, so the order holds too.
    assert_eq!(payloads, want);
    wait_counter(&a, "huawei", "inflight", 0);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 10);
}
