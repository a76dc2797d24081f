//! An MQTT 5.0 test client: rumqttc's v5 `AsyncClient` with its event loop
//! pumped by a task, and waits that always end (see [`super::WAIT`]).
//!
//! rumqttc 0.24 cannot decode a DISCONNECT whose Property Length is omitted
//! (`E0 01 <reason>`, valid per MQTT 5.0 §3.14.2.2): it waits for more bytes
//! and then reports a plain close. Tests that check a broker DISCONNECT
//! reason code therefore read it with [`super::raw::RawClient`].

use std::io;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Filter, Packet, Publish, PublishProperties, SubscribeProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions};
use rumqttc::Outgoing;
use tokio::sync::mpsc::unbounded_channel;

use super::pump::{forward, Pump, Pumped};
use super::{Broker, WAIT};

/// A connected MQTT 5.0 client.
pub struct V5 {
    /// The rumqttc handle, for requests the wrapper does not cover.
    pub client: AsyncClient,
    /// The CONNACK the broker answered with.
    pub connack: ConnAck,
    /// The client id, for messages.
    pub id: String,
    pump: Pump<Packet, ConnectionError>,
    /// PUBLISH requests made so far (to find each one's packet id).
    publishes: usize,
}

impl V5 {
    /// Options for `id` on `broker`: clean start, keepalive 30 s, 2 MiB packets.
    pub fn options(broker: &Broker, id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port());
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(Some(2 << 20));
        options
    }

    /// Connects with default [`V5::options`] or panics.
    pub async fn connect(broker: &Broker, id: &str) -> V5 {
        Self::connect_with(Self::options(broker, id)).await
    }

    /// Connects with `options` or panics with the reason.
    pub async fn connect_with(options: MqttOptions) -> V5 {
        let id = options.client_id();
        match Self::try_connect(options).await {
            Ok(client) => client,
            Err(error) => panic!("v5 client {id:?} could not connect: {error}"),
        }
    }

    /// Connects with `options`; the connection error (e.g. `ConnectionRefused(code)`) if refused.
    pub async fn try_connect(options: MqttOptions) -> Result<V5, ConnectionError> {
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
            Some(connack) => Ok(V5 {
                client,
                connack,
                id,
                pump,
                publishes: 0,
            }),
            None => Err(pump.take_end().unwrap_or_else(|| {
                ConnectionError::Io(io::Error::new(io::ErrorKind::TimedOut, "no CONNACK"))
            })),
        }
    }

    /// Subscribes to one filter with default options; the granted QoS.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> QoS {
        self.subscribe_filter(Filter::new(filter, qos), None).await
    }

    /// Subscribes with explicit subscription options and properties; the
    /// granted QoS. Panics if the SUBACK refuses it.
    pub async fn subscribe_filter(
        &mut self,
        filter: Filter,
        properties: Option<SubscribeProperties>,
    ) -> QoS {
        let path = filter.path.clone();
        let request = match properties {
            Some(properties) => {
                self.client
                    .subscribe_many_with_properties([filter], properties)
                    .await
            }
            None => self.client.subscribe_many([filter]).await,
        };
        self.queued(request, "subscribe").await;
        let suback = self
            .pump
            .wait_for(WAIT, |packet| match packet {
                Packet::SubAck(suback) => Some(suback.clone()),
                _ => None,
            })
            .await
            .unwrap_or_else(|| panic!("{}: no SUBACK for {path:?} within {WAIT:?}", self.id));
        match suback.return_codes[0] {
            SubscribeReasonCode::Success(granted) => granted,
            refused => panic!("{}: SUBSCRIBE {path:?} refused: {refused:?}", self.id),
        }
    }

    /// Publishes without properties and, for QoS 1/2, waits for its PUBACK/PUBCOMP.
    pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        self.publish_with(topic, qos, retain, payload, None).await;
    }

    /// Publishes with `properties` and, for QoS 1/2, waits for its PUBACK/PUBCOMP.
    pub async fn publish_with(
        &mut self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: &[u8],
        properties: Option<PublishProperties>,
    ) {
        let index = self.publishes;
        self.publishes += 1;
        let payload = Bytes::copy_from_slice(payload);
        let request = match properties {
            Some(properties) => {
                self.client
                    .publish_with_properties(topic, qos, retain, payload, properties)
                    .await
            }
            None => self.client.publish(topic, qos, retain, payload).await,
        };
        self.queued(request, "publish").await;
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

    /// Panics if a PUBLISH arrives within `window`.
    pub async fn assert_silent(&mut self, window: Duration) {
        if let Some(publish) = self.try_recv(window).await {
            panic!("{}: expected no PUBLISH, got {publish:?}", self.id);
        }
    }

    /// Panics with the connection's end reason if a request could not be
    /// queued (the event loop has stopped).
    async fn queued(&mut self, result: Result<(), rumqttc::v5::ClientError>, what: &str) {
        if result.is_err() {
            let reason = self.pump.end_reason().await;
            panic!("{}: cannot {what}, the connection ended: {reason}", self.id);
        }
    }

    /// Sends DISCONNECT (reason 0x00), then closes the socket.
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

/// Sets the CONNECT Session Expiry Interval, keeping the other connect properties.
pub fn set_session_expiry(options: &mut MqttOptions, seconds: u32) {
    let mut properties = options.connect_properties().unwrap_or_default();
    properties.session_expiry_interval = Some(seconds);
    options.set_connect_properties(properties);
}

/// A PUBLISH's topic as text.
pub fn topic(publish: &Publish) -> String {
    String::from_utf8_lossy(&publish.topic).into_owned()
}
