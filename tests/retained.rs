//! Retained messages: stored per topic, replaced, deleted by an empty
//! payload, replayed to new subscriptions with RETAIN 1 at the subscription's
//! QoS, and the MQTT 5 Retain Handling options.

mod common;

use common::v4::V4;
use common::v5::{topic, V5};
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::v5::{Filter, RetainForwardRule};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::QoS;

/// Is a retained message stored (even after its publisher left) and sent to a
/// new subscriber with RETAIN 1 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]?
#[tokio::test]
async fn retained_message_is_sent_to_new_subscribers_with_retain_set() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "ret-pub").await;
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"v1")
        .await;
    publisher.disconnect().await;

    let mut sub = V4::connect(&broker, "ret-sub").await;
    sub.subscribe("ret/a", QoS::AtLeastOnce).await;
    let got = sub.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("ret/a", &b"v1"[..])
    );
    assert!(got.retain, "replayed retained message must have RETAIN 1");
    assert_eq!(got.qos, QoS::AtLeastOnce);
    sub.assert_silent(QUIET).await;
}

/// Does a new subscriber on either core get the retained message? (8
/// subscribers with varied ids cover both cores.)
#[tokio::test]
async fn retained_message_reaches_new_subscribers_on_every_core() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "ret-core-pub").await;
    publisher
        .publish("ret/core", QoS::AtLeastOnce, true, b"everywhere")
        .await;
    for i in 0..8 {
        let mut sub = V4::connect(&broker, &format!("ret-core-sub-{i}")).await;
        sub.subscribe("ret/core", QoS::AtLeastOnce).await;
        let got = sub.recv().await;
        assert_eq!(&got.payload[..], b"everywhere", "ret-core-sub-{i}");
        assert!(got.retain);
    }
}

/// Does a newer retained message replace the older one, so that a new
/// subscriber gets only the latest [MQTT-3.3.1-5]?
#[tokio::test]
async fn newer_retained_message_replaces_older() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "replace-pub").await;
    publisher
        .publish("ret/r", QoS::AtLeastOnce, true, b"old")
        .await;
    publisher
        .publish("ret/r", QoS::AtLeastOnce, true, b"new")
        .await;

    let mut sub = V4::connect(&broker, "replace-sub").await;
    sub.subscribe("ret/r", QoS::AtLeastOnce).await;
    assert_eq!(&sub.recv().await.payload[..], b"new");
    sub.assert_silent(QUIET).await;
}

/// Does a retained PUBLISH with an empty payload delete the retained message
/// [MQTT-3.3.1-10] [MQTT-3.3.1-11], while still reaching existing subscribers
/// as a normal (RETAIN 0) message?
#[tokio::test]
async fn empty_retained_payload_deletes_the_retained_message() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "del-pub").await;
    let mut existing = V4::connect(&broker, "del-existing").await;
    existing.subscribe("ret/d", QoS::AtLeastOnce).await;
    publisher
        .publish("ret/d", QoS::AtLeastOnce, true, b"doomed")
        .await;
    assert_eq!(&existing.recv().await.payload[..], b"doomed");

    publisher
        .publish("ret/d", QoS::AtLeastOnce, true, b"")
        .await;
    let got = existing.recv().await;
    assert!(
        got.payload.is_empty(),
        "the empty message is delivered as normal"
    );
    assert!(
        !got.retain,
        "as normal means RETAIN 0 for an existing subscriber"
    );

    let mut late = V4::connect(&broker, "del-late").await;
    late.subscribe("ret/d", QoS::AtLeastOnce).await;
    late.assert_silent(QUIET).await;
}

/// Does a non-retained PUBLISH leave the stored retained message alone
/// [MQTT-3.3.1-12]?
#[tokio::test]
async fn non_retained_publish_does_not_touch_the_retained_message() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "keep-pub").await;
    publisher
        .publish("ret/k", QoS::AtLeastOnce, true, b"kept")
        .await;
    publisher
        .publish("ret/k", QoS::AtLeastOnce, false, b"passing")
        .await;

    let mut sub = V4::connect(&broker, "keep-sub").await;
    sub.subscribe("ret/k", QoS::AtLeastOnce).await;
    assert_eq!(&sub.recv().await.payload[..], b"kept");
    sub.assert_silent(QUIET).await;
}

/// Is a retained QoS 2 message replayed at the subscription's lower QoS
/// [MQTT-3.8.4-6]?
#[tokio::test]
async fn retained_delivery_is_downgraded_to_subscription_qos() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "rdown-pub").await;
    publisher
        .publish("ret/q", QoS::ExactlyOnce, true, b"q2")
        .await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut sub = V4::connect(&broker, &format!("rdown-sub-{}", qos as u8)).await;
        sub.subscribe("ret/q", qos).await;
        let got = sub.recv().await;
        assert_eq!(
            got.qos, qos,
            "retained QoS 2 replayed to a {qos:?} subscription"
        );
        assert!(got.retain);
    }
}

