//! `meridian-loadgen`: the load generator. Scenarios arrive with the load-generator issue;
//! until then it only prints its usage.

fn main() {
    eprintln!("meridian-loadgen: load generator for MQTT brokers (not yet implemented: scenarios conn, pub, sub, bench, proxy arrive with the load-generator issue)");
    std::process::exit(2);
}
