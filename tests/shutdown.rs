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

/// Does a broker on its way out stop listening at once? During the grace period
/// in which it waits for its clients to go, a new client must be refused, not
/// accepted by a broker that is closing (nor, after the exit, by its listening
/// socket, which the pending accept in io_uring kept alive a moment longer).
#[tokio::test]
async fn a_stopping_broker_refuses_new_clients_during_its_grace_period() {
    let broker = Broker::start("");
    let addr = broker.addr();
    // A subscriber that never reads, with a small receive buffer: the broker's
    // write to it blocks, so the broker waits out its grace period for it.
    let mut stalled = RawClient::open_with_recv_buffer(&broker, 4096).await;
    stalled
        .send(&wire::Connect::new(4, "stalled", true, 60).encode())
        .await;
    stalled.expect_packet("CONNACK").await;
    stalled.send(&wire::subscribe(1, "flood", 0, false)).await;
    stalled.expect_packet("SUBACK").await;
    let (mut publisher, _) = RawClient::v4(&broker, "flooder", true).await;
    let chunk = wire::publish(b"flood", 0, false, 0, &[7u8; 64 * 1024], None);
    for _ in 0..64 {
        publisher.send(&chunk).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    broker.signal(libc::SIGTERM);
    // The core looks for the stop flag every 50 ms; the grace period is 2 s.
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    let refused = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            _ if std::time::Instant::now() >= deadline => break false,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(
        broker.exit_status().is_none(),
        "the broker was meant to be still in its grace period"
    );
    assert!(
        refused,
        "{addr} still accepted connections 1.5 s after SIGTERM"
    );
    let status = broker.wait_exit(STOP).expect("broker stopped");
    assert!(status.success(), "broker exited with {status}");
}
