//! Link failures against real brokers: the remote cluster killed and restarted (a
//! new incarnation: its stale routes go, fresh ones come, traffic flows again), and
//! a fault-injecting proxy cutting the link in the middle of a QoS 1 stream (no
//! message lost once it heals; duplicates only as many as were resent).

#[allow(dead_code)] // shared by every tests/link_*.rs; each uses a subset
mod link_common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use link_common::admin::{counter, metrics};
use link_common::{
    linked_pair, wait_connected, wait_counter, wait_until, Broker, BrokerConfig, Mqtt, WAIT,
};
use meridian_loadgen::proxy::{Proxy, ProxyOptions};

#[test]
fn after_the_remote_restarts_do_routes_resync_and_traffic_flow() {
    let (a, mut b) = linked_pair(&["from-cluster", "global/#"]);
    let mut sub_a = Mqtt::connect(a.mqtt(), "sub-a");
    sub_a.subscribe("from-cluster", 1);
    let mut old_sub_b = Mqtt::connect(b.mqtt(), "old-sub-b");
    old_sub_b.subscribe("from-cluster", 1);
    old_sub_b.subscribe("global/stale", 1);
    wait_counter(&a, "huawei", "routes_in", 2);
    wait_counter(&b, "aliyun", "routes_in", 1);

    // huawei dies without a word and comes back with the same config.
    b.restart();
    drop(old_sub_b);
    wait_connected(&b, "aliyun");
    wait_connected(&a, "huawei");
    // The new incarnation has no subscribers: its snapshot drops the stale routes.
    wait_counter(&a, "huawei", "routes_in", 0);
    // aliyun's own link to huawei notices the loss on its own clock (the new
    // incarnation's snapshot above may arrive first).
    wait_until(
        WAIT,
        "aliyun's link to huawei to reconnect",
        || match counter(a.admin(), "huawei", "reconnects") {
            n if n >= 1 => Ok(()),
            n => Err(format!("reconnects = {n}")),
        },
    );
    // aliyun's routes reach the new incarnation again.
    wait_counter(&b, "aliyun", "routes_in", 1);

    let mut sub_b = Mqtt::connect(b.mqtt(), "sub-b");
    sub_b.subscribe("from-cluster", 1);
    wait_counter(&a, "huawei", "routes_in", 1);
    let mut pub_a = Mqtt::connect(a.mqtt(), "pub-a");
    let mut pub_b = Mqtt::connect(b.mqtt(), "pub-b");
    pub_a.publish_acked("from-cluster", "from aliyun").unwrap();
    pub_b.publish_acked("from-cluster", "from huawei").unwrap();
    for (name, sub) in [("aliyun", &mut sub_a), ("huawei", &mut sub_b)] {
        let mut got: Vec<String> = sub
            .receive(2, WAIT)
            .into_iter()
            .map(|m| m.payload)
            .collect();
        got.extend(
            sub.receive_for(Duration::from_secs(1))
                .into_iter()
                .map(|m| m.payload),
        );
        got.sort();
        assert_eq!(
            got,
            vec!["from aliyun", "from huawei"],
            "subscriber on {name}"
        );
    }
}

/// Receives on `sub` until every payload `0..n` has arrived or `limit` passes;
/// returns how often each arrived.
fn count_until_complete(sub: &mut Mqtt, n: usize, limit: Duration) -> BTreeMap<usize, usize> {
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let deadline = Instant::now() + limit;
    while seen.len() < n && Instant::now() < deadline {
        for m in sub.receive(1, Duration::from_millis(100)) {
            let seq: usize = m.payload.parse().expect("a sequence number");
            *seen.entry(seq).or_default() += 1;
        }
    }
    for m in sub.receive_for(Duration::from_secs(1)) {
        let seq: usize = m.payload.parse().expect("a sequence number");
        *seen.entry(seq).or_default() += 1;
    }
    seen
}

