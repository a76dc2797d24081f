//! Does `bench` against a real Meridian broker deliver everything it sends,
//! and does a delay added by the proxy show in its latency?
//!
//! Needs the broker binary: `cargo build --bin meridian` at the workspace root.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use meridian_loadgen::proxy::{Proxy, ProxyOptions};
use serde_json::Value;

/// A broker process on a free port, killed when dropped.
struct Broker {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_broker() -> Broker {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/meridian");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --bin meridian` at the workspace root",
        bin.display()
    );
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("mlg-e2e-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("meridian.toml");
    std::fs::write(
        &config,
        format!("[node]\ncores = 2\n[[listener]]\nbind = \"127.0.0.1:{port}\"\n"),
    )
    .expect("config");
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meridian");
    let broker = Broker {
        child,
        port,
        _dir: TempDir(dir),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker did not listen on {port}");
        thread::sleep(Duration::from_millis(50));
    }
    broker
}

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_meridian-loadgen"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .expect("run meridian-loadgen");
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn does_fan_out_to_five_deliver_every_message_five_times() {
    let broker = start_broker();
    let port = broker.port.to_string();
    let v = bench(&[
        "--port",
        &port,
        "--scenario",
        "fan-out",
        "--publishers",
        "1",
        "--subscribers",
        "5",
        "--qos",
        "0",
        "--size",
        "64",
        "--rate",
        "2000",
        "--duration",
        "2s",
    ]);
    let sent = u(&v, "sent");
    assert!(sent >= 3000, "sent only {sent} in 2 s at 2000/s");
    assert_eq!(u(&v, "received"), sent * 5);
    assert_eq!(u(&v, "lost"), 0);
    assert_eq!(u(&v, "duplicates"), 0);
    assert_eq!(u(&v, "reordered"), 0);
    assert!(v["recv_rate"].as_f64().is_some_and(|r| r > 0.0));
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            v["latency_us"][key].as_u64().is_some_and(|x| x > 0),
            "latency {key}"
        );
    }
}

#[test]
fn does_qos_1_fan_in_get_every_message_acked_and_delivered() {
    let broker = start_broker();
    let port = broker.port.to_string();
    let v = bench(&[
        "--port",
        &port,
        "--scenario",
        "fan-in",
        "--publishers",
        "4",
        "--qos",
        "1",
        "--rate",
        "1000",
        "--duration",
        "1s",
    ]);
    let sent = u(&v, "sent");
    assert!(sent > 0);
    assert_eq!(u(&v, "acked"), sent);
    assert_eq!(u(&v, "received"), sent);
    assert_eq!(u(&v, "lost"), 0);
    assert_eq!(v["per_publisher"].as_array().map(Vec::len), Some(4));
}

#[test]
fn does_a_proxied_subscriber_see_the_links_delay() {
    let broker = start_broker();
    let upstream = SocketAddr::from(([127, 0, 0, 1], broker.port));
    let opts = ProxyOptions {
        delay: Duration::from_millis(10),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), upstream, opts).expect("proxy");
    let port = broker.port.to_string();
    let sub_port = proxy.local_addr().port().to_string();
    let v = bench(&[
        "--port",
        &port,
        "--sub-port",
        &sub_port,
        "--scenario",
        "p2p",
        "--publishers",
        "2",
        "--rate",
        "200",
        "--duration",
        "1s",
    ]);
    assert_eq!(u(&v, "lost"), 0);
    assert!(u(&v, "received") > 0);
    // Broker → subscriber crosses the proxy once: at least one 10 ms delay.
    assert!(u(&v["latency_us"], "p50") >= 10_000, "{}", v["latency_us"]);
}
