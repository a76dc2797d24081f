//! Stopping the broker: SIGTERM and SIGINT end the process with status 0
//! within 5 s, after telling 5.0 clients DISCONNECT 0x8B (Server shutting
//! down) and closing 3.1.1 clients.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::{wire, Broker};

/// How long the broker may take to stop.
const STOP: Duration = Duration::from_secs(5);

/// Signals the broker and checks what its clients and its exit status show.
async fn stops_cleanly_on(signal: i32) {
    let broker = Broker::start("");
    let mut v5 = RawClient::v5(&broker, "stop-v5").await;
    let (mut v4, _) = RawClient::v4(&broker, "stop-v4", true).await;
    broker.signal(signal);

    let before = v5.expect_closed(STOP).await;
    let reasons: Vec<u8> = before.iter().map(|p| wire::disconnect_reason(p)).collect();
    assert_eq!(reasons, [0x8B], "5.0 client must get DISCONNECT 0x8B");
    let before = v4.expect_closed(STOP).await;
    assert!(
        before.is_empty(),
        "3.1.1 has no server DISCONNECT: {before:02x?}"
    );

    let status = broker.wait_exit(STOP);
    let status = status.unwrap_or_else(|| panic!("broker still running {STOP:?} after signal"));
    assert!(status.success(), "broker exited with {status}");
}

/// Does SIGTERM disconnect 5.0 clients with 0x8B and exit 0 within 5 s?
#[tokio::test]
async fn sigterm_disconnects_clients_and_exits_zero() {
    stops_cleanly_on(libc::SIGTERM).await;
}

/// Does SIGINT do the same as SIGTERM?
#[tokio::test]
async fn sigint_disconnects_clients_and_exits_zero() {
    stops_cleanly_on(libc::SIGINT).await;
}

/// Does an idle broker with no clients stop on SIGTERM too?
#[tokio::test]
async fn idle_broker_exits_zero_on_sigterm() {
    let broker = Broker::start("");
    broker.signal(libc::SIGTERM);
    let status = broker.wait_exit(STOP);
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?} within {STOP:?}"
    );
}

/// Can a stopped broker be started again on the same port at once, although its
/// closed connections sit in TIME_WAIT (SO_REUSEADDR)?
#[tokio::test]
async fn a_restarted_broker_binds_its_port_while_old_connections_are_in_time_wait() {
    let broker = Broker::start("");
    let port = broker.port();
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(RawClient::v5(&broker, &format!("tw-{i}")).await);
    }
    broker.signal(libc::SIGTERM);
    for c in &mut clients {
        c.expect_closed(STOP).await;
    }
    let status = broker.wait_exit(STOP).expect("broker stopped");
    assert!(status.success(), "broker exited with {status}");
    drop(broker);
    let again =
        Broker::start_on(port, "").unwrap_or_else(|e| panic!("restart on port {port}: {e}"));
    let _client = RawClient::v5(&again, "after-restart").await;
}
