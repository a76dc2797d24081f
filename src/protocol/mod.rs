//! The MQTT codec, no I/O: every packet of MQTT 3.1 / 3.1.1 / 5.0, all 5.0
//! properties and reason codes, and topic validation.
//!
//! Decoding is two-phase ([`decode`]): `Ok(None)` until a whole packet is
//! buffered, then one packet whose strings and payload are zero-copy `Bytes`
//! slices of the read buffer. Encoding ([`encode`], [`encode_publish`]) appends
//! to the caller's `BytesMut`; [`encoded_len`] sizes a packet without writing it.
//! Errors name the spec rule they break and carry their 5.0 reason code
//! ([`ProtocolError::reason_code`]).
//!
//! Module map:
//! - `frame`: fixed header, remaining length, [`decode`], [`DecodeLimits`].
//! - `packet`: [`Packet`], dispatch, [`encode`], [`encoded_len`].
//! - one file per packet family: `connect` (+ [`Will`]), `connack`, `publish`,
//!   `puback` (PUBACK/PUBREC/PUBREL/PUBCOMP), `subscribe`, `suback`,
//!   `unsubscribe`, `unsuback`, `disconnect`, `auth`; `reason_body` is the
//!   body DISCONNECT and AUTH share.
//! - `properties` ([`Properties`], decoding), `property_encode` (its wire
//!   length and writer) and `property_id` (identifiers and where each may appear); `reason` ([`ReasonCode`]); `qos` ([`QoS`],
//!   [`ProtocolVersion`]); `string` ([`MqttStr`]); `wire` (data types).
//! - `topic`: topic name / filter rules and shared subscriptions.
//! - `error`: [`ProtocolError`], [`EncodeError`].

mod auth;
mod connack;
mod connect;
mod disconnect;
mod error;
mod frame;
mod packet;
mod properties;
mod property_encode;
mod property_id;
#[cfg(test)]
mod proptests;
mod puback;
mod publish;
mod qos;
mod reason;
mod reason_body;
mod string;
mod suback;
mod subscribe;
#[cfg(test)]
mod test_util;
mod topic;
mod unsuback;
mod unsubscribe;
mod wire;

pub use auth::Auth;
pub use bytes::{Bytes, BytesMut};
pub use connack::ConnAck;
pub use connect::{peek_connect_version, Connect, Will};
pub use disconnect::Disconnect;
pub use error::{EncodeError, ProtocolError};
pub use frame::{decode, DecodeLimits, MAX_PACKET_SIZE};
pub use packet::{encode, encoded_len, Packet};
pub use properties::Properties;
pub use puback::PubResp;
pub use publish::{encode_publish, publish_encoded_len, Publish, PublishOut};
pub use qos::{ProtocolVersion, QoS};
pub use reason::{ReasonCode, ReasonPacket};
pub use string::MqttStr;
pub use suback::SubAck;
pub use subscribe::{Subscribe, SubscriptionOptions};
pub use topic::{parse_shared, validate_topic_filter, validate_topic_name};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;
pub use wire::MAX_VAR_INT;
