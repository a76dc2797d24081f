//! One half of a client connection's byte stream, plain TCP or TLS: the reader task
//! and the writer task each own a `Transport` over the same socket (one descriptor,
//! shared), sharing the TLS state if there is one.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use super::tls::{self, TlsSession};

/// Bytes asked of the kernel per plain read.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes asked per read while traffic is light: an idle connection waits with this
/// much (in its task) instead of a read buffer, which keeps memory per idle
/// connection small. A read that fills it switches to big reads.
const LIGHT_READ: usize = 256;

/// A socket shared by a connection's reader and writer tasks on one core. Each read
/// or write borrows it only inside a poll, never across an await; glommio keeps
/// separate wakers for reading and writing, so both tasks can wait on it at once.
/// (One descriptor per connection instead of a `dup` per direction.)
#[derive(Clone)]
pub struct SharedStream(Rc<RefCell<TcpStream>>);

impl SharedStream {
    pub fn new(stream: TcpStream) -> Self {
        SharedStream(Rc::new(RefCell::new(stream)))
    }

    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)).await
    }

    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.borrow().as_raw_fd()
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        let _ = self.0.borrow().set_read_timeout(timeout);
    }

    /// Shuts both directions (the peer sees the end; a pending read returns).
    pub fn shutdown(&self) {
        // SAFETY: the descriptor is open while `self` exists.
        unsafe { libc::shutdown(self.raw_fd(), libc::SHUT_RDWR) };
    }
}

pub struct Transport {
    pub stream: SharedStream,
    pub tls: Option<Rc<TlsSession>>,
    /// The last read was small: wait for the next one without holding a buffer.
    light: bool,
}

impl Transport {
    pub fn new(stream: SharedStream, tls: Option<Rc<TlsSession>>) -> Self {
        Transport {
            stream,
            tls,
            light: true,
        }
    }

    /// Appends what arrives to `buf`; returns 0 at end of stream, else a positive
    /// number (the plaintext byte count, or 1 when TLS had only records of its own).
    pub async fn read_more(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match &self.tls {
            Some(session) => {
                let before = buf.len();
                let open = tls::read(&self.stream, session, buf).await?;
                Ok(if open { (buf.len() - before).max(1) } else { 0 })
            }
            None if self.light && buf.is_empty() => {
                if buf.capacity() > LIGHT_READ {
                    *buf = BytesMut::new();
                }
                let mut small = [0u8; LIGHT_READ];
                let n = self.stream.read(&mut small).await?;
                self.light = n < LIGHT_READ;
                buf.reserve(if self.light { n } else { READ_CHUNK });
                buf.extend_from_slice(&small[..n]);
                Ok(n)
            }
            None => {
                let len = buf.len();
                buf.resize(len + READ_CHUNK, 0);
                let result = self.stream.read(&mut buf[len..]).await;
                let n = *result.as_ref().unwrap_or(&0);
                buf.truncate(len + n);
                self.light = n < LIGHT_READ;
                result
            }
        }
    }

    /// Writes all of `bytes` (encrypting them under TLS).
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &self.tls {
            Some(session) => tls::write_all(&self.stream, session, bytes).await,
            None => self.stream.write_all(bytes).await,
        }
    }

    /// Whether TLS has records of its own to send (handshake, tickets, alerts).
    pub fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|s| s.borrow().wants_write())
    }
}
