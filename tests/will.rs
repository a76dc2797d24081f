//! Will messages: published when a connection ends without a normal
//! DISCONNECT, withheld after one, MQTT 5 "disconnect with will" and Will
//! Delay Interval, and the will's RETAIN flag.

mod common;

use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::v4::V4;
use common::v5::{set_session_expiry, topic, V5};
use common::wire::{self, Connect, Will};
use common::{Broker, QUIET, WAIT};
use rumqttc::v5::mqttbytes::v5::{LastWill as LastWill5, LastWillProperties};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::{LastWill, QoS};

/// A subscriber to `filter` at QoS 1.
async fn watcher(broker: &Broker, filter: &str) -> V4 {
    let mut watcher = V4::connect(broker, &format!("watch-{}", filter.replace('/', "-"))).await;
    watcher.subscribe(filter, QoS::AtLeastOnce).await;
    watcher
}

/// Is a 3.1.1 will published, at its QoS, when the connection drops without
/// DISCONNECT [MQTT-3.1.2-8] [MQTT-3.1.2-16]?
#[tokio::test]
async fn v4_will_is_published_on_abrupt_close() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/v4").await;
    let mut options = V4::options(&broker, "will-v4");
    options.set_last_will(LastWill::new("will/v4", "bye", QoS::AtLeastOnce, false));
    let client = V4::connect_with(options).await;
    drop(client);
    let will = watcher.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("will/v4", &b"bye"[..])
    );
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(!will.retain, "a will without Will Retain is not retained");
}

/// Is a 5.0 will published when the connection drops without DISCONNECT?
#[tokio::test]
async fn v5_will_is_published_on_abrupt_close() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/v5").await;
    let mut options = V5::options(&broker, "will-v5");
    options.set_last_will(LastWill5::new(
        "will/v5",
        "bye5",
        QoS5::AtLeastOnce,
        false,
        None,
    ));
    let client = V5::connect_with(options).await;
    drop(client);
    let will = watcher.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("will/v5", &b"bye5"[..])
    );
}

/// Is the will discarded, not published, after a normal DISCONNECT
/// [MQTT-3.1.2-10] [MQTT-3.14.4-3]?
#[tokio::test]
async fn no_will_after_a_normal_disconnect() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/none").await;
    let mut options = V4::options(&broker, "will-none");
    options.set_last_will(LastWill::new("will/none", "no", QoS::AtLeastOnce, false));
    let client = V4::connect_with(options).await;
    client.disconnect().await;
    watcher.assert_silent(QUIET * 2).await;
}

/// Is the will published when the broker closes the connection because of a
/// protocol violation (here PUBLISH with QoS 3, [MQTT-3.3.1-4])?
#[tokio::test]
async fn will_is_published_when_the_broker_drops_a_misbehaving_client() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/violation").await;
    let mut connect = Connect::new(4, "will-violator", true, 60);
    connect.will = Some(Will {
        topic: "will/violation",
        payload: b"broke the rules",
        qos: 1,
        retain: false,
        properties: Vec::new(),
    });
    let (mut raw, _) = RawClient::connect(&broker, &connect).await;
    raw.send(&[0x36, 0x05, 0x00, 0x01, b'x', 0x00, 0x01]).await;
    raw.expect_closed(WAIT).await;
    assert_eq!(&watcher.recv().await.payload[..], b"broke the rules");
}

/// Does a 5.0 DISCONNECT with reason 0x04 (Disconnect with Will Message)
/// publish the will?
#[tokio::test]
async fn v5_disconnect_with_will_message_publishes_the_will() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/0x04").await;
    let mut connect = Connect::new(5, "will-0x04", true, 60);
    connect.will = Some(Will {
        topic: "will/0x04",
        payload: b"asked for it",
        qos: 1,
        retain: false,
        properties: Vec::new(),
    });
    let (mut raw, _) = RawClient::connect(&broker, &connect).await;
    raw.send(&wire::disconnect_v5(0x04)).await;
    raw.expect_closed(WAIT).await;
    assert_eq!(&watcher.recv().await.payload[..], b"asked for it");
}

