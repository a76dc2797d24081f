//! Helpers for the cluster-link tests (`tests/link_*.rs`) only: real brokers
//! ([`broker`]), the admin API over plain HTTP ([`admin`]), an MQTT 5 client
//! ([`client`]), and bounded waiting. Each test file uses a subset.

pub mod admin;
pub mod broker;
pub mod client;

use std::time::{Duration, Instant};

pub use broker::{Broker, BrokerConfig};
pub use client::Mqtt;

/// The usual bound for something that should happen within a second or two.
pub const WAIT: Duration = Duration::from_secs(15);

/// Polls `check` every 50 ms until it returns true; panics after `limit`, saying
/// what was awaited and what `check` last saw (its `Err`).
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(()) => return,
            Err(seen) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; last seen: {seen}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `link` on the broker is `connected`.
pub fn wait_connected(broker: &Broker, link: &str) {
    wait_until(
        WAIT,
        &format!("link {link} on {} to be connected", broker.cluster()),
        || {
            let m = admin::metrics(broker.admin(), link);
            if m["state"] == "connected" {
                Ok(())
            } else {
                Err(m.to_string())
            }
        },
    );
}

/// Waits until counter `key` of `link` on the broker equals `want`.
pub fn wait_counter(broker: &Broker, link: &str, key: &str, want: u64) {
    wait_until(
        WAIT,
        &format!("{key} of link {link} on {} to be {want}", broker.cluster()),
        || {
            let m = admin::metrics(broker.admin(), link);
            if m[key].as_u64() == Some(want) {
                Ok(())
            } else {
                Err(m.to_string())
            }
        },
    );
}

/// Two clusters `aliyun` and `huawei`, each linked to the other receiving
/// `topics`, started and connected both ways.
pub fn linked_pair(topics: &[&str]) -> (Broker, Broker) {
    let mut a = BrokerConfig::new("aliyun");
    let mut b = BrokerConfig::new("huawei");
    a.link_to(&b, topics);
    b.link_to(&a, topics);
    let a = Broker::start(a);
    let b = Broker::start(b);
    wait_connected(&a, "huawei");
    wait_connected(&b, "aliyun");
    (a, b)
}
