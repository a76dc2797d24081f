//! Shared helpers for the black-box integration suite: a real broker process
//! per test ([`Broker`]), rumqttc 3.1.1 and 5.0 clients with bounded waits
//! ([`V4`], [`V5`]), a raw-socket client ([`RawClient`]) with hand-written
//! packets ([`wire`]), and a bystander client ([`Witness`]).
//!
//! Every test binary uses a different part of these helpers, hence the
//! module-level `dead_code` allowance.
#![allow(dead_code)]

pub mod broker;
pub mod pump;
pub mod raw;
pub mod v4;
pub mod v5;
pub mod wire;
pub mod witness;

use std::time::Duration;

pub use broker::Broker;

/// The longest any single expected event may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// How long a test listens to conclude that nothing (more) arrives.
pub const QUIET: Duration = Duration::from_millis(400);