/// Does a wildcard subscription get every matching retained message, each
/// with RETAIN 1, and none that do not match?
#[tokio::test]
async fn wildcard_subscription_gets_all_matching_retained_messages() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "rwild-pub").await;
    for name in ["w/a", "w/b", "w/c/d", "x/a", "w"] {
        publisher
            .publish(name, QoS::AtLeastOnce, true, name.as_bytes())
            .await;
    }
    let mut sub = V4::connect(&broker, "rwild-sub").await;
    sub.subscribe("w/+", QoS::AtLeastOnce).await;
    let mut got: Vec<String> = sub
        .recv_n(2, WAIT)
        .await
        .into_iter()
        .map(|p| p.topic)
        .collect();
    got.sort();
    assert_eq!(got, ["w/a", "w/b"]);
    sub.assert_silent(QUIET).await;

    sub.subscribe("w/#", QoS::AtLeastOnce).await;
    let replayed = sub.recv_n(4, WAIT).await;
    assert!(
        replayed.iter().all(|p| p.retain),
        "all replayed with RETAIN 1"
    );
    let mut got: Vec<String> = replayed.into_iter().map(|p| p.topic).collect();
    got.sort();
    assert_eq!(got, ["w", "w/a", "w/b", "w/c/d"]);
    sub.assert_silent(QUIET).await;
}

/// Does a message that matches an established subscription arrive with
/// RETAIN 0 even though it was published retained [MQTT-3.3.1-9]?
#[tokio::test]
async fn live_retained_message_to_existing_subscriber_has_retain_cleared() {
    let broker = Broker::start("");
    let mut v4_sub = V4::connect(&broker, "live-v4").await;
    let mut v5_sub = V5::connect(&broker, "live-v5").await;
    v4_sub.subscribe("ret/live", QoS::AtLeastOnce).await;
    v5_sub.subscribe("ret/live", QoS5::AtLeastOnce).await;
    let mut publisher = V4::connect(&broker, "live-pub").await;
    publisher
        .publish("ret/live", QoS::AtLeastOnce, true, b"now")
        .await;
    assert!(!v4_sub.recv().await.retain, "3.1.1 subscriber");
    assert!(
        !v5_sub.recv().await.retain,
        "5.0 subscriber without retain-as-published"
    );
}

/// With Retain Handling 0, are retained messages sent on every SUBSCRIBE,
/// including a repeated one (5.0 [MQTT-3.3.1-9], 3.1.1 [MQTT-3.8.4-3])?
#[tokio::test]
async fn v5_retain_handling_0_sends_on_every_subscribe() {
    let broker = Broker::start("");
    let mut publisher = V5::connect(&broker, "rh0-pub").await;
    publisher
        .publish("rh/0", QoS5::AtLeastOnce, true, b"r")
        .await;
    let mut sub = V5::connect(&broker, "rh0-sub").await;
    for round in 0..2 {
        let mut filter = Filter::new("rh/0", QoS5::AtLeastOnce);
        filter.retain_forward_rule = RetainForwardRule::OnEverySubscribe;
        sub.subscribe_filter(filter, None).await;
        let got = sub.try_recv(WAIT).await;
        let got = got.unwrap_or_else(|| panic!("no retained message on subscribe #{round}"));
        assert_eq!((topic(&got).as_str(), got.retain), ("rh/0", true));
        sub.assert_silent(QUIET).await;
    }
}

/// With Retain Handling 1, are retained messages sent only when the
/// subscription is new (5.0 [MQTT-3.3.1-10])?
#[tokio::test]
async fn v5_retain_handling_1_sends_only_for_a_new_subscription() {
    let broker = Broker::start("");
    let mut publisher = V5::connect(&broker, "rh1-pub").await;
    publisher
        .publish("rh/1", QoS5::AtLeastOnce, true, b"r")
        .await;
    let mut sub = V5::connect(&broker, "rh1-sub").await;
    let filter = || {
        let mut filter = Filter::new("rh/1", QoS5::AtLeastOnce);
        filter.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
        filter
    };
    sub.subscribe_filter(filter(), None).await;
    assert!(
        sub.recv().await.retain,
        "first subscription gets the retained message"
    );
    sub.subscribe_filter(filter(), None).await;
    sub.assert_silent(QUIET).await;
}

/// With Retain Handling 2, are retained messages never sent at subscribe
/// time, while live messages still flow (5.0 [MQTT-3.3.1-11])?
#[tokio::test]
async fn v5_retain_handling_2_never_sends_retained() {
    let broker = Broker::start("");
    let mut publisher = V5::connect(&broker, "rh2-pub").await;
    publisher
        .publish("rh/2", QoS5::AtLeastOnce, true, b"r")
        .await;
    let mut sub = V5::connect(&broker, "rh2-sub").await;
    let mut filter = Filter::new("rh/2", QoS5::AtLeastOnce);
    filter.retain_forward_rule = RetainForwardRule::Never;
    sub.subscribe_filter(filter, None).await;
    sub.assert_silent(QUIET).await;

    publisher
        .publish("rh/2", QoS5::AtLeastOnce, false, b"live")
        .await;
    assert_eq!(&sub.recv().await.payload[..], b"live");
}

/// Does `#` replay all of 500 retained topics, each once with RETAIN 1?
#[tokio::test]
async fn many_retained_topics_are_all_replayed() {
    const TOPICS: usize = 500;
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "many-pub").await;
    for n in 0..TOPICS {
        publisher
            .publish_nowait(&format!("many/{n}"), QoS::AtLeastOnce, true, b"r")
            .await;
    }
    publisher.flush(WAIT).await;
    let mut sub = V4::connect(&broker, "many-sub").await;
    sub.subscribe("many/#", QoS::AtLeastOnce).await;
    let got = sub.recv_n(TOPICS, WAIT).await;
    assert!(got.iter().all(|p| p.retain));
    let mut topics: Vec<String> = got.into_iter().map(|p| p.topic).collect();
    topics.sort();
    topics.dedup();
    assert_eq!(topics.len(), TOPICS, "distinct retained topics replayed");
    sub.assert_silent(QUIET).await;
}
