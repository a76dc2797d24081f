//! `meridian-loadgen`: the project's MQTT load generator, built on Meridian's own
//! codec ([`meridian::protocol`]), thread-per-core on glommio.
//!
//! # Modules
//! - [`proxy`]: the WAN emulator (delay, bandwidth cap, cuts), also a library
//!   for fault tests.
//! - [`payload`]: the 16-byte header every benchmark message carries;
//!   [`clock`]: the time it is stamped with.
//! - [`seq`]: per-publisher sequence tracking (loss, duplicates, reordering).
//! - [`rate`]: open-loop rate schedules for messages and connections.
//! - [`stats`]: run-wide counters and latency histograms.
//! - [`hgrm`], [`svg`]: the latency histogram as percentile text and a plot.
//! - [`units`]: parsing `10s`, `100mbit`, `4k`.
pub mod clock;
pub mod hgrm;
pub mod payload;
pub mod proxy;
pub mod rate;
pub mod seq;
pub mod stats;
pub mod svg;
pub mod units;
