//! `bench`: publishers and subscribers of one scenario in one process, so
//! every payload's timestamp and sequence number can be checked on arrival.

use std::sync::{Arc, Mutex};

use crate::cli::BenchArgs;
use crate::mqtt::publisher::PublisherSpec;
use crate::mqtt::subscriber::{SubscriberSpec, Trackers};
use crate::payload::HEADER_LEN;
use crate::run::report::{per_publisher, round3, Summary};
use crate::run::runner::{self, Kind, RunSpec};
use crate::scenario::layout;
use crate::seq::SeqCounts;
use crate::stats::Stats;

use super::{
    client_options, connections, core_options, emit, interrupt_flag, plans, resolve, run_id,
    setup_timeout, CmdError,
};

/// Runs `bench` and prints its summary.
pub fn run(args: &BenchArgs) -> Result<(), CmdError> {
    let b = &args.broker;
    let p = &args.publish;
    let addr = resolve(&b.host, b.port)?;
    let sub_addr = resolve(
        args.sub_host.as_deref().unwrap_or(&b.host),
        args.sub_port.unwrap_or(b.port),
    )?;
    let subscribers = args
        .subscribers
        .unwrap_or(args.scenario.default_subscribers(args.publishers));
    let id = run_id();
    let prefix = args
        .topic_prefix
        .clone()
        .unwrap_or_else(|| format!("mlg/{id}"));
    let layout = layout(
        args.scenario,
        args.publishers,
        subscribers,
        &prefix,
        &format!("mlg{id}"),
    )?;
    let group = layout
        .shared_group
        .then(|| Arc::new(Mutex::new(Trackers::new())));
    let rate = if p.per_client {
        p.rate
    } else {
        p.rate / f64::from(args.publishers)
    };
    let subs: Vec<SubscriberSpec> = layout
        .subscribers
        .iter()
        .enumerate()
        .map(|(i, filters)| SubscriberSpec {
            client_id: format!("{}-{id}-s{i}", b.client_prefix),
            addr: sub_addr,
            filters: filters.clone(),
            qos: p.qos,
            group: group.clone(),
        })
        .collect();
    let pubs: Vec<PublisherSpec> = layout
        .publishers
        .iter()
        .map(|(pid, topic)| PublisherSpec {
            id: *pid,
            client_id: format!("{}-{id}-p{pid}", b.client_prefix),
            addr,
            topic: topic.clone(),
            qos: p.qos,
            retain: p.retain,
            size: p.size,
            rate,
            limit: None,
            inflight: p.inflight,
            tick: p.tick,
        })
        .collect();
    let clients = (subs.len() + pubs.len()) as u64;
    let spec = RunSpec {
        kind: Kind::Bench,
        clients,
        setup_timeout: setup_timeout(clients, b.conn_rate, b.connect_timeout),
        duration: Some(args.duration),
        drain: args.drain,
        fanout: Some(layout.fanout),
        total_limit: None,
    };
    let stats = Arc::new(Stats::default());
    let interrupt = interrupt_flag()?;
    let outcome = runner::run(
        &spec,
        core_options(b),
        plans(b.cores, subs, pubs, Vec::new(), b.conn_rate),
        &client_options(b),
        &stats,
        &interrupt,
    )?;
    let groups: Vec<(u32, SeqCounts)> = group.map_or_else(Vec::new, |g| {
        g.lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(publisher, t)| (*publisher, t.counts()))
            .collect()
    });
    let latency = stats.latency();
    let mut summary = Summary {
        command: "bench".into(),
        scenario: Some(args.scenario.name().into()),
        qos: p.qos as u8,
        size: p.size.max(HEADER_LEN),
        publishers: u64::from(args.publishers),
        subscribers: u64::from(subscribers),
        connections: connections(&stats),
        duration_s: round3(outcome.publishing.as_secs_f64()),
        errors: stats.errors(),
        ..Summary::default()
    };
    summary.fill(
        &stats.snapshot(),
        per_publisher(&outcome.reports, &groups, Some(layout.fanout)),
        &latency,
    );
    emit(&summary, &args.output, &latency)
}
