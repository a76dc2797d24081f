//! Publish/subscribe through the real broker: QoS flows in both directions
//! for 3.1.1 and 5.0 clients, wildcard matching, fan-out across cores, QoS
//! downgrade, unsubscribe, and the MQTT 5 per-message features.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::v4::V4;
use common::v5::V5;
use common::v5::{set_session_expiry, topic};
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::v5::{Filter, PublishProperties, SubscribeProperties};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::QoS;

const V4_LEVELS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
const V5_LEVELS: [QoS5; 3] = [QoS5::AtMostOnce, QoS5::AtLeastOnce, QoS5::ExactlyOnce];

/// Does a 3.1.1 message published at QoS 0, 1 and 2 reach a 3.1.1 subscriber
/// at the same QoS, exactly once, with its payload intact and RETAIN 0?
#[tokio::test]
async fn v4_publish_and_receive_at_each_qos() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "v4-sub").await;
    let mut publisher = V4::connect(&broker, "v4-pub").await;
    for qos in V4_LEVELS {
        let topic = format!("qos/{}", qos as u8);
        sub.subscribe(&topic, qos).await;
        publisher
            .publish(&topic, qos, false, topic.as_bytes())
            .await;
        let got = sub.recv().await;
        assert_eq!(got.topic, topic);
        assert_eq!(got.qos, qos, "delivered QoS for {topic}");
        assert_eq!(&got.payload[..], topic.as_bytes());
        assert!(
            !got.retain,
            "live message must have RETAIN 0 [MQTT-3.3.1-9]"
        );
        assert!(!got.dup, "first delivery must have DUP 0 [MQTT-3.3.1-1]");
        sub.assert_silent(QUIET).await;
    }
}

/// Does a 5.0 message published at QoS 0, 1 and 2 reach a 5.0 subscriber at
/// the same QoS, exactly once, with its payload intact?
#[tokio::test]
async fn v5_publish_and_receive_at_each_qos() {
    let broker = Broker::start("");
    let mut sub = V5::connect(&broker, "v5-sub").await;
    let mut publisher = V5::connect(&broker, "v5-pub").await;
    for qos in V5_LEVELS {
        let name = format!("qos/{}", qos as u8);
        sub.subscribe(&name, qos).await;
        publisher.publish(&name, qos, false, name.as_bytes()).await;
        let got = sub.recv().await;
        assert_eq!(topic(&got), name);
        assert_eq!(got.qos, qos, "delivered QoS for {name}");
        assert_eq!(&got.payload[..], name.as_bytes());
        assert!(!got.retain);
        sub.assert_silent(QUIET).await;
    }
}

/// Do messages cross protocol versions: 3.1.1 publisher → 5.0 subscriber and
/// 5.0 publisher → 3.1.1 subscriber, at QoS 2?
#[tokio::test]
async fn messages_cross_between_v4_and_v5_clients() {
    let broker = Broker::start("");
    let mut v4 = V4::connect(&broker, "mixed-v4").await;
    let mut v5 = V5::connect(&broker, "mixed-v5").await;
    v4.subscribe("to/v4", QoS::ExactlyOnce).await;
    v5.subscribe("to/v5", QoS5::ExactlyOnce).await;

    v4.publish("to/v5", QoS::ExactlyOnce, false, b"from v4")
        .await;
    let got = v5.recv().await;
    assert_eq!(
        (topic(&got).as_str(), &got.payload[..]),
        ("to/v5", &b"from v4"[..])
    );
    assert_eq!(got.qos, QoS5::ExactlyOnce);

    v5.publish("to/v4", QoS5::ExactlyOnce, false, b"from v5")
        .await;
    let got = v4.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("to/v4", &b"from v5"[..])
    );
    assert_eq!(got.qos, QoS::ExactlyOnce);
}

/// Is a subscription effective as soon as its SUBACK arrives, even for a
/// publisher whose session may live on the other core?
#[tokio::test]
async fn subscription_is_effective_when_suback_arrives() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "eff-pub").await;
    let mut subs = Vec::new();
    for i in 0..8 {
        subs.push(V4::connect(&broker, &format!("eff-sub-{i}")).await);
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        let filter = format!("eff/{i}");
        sub.subscribe(&filter, QoS::AtLeastOnce).await;
        publisher
            .publish(&filter, QoS::AtLeastOnce, false, b"now")
            .await;
        let got = sub.try_recv(WAIT).await;
        assert!(
            got.is_some(),
            "eff-sub-{i}: message published right after SUBACK was lost"
        );
    }
}

