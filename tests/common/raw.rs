//! A raw TCP MQTT client for tests that need exact bytes: it sends what the
//! test writes and splits what comes back into whole packets by parsing the
//! fixed header and remaining length. Every read has a deadline.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::wire::{self, Connect};
use super::{Broker, WAIT};

/// What the next read found.
#[derive(Debug)]
pub enum Read {
    /// A whole packet, fixed header included.
    Packet(Vec<u8>),
    /// The broker closed the connection (EOF or reset).
    Closed,
    /// Nothing complete arrived before the deadline.
    Timeout,
}

/// A raw connection to the broker.
pub struct RawClient {
    stream: TcpStream,
    /// Bytes read but not yet returned as a packet.
    buf: Vec<u8>,
    closed: bool,
}

impl RawClient {
    /// Opens a TCP connection (no MQTT yet).
    pub async fn open(broker: &Broker) -> RawClient {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(broker.addr()))
            .await
            .expect("TCP connect timed out")
            .expect("TCP connect");
        Self::wrap(stream)
    }

    /// Opens a TCP connection whose kernel receive buffer is `bytes` small,
    /// so that a client that stops reading pushes back on the broker quickly.
    pub async fn open_with_recv_buffer(broker: &Broker, bytes: u32) -> RawClient {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let stream = tokio::time::timeout(WAIT, socket.connect(broker.addr()))
            .await
            .expect("TCP connect timed out")
            .expect("TCP connect");
        Self::wrap(stream)
    }

    fn wrap(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// Opens a connection, sends `connect` and asserts a CONNACK with code 0; the
    /// CONNACK's session-present flag.
    pub async fn connect(broker: &Broker, connect: &Connect<'_>) -> (RawClient, bool) {
        let mut client = Self::open(broker).await;
        client.send(&connect.encode()).await;
        let packet = client.expect_packet("CONNACK").await;
        let (session_present, code) = wire::connack(&packet);
        assert_eq!(
            code, 0,
            "CONNACK for {:?} refused: {packet:02x?}",
            connect.client_id
        );
        (client, session_present)
    }

    /// A 3.1.1 connection with `client_id`, clean session as given, keepalive 60 s.
    pub async fn v4(broker: &Broker, client_id: &str, clean: bool) -> (RawClient, bool) {
        Self::connect(broker, &Connect::new(4, client_id, clean, 60)).await
    }

    /// A 5.0 connection with `client_id`, clean start, keepalive 60 s.
    pub async fn v5(broker: &Broker, client_id: &str) -> RawClient {
        Self::connect(broker, &Connect::new(5, client_id, true, 60))
            .await
            .0
    }

    /// Writes `bytes`, panicking if the connection is gone.
    pub async fn send(&mut self, bytes: &[u8]) {
        if let Err(error) = self.try_send(bytes).await {
            panic!("raw send of {} bytes failed: {error}", bytes.len());
        }
    }

    /// Writes `bytes`; the error if the broker already closed the connection.
    pub async fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match tokio::time::timeout(WAIT, self.stream.write_all(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write blocked")),
        }
    }

    /// Closes our sending side (the broker reads EOF), keeping the read side open.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// The next packet, close, or timeout.
    pub async fn read(&mut self, timeout: Duration) -> Read {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(packet) = self.take_packet() {
                return Read::Packet(packet);
            }
            if self.closed {
                return Read::Closed;
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Read::Timeout,
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next packet within `timeout`, or `None` on timeout or close.
    pub async fn read_packet(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        match self.read(timeout).await {
            Read::Packet(packet) => Some(packet),
            Read::Closed | Read::Timeout => None,
        }
    }

    /// The next packet within [`WAIT`], or panics naming what was `expected`.
    pub async fn expect_packet(&mut self, expected: &str) -> Vec<u8> {
        match self.read(WAIT).await {
            Read::Packet(packet) => packet,
            other => panic!("expected {expected}, got {other:?}"),
        }
    }

    /// The next packet within [`WAIT`], asserting its type; panics otherwise.
    pub async fn expect_kind(&mut self, kind: u8) -> Vec<u8> {
        let packet = self.expect_packet(&format!("packet type {kind}")).await;
        assert_eq!(wire::kind(&packet), kind, "unexpected packet {packet:02x?}");
        packet
    }

    /// Reads until the broker closes the connection within `timeout`; the
    /// packets that came before the close. Panics if it stays open.
    pub async fn expect_closed(&mut self, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read(left).await {
                Read::Packet(packet) => before.push(packet),
                Read::Closed => return before,
                Read::Timeout => panic!(
                    "connection still open after {timeout:?}; packets received: {before:02x?}"
                ),
            }
        }
    }

    /// Whether the broker has closed the connection (as far as reads have seen).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Splits one whole packet off the front of the buffer, if there is one.
    fn take_packet(&mut self) -> Option<Vec<u8>> {
        let mut length = 0usize;
        let mut header = 1;
        loop {
            let byte = *self.buf.get(header)?;
            length |= usize::from(byte & 0x7F) << (7 * (header - 1));
            header += 1;
            if byte & 0x80 == 0 {
                break;
            }
            assert!(
                header <= 4,
                "broker sent a 5-byte remaining length: {:02x?}",
                &self.buf[..5]
            );
        }
        let total = header + length;
        if self.buf.len() < total {
            return None;
        }
        Some(self.buf.drain(..total).collect())
    }
}
