//! TLS for client listeners (`[[listener]] tls = { cert, key, ca }`), with rustls.
//!
//! rustls is sans-I/O: the connection's reader task feeds it ciphertext and takes
//! plaintext out, the writer task puts plaintext in and writes the ciphertext it
//! produces. Both tasks run on the same core and share the `ServerConnection` through
//! a `RefCell`; neither holds the borrow across an await.

use std::cell::RefCell;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::transport::{SharedStream, SCRATCH_LEN};
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
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
pub fn flush<'a>(
    stream: &'a SharedStream,
    tls: &'a TlsSession,
) -> impl Future<Output = io::Result<()>> + 'a {
    async move {
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

/// Reads ciphertext from the socket until rustls yields plaintext (appended to
/// `buf`) or has records to send; returns false at end of stream. The caller must get
/// any records rustls wants to send (`wants_write`) written. Ciphertext lands in the
/// core's scratch buffer and is handed to rustls in the same poll, so a connection
/// waiting for data holds no read buffer.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
pub fn read<'a>(
    stream: &'a SharedStream,
    tls: &'a TlsSession,
    buf: &'a mut BytesMut,
) -> impl Future<Output = io::Result<bool>> + 'a {
    async move {
        loop {
            let step = stream
                .read_scratch(SCRATCH_LEN, |raw| absorb(tls, raw, buf))
                .await??;
            if let Some(open) = step {
                return Ok(open);
            }
        }
    }
}

/// Feeds one read of ciphertext (`raw`, empty at end of stream) to rustls and appends
/// the plaintext to `buf`. Returns whether the stream is still open once there is
/// something for the caller, or `None` to read more.
fn absorb(tls: &TlsSession, raw: &[u8], buf: &mut BytesMut) -> io::Result<Option<bool>> {
    if raw.is_empty() {
        return Ok(Some(false));
    }
    let mut conn = tls.borrow_mut();
    let mut input = raw;
    let mut peer_closed = false;
    let before = buf.len();
    while !input.is_empty() {
        conn.read_tls(&mut input)?;
        let state = conn
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        peer_closed |= state.peer_has_closed();
        // Take each batch of plaintext out at once: rustls holds at most 16 KiB of
        // it, less than one read of ciphertext can carry.
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
    if peer_closed && buf.len() == before {
        return Ok(Some(false));
    }
    if buf.len() > before || conn.wants_write() || conn.is_handshaking() {
        return Ok(Some(true));
    }
    Ok(None)
}

/// Encrypts `plain` and writes it, in pieces as large as rustls takes at a time (it
/// buffers at most 64 KiB of plaintext, so a bigger message goes in several turns).
/// (A function returning an `async move` block, which keeps its arguments once.)
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
pub fn write_all<'a>(
    stream: &'a SharedStream,
    tls: &'a TlsSession,
    mut plain: &'a [u8],
) -> impl Future<Output = io::Result<()>> + 'a {
    async move {
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
}
