//! RouteTable micro-benchmarks: the cost of the route updates a core applies when
//! another core's subscriber count of a filter goes 0→1 or 1→0, and of a lookup on the
//! publish path, in a table already holding 1k or 100k filters.
//!
//! - `add_remove_new`: a filter not in the table is added and removed again (creates
//!   and prunes its trie path: the worst case of an update).
//! - `add_remove_core`: a second core is added to and removed from an existing filter.
//! - `add_remove_link`: a link destination on an existing filter, as route replication
//!   from a remote cluster does.
//! - `lookup`: `for_each_match` for a topic with one device route and one wildcard.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meridian::router::RouteTable;

fn filter(i: usize) -> String {
    format!("site/{}/dev/{}/temp", i % 1000, i / 1000)
}

fn table(n: usize) -> RouteTable {
    let mut t = RouteTable::default();
    for i in 0..n {
        t.add(&filter(i), None, i % 2);
    }
    t.add("site/+/dev/+/alarm", None, 0);
    t
}

fn bench_updates(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_table");
    let link: Arc<str> = Arc::from("remote-cluster");
    for (label, n) in [("1k", 1_000), ("100k", 100_000)] {
        let mut t = table(n);
        let fresh = filter(n + 12_345);
        let existing = filter(n / 2);
        let topic = format!("site/{}/dev/{}/temp", (n / 2) % 1000, (n / 2) / 1000);

        group.throughput(Throughput::Elements(2));
        group.bench_function(BenchmarkId::new("add_remove_new", label), |b| {
            b.iter(|| {
                t.add(black_box(&fresh), None, 1);
                t.remove(black_box(&fresh), None, 1);
            })
        });
        group.bench_function(BenchmarkId::new("add_remove_core", label), |b| {
            b.iter(|| {
                t.add(black_box(&existing), None, 3);
                t.remove(black_box(&existing), None, 3);
            })
        });
        group.bench_function(BenchmarkId::new("add_remove_link", label), |b| {
            b.iter(|| {
                t.add_link(black_box(&existing), &link);
                t.remove_link(black_box(&existing), &link);
            })
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("lookup", label), |b| {
            b.iter(|| {
                let mut cores = 0u64;
                t.for_each_match(black_box(&topic), |_, r| cores |= r.cores);
                cores
            })
        });
        assert_eq!(t.len(), n + 1, "updates left the table as it was");
    }
    group.finish();
}

criterion_group! {
    name = route_table;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_updates
}
criterion_main!(route_table);
