//! An MQTT 3.1.1 test client: rumqttc's `AsyncClient` with its event loop
//! pumped by a task, and waits that always end (see [`super::WAIT`]).

use std::io;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnAck, ConnectionError, Event, MqttOptions, Outgoing, Packet, Publish, QoS,
    SubscribeReasonCode,
};
use tokio::sync::mpsc::unbounded_channel;

use super::pump::{forward, Pump, Pumped};
use super::{Broker, WAIT};

/// A connected MQTT 3.1.1 client.
pub struct V4 {
    /// The rumqttc handle, for requests the wrapper does not cover.
    pub client: AsyncClient,
    /// The CONNACK the broker answered with.
    pub connack: ConnAck,
    /// The client id, for messages.
    pub id: String,
    pump: Pump<Packet, ConnectionError>,
    /// PUBLISH requests made so far (to find each one's packet id).
    publishes: usize,
    /// QoS > 0 PUBLISHes sent by `publish_nowait` whose ack `flush` has not yet seen.
    unacked: usize,
}

impl V4 {
    /// Options for `id` on `broker`: keepalive 30 s, 2 MiB packets both ways.
    pub fn options(broker: &Broker, id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port());
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(2 << 20, 2 << 20);
        options
    }

    /// Connects with default [`V4::options`] (clean session) or panics.
    pub async fn connect(broker: &Broker, id: &str) -> V4 {
        Self::connect_with(Self::options(broker, id)).await
    }

    /// Connects with `options` or panics with the reason.
    pub async fn connect_with(options: MqttOptions) -> V4 {
        let id = options.client_id();
        match Self::try_connect(options).await {
            Ok(client) => client,
            Err(error) => panic!("v4 client {id:?} could not connect: {error}"),
        }
    }

    /// Connects with `options`; the connection error (e.g. `ConnectionRefused(code)`) if refused.
    pub async fn try_connect(options: MqttOptions) -> Result<V4, ConnectionError> {
        let id = options.client_id();
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let report = match eventloop.poll().await {
                    Ok(Event::Incoming(packet)) => Pumped::In(packet),
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Pumped::OutPublish(pkid),
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => Pumped::OutDisconnect,
                    Ok(Event::Outgoing(_)) => continue,
                    Err(error) => {
                        forward(&tx, Pumped::End(error));
                        return;
                    }
                };
                if !forward(&tx, report) {
                    return;
                }
            }
        });
        let mut pump = Pump::new(rx, task);
        let connack = pump
            .wait_for(WAIT, |packet| match packet {
                Packet::ConnAck(connack) => Some(connack.clone()),
                _ => None,
            })
            .await;
        match connack {
            Some(connack) => Ok(V4 {
                client,
                connack,
                id,
                pump,
                publishes: 0,
                unacked: 0,
            }),
            None => Err(pump.take_end().unwrap_or_else(|| {
                ConnectionError::Io(io::Error::new(io::ErrorKind::TimedOut, "no CONNACK"))
            })),
        }
    }

    /// Subscribes to one filter; the granted QoS. Panics if refused (0x80).
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> QoS {
        let queued = self.client.subscribe(filter, qos).await;
        self.queued(queued, "subscribe").await;
        let suback = self
            .pump
            .wait_for(WAIT, |packet| match packet {
                Packet::SubAck(suback) => Some(suback.clone()),
                _ => None,
            })
            .await
            .unwrap_or_else(|| panic!("{}: no SUBACK for {filter:?} within {WAIT:?}", self.id));
        match suback.return_codes[0] {
            SubscribeReasonCode::Success(granted) => granted,
            SubscribeReasonCode::Failure => panic!("{}: SUBSCRIBE {filter:?} refused", self.id),
        }
    }

    /// Unsubscribes from one filter and waits for the UNSUBACK.
    pub async fn unsubscribe(&mut self, filter: &str) {
        let queued = self.client.unsubscribe(filter).await;
        self.queued(queued, "unsubscribe").await;
        self.pump
            .wait_for(WAIT, |packet| {
                matches!(packet, Packet::UnsubAck(_)).then_some(())
            })
            .await
            .unwrap_or_else(|| panic!("{}: no UNSUBACK for {filter:?}", self.id));
    }

    /// Publishes and, for QoS 1/2, waits for its PUBACK/PUBCOMP.
    pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        let index = self.publishes;
        self.publishes += 1;
        let queued = self
            .client
            .publish(topic, qos, retain, payload.to_vec())
            .await;
        self.queued(queued, "publish").await;
        if qos == QoS::AtMostOnce {
            return;
        }
        let pkid = self
            .pump
            .out_pkid(index, WAIT)
            .await
            .unwrap_or_else(|| panic!("{}: PUBLISH to {topic:?} never written", self.id));
        self.pump
            .wait_for(WAIT, |packet| match packet {
                Packet::PubAck(ack) if qos == QoS::AtLeastOnce && ack.pkid == pkid => Some(()),
                Packet::PubComp(comp) if qos == QoS::ExactlyOnce && comp.pkid == pkid => Some(()),
                _ => None,
            })
            .await
            .unwrap_or_else(|| panic!("{}: PUBLISH {pkid} to {topic:?} not acknowledged", self.id));
    }

    /// Queues a PUBLISH without waiting for its acknowledgement (see [`V4::flush`]).
    pub async fn publish_nowait(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        self.publishes += 1;
        if qos != QoS::AtMostOnce {
            self.unacked += 1;
        }
        let queued = self
            .client
            .publish(topic, qos, retain, payload.to_vec())
            .await;
        self.queued(queued, "publish").await;
    }

    /// Waits until every QoS 1/2 PUBLISH queued by `publish_nowait` is acknowledged.
    pub async fn flush(&mut self, timeout: Duration) {
        while self.unacked > 0 {
            let acked = self
                .pump
                .wait_for(timeout, |packet| {
                    matches!(packet, Packet::PubAck(_) | Packet::PubComp(_)).then_some(())
                })
                .await;
            assert!(
                acked.is_some(),
                "{}: {} PUBLISHes still unacknowledged after {timeout:?}",
                self.id,
                self.unacked
            );
            self.unacked -= 1;
        }
    }

    /// The next PUBLISH from the broker, or panics after [`WAIT`].
    pub async fn recv(&mut self) -> Publish {
        self.try_recv(WAIT)
            .await
            .unwrap_or_else(|| panic!("{}: expected a PUBLISH within {WAIT:?}", self.id))
    }

    /// The next PUBLISH within `timeout`, if any.
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<Publish> {
        self.pump
            .wait_for(timeout, |packet| match packet {
                Packet::Publish(publish) => Some(publish.clone()),
                _ => None,
            })
            .await
    }

    /// `n` PUBLISHes, or panics saying how many came within `timeout`.
    pub async fn recv_n(&mut self, n: usize, timeout: Duration) -> Vec<Publish> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv(left).await {
                Some(publish) => got.push(publish),
                None => panic!(
                    "{}: got {} of {n} PUBLISHes within {timeout:?}",
                    self.id,
                    got.len()
                ),
            }
        }
        got
    }

    /// Panics if a PUBLISH arrives within `window`.
    pub async fn assert_silent(&mut self, window: Duration) {
        if let Some(publish) = self.try_recv(window).await {
            panic!("{}: expected no PUBLISH, got {publish:?}", self.id);
        }
    }

    /// Acknowledges a PUBLISH (with `set_manual_acks(true)`).
    pub async fn ack(&mut self, publish: &Publish) {
        let queued = self.client.ack(publish).await;
        self.queued(queued, "ack").await;
    }

    /// Waits up to `timeout` for the connection to end; its error if it did.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Option<&ConnectionError> {
        self.pump.wait_end(timeout).await
    }

    /// Panics with the connection's end reason if a request could not be
    /// queued (the event loop has stopped).
    async fn queued(&mut self, result: Result<(), rumqttc::ClientError>, what: &str) {
        if result.is_err() {
            let reason = self.pump.end_reason().await;
            panic!("{}: cannot {what}, the connection ended: {reason}", self.id);
        }
    }

    /// Sends DISCONNECT, then closes the socket.
    pub async fn disconnect(mut self) {
        let queued = self.client.disconnect().await;
        self.queued(queued, "disconnect").await;
        assert!(
            self.pump.wait_disconnect_sent(WAIT).await,
            "{}: DISCONNECT was not written",
            self.id
        );
    }
}
