//! One half of a client connection's byte stream, plain TCP or TLS: the reader task
//! and the writer task each own a `Transport` over the same socket (one descriptor,
//! shared), sharing the TLS state if there is one.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use super::tls::{self, TlsSession};

/// Bytes asked of the kernel per plain read.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes asked per read while traffic is light: an idle connection waits without a
/// read buffer of its own (the bytes land in the core's [`SCRATCH`] and are copied
/// out), which keeps memory per idle connection small. A read that fills it switches
/// to big reads.
const LIGHT_READ: usize = 256;

/// Size of the core's [`SCRATCH`] buffer: the largest read made through it (a TLS
/// read of ciphertext).
pub const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    /// One core's landing place for reads whose bytes are consumed at once (light
    /// reads, TLS ciphertext). Borrowed only inside one poll of a read (glommio's
    /// plain socket read never keeps the buffer across `Pending`), so all connections
    /// of the core share it and no waiting task keeps a read buffer in its state.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

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

    /// Reads at most `max` bytes (up to [`SCRATCH_LEN`]) into the core's scratch
    /// buffer and hands them to `take` in the same poll (an empty slice at end of
    /// stream). The waiting future holds no buffer, so an idle connection costs none.
    pub fn read_scratch<'a, R>(
        &'a self,
        max: usize,
        mut take: impl FnMut(&[u8]) -> R + 'a,
    ) -> impl Future<Output = io::Result<R>> + 'a {
        poll_fn(move |cx| {
            SCRATCH.with_borrow_mut(|scratch| {
                let scratch = &mut scratch[..max.min(SCRATCH_LEN)];
                let polled = Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, scratch);
                match polled {
                    Poll::Ready(Ok(n)) => Poll::Ready(Ok(take(&scratch[..n]))),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
        })
    }

    /// Writes all of `data`. (A plain future rather than an `async fn`: the
    /// writer task keeps it while a slow client's socket is full.)
    pub fn write_all<'a>(
        &'a self,
        mut data: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + 'a {
        poll_fn(move |cx| {
            while !data.is_empty() {
                let polled = Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, data);
                match polled {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => data = &data[n..],
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
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
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice in its state"
    )]
    pub fn read_more<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        async move {
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
                    let n = self
                        .stream
                        .read_scratch(LIGHT_READ, |bytes| {
                            let n = bytes.len();
                            buf.reserve(if n < LIGHT_READ { n } else { READ_CHUNK });
                            buf.extend_from_slice(bytes);
                            n
                        })
                        .await?;
                    self.light = n < LIGHT_READ;
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
    }

    /// Writes all of `bytes` (encrypting them under TLS).
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice in its state"
    )]
    pub fn write_all<'a>(
        &'a mut self,
        bytes: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + 'a {
        async move {
            match &self.tls {
                Some(session) => tls::write_all(&self.stream, session, bytes).await,
                None => self.stream.write_all(bytes).await,
            }
        }
    }

    /// Whether TLS has records of its own to send (handshake, tickets, alerts).
    pub fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|s| s.borrow().wants_write())
    }
}
