//! Meridian: a thread-per-core MQTT 3.1.1/5.0 broker for bare-metal Linux, built to
//! link broker clusters across clouds.
//!
//! # The shard model in one screen
//!
//! The process runs `node.cores` glommio executors, each pinned to a CPU. Every core
//! binds every listener (SO_REUSEPORT) and accepts connections; once a CONNECT is
//! decoded the socket moves to the session's *owner core* (`hash(client_id) % cores`),
//! so a session, its takeover and its state are always local to one core. Cores share
//! nothing on the data path: they exchange typed, batched [`shard::mesh::CoreMsg`]s.
//!
//! Routing has two levels. Each core keeps a replica of the [`router::RouteTable`]
//! (filter → cores with subscribers) and its own [`router::SubTree`] (filter → local
//! sessions). A publish looks up the RouteTable on the publisher's core, delivers
//! locally and sends one `Deliver` per other interested core, whose SubTree finds the
//! sessions. A core broadcasts a route change only when a filter's local subscriber
//! count goes 0→1 or 1→0.
//!
//! # Glossary
//! - *owner core*: the core holding a client's session.
//! - *session*: MQTT session state ([`session::Session`]); may outlive connections.
//! - *link*: here [`session::ConnLink`], the tie between a session and its connection.
//!
//! # Where to start reading
//! [`shard::runtime`] (start-up), then `shard/connection.rs` (a connection's life),
//! `shard/handler.rs` (each packet), [`shard::core::Core::publish`] (routing).
//!
//! # Modules
//! - [`protocol`]: the MQTT codec, no I/O.
//! - [`router`]: topic matching: tries, SubTree, RouteTable.
//! - [`session`]: per-client state: QoS flows, inflight, queue.
//! - [`shard`]: executors, connections, the cross-core mesh.
//! - [`retain`]: retained messages. [`message`]: a message in flight.
//! - [`config`]: the TOML schema. [`metrics`]: counters.
//! - [`admin`]: the control thread: links API and Prometheus metrics over HTTP.
pub mod admin;
pub mod config;
pub mod link;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod protocol;
pub mod retain;
pub mod router;
pub mod session;
pub mod shard;