/// Does `+` match exactly one level, including an empty one, and nothing else
/// [MQTT-4.7.1-3]?
#[tokio::test]
async fn plus_matches_exactly_one_level() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "plus-sub").await;
    let mut publisher = V4::connect(&broker, "plus-pub").await;
    sub.subscribe("a/+/c", QoS::AtLeastOnce).await;
    for name in ["a/b/c", "a/c", "a/b/d/c", "a//c", "a/b/c/d", "x/b/c"] {
        publisher
            .publish(name, QoS::AtLeastOnce, false, name.as_bytes())
            .await;
    }
    let got: Vec<String> = sub
        .recv_n(2, WAIT)
        .await
        .into_iter()
        .map(|p| p.topic)
        .collect();
    assert_eq!(got, ["a/b/c", "a//c"]);
    sub.assert_silent(QUIET).await;
}

/// Does `sport/#` match `sport` itself and every level below it, but not
/// `sports` [MQTT-4.7.1-2]?
#[tokio::test]
async fn hash_matches_parent_and_all_descendants() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "hash-sub").await;
    let mut publisher = V4::connect(&broker, "hash-pub").await;
    sub.subscribe("sport/#", QoS::AtLeastOnce).await;
    for name in [
        "sport",
        "sports",
        "sport/tennis",
        "sport/tennis/player1",
        "other/sport",
    ] {
        publisher
            .publish(name, QoS::AtLeastOnce, false, name.as_bytes())
            .await;
    }
    let got: Vec<String> = sub
        .recv_n(3, WAIT)
        .await
        .into_iter()
        .map(|p| p.topic)
        .collect();
    assert_eq!(got, ["sport", "sport/tennis", "sport/tennis/player1"]);
    sub.assert_silent(QUIET).await;
}

/// Do filters starting with a wildcard (`#`, `+/…`) stay away from topics
/// starting with `$`, while `$foo/#` gets them [MQTT-4.7.2-1]?
#[tokio::test]
async fn wildcards_do_not_match_dollar_topics() {
    let broker = Broker::start("");
    let mut all = V4::connect(&broker, "dollar-all").await;
    let mut plus = V4::connect(&broker, "dollar-plus").await;
    let mut dollar = V4::connect(&broker, "dollar-explicit").await;
    let mut publisher = V4::connect(&broker, "dollar-pub").await;
    all.subscribe("#", QoS::AtLeastOnce).await;
    plus.subscribe("+/bar", QoS::AtLeastOnce).await;
    dollar.subscribe("$foo/#", QoS::AtLeastOnce).await;

    publisher
        .publish("$foo/bar", QoS::AtLeastOnce, false, b"dollar")
        .await;
    publisher
        .publish("foo/bar", QoS::AtLeastOnce, false, b"plain")
        .await;

    let got = dollar.recv().await;
    assert_eq!(got.topic, "$foo/bar", "an explicit $ filter must match");
    for sub in [&mut all, &mut plus] {
        let got = sub.recv().await;
        assert_eq!(got.topic, "foo/bar", "{} got a $ topic", sub.id);
        while let Some(extra) = sub.try_recv(QUIET).await {
            assert!(
                !extra.topic.starts_with('$'),
                "{} received {:?}",
                sub.id,
                extra.topic
            );
        }
    }
}

/// When two of a client's subscriptions overlap, is the message delivered at
/// the highest granted QoS, and at most once per matching subscription
/// [MQTT-3.3.5-1]?
#[tokio::test]
async fn overlapping_subscriptions_deliver_at_the_highest_qos() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "overlap-sub").await;
    let mut publisher = V4::connect(&broker, "overlap-pub").await;
    sub.subscribe("ov/+", QoS::AtMostOnce).await;
    sub.subscribe("ov/#", QoS::AtLeastOnce).await;
    publisher
        .publish("ov/x", QoS::AtLeastOnce, false, b"both")
        .await;

    let mut copies = vec![sub.recv().await];
    while let Some(more) = sub.try_recv(QUIET).await {
        copies.push(more);
    }
    assert!(
        copies.len() <= 2,
        "{} copies for 2 subscriptions",
        copies.len()
    );
    assert!(
        copies.iter().any(|p| p.qos == QoS::AtLeastOnce),
        "no copy at QoS 1: {copies:?}"
    );
    assert!(copies.iter().all(|p| &p.payload[..] == b"both"));
}

