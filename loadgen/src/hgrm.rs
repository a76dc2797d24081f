//! The latency histogram as HdrHistogram "percentile distribution" text (the
//! `.hgrm` format that HdrHistogram's plotter and other tools read), values in
//! milliseconds, from a histogram recorded in microseconds.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Quantile steps per halving of the distance to 100%, as HdrHistogram's own tools use.
pub const TICKS_PER_HALF: u32 = 5;

/// One row of the percentile distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PercentileRow {
    /// Latency in microseconds at this percentile.
    pub value_us: u64,
    /// The quantile, 0.0 to 1.0.
    pub quantile: f64,
    /// Values recorded at or below `value_us`.
    pub total_count: u64,
}

/// The percentile rows of `h`, from the lowest value to the maximum.
pub fn percentile_rows(h: &Histogram<u64>) -> Vec<PercentileRow> {
    let mut total = 0u64;
    h.iter_quantiles(TICKS_PER_HALF)
        .map(|v| {
            total += v.count_since_last_iteration();
            PercentileRow {
                value_us: h.highest_equivalent(v.value_iterated_to()),
                quantile: v.quantile_iterated_to(),
                total_count: total,
            }
        })
        .collect()
}

/// The sub-bucket count HdrHistogram reports for `sigfig` significant digits.
fn sub_buckets(sigfig: u8) -> u64 {
    let largest = 2.0 * 10f64.powi(i32::from(sigfig));
    1u64 << (largest.log2().ceil() as u32)
}

/// `h` (µs) as percentile distribution text in milliseconds.
pub fn to_text(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let ms = |us: u64| us as f64 / 1000.0;
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for row in percentile_rows(h) {
        if row.quantile < 1.0 {
            let _ = writeln!(
                out,
                "{:12.3} {:2.12} {:10} {:14.2}",
                ms(row.value_us),
                row.quantile,
                row.total_count,
                1.0 / (1.0 - row.quantile)
            );
        } else {
            let _ = writeln!(
                out,
                "{:12.3} {:2.12} {:10}",
                ms(row.value_us),
                row.quantile,
                row.total_count
            );
        }
    }
    let mean = if h.is_empty() { 0.0 } else { h.mean() / 1000.0 };
    let stdev = if h.is_empty() {
        0.0
    } else {
        h.stdev() / 1000.0
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        ms(h.max()),
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn does_the_text_end_at_the_maximum_with_every_value_counted() {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            h.saturating_record(us);
        }
        let rows = percentile_rows(&h);
        let last = rows.last().expect("rows");
        assert_eq!(last.quantile, 1.0);
        assert_eq!(last.total_count, 1000);
        assert_eq!(last.value_us, 1000);
        let text = to_text(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     =        1.000, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn is_an_empty_histogram_still_valid_text() {
        let text = to_text(&new_histogram());
        assert!(text.contains("Total count    =            0]"));
    }
}
