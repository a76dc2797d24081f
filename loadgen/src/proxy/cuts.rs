//! Link cuts: the set of live proxied connections (so a cut can close them all)
//! and the cut window during which new connections are refused.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The two sockets of one proxied connection.
struct Sockets {
    client: TcpStream,
    upstream: TcpStream,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    live: HashMap<u64, Sockets>,
    cut_until: Option<Instant>,
}

/// Live connections and the current cut, shared by the accept loop, the cut
/// schedule and [`super::ProxyHandle::cut_now`].
#[derive(Default)]
pub struct Cuts {
    inner: Mutex<Inner>,
    /// Cuts started so far.
    pub count: AtomicU64,
}

impl Cuts {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while a cut is in force at `now`.
    pub fn is_cut(&self, now: Instant) -> bool {
        self.lock().cut_until.is_some_and(|until| now < until)
    }

    /// Starts a cut of `dur` (extending one in force): closes every live
    /// connection, both sides, and refuses new ones until it ends.
    pub fn cut(&self, dur: Duration) {
        let mut inner = self.lock();
        let until = Instant::now() + dur;
        inner.cut_until = Some(inner.cut_until.map_or(until, |u| u.max(until)));
        close(&mut inner);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Closes every live connection, both sides, without starting a cut.
    pub fn close_all(&self) {
        close(&mut self.lock());
    }

    /// Remembers a new connection (clones of its sockets); returns its id for
    /// [`Cuts::forget`].
    pub fn register(&self, client: TcpStream, upstream: TcpStream) -> u64 {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.live.insert(id, Sockets { client, upstream });
        id
    }

    /// Forgets a connection that has ended.
    pub fn forget(&self, id: u64) {
        self.lock().live.remove(&id);
    }

    /// Connections currently proxied.
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }
}

fn close(inner: &mut Inner) {
    for (_, s) in inner.live.drain() {
        let _ = s.client.shutdown(Shutdown::Both);
        let _ = s.upstream.shutdown(Shutdown::Both);
    }
}

/// When to cut, besides explicit [`super::ProxyHandle::cut_now`] calls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CutSchedule {
    /// Start a cut this often (the first after one period).
    pub every: Option<Duration>,
    /// Each second, start a cut with this probability.
    pub random_per_sec: Option<f64>,
    /// How long each scheduled or random cut lasts.
    pub length: Duration,
}

/// A small xorshift generator: random cuts need no cryptographic quality.
#[derive(Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced: xorshift cannot leave 0).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// A uniform value in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let a = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (b, _) = l.accept().expect("accept");
        (a, b)
    }

    #[test]
    fn does_a_cut_close_live_connections_and_refuse_for_its_length() {
        use std::io::Read;
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let (mut outside, inside) = pair(&l);
        let cuts = Cuts::default();
        let id = cuts.register(inside.try_clone().expect("clone"), inside);
        assert_eq!(cuts.live(), 1);
        cuts.cut(Duration::from_millis(200));
        assert_eq!(cuts.live(), 0);
        let mut buf = [0u8; 1];
        assert_eq!(outside.read(&mut buf).ok(), Some(0));
        assert!(cuts.is_cut(Instant::now()));
        assert!(!cuts.is_cut(Instant::now() + Duration::from_millis(250)));
        cuts.forget(id);
        assert_eq!(cuts.count.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn are_random_values_in_the_unit_interval() {
        let mut r = XorShift::new(42);
        let vals: Vec<f64> = (0..1000).map(|_| r.next_f64()).collect();
        assert!(vals.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = vals.iter().sum::<f64>() / 1000.0;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