/// Does one publisher's stream reach 8 subscribers (spread over both cores)
/// completely and in publish order [MQTT-4.6.0-6]?
#[tokio::test]
async fn fan_out_to_eight_subscribers_across_cores_keeps_order() {
    const MESSAGES: usize = 100;
    let broker = Broker::start("");
    let mut subs = Vec::new();
    for i in 0..8 {
        let mut sub = V4::connect(&broker, &format!("fan-{i}-{}", i * 7919)).await;
        sub.subscribe("fan/out", QoS::AtLeastOnce).await;
        subs.push(sub);
    }
    let mut publisher = V4::connect(&broker, "fan-publisher").await;
    for n in 0..MESSAGES {
        publisher
            .publish_nowait("fan/out", QoS::AtLeastOnce, false, n.to_string().as_bytes())
            .await;
    }
    publisher.flush(WAIT).await;
    let expected: Vec<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
    for sub in &mut subs {
        let got: Vec<String> = sub
            .recv_n(MESSAGES, WAIT)
            .await
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
            .collect();
        assert_eq!(got, expected, "{} got the stream out of order", sub.id);
        sub.assert_silent(QUIET).await;
    }
}

/// Is a message delivered at the minimum of its publish QoS and the granted
/// subscription QoS [MQTT-3.8.4-6]?
#[tokio::test]
async fn delivery_qos_is_the_minimum_of_publish_and_subscription() {
    let broker = Broker::start("");
    let mut publisher = V4::connect(&broker, "down-pub").await;
    let mut subs = Vec::new();
    for qos in V4_LEVELS {
        let mut sub = V4::connect(&broker, &format!("down-sub-{}", qos as u8)).await;
        sub.subscribe("down/t", qos).await;
        subs.push((qos, sub));
    }
    for publish_qos in V4_LEVELS {
        publisher.publish("down/t", publish_qos, false, b"x").await;
        for (sub_qos, sub) in &mut subs {
            let got = sub.recv().await;
            let expected = if publish_qos < *sub_qos {
                publish_qos
            } else {
                *sub_qos
            };
            assert_eq!(
                got.qos, expected,
                "published at {publish_qos:?}, subscribed at {sub_qos:?}"
            );
        }
    }
}

/// After UNSUBACK, does the broker stop delivering messages for that filter
/// while other subscriptions keep working [MQTT-3.10.4-2]?
#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let broker = Broker::start("");
    let mut sub = V4::connect(&broker, "unsub-sub").await;
    let mut publisher = V4::connect(&broker, "unsub-pub").await;
    sub.subscribe("unsub/a", QoS::AtLeastOnce).await;
    sub.subscribe("unsub/b", QoS::AtLeastOnce).await;
    publisher
        .publish("unsub/a", QoS::AtLeastOnce, false, b"1")
        .await;
    assert_eq!(sub.recv().await.topic, "unsub/a");

    sub.unsubscribe("unsub/a").await;
    publisher
        .publish("unsub/a", QoS::AtLeastOnce, false, b"2")
        .await;
    publisher
        .publish("unsub/b", QoS::AtLeastOnce, false, b"3")
        .await;
    let got = sub.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("unsub/b", &b"3"[..])
    );
    sub.assert_silent(QUIET).await;
}

/// With No Local set, does the broker withhold a client's own messages from
/// it while still delivering them to others [MQTT-3.8.3-3]?
#[tokio::test]
async fn v5_no_local_withholds_own_messages() {
    let broker = Broker::start("");
    let mut me = V5::connect(&broker, "nolocal-me").await;
    let mut other = V5::connect(&broker, "nolocal-other").await;
    let mut filter = Filter::new("nl/t", QoS5::AtLeastOnce);
    filter.nolocal = true;
    me.subscribe_filter(filter, None).await;
    other.subscribe("nl/t", QoS5::AtLeastOnce).await;

    me.publish("nl/t", QoS5::AtLeastOnce, false, b"mine").await;
    assert_eq!(&other.recv().await.payload[..], b"mine");
    me.assert_silent(QUIET).await;

    other
        .publish("nl/t", QoS5::AtLeastOnce, false, b"theirs")
        .await;
    assert_eq!(&me.recv().await.payload[..], b"theirs");
}

