//! `pub` and `sub`: publishers only or subscribers only, like emqtt-bench,
//! with `%i` in topics. A `sub` on the same host as a `pub` of this tool still
//! measures latency (the payload carries a `CLOCK_MONOTONIC` stamp).

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{PubArgs, SubArgs};
use crate::mqtt::publisher::PublisherSpec;
use crate::mqtt::subscriber::SubscriberSpec;
use crate::payload::HEADER_LEN;
use crate::run::report::{per_publisher, round3, Summary};
use crate::run::runner::{self, Kind, RunSpec};
use crate::scenario::expand;
use crate::stats::Stats;

use super::{
    client_options, connections, core_options, emit, interrupt_flag, plans, resolve, run_id,
    setup_timeout, CmdError,
};

/// Time publishers get after the run to collect their acks.
const PUB_DRAIN: Duration = Duration::from_secs(5);

/// Runs `pub` and prints its summary.
pub fn run_pub(args: &PubArgs) -> Result<(), CmdError> {
    let b = &args.broker;
    let p = &args.publish;
    let addr = resolve(&b.host, b.port)?;
    let id = run_id();
    let rate = if p.per_client {
        p.rate
    } else {
        p.rate / f64::from(args.count.max(1))
    };
    let pubs: Vec<PublisherSpec> = (0..args.count)
        .map(|i| PublisherSpec {
            id: i,
            client_id: format!("{}-{id}-p{i}", b.client_prefix),
            addr,
            topic: expand(&args.topic, i),
            qos: p.qos,
            retain: p.retain,
            size: p.size,
            rate,
            limit: args.limit,
            inflight: p.inflight,
            tick: p.tick,
        })
        .collect();
    let clients = pubs.len() as u64;
    let spec = RunSpec {
        kind: Kind::Pub,
        clients,
        setup_timeout: setup_timeout(clients, b.conn_rate, b.connect_timeout),
        duration: args.duration,
        drain: PUB_DRAIN,
        fanout: None,
        total_limit: args.limit.map(|l| l * clients),
    };
    let stats = Arc::new(Stats::default());
    let outcome = runner::run(
        &spec,
        core_options(b),
        plans(b.cores, Vec::new(), pubs, Vec::new(), b.conn_rate),
        &client_options(b),
        &stats,
        &*interrupt_flag()?,
    )?;
    let latency = stats.latency();
    let mut summary = Summary {
        command: "pub".into(),
        qos: p.qos as u8,
        size: p.size.max(HEADER_LEN),
        publishers: clients,
        connections: connections(&stats),
        duration_s: round3(outcome.publishing.as_secs_f64()),
        errors: stats.errors(),
        ..Summary::default()
    };
    summary.fill(
        &stats.snapshot(),
        per_publisher(&outcome.reports, &[], Some(0)),
        &latency,
    );
    emit(&summary, &args.output, &latency)
}

/// Runs `sub` and prints its summary.
pub fn run_sub(args: &SubArgs) -> Result<(), CmdError> {
    let b = &args.broker;
    let addr = resolve(&b.host, b.port)?;
    let id = run_id();
    let subs: Vec<SubscriberSpec> = (0..args.count)
        .map(|i| SubscriberSpec {
            client_id: format!("{}-{id}-s{i}", b.client_prefix),
            addr,
            filters: vec![expand(&args.topic, i)],
            qos: args.qos,
            group: None,
        })
        .collect();
    let clients = subs.len() as u64;
    let spec = RunSpec {
        kind: Kind::Sub,
        clients,
        setup_timeout: setup_timeout(clients, b.conn_rate, b.connect_timeout),
        duration: args.duration,
        drain: Duration::ZERO,
        fanout: None,
        total_limit: None,
    };
    let stats = Arc::new(Stats::default());
    let outcome = runner::run(
        &spec,
        core_options(b),
        plans(b.cores, subs, Vec::new(), Vec::new(), b.conn_rate),
        &client_options(b),
        &stats,
        &*interrupt_flag()?,
    )?;
    let latency = stats.latency();
    let mut summary = Summary {
        command: "sub".into(),
        qos: args.qos as u8,
        subscribers: clients,
        connections: connections(&stats),
        duration_s: round3(outcome.publishing.as_secs_f64()),
        errors: stats.errors(),
        ..Summary::default()
    };
    summary.fill(
        &stats.snapshot(),
        per_publisher(&outcome.reports, &[], None),
        &latency,
    );
    emit(&summary, &args.output, &latency)
}
