//! The data-path cores: executor start-up, accept and hand-off of connections, the
//! connection driver and packet handlers, and the cross-core mesh.
//!
//! Where things live: everything in this module runs on one core and is reached only
//! from that core's tasks, except [`runtime::Broker`] (main thread) and the
//! [`core::Shared`] atomics.

mod connect;
mod connection;
pub mod core;
mod flush_tick;
mod handler;
pub mod mesh;
pub mod runtime;
mod tls;
mod transport;
mod will;

pub use runtime::{run, Broker, StartError};