/// With Retain As Published, does a live retained message keep RETAIN 1,
/// while a plain subscription gets RETAIN 0 [MQTT-3.3.1-12] [MQTT-3.3.1-13]?
#[tokio::test]
async fn v5_retain_as_published_keeps_the_flag() {
    let broker = Broker::start("");
    let mut keep = V5::connect(&broker, "rap-keep").await;
    let mut plain = V5::connect(&broker, "rap-plain").await;
    let mut publisher = V5::connect(&broker, "rap-pub").await;
    let mut filter = Filter::new("rap/t", QoS5::AtLeastOnce);
    filter.preserve_retain = true;
    keep.subscribe_filter(filter, None).await;
    plain.subscribe("rap/t", QoS5::AtLeastOnce).await;

    publisher
        .publish("rap/t", QoS5::AtLeastOnce, true, b"r")
        .await;
    assert!(
        keep.recv().await.retain,
        "retain-as-published must keep RETAIN 1"
    );
    assert!(
        !plain.recv().await.retain,
        "plain subscription must get RETAIN 0"
    );

    publisher
        .publish("rap/t", QoS5::AtLeastOnce, false, b"n")
        .await;
    assert!(
        !keep.recv().await.retain,
        "a non-retained message must stay RETAIN 0"
    );
    assert!(!plain.recv().await.retain);
}

/// Are User Properties (in order, duplicates kept), Content Type, Response
/// Topic, Correlation Data and Payload Format Indicator forwarded unaltered
/// [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]?
#[tokio::test]
async fn v5_publish_properties_pass_through_unchanged() {
    let broker = Broker::start("");
    let mut sub = V5::connect(&broker, "props-sub").await;
    let mut publisher = V5::connect(&broker, "props-pub").await;
    sub.subscribe("props/t", QoS5::AtLeastOnce).await;
    let user_properties = vec![
        ("k".to_string(), "v1".to_string()),
        ("other".to_string(), "x".to_string()),
        ("k".to_string(), "v2".to_string()),
    ];
    let sent = PublishProperties {
        payload_format_indicator: Some(1),
        response_topic: Some("reply/here".into()),
        correlation_data: Some(Bytes::from_static(&[0, 1, 2, 0xFF])),
        user_properties: user_properties.clone(),
        content_type: Some("application/json".into()),
        ..Default::default()
    };
    publisher
        .publish_with("props/t", QoS5::AtLeastOnce, false, b"{}", Some(sent))
        .await;
    let got = sub.recv().await;
    let props = got.properties.expect("forwarded PUBLISH has properties");
    assert_eq!(props.user_properties, user_properties);
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(
        props.correlation_data.as_deref(),
        Some(&[0, 1, 2, 0xFF][..])
    );
    assert_eq!(props.payload_format_indicator, Some(1));
    assert!(props.subscription_identifiers.is_empty());
}

/// Does a message carry the Subscription Identifier of the subscription it
/// matched, and of each overlapping one [MQTT-3.3.4-3]?
#[tokio::test]
async fn v5_subscription_identifiers_are_delivered() {
    let broker = Broker::start("");
    let mut single = V5::connect(&broker, "subid-single").await;
    let mut overlap = V5::connect(&broker, "subid-overlap").await;
    let mut publisher = V5::connect(&broker, "subid-pub").await;
    let with_id = |id| SubscribeProperties {
        id: Some(id),
        user_properties: Vec::new(),
    };
    single
        .subscribe_filter(Filter::new("si/a", QoS5::AtLeastOnce), Some(with_id(42)))
        .await;
    overlap
        .subscribe_filter(Filter::new("si/+", QoS5::AtLeastOnce), Some(with_id(7)))
        .await;
    overlap
        .subscribe_filter(Filter::new("si/#", QoS5::AtLeastOnce), Some(with_id(300)))
        .await;

    publisher
        .publish("si/a", QoS5::AtLeastOnce, false, b"x")
        .await;
    let got = single.recv().await;
    let ids = got
        .properties
        .map(|p| p.subscription_identifiers)
        .unwrap_or_default();
    assert_eq!(ids, [42]);

    let mut ids = Vec::new();
    let mut copies = 0;
    while let Some(copy) = overlap
        .try_recv(if copies == 0 { WAIT } else { QUIET })
        .await
    {
        copies += 1;
        ids.extend(
            copy.properties
                .map(|p| p.subscription_identifiers)
                .unwrap_or_default(),
        );
    }
    ids.sort_unstable();
    assert!(copies >= 1, "overlapping subscriber got nothing");
    assert_eq!(ids, [7, 300], "identifiers over {copies} copies");
}

