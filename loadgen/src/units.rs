//! Parsing of the human units the command line takes: durations (`10s`, `15ms`),
//! bandwidths (`100mbit`, `5MB`) and byte sizes (`64`, `4k`).

use std::time::Duration;

/// A command-line value that does not parse, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: expected {expected}")]
pub struct UnitError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

/// Parses `1.5s`, `250ms`, `100us`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || UnitError {
        what: "duration",
        input: s.to_string(),
        expected: "a number with s, ms, us, m or h (e.g. 10s, 15ms)",
    };
    let (num, unit) = split_number(s.trim());
    let value: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "ns" => value / 1e9,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(err()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| err())
}

/// Parses a bandwidth into bytes per second: `100mbit`, `1gbit`, `512kbit`,
/// `8bit`, `10mbps` (bits), or `5MB`, `200kB`, `1GB` (bytes per second).
pub fn parse_bandwidth(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError {
        what: "bandwidth",
        input: s.to_string(),
        expected: "a number with bit, kbit, mbit, gbit (or bps forms) or B, kB, MB, GB",
    };
    let (num, unit) = split_number(s.trim());
    let value: f64 = num.parse().map_err(|_| err())?;
    let bits_per_sec = match unit.to_ascii_lowercase().as_str() {
        "bit" | "bps" => value,
        "kbit" | "kbps" => value * 1e3,
        "mbit" | "mbps" => value * 1e6,
        "gbit" | "gbps" => value * 1e9,
        _ => match unit {
            "B" => value * 8.0,
            "kB" | "KB" => value * 8e3,
            "MB" => value * 8e6,
            "GB" => value * 8e9,
            _ => return Err(err()),
        },
    };
    let bytes = (bits_per_sec / 8.0).round();
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(err());
    }
    Ok(bytes as u64)
}

/// Parses a size in bytes: `64`, `4k` / `4KiB` (×1024), `1m` / `1MiB` (×1024²).
pub fn parse_size(s: &str) -> Result<usize, UnitError> {
    let err = || UnitError {
        what: "size",
        input: s.to_string(),
        expected: "a byte count, optionally with k or m (e.g. 64, 4k)",
    };
    let (num, unit) = split_number(s.trim());
    let value: usize = num.parse().map_err(|_| err())?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(err()),
    };
    value.checked_mul(mult).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_15ms_parse_as_fifteen_milliseconds() {
        assert_eq!(parse_duration("15ms"), Ok(Duration::from_millis(15)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
    }

    #[test]
    fn is_a_duration_without_a_known_unit_rejected() {
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn is_100mbit_twelve_and_a_half_megabytes_per_second() {
        assert_eq!(parse_bandwidth("100mbit"), Ok(12_500_000));
        assert_eq!(parse_bandwidth("1gbit"), Ok(125_000_000));
        assert_eq!(parse_bandwidth("5MB"), Ok(5_000_000));
        assert_eq!(parse_bandwidth("64kbit"), Ok(8_000));
    }

    #[test]
    fn is_a_zero_or_unitless_bandwidth_rejected() {
        assert!(parse_bandwidth("0mbit").is_err());
        assert!(parse_bandwidth("100").is_err());
    }

    #[test]
    fn do_sizes_accept_k_and_m_suffixes() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert!(parse_size("-1").is_err());
    }
}
