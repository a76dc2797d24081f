//! A well-behaved bystander: a client connected before a test does something
//! hostile, used afterwards to show the broker still serves everyone else.

use rumqttc::QoS;

use super::v4::V4;
use super::Broker;

/// A 3.1.1 client subscribed to its own topic.
pub struct Witness {
    client: V4,
    topic: String,
    rounds: usize,
}

impl Witness {
    /// Connects `witness-<name>` and subscribes it to `witness/<name>`.
    pub async fn new(broker: &Broker, name: &str) -> Witness {
        let mut client = V4::connect(broker, &format!("witness-{name}")).await;
        let topic = format!("witness/{name}");
        client.subscribe(&topic, QoS::AtLeastOnce).await;
        Witness {
            client,
            topic,
            rounds: 0,
        }
    }

    /// Asserts the broker process runs and the witness can still publish a
    /// QoS 1 message and receive it back.
    pub async fn assert_served(&mut self, broker: &Broker) {
        broker.assert_running();
        self.rounds += 1;
        let payload = format!("round {}", self.rounds);
        self.client
            .publish(&self.topic, QoS::AtLeastOnce, false, payload.as_bytes())
            .await;
        let got = self.client.recv().await;
        assert_eq!(got.topic, self.topic);
        assert_eq!(&got.payload[..], payload.as_bytes());
        broker.assert_running();
    }
}
