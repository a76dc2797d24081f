//! One MQTT client connection on a glommio executor: TCP connect, CONNECT /
//! CONNACK, then a read half (a [`PacketReader`], in `reader`) and a write
//! half for coalesced writes; and the errors a connection ends with.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::io::{split, AsyncWriteExt, ReadHalf, WriteHalf};
use glommio::net::TcpStream;
use meridian::protocol::{
    encode, Connect, EncodeError, MqttStr, Packet, Properties, ProtocolError, ProtocolVersion,
    ReasonCode,
};

use super::reader::PacketReader;

/// How to reach and log in to the broker; shared by every client of a run.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub version: ProtocolVersion,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Seconds; 0 (the default) turns keep alive off, so idle clients need no PINGREQ.
    pub keep_alive: u16,
    pub clean_start: bool,
    /// Limit for TCP connect plus CONNACK.
    pub connect_timeout: Duration,
}

/// Why a client connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("malformed packet from the broker: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("cannot encode a packet: {0}")]
    Encode(#[from] EncodeError),
    #[error("refused by the broker: {0:?}")]
    Refused(ReasonCode),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("connection closed by the peer")]
    Closed,
    #[error("unexpected packet type {0} from the broker")]
    Unexpected(u8),
}

/// An established MQTT connection, split for concurrent reading and writing.
pub struct Client {
    pub reader: PacketReader<ReadHalf<TcpStream>>,
    pub writer: WriteHalf<TcpStream>,
    pub version: ProtocolVersion,
    /// TCP connect to CONNACK.
    pub connect_time: Duration,
}

impl Client {
    /// Encodes `packet` and writes it at once.
    pub async fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        encode(packet, self.version, &mut out)?;
        self.writer.write_all(&out).await?;
        Ok(())
    }
}

/// The CONNECT packet for `client_id` under `opts`.
pub fn connect_packet(opts: &ClientOptions, client_id: &str) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol: opts.version,
        clean_start: opts.clean_start,
        keep_alive: opts.keep_alive,
        client_id: MqttStr::from(client_id),
        will: None,
        username: opts.username.as_deref().map(MqttStr::from),
        password: opts
            .password
            .as_ref()
            .map(|p| Bytes::copy_from_slice(p.as_bytes())),
        properties: Properties::default(),
    }))
}

/// Connects `client_id` to `addr` and waits for a successful CONNACK.
pub async fn connect(
    opts: &ClientOptions,
    addr: SocketAddr,
    client_id: &str,
) -> Result<Client, ClientError> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(addr, opts.connect_timeout)
        .await
        .map_err(io::Error::from)?;
    stream.set_nodelay(true).map_err(io::Error::from)?;
    let (r, writer) = split(stream);
    let mut client = Client {
        reader: PacketReader::new(r, opts.version),
        writer,
        version: opts.version,
        connect_time: Duration::ZERO,
    };
    client.send(&connect_packet(opts, client_id)).await?;
    let remaining = opts.connect_timeout.saturating_sub(started.elapsed());
    let ack = futures_lite::future::or(client.reader.next(), async {
        glommio::timer::sleep(remaining).await;
        Err(ClientError::Timeout("CONNACK"))
    })
    .await?;
    match ack {
        Packet::ConnAck(ack) if ack.reason_code.is_error() => {
            Err(ClientError::Refused(ack.reason_code))
        }
        Packet::ConnAck(_) => {
            client.connect_time = started.elapsed();
            Ok(client)
        }
        other => Err(ClientError::Unexpected(other.packet_type())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian::protocol::{decode, DecodeLimits};

    #[test]
    fn does_the_connect_packet_carry_the_credentials() {
        let opts = ClientOptions {
            version: ProtocolVersion::V5,
            username: Some("u".into()),
            password: Some("p".into()),
            keep_alive: 0,
            clean_start: true,
            connect_timeout: Duration::from_secs(1),
        };
        let mut out = BytesMut::new();
        encode(&connect_packet(&opts, "c-1"), opts.version, &mut out).expect("encode");
        let Ok(Some(Packet::Connect(c))) = decode(&mut out, &DecodeLimits::default()) else {
            panic!("CONNECT does not decode");
        };
        assert_eq!(c.client_id.as_str(), "c-1");
        assert_eq!(c.username.as_ref().map(MqttStr::as_str), Some("u"));
        assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
        assert_eq!(c.protocol, ProtocolVersion::V5);
        assert!(c.clean_start);
    }
}