/// Is a live message's Message Expiry Interval forwarded (minus time waited)?
#[tokio::test]
async fn v5_message_expiry_is_forwarded_to_online_subscribers() {
    let broker = Broker::start("");
    let mut sub = V5::connect(&broker, "exp-live-sub").await;
    let mut publisher = V5::connect(&broker, "exp-live-pub").await;
    sub.subscribe("exp/live", QoS5::AtLeastOnce).await;
    let properties = PublishProperties {
        message_expiry_interval: Some(100),
        ..Default::default()
    };
    publisher
        .publish_with("exp/live", QoS5::AtLeastOnce, false, b"x", Some(properties))
        .await;
    let got = sub.recv().await;
    let expiry = got.properties.and_then(|p| p.message_expiry_interval);
    assert!(
        matches!(expiry, Some(99..=100)),
        "forwarded expiry {expiry:?}, expected 99..=100 [MQTT-3.3.2-6]"
    );
}

/// Is a message queued for an offline session delivered with its Message
/// Expiry Interval reduced by the time it waited [MQTT-3.3.2-6]?
#[tokio::test]
async fn v5_queued_message_expiry_is_decremented() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "exp-queued");
    set_session_expiry(&mut options, 60);
    let mut sub = V5::connect_with(options.clone()).await;
    sub.subscribe("exp/queued", QoS5::AtLeastOnce).await;
    sub.disconnect().await;

    let mut publisher = V5::connect(&broker, "exp-queued-pub").await;
    let properties = PublishProperties {
        message_expiry_interval: Some(10),
        ..Default::default()
    };
    publisher
        .publish_with(
            "exp/queued",
            QoS5::AtLeastOnce,
            false,
            b"late",
            Some(properties),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    options.set_clean_start(false);
    let mut sub = V5::connect_with(options).await;
    assert!(sub.connack.session_present);
    let got = sub.recv().await;
    assert_eq!(&got.payload[..], b"late");
    let expiry = got.properties.and_then(|p| p.message_expiry_interval);
    assert!(
        matches!(expiry, Some(7..=8)),
        "after ~2 s queued, expiry 10 became {expiry:?}, expected 7..=8"
    );
}

/// Is a queued message whose expiry passed while the session was offline
/// dropped, while a non-expiring one queued after it is delivered
/// [MQTT-3.3.2-5]?
#[tokio::test]
async fn v5_expired_queued_message_is_not_delivered() {
    let broker = Broker::start("");
    let mut options = V5::options(&broker, "exp-drop");
    set_session_expiry(&mut options, 60);
    let mut sub = V5::connect_with(options.clone()).await;
    sub.subscribe("exp/drop", QoS5::AtLeastOnce).await;
    sub.disconnect().await;

    let mut publisher = V5::connect(&broker, "exp-drop-pub").await;
    let properties = PublishProperties {
        message_expiry_interval: Some(1),
        ..Default::default()
    };
    publisher
        .publish_with(
            "exp/drop",
            QoS5::AtLeastOnce,
            false,
            b"expired",
            Some(properties),
        )
        .await;
    publisher
        .publish("exp/drop", QoS5::AtLeastOnce, false, b"kept")
        .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;

    options.set_clean_start(false);
    let mut sub = V5::connect_with(options).await;
    assert!(sub.connack.session_present);
    assert_eq!(&sub.recv().await.payload[..], b"kept");
    sub.assert_silent(QUIET).await;
}
