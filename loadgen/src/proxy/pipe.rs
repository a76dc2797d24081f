//! One direction of one proxied connection: a reader thread stamps each chunk
//! with the time it may be delivered (arrival, then queueing behind earlier
//! bytes on a bandwidth-capped link, then the one-way delay) and a writer
//! thread delivers it at that time. A bounded queue between them pushes back on
//! the reader, so TCP flow control reaches the sender instead of memory growing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Chunks queued per direction per connection.
const QUEUE_CHUNKS: usize = 256;
/// Read size without a bandwidth cap.
const CHUNK: usize = 64 * 1024;
/// Read size with a bandwidth cap, so pacing is smooth.
const PACED_CHUNK: usize = 16 * 1024;

/// The serialisation of a bandwidth-capped link direction, shared by every
/// connection that crosses it in that direction.
#[derive(Debug)]
pub struct Pacer {
    bytes_per_sec: u64,
    /// When the link finishes sending what it has been given so far.
    busy_until: Mutex<Instant>,
}

impl Pacer {
    /// A link direction carrying `bytes_per_sec` (at least 1).
    pub fn new(bytes_per_sec: u64) -> Self {
        Pacer {
            bytes_per_sec: bytes_per_sec.max(1),
            busy_until: Mutex::new(Instant::now()),
        }
    }

    /// When `n` bytes arriving at `arrival` have been fully sent: they wait for
    /// the bytes ahead of them, then take `n / rate` on the wire.
    pub fn departure(&self, arrival: Instant, n: usize) -> Instant {
        let mut busy = self.busy_until.lock().unwrap_or_else(|p| p.into_inner());
        let start = (*busy).max(arrival);
        let done = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec as f64);
        *busy = done;
        done
    }
}

/// The shape of one link direction.
#[derive(Debug)]
pub struct Direction {
    /// One-way delay added to every byte.
    pub delay: Duration,
    /// The bandwidth cap, if any.
    pub pacer: Option<Pacer>,
    /// Bytes delivered in this direction, all connections.
    pub bytes: AtomicU64,
}

impl Direction {
    /// When a chunk of `n` bytes read at `arrival` is due at the far side.
    pub fn deliver_at(&self, arrival: Instant, n: usize) -> Instant {
        let sent = match &self.pacer {
            Some(p) => p.departure(arrival, n),
            None => arrival,
        };
        sent + self.delay
    }
}

struct Chunk {
    data: Vec<u8>,
    due: Instant,
}

/// Starts moving bytes from `from` to `to` through `dir`. `guard` is held by
/// both threads: it is dropped (and the connection forgotten) when both end.
pub fn spawn<G: Send + Sync + 'static>(
    from: TcpStream,
    to: TcpStream,
    dir: Arc<Direction>,
    guard: Arc<G>,
) -> std::io::Result<()> {
    let (tx, rx) = sync_channel(QUEUE_CHUNKS);
    let reader_guard = Arc::clone(&guard);
    let reader_dir = Arc::clone(&dir);
    let reader_from = from.try_clone()?;
    let writer_from = from;
    thread::Builder::new()
        .name("proxy-rd".into())
        .spawn(move || {
            read_loop(reader_from, &reader_dir, tx);
            drop(reader_guard);
        })?;
    thread::Builder::new()
        .name("proxy-wr".into())
        .spawn(move || {
            write_loop(rx, to, writer_from, &dir);
            drop(guard);
        })?;
    Ok(())
}

fn read_loop(mut from: TcpStream, dir: &Direction, tx: SyncSender<Chunk>) {
    let size = if dir.pacer.is_some() {
        PACED_CHUNK
    } else {
        CHUNK
    };
    let mut buf = vec![0u8; size];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let due = dir.deliver_at(Instant::now(), n);
        let chunk = Chunk {
            data: buf[..n].to_vec(),
            due,
        };
        if tx.send(chunk).is_err() {
            return;
        }
    }
}

fn write_loop(rx: Receiver<Chunk>, mut to: TcpStream, from: TcpStream, dir: &Direction) {
    for chunk in rx {
        let now = Instant::now();
        if chunk.due > now {
            thread::sleep(chunk.due - now);
        }
        if to.write_all(&chunk.data).is_err() {
            // The far side is gone: so is the whole connection.
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        dir.bytes
            .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
    }
    // The sender closed its side: pass the half-close on, after the data.
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_a_capped_link_queue_chunks_behind_each_other() {
        let pacer = Pacer::new(1000);
        let t0 = Instant::now();
        assert_eq!(pacer.departure(t0, 100), t0 + Duration::from_millis(100));
        // Arriving while the link is busy: waits for the first chunk.
        assert_eq!(pacer.departure(t0, 100), t0 + Duration::from_millis(200));
        // Arriving after the link went idle: starts at once.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            pacer.departure(later, 500),
            later + Duration::from_millis(500)
        );
    }

    #[test]
    fn is_the_delay_added_after_serialisation() {
        let dir = Direction {
            delay: Duration::from_millis(15),
            pacer: Some(Pacer::new(1_000_000)),
            bytes: AtomicU64::new(0),
        };
        let t0 = Instant::now();
        assert_eq!(dir.deliver_at(t0, 1000), t0 + Duration::from_millis(16));
    }
}
