//! Topic matching micro-benchmarks: one publish matched against 1k, 100k and 1M stored
//! filters, by the [`Trie`] (the broker's hot path) and by the plain matcher
//! ([`topic_matches`] over every filter, what a broker without an index does).
//!
//! The filters look like an IoT fleet: `site/<s>/dev/<d>/temp` with a share of `#`
//! and `+` filters, every one distinct, plus three fleet-wide wildcards. A hit topic
//! matches its device's filter and two of the fleet-wide ones; a miss topic matches
//! only the fleet-wide ones.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meridian::router::{topic_matches, Trie};

const SITES: usize = 1000;

/// The `i`-th device filter; distinct for every `i`.
fn filter(i: usize) -> String {
    let (s, d) = (i % SITES, i / SITES);
    match (i.wrapping_mul(7919) >> 3) % 10 {
        0..=5 => format!("site/{s}/dev/{d}/temp"),
        6 | 7 => format!("site/{s}/dev/{d}/#"),
        8 => format!("site/{s}/+/{d}/temp"),
        _ => format!("+/{s}/dev/{d}/+"),
    }
}

fn filters(n: usize) -> Vec<String> {
    let mut all: Vec<String> = (0..n).map(filter).collect();
    all.extend(["site/#", "site/+/dev/+/temp", "$SYS/#"].map(String::from));
    all
}

fn hit_topic(n: usize) -> String {
    let i = n / 2 + 17;
    format!("site/{}/dev/{}/temp", i % SITES, i / SITES)
}

fn miss_topic() -> String {
    format!("site/7/dev/{}/temp", usize::MAX)
}

fn trie_matches(trie: &Trie<u32>, topic: &str) -> u32 {
    let mut n = 0;
    trie.for_each_match(topic, |v| n += *v);
    n
}

fn plain_matches(filters: &[String], topic: &str) -> u32 {
    filters.iter().filter(|f| topic_matches(f, topic)).count() as u32
}

fn bench_match(c: &mut Criterion) {
    let mut group = c.benchmark_group("topic_match");
    group.throughput(Throughput::Elements(1));
    for (label, n) in [("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)] {
        let all = filters(n);
        let mut trie = Trie::new();
        for f in &all {
            *trie.entry_or_insert_with(f, || 0) = 1;
        }
        let hit = hit_topic(n);
        let miss = miss_topic();
        assert_eq!(trie_matches(&trie, &hit), plain_matches(&all, &hit));
        assert_eq!(trie_matches(&trie, &hit), 3, "hit topic {hit}");
        assert_eq!(trie_matches(&trie, &miss), 2);

        group.bench_with_input(BenchmarkId::new("trie_hit", label), &hit, |b, t| {
            b.iter(|| trie_matches(&trie, black_box(t)))
        });
        group.bench_with_input(BenchmarkId::new("trie_miss", label), &miss, |b, t| {
            b.iter(|| trie_matches(&trie, black_box(t)))
        });
        if n >= 100_000 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(2));
        }
        group.bench_with_input(BenchmarkId::new("plain_hit", label), &hit, |b, t| {
            b.iter(|| plain_matches(&all, black_box(t)))
        });
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(1));
    }
    group.finish();
}

criterion_group! {
    name = topic_match;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_match
}
criterion_main!(topic_match);
