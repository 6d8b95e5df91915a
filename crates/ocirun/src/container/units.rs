//! Sizes and durations as the runc command line writes them: `update --memory 64m` (binary
//! units, `b`/`ib` optional, any case, a fraction allowed, `-1` for unlimited) and
//! `events --interval 1m30s` (Go duration syntax).

use std::time::Duration;

use crate::error::{Error, Result};

/// Parse a size in bytes: `1024`, `64m`, `64M`, `64MiB`, `1.5g`, `2 GB` (units are powers of
/// 1024), or `-1` for "no limit".
pub fn parse_bytes(s: &str) -> Result<i64> {
    let bad = |why: &str| Error::InvalidArgument(format!("invalid size {s:?}: {why}"));
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "k" | "ki" => 10,
        "m" | "mi" => 20,
        "g" | "gi" => 30,
        "t" | "ti" => 40,
        "p" | "pi" => 50,
        _ => return Err(bad("use a number with an optional unit k, m, g, t or p")),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    let too_big = || bad("too large");
    let whole: i64 = int.parse().map_err(|_| too_big())?;
    let mut bytes = whole.checked_mul(1i64 << shift).ok_or_else(too_big)?;
    if !frac.is_empty() {
        let f: f64 = format!("0.{frac}").parse().map_err(|_| bad("not a number"))?;
        bytes = bytes.checked_add((f * (1u64 << shift) as f64) as i64).ok_or_else(too_big)?;
    }
    Ok(bytes)
}

/// Parse a Go-style duration: one or more `<number><unit>` with units `ns`, `us` (or `µs`),
/// `ms`, `s`, `m`, `h`, e.g. `5s`, `100ms`, `1m30s`, `1.5h`; a bare `0` is zero.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::InvalidArgument(format!("invalid duration {s:?}: use e.g. 5s, 100ms or 1m30s"));
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let (num, tail) = rest.split_at(end);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * nanos;
        rest = next;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("2 GB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("10b").unwrap(), 10);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        for bad in ["", "m", "-2", "64x", "1..5m", "1e3", "99999999999p", "64 m b"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "5x", "-5s", "1.s.", "."] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
