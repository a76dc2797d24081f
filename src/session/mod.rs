//! Per-client state: the MQTT session (subscriptions, QoS flows, inflight window,
//! queue) and the link between a session and its live connection.
//!
//! A session lives on exactly one core, its owner (`hash(client_id) % cores`), and
//! is touched only there: no locks, `Rc<RefCell<_>>` is enough.

mod delivery;
mod link;
mod packet_ids;
mod state;

pub use delivery::Delivery;
pub use link::{CloseReason, ConnLink};
pub use state::{Inflight, InflightStage, SentNow, Session, SessionRef, SubEntry};
