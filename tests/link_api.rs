//! The admin API driving real links at runtime: links created with POST carry
//! traffic, DELETE and `PUT {"enable": false}` stop it, bad requests get 4xx JSON
//! errors, and `/metrics` shows the links in Prometheus text.

#[allow(dead_code)] // shared by every tests/link_*.rs; each uses a subset
mod link_common;

use std::time::Duration;

use link_common::admin::{counter, get, request, state};
use link_common::broker::LinkSpec;
use link_common::{
    linked_pair, wait_connected, wait_counter, wait_until, Broker, BrokerConfig, Mqtt, WAIT,
};
use serde_json::json;

/// Subscribers to `from-cluster` on both brokers, after both routes are in.
fn subscribers(a: &Broker, b: &Broker) -> (Mqtt, Mqtt) {
    let mut sub_a = Mqtt::connect(a.mqtt(), "sub-a");
    let mut sub_b = Mqtt::connect(b.mqtt(), "sub-b");
    sub_a.subscribe("from-cluster", 1);
    sub_b.subscribe("from-cluster", 1);
    (sub_a, sub_b)
}

/// Publishes `tag` on both brokers; returns the payloads each subscriber got
/// within a second after (aliyun's, huawei's).
fn exchange(
    a: &Broker,
    b: &Broker,
    subs: &mut (Mqtt, Mqtt),
    tag: &str,
) -> (Vec<String>, Vec<String>) {
    let mut pub_a = Mqtt::connect(a.mqtt(), "pub-a");
    let mut pub_b = Mqtt::connect(b.mqtt(), "pub-b");
    pub_a
        .publish_acked("from-cluster", &format!("{tag} from aliyun"))
        .unwrap();
    pub_b
        .publish_acked("from-cluster", &format!("{tag} from huawei"))
        .unwrap();
    let got = |sub: &mut Mqtt| {
        let mut v: Vec<String> = sub
            .receive(2, Duration::from_secs(3))
            .into_iter()
            .map(|m| m.payload)
            .collect();
        v.extend(
            sub.receive_for(Duration::from_millis(700))
                .into_iter()
                .map(|m| m.payload),
        );
        v.sort();
        v
    };
    (got(&mut subs.0), got(&mut subs.1))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn do_links_created_at_runtime_carry_traffic_until_deleted() {
    let (ca, cb) = (BrokerConfig::new("aliyun"), BrokerConfig::new("huawei"));
    let to_b = LinkSpec::new("aliyun", "huawei", cb.mqtt, &["from-cluster"]);
    let to_a = LinkSpec::new("huawei", "aliyun", ca.mqtt, &["from-cluster"]);
    let (a, b) = (Broker::start(ca), Broker::start(cb));
    assert_eq!(get(a.admin(), "/api/v1/links").json(), json!([]));

    let created = request(a.admin(), "POST", "/api/v1/links", &to_b.json().to_string());
    assert_eq!(created.status, 201, "{}", created.body);
    let link = created.json();
    assert_eq!(link["name"], "huawei");
    assert_eq!(link["topics"], json!(["from-cluster"]));
    assert!(
        link.get("password").is_none(),
        "secrets are never echoed: {link}"
    );
    let created = request(b.admin(), "POST", "/api/v1/links", &to_a.json().to_string());
    assert_eq!(created.status, 201, "{}", created.body);
    wait_connected(&a, "huawei");
    wait_connected(&b, "aliyun");
    let listed = get(a.admin(), "/api/v1/links").json();
    assert_eq!(listed[0]["name"], "huawei");
    assert_eq!(listed[0]["state"], "connected");

    let mut subs = subscribers(&a, &b);
    wait_counter(&a, "huawei", "routes_in", 1);
    wait_counter(&b, "aliyun", "routes_in", 1);
    let both = strings(&["one from aliyun", "one from huawei"]);
    assert_eq!(exchange(&a, &b, &mut subs, "one"), (both.clone(), both));

    // aliyun deletes its link to huawei: the clusters are no longer linked.
    let deleted = request(a.admin(), "DELETE", "/api/v1/links/huawei", "");
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(get(a.admin(), "/api/v1/links/huawei").status, 404);
    assert_eq!(get(a.admin(), "/api/v1/links").json(), json!([]));
    // Give the change a moment to reach the link shard and the peer.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        exchange(&a, &b, &mut subs, "two"),
        (strings(&["two from aliyun"]), strings(&["two from huawei"])),
        "after the DELETE each message stays in its own cluster"
    );
    // aliyun no longer accepts huawei's link connections (no link of that name).
    wait_until(
        WAIT,
        "huawei's link to aliyun to be refused",
        || match state(b.admin(), "aliyun").as_str() {
            "connected" => Err("still connected".into()),
            _ => Ok(()),
        },
    );
}

