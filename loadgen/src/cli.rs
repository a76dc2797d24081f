//! The command line: `conn`, `pub`, `sub`, `bench` and `proxy`, with the
//! broker, run and output options they share.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use meridian::protocol::{ProtocolVersion, QoS};

use crate::scenario::Scenario;
use crate::units::{parse_bandwidth, parse_duration, parse_size};

/// Load generator for MQTT brokers, thread-per-core, built on Meridian's codec.
#[derive(Debug, Parser)]
#[command(name = "meridian-loadgen", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open N connections at a given rate and hold them; report the connect
    /// rate, failures and (with --broker-pid) the broker's RSS per connection.
    Conn(ConnArgs),
    /// Publishers only: N clients publishing to a topic pattern.
    Pub(PubArgs),
    /// Subscribers only: N clients subscribing to a topic pattern.
    Sub(SubArgs),
    /// Publishers and subscribers in one process: end-to-end latency, loss,
    /// duplicates and reordering.
    Bench(BenchArgs),
    /// A WAN emulator: TCP proxy with one-way delay, bandwidth cap and cuts.
    Proxy(ProxyArgs),
}

/// MQTT protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MqttVersion {
    #[value(name = "3.1", alias = "3")]
    V31,
    #[value(name = "3.1.1", alias = "4")]
    V311,
    #[value(name = "5", alias = "5.0")]
    V5,
}

impl From<MqttVersion> for ProtocolVersion {
    fn from(v: MqttVersion) -> Self {
        match v {
            MqttVersion::V31 => ProtocolVersion::V3_1,
            MqttVersion::V311 => ProtocolVersion::V3_1_1,
            MqttVersion::V5 => ProtocolVersion::V5,
        }
    }
}

/// The broker and how clients log in; where the executors run.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// Broker host.
    #[arg(short = 'H', long, default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port.
    #[arg(short, long, default_value_t = 1883)]
    pub port: u16,
    /// MQTT version: 3.1, 3.1.1 (or 4), 5.
    #[arg(short = 'V', long = "mqtt", value_enum, default_value = "5")]
    pub mqtt: MqttVersion,
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short = 'P', long)]
    pub password: Option<String>,
    /// Client ids are `<prefix>-<run>-<role><index>`.
    #[arg(long, default_value = "mlg")]
    pub client_prefix: String,
    /// MQTT keep-alive announced in CONNECT, seconds (0: off). The clients send no
    /// PINGREQ, so choose one longer than the run (some brokers refuse 0).
    #[arg(long, default_value_t = 0)]
    pub keepalive: u16,
    /// Limit for TCP connect plus CONNACK, per client.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// New connections per second, all executors together (0: all at once).
    #[arg(long, default_value_t = 2000.0)]
    pub conn_rate: f64,
    /// glommio executors (threads) to run clients on.
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// Pin executor i to CPU <pin-from> + i (default: not pinned).
    #[arg(long)]
    pub pin_from: Option<usize>,
}

/// Where results go.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print one JSON summary on stdout (the readable one goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Write the latency histogram (HdrHistogram percentile text, ms) to FILE
    /// and its percentile plot to FILE with the extension .svg.
    #[arg(long, value_name = "FILE")]
    pub hist: Option<PathBuf>,
}

fn parse_qos(s: &str) -> Result<QoS, String> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| format!("QoS must be 0, 1 or 2, not {s:?}"))
}

