//! Meridian: a thread-per-core MQTT 3.1.1/5.0 broker that links broker clusters.
//!
//! Module map (see `../shared/DESIGN.md` for the architecture):
//! - [`protocol`]: the MQTT codec, no I/O.
//! - [`router`]: topic matching tries.
//! - [`config`]: the TOML schema, defaults and validation.
pub mod config;
pub mod protocol;
pub mod router;
