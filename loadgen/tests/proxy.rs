//! Does the WAN emulator pass bytes unchanged, add its delay each way, cap
//! the bandwidth, and cut connections on demand?

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use meridian_loadgen::proxy::{Proxy, ProxyOptions};

/// An echo server on a free port; serves until the test process ends.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = l.local_addr().expect("addr");
    thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn ping(c: &mut TcpStream) -> Duration {
    let t = Instant::now();
    c.write_all(b"x").expect("write");
    let mut b = [0u8; 1];
    c.read_exact(&mut b).expect("read");
    t.elapsed()
}

#[test]
fn does_the_proxy_pass_bytes_unchanged() {
    let proxy = Proxy::start(any_port(), echo_server(), ProxyOptions::default()).expect("proxy");
    let mut c = TcpStream::connect(proxy.local_addr()).expect("connect");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let writer = {
        let mut w = c.try_clone().expect("clone");
        let data = data.clone();
        thread::spawn(move || w.write_all(&data).expect("write"))
    };
    let mut back = vec![0u8; data.len()];
    c.read_exact(&mut back).expect("read back");
    writer.join().expect("writer");
    assert_eq!(back, data);
    // The counters are bumped just after each write: give the last one a moment.
    let deadline = Instant::now() + Duration::from_secs(1);
    while proxy.stats().bytes_down < 200_000 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let s = proxy.stats();
    assert_eq!(s.bytes_up, 200_000);
    assert_eq!(s.bytes_down, 200_000);
    assert_eq!(s.accepted, 1);
}

#[test]
fn is_the_round_trip_two_delays_longer() {
    let opts = ProxyOptions {
        delay: Duration::from_millis(20),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start(any_port(), echo_server(), opts).expect("proxy");
    let mut c = TcpStream::connect(proxy.local_addr()).expect("connect");
    c.set_nodelay(true).expect("nodelay");
    let rtts: Vec<Duration> = (0..5).map(|_| ping(&mut c)).collect();
    let best = rtts.iter().min().copied().unwrap_or_default();
    assert!(
        best >= Duration::from_millis(40),
        "RTT {best:?} below 2 × 20 ms"
    );
    assert!(
        best < Duration::from_millis(80),
        "RTT {best:?} far above 2 × 20 ms"
    );
}

#[test]
fn does_the_bandwidth_cap_slow_a_transfer() {
    // 100 KB/s one way: 50 KB up and 50 KB back take at least ~0.5 s each way.
    let opts = ProxyOptions {
        bandwidth: Some(100_000),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start(any_port(), echo_server(), opts).expect("proxy");
    let mut c = TcpStream::connect(proxy.local_addr()).expect("connect");
    let t = Instant::now();
    c.write_all(&[7u8; 50_000]).expect("write");
    let mut back = vec![0u8; 50_000];
    c.read_exact(&mut back).expect("read");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "50 KB at 100 KB/s took {took:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn does_a_cut_close_connections_and_refuse_new_ones_until_it_ends() {
    let proxy = Proxy::start(any_port(), echo_server(), ProxyOptions::default()).expect("proxy");
    let mut c = TcpStream::connect(proxy.local_addr()).expect("connect");
    ping(&mut c);
    proxy.cut_now(Duration::from_millis(300));
    let mut b = [0u8; 1];
    c.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    assert!(
        matches!(c.read(&mut b), Ok(0) | Err(_)),
        "connection survived the cut"
    );

    // During the cut a new connection is closed at once.
    let mut during = TcpStream::connect(proxy.local_addr()).expect("tcp connect");
    during
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let _ = during.write_all(b"x");
    assert!(
        matches!(during.read(&mut b), Ok(0) | Err(_)),
        "proxied during a cut"
    );

    thread::sleep(Duration::from_millis(400));
    let mut after = TcpStream::connect(proxy.local_addr()).expect("connect after");
    ping(&mut after);
    let s = proxy.stats();
    assert_eq!(s.cuts, 1);
    assert!(s.refused >= 1);
    assert!(!s.cut_now);
}