/// How publishers send.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// QoS of publishes (and subscriptions).
    #[arg(short, long, default_value = "0", value_parser = parse_qos)]
    pub qos: QoS,
    /// Payload size in bytes (at least 16: the timestamp/sequence header).
    #[arg(short, long, default_value = "64", value_parser = parse_size)]
    pub size: usize,
    /// Messages per second, all publishers together (0: as fast as possible).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// --rate is per publisher instead of in total.
    #[arg(long)]
    pub per_client: bool,
    /// QoS 1/2 publishes awaiting acknowledgement per publisher.
    #[arg(long, default_value_t = 64)]
    pub inflight: usize,
    /// Shortest sleep of a publisher between two writes: what came due meanwhile
    /// goes in one write. The default 1ms batches (2000 msg/s is two messages per
    /// write); a finer tick such as 50us sends each message on its own at low rates.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub tick: Duration,
    /// Set the retain flag.
    #[arg(long)]
    pub retain: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Connections to open.
    #[arg(short = 'c', long, default_value_t = 1000)]
    pub count: u32,
    /// How long to hold them once open (default: until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The broker's process id, to report its resident memory per connection.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Print one JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PubArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Publishers.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub count: u32,
    /// Topic; `%i` is the client index.
    #[arg(short, long, default_value = "mlg/%i")]
    pub topic: String,
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Messages per publisher, then stop.
    #[arg(short = 'L', long)]
    pub limit: Option<u64>,
    /// How long to publish (default: until --limit or Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SubArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Subscribers.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub count: u32,
    /// Topic filter; `%i` is the client index.
    #[arg(short, long, default_value = "mlg/#")]
    pub topic: String,
    /// QoS of the subscriptions.
    #[arg(short, long, default_value = "0", value_parser = parse_qos)]
    pub qos: QoS,
    /// How long to receive (default: until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Subscribers connect here instead of --host (cross-cluster latency).
    #[arg(long)]
    pub sub_host: Option<String>,
    /// Subscribers connect to this port instead of --port.
    #[arg(long)]
    pub sub_port: Option<u16>,
    #[arg(long, value_enum, default_value = "fan-out")]
    pub scenario: Scenario,
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Default: 1, or --publishers for p2p.
    #[arg(long)]
    pub subscribers: Option<u32>,
    #[command(flatten)]
    pub publish: PublishArgs,
    /// How long to publish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// After publishing, how long to wait for what is still in flight.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Topic prefix (default: mlg/<run id>, unique per run).
    #[arg(long)]
    pub topic_prefix: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Address to accept on.
    #[arg(long)]
    pub listen: String,
    /// Address to forward to.
    #[arg(long)]
    pub upstream: String,
    /// One-way delay, added in each direction.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub delay: Duration,
    /// Bandwidth cap per direction, e.g. 100mbit or 5MB.
    #[arg(long, value_parser = parse_bandwidth)]
    pub bandwidth: Option<u64>,
    /// Cut the link this often.
    #[arg(long, value_parser = parse_duration)]
    pub cut_every: Option<Duration>,
    /// How long each cut lasts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub cut_for: Duration,
    /// Each second, cut with this probability (0..1).
    #[arg(long)]
    pub cut_random: Option<f64>,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_the_documented_bench_invocation_parse() {
        let cli = Cli::try_parse_from([
            "meridian-loadgen",
            "bench",
            "--host",
            "h",
            "--port",
            "1884",
            "--scenario",
            "fan-out",
            "--publishers",
            "1",
            "--subscribers",
            "100",
            "--qos",
            "0",
            "--size",
            "64",
            "--rate",
            "20000",
            "--duration",
            "10s",
            "--json",
        ])
        .expect("parse");
        let Command::Bench(b) = cli.command else {
            panic!("not bench");
        };
        assert_eq!(b.broker.host, "h");
        assert_eq!(b.broker.port, 1884);
        assert_eq!(b.scenario, Scenario::FanOut);
        assert_eq!(b.subscribers, Some(100));
        assert_eq!(b.publish.qos, QoS::AtMostOnce);
        assert_eq!(b.publish.size, 64);
        assert_eq!(b.publish.rate, 20000.0);
        assert_eq!(b.duration, Duration::from_secs(10));
        assert!(b.output.json);
    }

    #[test]
    fn is_qos_3_refused() {
        assert!(Cli::try_parse_from(["meridian-loadgen", "pub", "-q", "3"]).is_err());
    }

    #[test]
    fn does_the_proxy_invocation_parse() {
        let cli = Cli::try_parse_from([
            "meridian-loadgen",
            "proxy",
            "--listen",
            "127.0.0.1:1",
            "--upstream",
            "127.0.0.1:2",
            "--delay",
            "15ms",
            "--bandwidth",
            "100mbit",
            "--cut-every",
            "10s",
            "--cut-for",
            "2s",
        ])
        .expect("parse");
        let Command::Proxy(p) = cli.command else {
            panic!("not proxy");
        };
        assert_eq!(p.delay, Duration::from_millis(15));
        assert_eq!(p.bandwidth, Some(12_500_000));
        assert_eq!(p.cut_every, Some(Duration::from_secs(10)));
    }

    #[test]
    fn does_mqtt_4_mean_3_1_1() {
        let cli = Cli::try_parse_from(["meridian-loadgen", "sub", "-V", "4"]).expect("parse");
        let Command::Sub(s) = cli.command else {
            panic!("not sub");
        };
        assert_eq!(
            ProtocolVersion::from(s.broker.mqtt),
            ProtocolVersion::V3_1_1
        );
    }
}
