//! An SVG plot of a latency percentile curve, in the style of HdrHistogram's
//! plotter: the x axis is logarithmic in 1/(1-percentile), so the tail
//! (99%, 99.9%, 99.99% …) gets as much room as the median.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::hgrm::percentile_rows;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// The x axis ends at 99.9999%.
const MAX_DECADES: f64 = 6.0;

fn x_of(quantile: f64) -> f64 {
    let decades = if quantile >= 1.0 {
        MAX_DECADES
    } else {
        (1.0 / (1.0 - quantile)).log10().min(MAX_DECADES)
    };
    LEFT + decades / MAX_DECADES * (WIDTH - LEFT - RIGHT)
}

/// A round axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The percentile curve of `h` (µs) as an SVG document titled `title`.
pub fn percentile_plot(h: &Histogram<u64>, title: &str) -> String {
    let rows = percentile_rows(h);
    let y_max_ms = nice_ceiling(h.max() as f64 / 1000.0);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |ms: f64| TOP + plot_h * (1.0 - ms / y_max_ms);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .enumerate()
    {
        let x = LEFT + i as f64 / MAX_DECADES * (WIDTH - LEFT - RIGHT);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    for i in 0..=5 {
        let ms = y_max_ms * f64::from(i) / 5.0;
        let y = y_of(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{ms}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">latency (ms)</text>"#,
        WIDTH / 2.0,
        HEIGHT - 10.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    let points: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{:.1},{:.1}",
                x_of(r.quantile),
                y_of(r.value_us as f64 / 1000.0)
            )
        })
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn are_axis_maxima_round_numbers() {
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn does_the_median_sit_left_of_the_99th_percentile() {
        assert_eq!(x_of(0.0), LEFT);
        assert!(x_of(0.5) < x_of(0.99));
        assert_eq!(x_of(1.0), WIDTH - RIGHT);
    }

    #[test]
    fn is_the_plot_a_complete_svg_with_a_curve() {
        let mut h = new_histogram();
        for us in [100u64, 200, 300, 5000] {
            h.saturating_record(us);
        }
        let svg = percentile_plot(&h, "fan-out <1→50>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("fan-out &lt;1→50&gt;"));
    }
}
