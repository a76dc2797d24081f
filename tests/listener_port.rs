//! Listener ports at start-up: a second broker on a port that a running broker
//! serves refuses to start (instead of sharing the clients through SO_REUSEPORT),
//! while a broker killed and restarted at once on its own port comes back up.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::{wire, Broker, WAIT};

/// How long a refused broker may take to exit: its 2 s wait for the port plus slack.
const REFUSAL: Duration = Duration::from_secs(8);

/// How a second `meridian` run ended, and what it printed.
struct Outcome {
    status: Option<ExitStatus>,
    output: String,
}

/// Runs `meridian` with one listener on `bind` until it exits or `limit` passes
/// (then kills it: `status` is `None`).
fn run_second_broker(bind: SocketAddr, limit: Duration) -> Outcome {
    let dir = std::env::temp_dir().join(format!(
        "meridian-second-{}-{}",
        std::process::id(),
        bind.port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("second.toml");
    let text = format!("[node]\ncores = 2\n[[listener]]\nbind = \"{bind}\"\n");
    std::fs::write(&config, text).expect("write the config");
    let log = dir.join("second.log");
    let out = std::fs::File::create(&log).expect("create the log");
    let err = out.try_clone().expect("clone the log handle");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("run meridian");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for meridian") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome { status, output }
}

/// Asserts that `outcome` is a refusal naming `listener` as a port in use.
fn assert_refused(outcome: &Outcome, listener: SocketAddr) {
    let output = &outcome.output;
    let status = outcome
        .status
        .unwrap_or_else(|| panic!("a second broker started and kept running:\n{output}"));
    assert!(
        !status.success(),
        "a second broker exited with {status}:\n{output}"
    );
    let expected = format!("listener {listener}: address already in use");
    assert!(
        output.contains(&expected),
        "want {expected:?} in:\n{output}"
    );
}

/// Does the first broker still answer an existing client and accept a new one?
async fn assert_still_serving(first: &Broker, client: &mut RawClient) {
    first.assert_running();
    client.send(&wire::pingreq()).await;
    client.expect_kind(13).await;
    let _fresh = RawClient::v5(first, "after-the-refusal").await;
}

/// Does a second broker on the port a running broker serves exit non-zero, naming
/// the listener, while the first keeps serving its clients?
#[tokio::test]
async fn a_second_broker_on_a_served_port_refuses_to_start() {
    let first = Broker::start("");
    let mut client = RawClient::v5(&first, "first-client").await;
    let outcome = run_second_broker(first.addr(), REFUSAL);
    assert_refused(&outcome, first.addr());
    assert_still_serving(&first, &mut client).await;
}

/// Is a second broker on the wildcard address refused too, since it would take
/// the connections that the first broker's 127.0.0.1 listener serves?
#[tokio::test]
async fn a_second_broker_on_the_wildcard_address_of_a_served_port_refuses_to_start() {
    let first = Broker::start("");
    let mut client = RawClient::v5(&first, "first-client").await;
    let wildcard = SocketAddr::from(([0, 0, 0, 0], first.port()));
    let outcome = run_second_broker(wildcard, REFUSAL);
    assert_refused(&outcome, wildcard);
    assert_still_serving(&first, &mut client).await;
}

/// Does an MQTT 5.0 CONNECT to `addr` get a CONNACK? Errors on any failure.
fn mqtt_handshake(addr: SocketAddr, client_id: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(&wire::Connect::new(5, client_id, true, 60).encode())?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply)?;
    Ok(reply[..n].to_vec())
}

/// Does a broker SIGKILLed with clients connected come back up at once on the same
/// port, although its listening socket outlives the process for a moment?
#[test]
fn a_broker_killed_and_restarted_at_once_on_its_port_comes_up() {
    let killed = Broker::start("");
    let port = killed.port();
    let _held = [
        TcpStream::connect(killed.addr()).expect("connect"),
        TcpStream::connect(killed.addr()).expect("connect"),
    ];
    killed.signal(libc::SIGKILL);
    let status = killed.wait_exit(WAIT).expect("the broker died");
    assert!(!status.success(), "SIGKILL ended the broker with {status}");
    drop(killed);

    let again =
        Broker::start_on(port, "").unwrap_or_else(|e| panic!("restart on port {port}: {e}"));
    // A connection may still land in the dead socket's backlog for a moment; the new
    // broker must answer within the bounded wait all the same.
    let deadline = Instant::now() + WAIT;
    let connack = loop {
        match mqtt_handshake(again.addr(), "after-kill") {
            Ok(reply) if !reply.is_empty() => break reply,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no CONNACK from the restarted broker: {other:?}\n{}",
                    again.log_text()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    assert_eq!(wire::kind(&connack), 2, "not a CONNACK: {connack:02x?}");
    assert_eq!(wire::connack(&connack), (false, 0));
    again.assert_running();
}
