//! TLS for client listeners (`[[listener]] tls = { cert, key, ca }`), with rustls.
//!
//! rustls is sans-I/O: the connection's reader task feeds it ciphertext and takes
//! plaintext out, the writer task puts plaintext in and writes the ciphertext it
//! produces. Both tasks run on the same core and share the `ServerConnection` through
//! a `RefCell`; neither holds the borrow across an await.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::transport::SharedStream;
use bytes::BytesMut;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use crate::config::TlsConfig;

/// Why a listener's TLS set-up failed; names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{key}: cannot read {path}: {source}")]
    Read {
        key: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("{key}: {path} holds no {what}")]
    Empty {
        key: &'static str,
        path: String,
        what: &'static str,
    },
    #[error("{key}: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// Builds the rustls server configuration of one listener.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let certs = load_certs(&tls.cert, "tls.cert")?;
    let key = load_key(&tls.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Invalid {
            key: "tls",
            problem: e.to_string(),
        })?;
    let builder = match &tls.ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(ca, "tls.ca")? {
                roots.add(cert).map_err(|e| TlsSetupError::Invalid {
                    key: "tls.ca",
                    problem: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsSetupError::Invalid {
                    key: "tls.ca",
                    problem: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsSetupError::Invalid {
            key: "tls.key",
            problem: format!("does not match tls.cert: {e}"),
        })?;
    Ok(Arc::new(config))
}

fn open(path: &Path, key: &'static str) -> Result<BufReader<File>, TlsSetupError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| TlsSetupError::Read {
            key,
            path: path.display().to_string(),
            source,
        })
}

fn load_certs(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let mut reader = open(path, key)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut reader).collect();
    let certs = certs.map_err(|source| TlsSetupError::Read {
        key,
        path: path.display().to_string(),
        source,
    })?;
    if certs.is_empty() {
        return Err(TlsSetupError::Empty {
            key,
            path: path.display().to_string(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let key = "tls.key";
    let mut reader = open(path, key)?;
    rustls_pemfile::private_key(&mut reader)
        .map_err(|source| TlsSetupError::Read {
            key,
            path: path.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsSetupError::Empty {
            key,
            path: path.display().to_string(),
            what: "PEM private key",
        })
}

/// The TLS state of one connection, shared by its reader and writer.
pub type TlsSession = RefCell<ServerConnection>;

/// Sends whatever TLS records rustls has ready (handshake, alerts, tickets).
pub async fn flush(stream: &SharedStream, tls: &TlsSession) -> io::Result<()> {
    let mut raw = Vec::new();
    {
        let mut conn = tls.borrow_mut();
        while conn.wants_write() {
            conn.write_tls(&mut raw)?;
        }
    }
    if !raw.is_empty() {
        stream.write_all(&raw).await?;
    }
    Ok(())
}

/// Completes the TLS handshake on a fresh connection (before the writer task exists).
pub async fn handshake(
    stream: &SharedStream,
    tls: &TlsSession,
    buf: &mut BytesMut,
) -> io::Result<()> {
    loop {
        flush(stream, tls).await?;
        if !tls.borrow().is_handshaking() {
            return Ok(());
        }
        if !read(stream, tls, buf).await? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during TLS handshake",
            ));
        }
    }
}

/// Bytes a TLS connection waits for with a buffer in its own task: an idle
/// connection holds no heap buffer for reading.
const WAIT_READ: usize = 256;
/// Bytes asked of the kernel per read while ciphertext keeps coming.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// This core's ciphertext buffer for the reads that follow a full [`WAIT_READ`].
    /// Those reads never wait (see [`drain_ready`]), so one buffer per core serves
    /// every TLS connection on it.
    static SCRATCH: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// This core's scratch buffer while borrowed; it goes back on drop.
struct Scratch(Box<[u8]>);

impl Scratch {
    fn take() -> Scratch {
        let buf = SCRATCH
            .take()
            .unwrap_or_else(|| vec![0u8; READ_CHUNK].into_boxed_slice());
        Scratch(buf)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        SCRATCH.set(Some(std::mem::take(&mut self.0)));
    }
}

/// Reads ciphertext from the socket until rustls yields plaintext (appended to
/// `buf`) or has records to send; returns false at end of stream. The caller must get
/// any records rustls wants to send (`wants_write`) written.
///
/// It waits with a small buffer of its own; when that fills, more is probably there
/// and is read at once through this core's scratch buffer. Nothing is allocated per
/// read (beyond `buf` growing to hold the plaintext).
pub async fn read(stream: &SharedStream, tls: &TlsSession, buf: &mut BytesMut) -> io::Result<bool> {
    let before = buf.len();
    let mut small = [0u8; WAIT_READ];
    loop {
        let n = stream.read(&mut small).await?;
        if n == 0 {
            return Ok(false);
        }
        let mut closed = absorb(&mut tls.borrow_mut(), &small[..n], buf)?;
        if n == small.len() {
            closed |= drain_ready(stream, tls, buf).await?;
        }
        if closed && buf.len() == before {
            return Ok(false);
        }
        let conn = tls.borrow();
        if buf.len() > before || conn.wants_write() || conn.is_handshaking() {
            return Ok(true);
        }
    }
}

/// Reads and absorbs the ciphertext that is already waiting, without waiting for
/// more; whether the stream ended or the peer closed its side.
async fn drain_ready(
    stream: &SharedStream,
    tls: &TlsSession,
    buf: &mut BytesMut,
) -> io::Result<bool> {
    let mut scratch = Scratch::take();
    loop {
        // One poll: a read that would wait is dropped, which leaves glommio polling
        // for readiness, so the caller's next read waits for it as usual.
        let Some(result) = futures_lite::future::poll_once(stream.read(&mut scratch.0)).await
        else {
            return Ok(false);
        };
        let n = result?;
        if n == 0 {
            return Ok(true);
        }
        let closed = absorb(&mut tls.borrow_mut(), &scratch.0[..n], buf)?;
        if closed || n < scratch.0.len() {
            return Ok(closed);
        }
    }
}

/// Hands `input` to rustls and moves each batch of plaintext it yields to the end
/// of `buf` (rustls holds at most 16 KiB of it); whether the peer closed its side.
fn absorb(conn: &mut ServerConnection, mut input: &[u8], buf: &mut BytesMut) -> io::Result<bool> {
    let mut peer_closed = false;
    while !input.is_empty() {
        conn.read_tls(&mut input)?;
        let state = conn
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        peer_closed |= state.peer_has_closed();
        let plain = state.plaintext_bytes_to_read();
        if plain > 0 {
            let len = buf.len();
            buf.resize(len + plain, 0);
            if let Err(e) = conn.reader().read_exact(&mut buf[len..]) {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
    Ok(peer_closed)
}

/// Encrypts `plain` and writes it, in pieces as large as rustls takes at a time (it
/// buffers at most 64 KiB of plaintext, so a bigger message goes in several turns).
pub async fn write_all(
    stream: &SharedStream,
    tls: &TlsSession,
    mut plain: &[u8],
) -> io::Result<()> {
    loop {
        if !plain.is_empty() {
            let n = tls.borrow_mut().writer().write(plain)?;
            plain = &plain[n..];
        }
        flush(stream, tls).await?;
        if plain.is_empty() {
            return Ok(());
        }
    }
}
