//! Go's `time.ParseDuration` and `time.Duration.String`, and the names Go's `time` package
//! prints for months and weekdays.

use std::time::Duration;

use super::strconv::quote;

/// Go's `time.Month` names, January first.
pub(crate) const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Go's `time.Weekday` names, Sunday first (Go's order).
pub(crate) const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `time.ParseDuration`, with Go 1.15's error texts. Negative durations become zero.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let nanos = parse_duration_nanos(s)?;
    if nanos <= 0.0 {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// Go's `time.ParseDuration` as signed nanoseconds (`-1h30m` is negative), with its error texts.
pub(crate) fn parse_duration_nanos(s: &str) -> Result<f64, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {}", quote(s))),
            u => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(u),
                    quote(s)
                ))
            }
        };
        let value: f64 = num.parse().map_err(|_| invalid())?;
        total += value * scale;
    }
    Ok(if neg { -total } else { total })
}

/// Go's `time.Duration.String` (`1m30s`, `1.5s`, `250ms`).
pub(crate) fn duration_string(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", frac(nanos, div));
    }
    let total_secs = nanos / 1_000_000_000;
    let (h, m) = (total_secs / 3600, (total_secs / 60) % 60);
    let secs = frac(nanos % 60_000_000_000, 1_000_000_000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
}

/// A measured wait for a person: Go's duration format rounded to a tenth of a second
/// (`1.5s`, `2m0.3s`), not the nanoseconds a clock happened to read.
pub(crate) fn human_wait(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    duration_string(Duration::from_millis(
        u64::try_from(tenths).unwrap_or(u64::MAX / 100) * 100,
    ))
}

/// `n / div` with the fraction's trailing zeros removed.
fn frac(n: u128, div: u128) -> String {
    let whole = n / div;
    let rest = n % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{rest:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measured_wait_reads_in_tenths_of_a_second() {
        assert_eq!(human_wait(Duration::from_nanos(1_549_999_999)), "1.5s");
        assert_eq!(human_wait(Duration::from_millis(90_040)), "1m30s");
        assert_eq!(human_wait(Duration::from_millis(20)), "0s");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_duration("1h5m2s"), Ok(Duration::from_secs(3902)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration(""),
            Err("time: invalid duration \"\"".to_string())
        );
        assert_eq!(
            parse_duration("5"),
            Err("time: missing unit in duration \"5\"".to_string())
        );
        assert_eq!(
            parse_duration("abc"),
            Err("time: invalid duration \"abc\"".to_string())
        );
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(duration_string(Duration::from_secs(1)), "1s");
        assert_eq!(duration_string(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration_string(Duration::from_secs(300)), "5m0s");
        assert_eq!(duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration_string(Duration::from_millis(250)), "250ms");
        assert_eq!(duration_string(Duration::from_secs(3723)), "1h2m3s");
    }
}
