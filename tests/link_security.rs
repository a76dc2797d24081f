//! Link security against real brokers: an ordinary client can neither use the link
//! protocol (`$LINK/…` publishes and subscriptions are refused with 0x87) nor pose
//! as a link (wrong password: CONNACK 0x86, unknown cluster: 0x87), gains no routes
//! by trying, and disturbs nothing: the real link keeps working.

#[allow(dead_code)] // shared by every tests/link_*.rs; each uses a subset
mod link_common;

use std::time::Duration;

use link_common::admin::counter;
use link_common::client::{options, Ended};
use link_common::{linked_pair, wait_counter, Broker, Mqtt, WAIT};
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, PubAckReason, SubscribeReasonCode};

/// The real link still carries `from-cluster` both ways, once each.
fn assert_link_works(a: &Broker, b: &Broker) {
    let mut sub_a = Mqtt::connect(a.mqtt(), "check-sub-a");
    let mut sub_b = Mqtt::connect(b.mqtt(), "check-sub-b");
    sub_a.subscribe("from-cluster", 1);
    sub_b.subscribe("from-cluster", 1);
    wait_counter(a, "huawei", "routes_in", 1);
    wait_counter(b, "aliyun", "routes_in", 1);
    let mut pub_a = Mqtt::connect(a.mqtt(), "check-pub-a");
    let mut pub_b = Mqtt::connect(b.mqtt(), "check-pub-b");
    pub_a.publish_acked("from-cluster", "from aliyun").unwrap();
    pub_b.publish_acked("from-cluster", "from huawei").unwrap();
    for (name, sub) in [("aliyun", &mut sub_a), ("huawei", &mut sub_b)] {
        let mut got: Vec<String> = sub
            .receive(2, WAIT)
            .into_iter()
            .map(|m| m.payload)
            .collect();
        got.extend(
            sub.receive_for(Duration::from_millis(500))
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

/// Connects to `broker` as client `id` announcing itself as cluster `cluster`'s link.
fn pose_as_link(
    broker: &Broker,
    id: &str,
    cluster: &str,
    user: &str,
    pass: &str,
) -> Result<Mqtt, Ended> {
    let mut opts = options(broker.mqtt(), id);
    opts.set_user_properties(vec![("meridian-link".to_owned(), cluster.to_owned())]);
    opts.set_credentials(user, pass);
    Mqtt::connect_with(opts)
}

#[test]
fn is_an_ordinary_client_refused_the_link_topics_and_granted_no_routes() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let mut intruder = Mqtt::connect(b.mqtt(), "intruder");
    // Asking huawei to forward everything to aliyun, as a link peer would.
    assert_eq!(
        intruder.publish_acked("$LINK/routes/add", "#\n"),
        Err(Ended::PubAckFailed(PubAckReason::NotAuthorized))
    );
    let mut intruder = Mqtt::connect(b.mqtt(), "intruder-2");
    assert_eq!(
        intruder.publish_acked("$LINK/routes/begin", "1"),
        Err(Ended::PubAckFailed(PubAckReason::NotAuthorized))
    );
    for filter in ["$LINK/#", "$LINK/routes/add", "$share/g/$LINK/routes/add"] {
        let mut snoop = Mqtt::connect(b.mqtt(), "snoop");
        assert_eq!(
            snoop.try_subscribe(filter, 1),
            Err(Ended::SubAckFailed(SubscribeReasonCode::NotAuthorized)),
            "subscribing to {filter}"
        );
    }
    // Nobody on aliyun subscribed: huawei has no route to aliyun, and forwards nothing.
    let mut publisher = Mqtt::connect(b.mqtt(), "pub-b");
    publisher.publish_acked("global/x", "stays").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(b.admin(), "aliyun", "routes_in"), 0);
    assert_eq!(counter(b.admin(), "aliyun", "messages_forwarded"), 0);
    assert_link_works(&a, &b);
}

#[test]
fn is_a_client_posing_as_a_link_refused_without_harm() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let reconnects = counter(a.admin(), "huawei", "reconnects");
    let refusals = [
        // The right cluster, a wrong password: 0x86.
        (
            "impostor",
            "aliyun",
            "link",
            "wrong",
            ConnectReturnCode::BadUserNamePassword,
        ),
        // No credentials at all: 0x86.
        (
            "impostor",
            "aliyun",
            "",
            "",
            ConnectReturnCode::BadUserNamePassword,
        ),
        // A cluster huawei has no link to: 0x87.
        (
            "impostor",
            "aws",
            "link",
            "secret",
            ConnectReturnCode::NotAuthorized,
        ),
        // A wrong password under the real link's client id must not take its session over.
        (
            "from-aliyun-0",
            "aliyun",
            "link",
            "wrong",
            ConnectReturnCode::BadUserNamePassword,
        ),
    ];
    for (id, cluster, user, pass, code) in refusals {
        let got = pose_as_link(&b, id, cluster, user, pass).err();
        assert_eq!(
            got,
            Some(Ended::Refused(code)),
            "{id} as {cluster} with {user:?}/{pass:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counter(b.admin(), "aliyun", "routes_in"), 0);
    assert_eq!(
        counter(a.admin(), "huawei", "reconnects"),
        reconnects,
        "the real link's connections were not disturbed"
    );
    assert_eq!(link_common::admin::state(a.admin(), "huawei"), "connected");
    assert_link_works(&a, &b);
}

#[test]
fn can_an_ordinary_client_not_take_over_a_link_connection_by_its_client_id() {
    let (a, b) = linked_pair(&["from-cluster", "global/#"]);
    let reconnects = counter(a.admin(), "huawei", "reconnects");
    // An ordinary MQTT client (no link announcement) using the link's client id is
    // refused with CONNACK 0x87 Not authorized while the link holds that id.
    let squatter = Mqtt::connect_with(options(b.mqtt(), "from-aliyun-0"));
    assert!(
        matches!(
            squatter,
            Err(Ended::Refused(ConnectReturnCode::NotAuthorized))
        ),
        "a squatter got {:?}",
        squatter.as_ref().err()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        counter(a.admin(), "huawei", "reconnects"),
        reconnects,
        "an ordinary client's CONNECT closed a link connection (session takeover)"
    );
    drop(squatter);
    assert_link_works(&a, &b);
}
