//! MQTT over a TLS listener with a real broker process: the handshake, a small
//! round trip, a message spread over several TLS records and a burst of small
//! messages all come through intact (the broker's TLS read path: a small read
//! while waiting, then reads of what is already there).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wire, WAIT};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A broker with one TLS listener, killed on drop.
struct TlsBroker {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl TlsBroker {
    fn start(name: &str) -> TlsBroker {
        let port = common::broker::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = std::env::temp_dir().join(format!("meridian-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("meridian.toml");
        let text = format!(
            "[node]\ncores = 2\n[[listener]]\nbind = \"{addr}\"\n\
             tls = {{ cert = \"{FIXTURES}/tls-server.pem\", key = \"{FIXTURES}/tls-server.key\" }}\n"
        );
        std::fs::write(&config, text).expect("write the config");
        let log = std::fs::File::create(dir.join("meridian.log")).expect("log");
        let err = log.try_clone().expect("log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("run meridian");
        let mut broker = TlsBroker { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("meridian exited with {status}:\n{}", broker.log());
            }
            assert!(
                Instant::now() < deadline,
                "not listening:\n{}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        broker
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("meridian.log")).unwrap_or_default()
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS client that trusts the fixture certificate.
struct TlsClient {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl TlsClient {
    fn connect(broker: &TlsBroker, client_id: &str) -> TlsClient {
        let pem = std::fs::read(Path::new(FIXTURES).join("tls-server.pem")).expect("cert");
        let mut roots = RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert: CertificateDer<'static> = cert.expect("a PEM certificate");
            roots.add(cert).expect("a trust anchor");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("server name");
        let conn = ClientConnection::new(Arc::new(config), name).expect("client session");
        let socket = TcpStream::connect(broker.addr).expect("TCP connect");
        socket.set_read_timeout(Some(WAIT)).expect("read timeout");
        let mut client = TlsClient {
            tls: StreamOwned::new(conn, socket),
            buf: Vec::new(),
        };
        client.send(&wire::Connect::new(5, client_id, true, 60).encode());
        let connack = client.packet();
        assert_eq!(wire::kind(&connack), 2, "not a CONNACK: {connack:02x?}");
        assert_eq!(wire::connack(&connack), (false, 0));
        client
    }

    fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).expect("TLS write");
        self.tls.flush().expect("TLS flush");
    }

    /// The next whole MQTT packet.
    fn packet(&mut self) -> Vec<u8> {
        loop {
            if let Some(len) = whole_packet_len(&self.buf) {
                return self.buf.drain(..len).collect();
            }
            let mut chunk = [0u8; 8192];
            let n = self.tls.read(&mut chunk).expect("TLS read");
            assert!(n > 0, "the broker closed the TLS connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The length of the first packet in `buf` if it is all there.
fn whole_packet_len(buf: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for i in 1..buf.len().min(5) {
        remaining |= usize::from(buf[i] & 0x7F) << (7 * (i - 1));
        if buf[i] & 0x80 == 0 {
            let total = 1 + i + remaining;
            return (buf.len() >= total).then_some(total);
        }
    }
    None
}

/// Subscribes `client` to `filter` at QoS 0 and waits for the SUBACK.
fn subscribe(client: &mut TlsClient, filter: &str) {
    client.send(&wire::subscribe(1, filter, 0, true));
    let suback = client.packet();
    assert_eq!(wire::suback_code(&suback, true), 0, "{suback:02x?}");
}

/// Does a client get its own small publish back over TLS?
#[test]
fn does_a_tls_client_get_a_small_message_back() {
    let broker = TlsBroker::start("small");
    let mut client = TlsClient::connect(&broker, "tls-small");
    subscribe(&mut client, "tls/small");
    client.send(&wire::publish(
        b"tls/small",
        0,
        false,
        0,
        b"hello",
        Some(&[]),
    ));
    let got = wire::parse_publish(&client.packet(), true);
    assert_eq!(got.payload, b"hello");
}

/// Does a 100 KB message, several TLS records long, arrive intact both ways?
#[test]
fn does_a_message_spanning_many_tls_records_arrive_intact() {
    let broker = TlsBroker::start("large");
    let mut client = TlsClient::connect(&broker, "tls-large");
    subscribe(&mut client, "tls/large");
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    client.send(&wire::publish(
        b"tls/large",
        0,
        false,
        0,
        &payload,
        Some(&[]),
    ));
    let got = wire::parse_publish(&client.packet(), true);
    assert_eq!(got.payload.len(), payload.len());
    assert!(got.payload == payload, "the payload changed on the way");
}

/// Does a burst of 500 small messages written at once arrive complete and in order?
#[test]
fn does_a_burst_of_small_messages_arrive_in_order() {
    let broker = TlsBroker::start("burst");
    let mut client = TlsClient::connect(&broker, "tls-burst");
    subscribe(&mut client, "tls/burst");
    let mut burst = Vec::new();
    for i in 0..500u32 {
        let payload = format!("message {i}");
        burst.extend(wire::publish(
            b"tls/burst",
            0,
            false,
            0,
            payload.as_bytes(),
            Some(&[]),
        ));
    }
    client.send(&burst);
    for i in 0..500u32 {
        let got = wire::parse_publish(&client.packet(), true);
        assert_eq!(
            String::from_utf8_lossy(&got.payload),
            format!("message {i}")
        );
    }
}