/// Options for a 5.0 client with a will on `will_topic` delayed by `delay` s
/// and a session that outlives the delay.
fn delayed_will_options(
    broker: &Broker,
    id: &str,
    will_topic: &str,
    delay: u32,
) -> rumqttc::v5::MqttOptions {
    let mut options = V5::options(broker, id);
    set_session_expiry(&mut options, 60);
    let properties = LastWillProperties {
        delay_interval: Some(delay),
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
    };
    options.set_last_will(LastWill5::new(
        will_topic,
        "delayed",
        QoS5::AtLeastOnce,
        false,
        Some(properties),
    ));
    options
}

/// With Will Delay Interval 2 s, is the will held back for ~2 s after the
/// connection drops, then published [MQTT-3.1.3-9]?
#[tokio::test]
async fn v5_will_delay_interval_delays_the_will() {
    let broker = Broker::start("");
    let mut watcher = V5::connect(&broker, "delay-watcher").await;
    watcher.subscribe("will/delay", QoS5::AtLeastOnce).await;
    let client =
        V5::connect_with(delayed_will_options(&broker, "will-delay", "will/delay", 2)).await;
    drop(client);
    let dropped = Instant::now();
    watcher.assert_silent(Duration::from_millis(1500)).await;
    let will = watcher.recv().await;
    let elapsed = dropped.elapsed();
    assert_eq!(topic(&will), "will/delay");
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed <= Duration::from_millis(3500),
        "will arrived {elapsed:?} after the drop, expected ~2 s"
    );
}

/// If the client reconnects to its session within the Will Delay Interval,
/// is the will never published [MQTT-3.1.3-9]?
#[tokio::test]
async fn v5_reconnect_within_will_delay_cancels_the_will() {
    let broker = Broker::start("");
    let mut watcher = V5::connect(&broker, "cancel-watcher").await;
    watcher.subscribe("will/cancel", QoS5::AtLeastOnce).await;
    let mut options = delayed_will_options(&broker, "will-cancel", "will/cancel", 2);
    let client = V5::connect_with(options.clone()).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    options.set_clean_start(false);
    let back = V5::connect_with(options).await;
    assert!(back.connack.session_present);
    watcher.assert_silent(Duration::from_millis(2700)).await;
}

/// Does a will with Will Retain 1 become the topic's retained message
/// [MQTT-3.1.2-17]?
#[tokio::test]
async fn will_with_retain_flag_is_stored_as_retained() {
    let broker = Broker::start("");
    let mut first = watcher(&broker, "will/retained").await;
    let mut options = V4::options(&broker, "will-retain");
    options.set_last_will(LastWill::new(
        "will/retained",
        "last words",
        QoS::AtLeastOnce,
        true,
    ));
    let client = V4::connect_with(options).await;
    drop(client);
    assert_eq!(&first.recv().await.payload[..], b"last words");

    let mut late = V4::connect(&broker, "will-retain-late").await;
    late.subscribe("will/retained", QoS::AtLeastOnce).await;
    let got = late
        .try_recv(WAIT)
        .await
        .expect("the retained will must be replayed");
    assert_eq!(&got.payload[..], b"last words");
    assert!(got.retain, "replayed on subscribe, so RETAIN 1");
}

/// When a second connection takes over the client id, is the first
/// connection's will (no delay) published [MQTT-3.1.4-3] (5.0 §3.1.4)?
#[tokio::test]
async fn will_is_published_when_the_connection_is_taken_over() {
    let broker = Broker::start("");
    let mut watcher = watcher(&broker, "will/takeover").await;
    let mut options = V5::options(&broker, "will-takeover");
    options.set_last_will(LastWill5::new(
        "will/takeover",
        "replaced",
        QoS5::AtLeastOnce,
        false,
        None,
    ));
    let _first = V5::connect_with(options).await;
    let _second = V5::connect(&broker, "will-takeover").await;
    assert_eq!(&watcher.recv().await.payload[..], b"replaced");
}
