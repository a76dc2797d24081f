//! `GET /metrics`: the broker's counters summed over cores, and every link's
//! counters labelled `link="<name>"`, in the Prometheus text exposition format
//! (version 0.0.4).

use std::fmt::Write;
use std::sync::Arc;

use crate::config::LinkConfig;
use crate::link::{LinkMetrics, LinkState};
use crate::metrics::CoreMetrics;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Per-link series: name suffix, type, help, value.
type LinkSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LinkMetrics) -> f64,
);

const LINK_SERIES: &[LinkSeries] = &[
    (
        "up",
        "gauge",
        "1 when every connection of the link is up.",
        |m| f64::from(u8::from(m.state() == LinkState::Connected)),
    ),
    (
        "routes_in",
        "gauge",
        "Routes the remote cluster asked this one for.",
        |m| count(&m.routes_in),
    ),
    (
        "routes_out",
        "gauge",
        "Routes this cluster asked the remote one for.",
        |m| count(&m.routes_out),
    ),
    (
        "messages_forwarded",
        "counter",
        "Messages sent to the remote cluster.",
        |m| count(&m.messages_forwarded),
    ),
    (
        "messages_received",
        "counter",
        "Messages received from the remote cluster.",
        |m| count(&m.messages_received),
    ),
    (
        "bytes_forwarded",
        "counter",
        "Payload bytes sent to the remote cluster.",
        |m| count(&m.bytes_forwarded),
    ),
    (
        "backlog_messages",
        "gauge",
        "Messages waiting for a connection to the remote cluster.",
        |m| count(&m.backlog_messages),
    ),
    (
        "backlog_bytes",
        "gauge",
        "Payload bytes waiting for a connection to the remote cluster.",
        |m| count(&m.backlog_bytes),
    ),
    (
        "inflight",
        "gauge",
        "QoS 1/2 messages sent and not yet acknowledged.",
        |m| count(&m.inflight),
    ),
    (
        "dropped",
        "counter",
        "Messages dropped because the backlog was full.",
        |m| count(&m.dropped),
    ),
    (
        "resent",
        "counter",
        "QoS 1/2 messages sent again after a reconnect.",
        |m| count(&m.resent),
    ),
    (
        "reconnects",
        "counter",
        "Connections re-established after the first.",
        |m| count(&m.reconnects),
    ),
    (
        "rtt_ms",
        "gauge",
        "Round-trip time of the last keep-alive ping, milliseconds.",
        |m| count(&m.rtt_us) / 1000.0,
    ),
];

fn count(counter: &std::sync::atomic::AtomicU64) -> f64 {
    LinkMetrics::get(counter) as f64
}

/// The whole exposition: broker counters, then link series (when there are links).
pub fn render(cores: &[Arc<CoreMetrics>], links: &[(LinkConfig, Arc<LinkMetrics>)]) -> String {
    let mut out = String::with_capacity(4096);
    let mut totals = CoreMetrics::default().snapshot();
    for core in cores {
        for (total, (_, value)) in totals.iter_mut().zip(core.snapshot()) {
            total.1 += value;
        }
    }
    for (name, value) in totals {
        let kind = if name == "connections" {
            "gauge"
        } else {
            "counter"
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP meridian_{name} {}", broker_help(name));
        let _ = writeln!(out, "# TYPE meridian_{name} {kind}");
        let _ = writeln!(out, "meridian_{name} {value}");
    }
    if links.is_empty() {
        return out;
    }
    for (suffix, kind, help, value) in LINK_SERIES {
        let _ = writeln!(out, "# HELP meridian_link_{suffix} {help}");
        let _ = writeln!(out, "# TYPE meridian_link_{suffix} {kind}");
        for (config, metrics) in links {
            let _ = writeln!(
                out,
                "meridian_link_{suffix}{{link=\"{}\"}} {}",
                escape_label(&config.name),
                value(metrics)
            );
        }
    }
    out
}

/// One line of help per broker counter: its doc comment in `crate::metrics`.
fn broker_help(name: &str) -> &'static str {
    match CoreMetrics::help(name) {
        "" => "Broker counter, summed over cores.",
        help => help,
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str) -> LinkConfig {
        let mut link: LinkConfig =
            toml::from_str("name = \"x\"\nserver = \"h:1883\"\ntopics = [\"a/#\"]\n")
                .expect("valid link TOML");
        link.name = name.to_owned();
        link
    }

    /// The sample lines of `text` (no comments).
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn are_broker_counters_summed_over_cores_with_help_and_type() {
        let cores = [
            Arc::new(CoreMetrics::default()),
            Arc::new(CoreMetrics::default()),
        ];
        CoreMetrics::add(&cores[0].connections, 3);
        CoreMetrics::add(&cores[1].connections, 4);
        CoreMetrics::add(&cores[1].messages_received, 10);
        let text = render(&cores, &[]);
        assert!(text.contains(
            "# HELP meridian_connections Client connections currently open (after CONNECT).\n\
             # TYPE meridian_connections gauge\nmeridian_connections 7\n"
        ));
        assert!(text.contains(
            "# TYPE meridian_messages_received counter\nmeridian_messages_received 10\n"
        ));
        assert!(samples(&text).contains(&"meridian_takeovers 0"));
        assert!(
            !text.contains("meridian_link_"),
            "no link series without links"
        );
        assert!(
            !text.contains("Broker counter, summed"),
            "every counter has its own help"
        );
    }

    #[test]
    fn does_each_link_get_every_series_labelled_with_its_name() {
        let huawei = Arc::new(LinkMetrics::default());
        huawei.set_state(LinkState::Connected);
        LinkMetrics::add(&huawei.messages_forwarded, 42);
        LinkMetrics::set(&huawei.rtt_us, 1500);
        let aws = Arc::new(LinkMetrics::default());
        aws.set_state(LinkState::Degraded);
        let links = [(link("huawei"), huawei), (link("aws"), aws)];
        let text = render(&[], &links);
        let lines = samples(&text);
        for expected in [
            "meridian_link_up{link=\"huawei\"} 1",
            "meridian_link_up{link=\"aws\"} 0",
            "meridian_link_messages_forwarded{link=\"huawei\"} 42",
            "meridian_link_rtt_ms{link=\"huawei\"} 1.5",
            "meridian_link_backlog_bytes{link=\"aws\"} 0",
        ] {
            assert!(lines.contains(&expected), "{expected} missing from\n{text}");
        }
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("meridian_link_"))
                .count(),
            LINK_SERIES.len() * 2
        );
        assert!(text.contains("# TYPE meridian_link_reconnects counter\n"));
    }

    #[test]
    fn are_label_values_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
