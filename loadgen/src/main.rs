//! `meridian-loadgen`: parses the command line and runs the subcommand.

use clap::Parser;
use meridian_loadgen::cli::{Cli, Command};
use meridian_loadgen::cmd;

fn main() {
    meridian_loadgen::logger::init();
    cmd::raise_fd_limit();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Conn(a) => cmd::conn::run(a),
        Command::Pub(a) => cmd::pubsub::run_pub(a),
        Command::Sub(a) => cmd::pubsub::run_sub(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Proxy(a) => cmd::proxy::run(a),
    };
    if let Err(e) = result {
        eprintln!("meridian-loadgen: {e}");
        std::process::exit(1);
    }
}
