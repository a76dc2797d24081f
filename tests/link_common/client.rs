//! An independent MQTT 5 client for the link tests: rumqttc's synchronous v5
//! client, its event loop on a thread that forwards what matters (CONNACK, SUBACK,
//! PUBACK, PUBLISH, the error that ended the connection) over a channel. Every
//! wait is bounded. QoS 1/2 deliveries are acknowledged by rumqttc.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, RecvTimeoutError};
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, ConnectionError, Event, MqttOptions, StateError};

/// Limit for CONNACK, SUBACK and single PUBACK waits.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A message a client received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: String,
}

/// How the connection ended, when it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// CONNACK with a failure reason.
    Refused(ConnectReturnCode),
    /// A PUBACK with a failure reason (rumqttc closes the connection on it).
    PubAckFailed(PubAckReason),
    /// A SUBACK with a failure reason (rumqttc closes the connection on it).
    SubAckFailed(SubscribeReasonCode),
    /// Anything else, as rumqttc reports it.
    Other(String),
}

enum Got {
    ConnAck,
    SubAck,
    PubAck,
    Publish(Msg),
    Ended(Ended),
}

/// One connected client.
pub struct Mqtt {
    pub id: String,
    client: Client,
    events: Receiver<Got>,
    inbox: VecDeque<Msg>,
    subacks: u64,
    pubacks: u64,
    ended: Option<Ended>,
    pump: Option<JoinHandle<()>>,
}

/// Options for a plain client `id` of the broker at `addr`.
pub fn options(addr: SocketAddr, id: &str) -> MqttOptions {
    let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_start(true);
    opts
}

pub fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

impl Mqtt {
    /// Connects client `id` to `addr`; panics unless the CONNACK is a success.
    pub fn connect(addr: SocketAddr, id: &str) -> Mqtt {
        Mqtt::connect_with(options(addr, id))
            .unwrap_or_else(|e| panic!("client {id} could not connect to {addr}: {e:?}"))
    }

