//! Route replication against real brokers: a cluster asks its remote for its local
//! subscriptions ∩ its link's topics (checked through `routes_in`/`routes_out` and
//! through which messages cross), withdraws a route with its last subscriber, and a
//! remote forwards nothing that nobody across the link asked for.

#[allow(dead_code)] // shared by every tests/link_*.rs; each uses a subset
mod link_common;

use std::time::Duration;

use link_common::admin::counter;
use link_common::{linked_pair, wait_connected, wait_counter, Broker, BrokerConfig, Mqtt, WAIT};

/// aliyun and huawei linked both ways; huawei receives `huawei_topics` from aliyun,
/// aliyun receives `from-cluster` from huawei.
fn pair_receiving_on_huawei(huawei_topics: &[&str]) -> (Broker, Broker) {
    let mut a = BrokerConfig::new("aliyun");
    let mut b = BrokerConfig::new("huawei");
    a.link_to(&b, &["from-cluster"]);
    b.link_to(&a, huawei_topics);
    let (a, b) = (Broker::start(a), Broker::start(b));
    wait_connected(&a, "huawei");
    wait_connected(&b, "aliyun");
    (a, b)
}

fn topics(msgs: Vec<link_common::client::Msg>) -> Vec<String> {
    let mut t: Vec<String> = msgs.into_iter().map(|m| m.topic).collect();
    t.sort();
    t
}

/// Publishes each topic on `publisher` at QoS 1, waiting for each PUBACK.
fn publish_all(publisher: &mut Mqtt, topics: &[&str]) {
    for t in topics {
        publisher.publish_acked(t, "x").unwrap();
    }
}

#[test]
fn are_routes_the_intersection_of_subscriptions_and_link_topics() {
    let (a, b) = pair_receiving_on_huawei(&["global/#", "a/b/#"]);
    let mut sub = Mqtt::connect(b.mqtt(), "sub-b");
    // No overlap with any link topic: nothing is asked for.
    sub.subscribe("x/y", 1);
    // global/+/temp ∩ global/# = global/+/temp.
    sub.subscribe("global/+/temp", 1);
    wait_counter(&a, "huawei", "routes_in", 1);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 1);
    // a/+/c ∩ a/b/# = a/b/c (and a/+/c ∩ global/# = nothing).
    sub.subscribe("a/+/c", 1);
    wait_counter(&a, "huawei", "routes_in", 2);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 2);

    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    let candidates = [
        "global/k/temp",
        "global/k/hum",
        "a/b/c",
        "a/x/c",
        "a/b/c/d",
        "x/y",
    ];
    publish_all(&mut publisher, &candidates);
    let mut got = sub.receive(2, WAIT);
    got.extend(sub.receive_for(Duration::from_secs(1)));
    assert_eq!(topics(got), vec!["a/b/c", "global/k/temp"]);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 2);

    // # ∩ global/# = global/#, # ∩ a/b/# = a/b/#: two more routes.
    let mut all = Mqtt::connect(b.mqtt(), "sub-all");
    all.subscribe("#", 1);
    wait_counter(&a, "huawei", "routes_in", 4);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 4);
    publish_all(&mut publisher, &candidates);
    let mut got = all.receive(4, WAIT);
    got.extend(all.receive_for(Duration::from_secs(1)));
    // x/y is subscribed on huawei but outside its link topics: it never crosses.
    assert_eq!(
        topics(got),
        vec!["a/b/c", "a/b/c/d", "global/k/hum", "global/k/temp"]
    );
    // global/k/temp matches two routes (global/+/temp and global/#) yet crosses once.
    let mut got = sub.receive(2, WAIT);
    got.extend(sub.receive_for(Duration::from_millis(500)));
    assert_eq!(topics(got), vec!["a/b/c", "global/k/temp"]);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 6);
}

#[test]
fn is_a_route_withdrawn_with_its_last_subscriber() {
    let (a, b) = pair_receiving_on_huawei(&["global/#"]);
    let mut s1 = Mqtt::connect(b.mqtt(), "s1");
    let mut s2 = Mqtt::connect(b.mqtt(), "s2");
    s1.subscribe("global/#", 1);
    s2.subscribe("global/#", 1);
    wait_counter(&a, "huawei", "routes_in", 1);
    s1.unsubscribe("global/#");
    drop(s1);
    // s2 still holds global/#: the route stays and messages still cross.
    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    publisher.publish_acked("global/one", "1").unwrap();
    assert_eq!(topics(s2.receive(1, WAIT)), vec!["global/one"]);
    assert_eq!(counter(a.admin(), "huawei", "routes_in"), 1);
    // The last subscriber leaves: the route is withdrawn, nothing crosses any more.
    drop(s2);
    wait_counter(&a, "huawei", "routes_in", 0);
    assert_eq!(counter(b.admin(), "aliyun", "routes_out"), 0);
    let before = counter(a.admin(), "huawei", "messages_forwarded");
    publisher.publish_acked("global/two", "2").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), before);
}

#[test]
fn does_a_burst_nobody_across_the_link_wants_forward_nothing() {
    let (a, b) = linked_pair(&["global/#"]);
    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    let n = 500;
    for i in 0..n {
        publisher.publish("global/burst", 1, &format!("b{i}"));
    }
    assert_eq!(publisher.wait_pubacks(n, WAIT), n);
    std::thread::sleep(Duration::from_millis(300));
    let m = link_common::admin::metrics(a.admin(), "huawei");
    assert_eq!(m["messages_forwarded"], 0, "{m}");
    assert_eq!(m["backlog_messages"], 0, "{m}");
    assert_eq!(m["routes_in"], 0, "{m}");
    assert_eq!(counter(b.admin(), "aliyun", "messages_received"), 0);

    // Once someone on huawei subscribes, exactly the next message crosses (the
    // burst was not kept anywhere).
    let mut sub = Mqtt::connect(b.mqtt(), "sub-b");
    sub.subscribe("global/#", 1);
    wait_counter(&a, "huawei", "routes_in", 1);
    publisher.publish_acked("global/burst", "after").unwrap();
    let mut got = sub.receive(1, WAIT);
    got.extend(sub.receive_for(Duration::from_millis(500)));
    let payloads: Vec<String> = got.into_iter().map(|m| m.payload).collect();
    assert_eq!(payloads, vec!["after"]);
    assert_eq!(counter(a.admin(), "huawei", "messages_forwarded"), 1);
}
