//! MQTT clients on glommio, built on Meridian's codec: the connection
//! ([`client`]), its read half with the borrowed PUBLISH fast path
//! ([`reader`]), and the three kinds of task a run is made of — publishers,
//! subscribers and held connections — each one task per connection.

pub mod client;
pub mod holder;
pub mod inflight;
pub mod notify;
pub mod publisher;
pub mod reader;
pub mod subscriber;
