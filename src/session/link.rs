//! The link between a session and its live network connection: what the reader task
//! hands the writer task (control packets such as acks, a request to close) and what
//! the session needs to know about the connection (protocol version, limits).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;

use bytes::BytesMut;

use crate::notify::Notify;
use crate::protocol::{ProtocolVersion, ReasonCode};

/// Why the broker closes a connection; for 5.0 clients it becomes the DISCONNECT
/// reason code, 3.1.1 clients just see the socket close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Close after flushing, without a DISCONNECT (client disconnected, or 3.1.1).
    Quiet,
    /// Send DISCONNECT with this reason code first (5.0 only).
    Disconnect(ReasonCode),
}

/// Shared by a connection's reader and writer and its session. One per connection,
/// on the session's owner core.
#[derive(Debug)]
pub struct ConnLink {
    pub version: ProtocolVersion,
    /// Largest packet the client accepts (5.0 Maximum Packet Size) [MQTT-3.1.2-24].
    pub max_packet_out: u32,
    /// Encoded packets for the writer that need no more session state: control
    /// packets (CONNACK, acks, SUBACK, PINGRESP, …) and QoS 0 deliveries encoded at
    /// fan-out ([`super::Session::send_now`]). Starts without capacity (most
    /// connections only ever queue a CONNACK here); the writer swaps it with its own
    /// buffer and gives large capacity back when the connection goes idle.
    pub pending: RefCell<BytesMut>,
    /// Wakes the writer: control packets or deliveries are pending.
    pub wake: Notify,
    /// Set when the connection must end; the writer flushes, says why, and closes.
    pub close: Cell<Option<CloseReason>>,
    /// Set by the writer once it has finished and shut the socket.
    pub closed: Cell<bool>,
    /// For a remote cluster's link connection: that cluster's name (so deleting the
    /// link can end its connections).
    pub peer_cluster: RefCell<Option<std::sync::Arc<str>>>,
    /// The writer's socket descriptor while it owns one, so a writer stuck on a client
    /// that does not read can be shut down from outside.
    pub fd: Cell<Option<RawFd>>,
}

impl ConnLink {
    pub fn new(version: ProtocolVersion, max_packet_out: u32) -> Self {
        ConnLink {
            version,
            max_packet_out,
            pending: RefCell::new(BytesMut::new()),
            wake: Notify::default(),
            close: Cell::new(None),
            closed: Cell::new(false),
            peer_cluster: RefCell::new(None),
            fd: Cell::new(None),
        }
    }

    /// Asks the writer to end the connection (the first reason given wins).
    pub fn request_close(&self, reason: CloseReason) {
        if self.close.get().is_none() {
            self.close.set(Some(reason));
        }
        self.wake.notify();
    }
}