#[test]
fn is_no_qos1_message_lost_when_the_link_is_cut_mid_stream() {
    let mut a = BrokerConfig::new("aliyun");
    let mut b = BrokerConfig::new("huawei");
    // A slow WAN (20 ms each way, 20 kB/s) so that the cut catches messages in flight.
    let wan = ProxyOptions {
        delay: Duration::from_millis(20),
        bandwidth: Some(20_000),
        ..ProxyOptions::default()
    };
    let proxy =
        Proxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), b.mqtt, wan).expect("start the proxy");
    // aliyun reaches huawei only through the proxy; huawei reaches aliyun directly.
    a.link_to(&b, &["stream/#"]).server = proxy.local_addr().to_string();
    b.link_to(&a, &["stream/#"]);
    let (a, b) = (Broker::start(a), Broker::start(b));
    wait_connected(&a, "huawei");
    wait_connected(&b, "aliyun");
    let mut sub = Mqtt::connect(b.mqtt(), "sub-b");
    sub.subscribe("stream/#", 1);
    wait_counter(&a, "huawei", "routes_in", 1);

    let n = 2000;
    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for i in 0..n / 2 {
        publisher.publish(&format!("stream/{}", i % 4), 1, &i.to_string());
    }
    // Cut while the stream is flowing: some messages delivered, some in flight.
    wait_until(WAIT, "the first messages to cross", || {
        for m in sub.receive(1, Duration::from_millis(20)) {
            *seen.entry(m.payload.parse().expect("seq")).or_default() += 1;
        }
        if seen.len() >= 50 {
            Ok(())
        } else {
            Err(format!("{} received", seen.len()))
        }
    });
    proxy.cut_now(Duration::from_secs(1));
    for i in n / 2..n {
        publisher.publish(&format!("stream/{}", i % 4), 1, &i.to_string());
    }
    assert_eq!(
        publisher.wait_pubacks(n as u64, WAIT),
        n as u64,
        "PUBACKs from aliyun"
    );
    for (seq, count) in count_until_complete(&mut sub, n - seen.len(), Duration::from_secs(40)) {
        *seen.entry(seq).or_default() += count;
    }
    let missing: Vec<usize> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    let m = metrics(a.admin(), "huawei");
    assert_eq!(proxy.stats().cuts, 1);
    assert!(
        m["reconnects"].as_u64() >= Some(1),
        "the cut reached the link: {m}"
    );
    assert_eq!(
        missing.len(),
        0,
        "lost {} of {n} (first: {:?}); link metrics {m}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let resent = m["resent"].as_u64().unwrap_or(0);
    assert!(
        duplicates as u64 <= resent,
        "{duplicates} duplicates but only {resent} resent: {m}"
    );
    assert_eq!(m["dropped"], 0, "{m}");
    assert!(m["messages_forwarded"].as_u64() >= Some(n as u64), "{m}");
}

#[test]
fn does_inflight_count_the_unacknowledged_messages_of_every_pool_connection() {
    let mut a = BrokerConfig::new("aliyun");
    let mut b = BrokerConfig::new("huawei");
    // 500 ms each way: every forwarded message stays unacknowledged for a second.
    let slow = ProxyOptions {
        delay: Duration::from_millis(500),
        ..ProxyOptions::default()
    };
    let proxy =
        Proxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), b.mqtt, slow).expect("start the proxy");
    a.link_to(&b, &["stream/#"]).server = proxy.local_addr().to_string();
    b.link_to(&a, &["stream/#"]);
    let (a, b) = (Broker::start(a), Broker::start(b));
    wait_connected(&a, "huawei");
    let mut sub = Mqtt::connect(b.mqtt(), "sub-b");
    sub.subscribe("stream/#", 1);
    wait_counter(&a, "huawei", "routes_in", 1);

    // 16 topics: spread over both pool connections (a topic always uses one).
    let n = 160;
    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    for i in 0..n {
        publisher.publish(&format!("stream/{}", i % 16), 1, &i.to_string());
    }
    wait_counter(&a, "huawei", "messages_forwarded", n);
    let m = metrics(a.admin(), "huawei");
    assert_eq!(
        m["inflight"], n,
        "all {n} forwarded, none acknowledged yet: {m}"
    );
    assert_eq!(sub.receive(n as usize, WAIT).len(), n as usize);
    wait_counter(&a, "huawei", "inflight", 0);
}