    /// Connects with `opts`; the error says how the attempt ended.
    pub fn connect_with(opts: MqttOptions) -> Result<Mqtt, Ended> {
        let id = opts.client_id();
        let (client, mut connection) = Client::new(opts, 10_000);
        let (tx, events) = unbounded();
        let pump = std::thread::Builder::new()
            .name(format!("mqtt-{id}"))
            .spawn(move || {
                for event in connection.iter() {
                    let got = match event {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => Got::ConnAck,
                        Ok(Event::Incoming(Packet::SubAck(_))) => Got::SubAck,
                        Ok(Event::Incoming(Packet::PubAck(_))) => Got::PubAck,
                        Ok(Event::Incoming(Packet::Publish(p))) => Got::Publish(Msg {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        }),
                        Ok(_) => continue,
                        Err(e) => {
                            let _ = tx.send(Got::Ended(ended(e)));
                            return;
                        }
                    };
                    if tx.send(got).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the client's event thread");
        let mqtt = Mqtt {
            id,
            client,
            events,
            inbox: VecDeque::new(),
            subacks: 0,
            pubacks: 0,
            ended: None,
            pump: Some(pump),
        };
        let deadline = Instant::now() + ACK_TIMEOUT;
        loop {
            match mqtt.events.recv_deadline(deadline) {
                Ok(Got::ConnAck) => return Ok(mqtt),
                Ok(Got::Ended(how)) => return Err(how),
                Ok(_) => {}
                Err(_) => return Err(Ended::Other("no CONNACK within 10 s".into())),
            }
        }
    }

    /// Subscribes to `filter`; panics unless the SUBACK grants it.
    pub fn subscribe(&mut self, filter: &str, level: u8) {
        if let Err(e) = self.try_subscribe(filter, level) {
            panic!("{} could not subscribe to {filter}: {e:?}", self.id);
        }
    }

    /// Subscribes to `filter` and waits for the SUBACK.
    pub fn try_subscribe(&mut self, filter: &str, level: u8) -> Result<(), Ended> {
        let want = self.subacks + 1;
        self.client
            .subscribe(filter, qos(level))
            .map_err(|e| Ended::Other(e.to_string()))?;
        self.wait(ACK_TIMEOUT, |m| m.subacks >= want);
        match (&self.ended, self.subacks >= want) {
            (_, true) => Ok(()),
            (Some(e), false) => Err(e.clone()),
            (None, false) => Err(Ended::Other("no SUBACK within 10 s".into())),
        }
    }

    pub fn unsubscribe(&mut self, filter: &str) {
        self.client
            .unsubscribe(filter)
            .unwrap_or_else(|e| panic!("{} unsubscribe {filter}: {e}", self.id));
    }

    /// Queues a PUBLISH (does not wait for its acknowledgement).
    pub fn publish(&mut self, topic: &str, level: u8, payload: &str) {
        self.client
            .publish(topic, qos(level), false, payload.as_bytes().to_vec())
            .unwrap_or_else(|e| panic!("{} publish to {topic}: {e}", self.id));
    }

    /// Publishes at QoS 1 and waits for the PUBACK; the error says how the
    /// connection ended instead.
    pub fn publish_acked(&mut self, topic: &str, payload: &str) -> Result<(), Ended> {
        let want = self.pubacks + 1;
        self.publish(topic, 1, payload);
        self.wait(ACK_TIMEOUT, |m| m.pubacks >= want);
        match (&self.ended, self.pubacks >= want) {
            (_, true) => Ok(()),
            (Some(e), false) => Err(e.clone()),
            (None, false) => Err(Ended::Other("no PUBACK within 10 s".into())),
        }
    }

    /// Waits until `n` PUBACKs have arrived in total; returns how many did.
    pub fn wait_pubacks(&mut self, n: u64, limit: Duration) -> u64 {
        self.wait(limit, |m| m.pubacks >= n);
        self.pubacks
    }

    /// Waits until at least `n` messages are in the inbox or `limit` passes, then
    /// takes everything in it.
    pub fn receive(&mut self, n: usize, limit: Duration) -> Vec<Msg> {
        self.wait(limit, |m| m.inbox.len() >= n);
        self.inbox.drain(..).collect()
    }

    /// Everything that arrives within `period` (to see that nothing, or nothing
    /// more, comes).
    pub fn receive_for(&mut self, period: Duration) -> Vec<Msg> {
        self.wait(period, |_| false);
        self.inbox.drain(..).collect()
    }

    /// How the connection ended, if it has.
    pub fn ended(&mut self) -> Option<Ended> {
        self.wait(Duration::ZERO, |_| false);
        self.ended.clone()
    }

    /// Waits up to `limit` for the connection to end; how it ended.
    pub fn wait_ended(&mut self, limit: Duration) -> Option<Ended> {
        self.wait(limit, |m| m.ended.is_some());
        self.ended.clone()
    }

    /// Handles events until `done` holds, the connection ended, or `limit` passed,
    /// then whatever else has already arrived.
    fn wait(&mut self, limit: Duration, done: impl Fn(&Mqtt) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            match self.events.recv_deadline(deadline) {
                Ok(got) => self.handle(got),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    if self.ended.is_none() {
                        self.ended = Some(Ended::Other("event thread ended".into()));
                    }
                    return;
                }
            }
        }
        while let Ok(got) = self.events.try_recv() {
            self.handle(got);
        }
    }

    fn handle(&mut self, got: Got) {
        match got {
            Got::ConnAck => {}
            Got::SubAck => self.subacks += 1,
            Got::PubAck => self.pubacks += 1,
            Got::Publish(m) => self.inbox.push_back(m),
            Got::Ended(how) => self.ended = Some(how),
        }
    }
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
        // The event thread ends on the disconnect (or when the broker is gone).
        if let Some(pump) = self.pump.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while !pump.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if pump.is_finished() {
                let _ = pump.join();
            }
        }
    }
}

fn ended(e: ConnectionError) -> Ended {
    match e {
        ConnectionError::ConnectionRefused(code) => Ended::Refused(code),
        ConnectionError::MqttState(StateError::PubAckFail { reason }) => {
            Ended::PubAckFailed(reason)
        }
        ConnectionError::MqttState(StateError::SubFail { reason }) => Ended::SubAckFailed(reason),
        other => Ended::Other(other.to_string()),
    }
}
