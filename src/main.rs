//! `meridian`: the broker process. With no arguments it serves MQTT on 0.0.0.0:1883
//! with built-in defaults; `--config FILE` reads a TOML configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use meridian::config::Config;
use tracing_subscriber::EnvFilter;

/// Meridian: a thread-per-core MQTT 3.1.1/5.0 broker that links broker clusters.
#[derive(Parser, Debug)]
#[command(name = "meridian", version, about, long_about = None)]
struct Args {
    /// TOML configuration file. Without it, built-in defaults: MQTT on 0.0.0.0:1883,
    /// one core per CPU.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Check the configuration, print it as TOML and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => Ok(Config::default()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    // glommio reports through `log` (e.g. an io_uring buffer it could not register).
    let _ = tracing_log::LogTracer::init();
    if args.check_config {
        match toml::to_string_pretty(&config) {
            Ok(text) => {
                println!("{text}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("meridian: cannot print the configuration: {e}");
                return ExitCode::from(2);
            }
        }
    }
    tracing::info!(cluster = %config.node.cluster, version = env!("CARGO_PKG_VERSION"), "starting meridian");
    match meridian::shard::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("meridian: {e}");
            ExitCode::from(1)
        }
    }
}
