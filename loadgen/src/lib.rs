//! `meridian-loadgen`: the project's MQTT load generator, built on Meridian's own
//! codec ([`meridian::protocol`]), thread-per-core on glommio.
//!
//! # How a run works
//! The main thread builds one [`run::executor::ExecPlan`] per executor (clients
//! dealt round-robin), starts the executors, and moves the run through its
//! phases ([`run::control::Phase`]): setup (connect, subscribe), publishing,
//! draining, done — printing a progress line each second. Each client is one
//! task ([`mqtt`]); publishers batch every message due per wake-up into one
//! write; subscribers decode every packet of each read. Payloads carry a send
//! time, publisher id and sequence number ([`payload`]), so subscribers measure
//! latency and track loss, duplicates and reordering per publisher ([`seq`]).
//!
//! # Modules
//! - [`cli`], [`cmd`]: the command line and the subcommands (`conn`, `pub`,
//!   `sub`, `bench`, `proxy`).
//! - [`scenario`]: `bench` shapes (fan-in, fan-out, p2p, shared).
//! - [`run`]: phases, executors, the main-thread runner, the summary.
//! - [`mqtt`]: client connections and the publisher / subscriber / holder tasks.
//! - [`proxy`]: the WAN emulator (delay, bandwidth cap, cuts), also a library
//!   for fault tests.
//! - [`payload`], [`clock`], [`seq`], [`rate`], [`stats`]: the measurement parts.
//! - [`hgrm`], [`svg`]: the latency histogram as percentile text and a plot.
//! - [`units`]: parsing `10s`, `100mbit`, `4k`. [`logger`]: library warnings to stderr.
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod hgrm;
pub mod logger;
pub mod mqtt;
pub mod payload;
pub mod proxy;
pub mod rate;
pub mod run;
pub mod scenario;
pub mod seq;
pub mod stats;
pub mod svg;
pub mod units;
