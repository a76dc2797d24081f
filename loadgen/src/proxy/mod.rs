//! `proxy`: a WAN emulator. A TCP proxy that adds a one-way delay in each
//! direction (so RTT = 2 × delay + the real RTT), caps the bandwidth of each
//! direction (shared by all connections, like one link), and cuts the link on
//! a schedule, at random or on demand: a cut closes every proxied connection on
//! both sides and refuses new ones until it ends. No root needed: it is an
//! ordinary user-space proxy, with two threads per direction per connection.
//!
//! Usable as a library, e.g. from fault tests:
//! `let p = Proxy::start(listen, upstream, ProxyOptions::default())?; p.cut_now(d);`

mod cuts;
mod pipe;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use cuts::CutSchedule;
use cuts::{Cuts, XorShift};
use pipe::{Direction, Pacer};

/// How the emulated link behaves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyOptions {
    /// One-way delay, applied in each direction.
    pub delay: Duration,
    /// Bandwidth cap of each direction in bytes per second; `None` is uncapped.
    pub bandwidth: Option<u64>,
    /// Scheduled and random cuts.
    pub cuts: CutSchedule,
    /// Time allowed to connect upstream.
    pub connect_timeout: Option<Duration>,
}

/// Counters of a running proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub accepted: u64,
    /// Connections refused (during a cut, or upstream unreachable).
    pub refused: u64,
    /// Connections currently proxied.
    pub live: u64,
    /// Bytes delivered client → upstream.
    pub bytes_up: u64,
    /// Bytes delivered upstream → client.
    pub bytes_down: u64,
    /// Cuts so far.
    pub cuts: u64,
    /// True while a cut is in force.
    pub cut_now: bool,
}

struct Shared {
    upstream: SocketAddr,
    connect_timeout: Duration,
    up: Arc<Direction>,
    down: Arc<Direction>,
    cuts: Cuts,
    accepted: AtomicU64,
    refused: AtomicU64,
    stop: AtomicBool,
}

/// Ties a connection's lifetime to its pipe threads: forgotten when the last ends.
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.cuts.forget(self.id);
    }
}

/// The emulator entry point.
pub struct Proxy;

impl Proxy {
    /// Binds `listen` (port 0 picks one) and proxies every connection to
    /// `upstream` with `opts`, on background threads, until the handle drops.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        opts: ProxyOptions,
    ) -> io::Result<ProxyHandle> {
        let listener = TcpListener::bind(listen)?;
        let local = listener.local_addr()?;
        let direction = || {
            Arc::new(Direction {
                delay: opts.delay,
                pacer: opts.bandwidth.map(Pacer::new),
                bytes: AtomicU64::new(0),
            })
        };
        let shared = Arc::new(Shared {
            upstream,
            connect_timeout: opts.connect_timeout.unwrap_or(Duration::from_secs(5)),
            up: direction(),
            down: direction(),
            cuts: Cuts::default(),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        let schedule = if opts.cuts.every.is_some() || opts.cuts.random_per_sec.is_some() {
            let sched_shared = Arc::clone(&shared);
            let plan = opts.cuts;
            Some(
                thread::Builder::new()
                    .name("proxy-cuts".into())
                    .spawn(move || cut_loop(&sched_shared, plan))?,
            )
        } else {
            None
        };
        Ok(ProxyHandle {
            local,
            shared,
            threads: [Some(accept), schedule],
        })
    }
}

/// A running proxy; dropping it stops accepting and closes every connection.
pub struct ProxyHandle {
    local: SocketAddr,
    shared: Arc<Shared>,
    threads: [Option<JoinHandle<()>>; 2],
}

impl ProxyHandle {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Cuts the link now for `dur`: every connection closes, new ones are
    /// refused until `dur` has passed.
    pub fn cut_now(&self, dur: Duration) {
        self.shared.cuts.cut(dur);
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            live: s.cuts.live() as u64,
            bytes_up: s.up.bytes.load(Ordering::Relaxed),
            bytes_down: s.down.bytes.load(Ordering::Relaxed),
            cuts: s.cuts.count.load(Ordering::Relaxed),
            cut_now: s.cuts.is_cut(Instant::now()),
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so it sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.local, Duration::from_millis(200));
        self.shared.cuts.close_all();
        for t in self.threads.iter_mut().filter_map(Option::take) {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = conn else { continue };
        if shared.cuts.is_cut(Instant::now()) {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // Connecting upstream may take a while: never hold up the next accept.
        let opener = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("proxy-open".into())
            .spawn(move || {
                if open(&opener, client).is_err() {
                    opener.refused.fetch_add(1, Ordering::Relaxed);
                }
            });
        if spawned.is_err() {
            shared.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Connects upstream and starts both directions; on error the client is
/// dropped (closed). A connection counts as accepted once both ends are open.
fn open(shared: &Arc<Shared>, client: TcpStream) -> io::Result<()> {
    let upstream = TcpStream::connect_timeout(&shared.upstream, shared.connect_timeout)?;
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let id = shared
        .cuts
        .register(client.try_clone()?, upstream.try_clone()?);
    let guard = Arc::new(ConnGuard {
        shared: Arc::clone(shared),
        id,
    });
    // A cut may have started between the check and the registration.
    if shared.cuts.is_cut(Instant::now()) {
        return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "link cut"));
    }
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    pipe::spawn(
        client.try_clone()?,
        upstream.try_clone()?,
        Arc::clone(&shared.up),
        Arc::clone(&guard),
    )?;
    pipe::spawn(upstream, client, Arc::clone(&shared.down), guard)
}

fn cut_loop(shared: &Shared, plan: CutSchedule) {
    const STEP: Duration = Duration::from_millis(10);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut rng = XorShift::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let start = Instant::now();
    let mut next_scheduled = plan.every.map(|e| start + e);
    let mut next_draw = start + Duration::from_secs(1);
    while !shared.stop.load(Ordering::Relaxed) {
        thread::sleep(STEP);
        let now = Instant::now();
        if let (Some(at), Some(every)) = (next_scheduled, plan.every) {
            if now >= at {
                shared.cuts.cut(plan.length);
                next_scheduled = Some(at + every.max(STEP));
            }
        }
        if let Some(p) = plan.random_per_sec {
            if now >= next_draw {
                next_draw += Duration::from_secs(1);
                if !shared.cuts.is_cut(now) && rng.next_f64() < p {
                    shared.cuts.cut(plan.length);
                }
            }
        }
    }
}
