//! One cross-core hop: two glommio executors pinned to two CPUs joined by a
//! `glommio::channels::shared_channel`, as the broker's mesh joins its cores.
//!
//! - `hop/single`: every item is its own send (ns per item).
//! - `hop/batch64`: items travel as `Vec` batches of 64, as the mesh sends them (ns per
//!   item, batch included).
//! - `round_trip/parked` and `round_trip/spin50us`: one item there and one back, with
//!   the receiving executor parked in between, or spinning 50 µs before it parks (the
//!   broker's setting); the time is per round trip, i.e. two hops.
//!
//! Each measurement starts two fresh executors; the clock runs from the first send to
//! the last receive, so executor start-up is not counted.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::{LocalExecutorBuilder, Placement};

const BATCH: usize = 64;
const CHANNEL: usize = 1024;
const IO_MEMORY: usize = 64 << 10;

/// Two distinct CPUs when the machine has them, else no pinning.
fn placements() -> (Placement, Placement) {
    match std::thread::available_parallelism().map(|n| n.get()) {
        Ok(n) if n >= 2 => (Placement::Fixed(0), Placement::Fixed(1)),
        _ => (Placement::Unbound, Placement::Unbound),
    }
}

/// Runs `left` and `right` on two executors and returns the duration `right` measured.
fn on_two_cores<L, R, LF, RF>(spin: Duration, left: L, right: R) -> Duration
where
    L: FnOnce() -> LF + Send + 'static,
    LF: std::future::Future<Output = ()> + 'static,
    R: FnOnce() -> RF + Send + 'static,
    RF: std::future::Future<Output = Duration> + 'static,
{
    let (p0, p1) = placements();
    let builder = |p| {
        LocalExecutorBuilder::new(p)
            .io_memory(IO_MEMORY)
            .spin_before_park(spin)
    };
    let l = builder(p0)
        .name("bench-left")
        .spawn(left)
        .expect("start executor on the first CPU");
    let r = builder(p1)
        .name("bench-right")
        .spawn(right)
        .expect("start executor on the second CPU");
    l.join().expect("left executor ended cleanly");
    r.join().expect("right executor ended cleanly")
}

/// Sends `items` items as batches of `batch` (1 = one item per send) and returns the
/// time from the first send to the last receive.
fn one_way(items: u64, batch: usize) -> Duration {
    let (tx, rx): (SharedSender<Vec<u64>>, SharedReceiver<Vec<u64>>) =
        shared_channel::new_bounded(CHANNEL);
    let (start_tx, start_rx) = std::sync::mpsc::sync_channel::<Instant>(1);
    on_two_cores(
        Duration::ZERO,
        move || async move {
            let tx = tx.connect().await;
            // The receiver is connected once our connect returns.
            let _ = start_tx.send(Instant::now());
            let mut sent = 0u64;
            while sent < items {
                let n = (items - sent).min(batch as u64);
                let v: Vec<u64> = (sent..sent + n).collect();
                if tx.send(v).await.is_err() {
                    return;
                }
                sent += n;
            }
        },
        move || async move {
            let rx = rx.connect().await;
            let mut got = 0u64;
            while got < items {
                match rx.recv().await {
                    Some(v) => got += v.len() as u64,
                    None => break,
                }
            }
            let end = Instant::now();
            let start = start_rx.recv().unwrap_or(end);
            end.saturating_duration_since(start)
        },
    )
}

/// `trips` round trips of one item, the answering side spinning `spin` before parking.
fn round_trips(trips: u64, spin: Duration) -> Duration {
    let (ping_tx, ping_rx) = shared_channel::new_bounded::<u64>(CHANNEL);
    let (pong_tx, pong_rx) = shared_channel::new_bounded::<u64>(CHANNEL);
    on_two_cores(
        spin,
        move || async move {
            let (rx, tx) = (ping_rx.connect().await, pong_tx.connect().await);
            while let Some(x) = rx.recv().await {
                if tx.send(x).await.is_err() {
                    return;
                }
            }
        },
        move || async move {
            let (tx, rx) = (ping_tx.connect().await, pong_rx.connect().await);
            let start = Instant::now();
            for i in 0..trips {
                if tx.send(i).await.is_err() || rx.recv().await.is_none() {
                    break;
                }
            }
            start.elapsed()
        },
    )
}

fn bench_hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("hop");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| b.iter_custom(|n| one_way(n, 1)));
    group.bench_function("batch64", |b| b.iter_custom(|n| one_way(n, BATCH)));
    group.finish();

    let mut group = c.benchmark_group("round_trip");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parked", |b| {
        b.iter_custom(|n| round_trips(n, Duration::ZERO))
    });
    group.bench_function("spin50us", |b| {
        b.iter_custom(|n| round_trips(n, Duration::from_micros(50)))
    });
    group.finish();
}

criterion_group! {
    name = cross_core;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_hop
}
criterion_main!(cross_core);