#[test]
fn does_a_disabled_link_forward_nothing_until_enabled_again() {
    let (a, b) = linked_pair(&["from-cluster"]);
    let mut subs = subscribers(&a, &b);
    wait_counter(&a, "huawei", "routes_in", 1);
    wait_counter(&b, "aliyun", "routes_in", 1);

    let disabled = request(
        a.admin(),
        "PUT",
        "/api/v1/links/huawei",
        r#"{"enable": false}"#,
    );
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.json()["enable"], false);
    assert_eq!(disabled.json()["state"], "disabled");
    assert_eq!(state(a.admin(), "huawei"), "disabled");
    let forwarded = counter(a.admin(), "huawei", "messages_forwarded");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        exchange(&a, &b, &mut subs, "off"),
        (strings(&["off from aliyun"]), strings(&["off from huawei"])),
        "a disabled link carries nothing either way"
    );
    // aliyun no longer accepts huawei's link connections (its link is disabled).
    wait_until(
        WAIT,
        "huawei's link to aliyun to be refused",
        || match state(b.admin(), "aliyun").as_str() {
            "connected" => Err("still connected".into()),
            _ => Ok(()),
        },
    );
    assert_eq!(
        counter(a.admin(), "huawei", "messages_forwarded"),
        forwarded
    );

    let enabled = request(
        a.admin(),
        "PUT",
        "/api/v1/links/huawei",
        r#"{"enable": true}"#,
    );
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    wait_connected(&a, "huawei");
    wait_connected(&b, "aliyun");
    wait_counter(&a, "huawei", "routes_in", 1);
    wait_counter(&b, "aliyun", "routes_in", 1);
    let both = strings(&["on from aliyun", "on from huawei"]);
    let (at_aliyun, at_huawei) = exchange(&a, &b, &mut subs, "on");
    assert_eq!(at_huawei, both);
    // huawei's own link to aliyun stayed enabled: the message it accepted for
    // aliyun while aliyun's side was disabled was refused unacknowledged, kept in
    // huawei's backlog, and arrives once the link is back. Nothing is lost.
    let with_backlog = strings(&["off from huawei", "on from aliyun", "on from huawei"]);
    assert!(
        at_aliyun == both || at_aliyun == with_backlog,
        "aliyun got {at_aliyun:?}"
    );
}

#[test]
fn do_bad_api_requests_get_4xx_json_errors() {
    let (a, b) = linked_pair(&["from-cluster"]);
    let valid = LinkSpec::new("aliyun", "aws", b.mqtt(), &["from-cluster"]).json();
    let mut own_name = valid.clone();
    own_name["name"] = json!("aliyun");
    let mut bad_topic = valid.clone();
    bad_topic["topics"] = json!(["a/#/b"]);
    let mut unknown_key = valid.clone();
    unknown_key["colour"] = json!("blue");
    let huawei = LinkSpec::new("aliyun", "huawei", b.mqtt(), &["x"])
        .json()
        .to_string();
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/links",
            "{\"name\": ".into(),
            400,
            "not valid JSON",
        ),
        ("POST", "/api/v1/links", String::new(), 400, "empty"),
        ("POST", "/api/v1/links", "[1, 2]".into(), 400, "JSON object"),
        (
            "POST",
            "/api/v1/links",
            r#"{"name": "aws"}"#.into(),
            400,
            "server",
        ),
        (
            "POST",
            "/api/v1/links",
            own_name.to_string(),
            400,
            "own name",
        ),
        (
            "POST",
            "/api/v1/links",
            bad_topic.to_string(),
            400,
            "topics[0]",
        ),
        (
            "POST",
            "/api/v1/links",
            unknown_key.to_string(),
            400,
            "colour",
        ),
        ("POST", "/api/v1/links", huawei, 409, "already exists"),
        (
            "PUT",
            "/api/v1/links/huawei",
            r#"{"pool_size": 0}"#.into(),
            400,
            "pool_size",
        ),
        (
            "PUT",
            "/api/v1/links/huawei",
            "nonsense".into(),
            400,
            "not valid JSON",
        ),
        (
            "PUT",
            "/api/v1/links/aws",
            r#"{"enable": false}"#.into(),
            404,
            "aws",
        ),
        ("GET", "/api/v1/links/aws", String::new(), 404, "aws"),
        (
            "GET",
            "/api/v1/links/aws/metrics",
            String::new(),
            404,
            "aws",
        ),
        ("DELETE", "/api/v1/links/aws", String::new(), 404, "aws"),
        ("DELETE", "/api/v1/links", String::new(), 405, "not allowed"),
        (
            "GET",
            "/api/v2/nothing",
            String::new(),
            404,
            "no such endpoint",
        ),
    ];
    for (method, path, body, status, words) in cases {
        let response = request(a.admin(), method, path, &body);
        assert_eq!(
            response.status, status,
            "{method} {path} {body}: {}",
            response.body
        );
        assert_eq!(response.content_type, "application/json", "{method} {path}");
        let error = response.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            error.contains(words),
            "{method} {path} {body}: {error:?} should mention {words:?}"
        );
    }
    // Nothing was changed by the refused requests: the link is as configured and up.
    let link = get(a.admin(), "/api/v1/links/huawei").json();
    assert_eq!(
        (link["pool_size"].clone(), link["state"].clone()),
        (json!(2), json!("connected"))
    );
    assert_eq!(
        get(a.admin(), "/api/v1/links")
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn does_prometheus_text_show_each_link() {
    let (a, b) = linked_pair(&["from-cluster"]);
    let mut sub = Mqtt::connect(b.mqtt(), "sub-b");
    sub.subscribe("from-cluster", 1);
    wait_counter(&a, "huawei", "routes_in", 1);
    let mut publisher = Mqtt::connect(a.mqtt(), "pub-a");
    publisher.publish_acked("from-cluster", "x").unwrap();
    assert_eq!(sub.receive(1, WAIT).len(), 1);
    wait_counter(&a, "huawei", "messages_forwarded", 1);
    let response = get(a.admin(), "/metrics");
    assert_eq!(response.status, 200);
    assert!(
        response.content_type.starts_with("text/plain"),
        "{}",
        response.content_type
    );
    for line in [
        "meridian_link_up{link=\"huawei\"} 1",
        "meridian_link_messages_forwarded{link=\"huawei\"} 1",
        "meridian_link_routes_in{link=\"huawei\"} 1",
    ] {
        assert!(
            response.body.lines().any(|l| l == line),
            "{line} in:\n{}",
            response.body
        );
    }
}
