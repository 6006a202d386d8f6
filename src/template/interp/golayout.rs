//! Go's `time.Time.Format` with reference-time layouts (`2006-01-02T15:04:05Z07:00`), for
//! `isotime`. Times are always UTC (Packer's `InitTime` is), so zone elements print `UTC`,
//! `Z` or `+0000`.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::gocompat::time::{DAY_NAMES as LONG_DAYS, MONTH_NAMES as LONG_MONTHS};

/// Go's `time.RFC3339`, `isotime`'s default.
pub(crate) const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// One layout element (Go's `std*` constants).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// `Z0700`-style: `Z` for UTC.
    Iso8601,
    /// `-0700`-style: always numeric. The text is what UTC renders to.
    NumTZ(&'static str),
    /// `.000` (fixed digits) or `.999` (trailing zeros trimmed).
    Frac {
        digits: usize,
        trim: bool,
    },
}

fn starts_lower(s: &[u8]) -> bool {
    matches!(s.first(), Some(b'a'..=b'z'))
}

/// Go's `nextStdChunk`: (literal prefix length, element, element length).
fn next_chunk(l: &[u8]) -> Option<(usize, Std, usize)> {
    let at = |i: usize, s: &str| l[i..].starts_with(s.as_bytes());
    for i in 0..l.len() {
        match l[i] {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    return Some((i, Std::LongMonth, 7));
                }
                if !starts_lower(&l[i + 3..]) {
                    return Some((i, Std::Month, 3));
                }
            }
            b'M' => {
                if at(i, "Mon") {
                    if at(i, "Monday") {
                        return Some((i, Std::LongWeekDay, 6));
                    }
                    if !starts_lower(&l[i + 3..]) {
                        return Some((i, Std::WeekDay, 3));
                    }
                }
                if at(i, "MST") {
                    return Some((i, Std::TZ, 3));
                }
            }
            b'0' => {
                if let Some(&d @ b'1'..=b'6') = l.get(i + 1) {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][(d - b'1') as usize];
                    return Some((i, std, 2));
                }
                if at(i, "002") {
                    return Some((i, Std::ZeroYearDay, 3));
                }
            }
            b'1' => {
                if l.get(i + 1) == Some(&b'5') {
                    return Some((i, Std::Hour, 2));
                }
                return Some((i, Std::NumMonth, 1));
            }
            b'2' => {
                if at(i, "2006") {
                    return Some((i, Std::LongYear, 4));
                }
                return Some((i, Std::Day, 1));
            }
            b'_' => {
                if l.get(i + 1) == Some(&b'2') {
                    // "_2006" is a literal underscore followed by the year.
                    if at(i + 1, "2006") {
                        return Some((i + 1, Std::LongYear, 4));
                    }
                    return Some((i, Std::UnderDay, 2));
                }
                if at(i, "__2") {
                    return Some((i, Std::UnderYearDay, 3));
                }
            }
            b'3' => return Some((i, Std::Hour12, 1)),
            b'4' => return Some((i, Std::Minute, 1)),
            b'5' => return Some((i, Std::Second, 1)),
            b'P' if l.get(i + 1) == Some(&b'M') => return Some((i, Std::PM, 2)),
            b'p' if l.get(i + 1) == Some(&b'm') => return Some((i, Std::Pm, 2)),
            b'-' => {
                for (pat, out) in [
                    ("-070000", "+000000"),
                    ("-07:00:00", "+00:00:00"),
                    ("-0700", "+0000"),
                    ("-07:00", "+00:00"),
                    ("-07", "+00"),
                ] {
                    if at(i, pat) {
                        return Some((i, Std::NumTZ(out), pat.len()));
                    }
                }
            }
            b'Z' => {
                for pat in ["Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"] {
                    if at(i, pat) {
                        return Some((i, Std::Iso8601, pat.len()));
                    }
                }
            }
            b'.' | b',' => {
                if let Some(&ch @ (b'0' | b'9')) = l.get(i + 1) {
                    let mut j = i + 1;
                    while j < l.len() && l[j] == ch {
                        j += 1;
                    }
                    // Only a fractional second if the run of digits ends here.
                    if !matches!(l.get(j), Some(b'0'..=b'9')) {
                        return Some((
                            i,
                            Std::Frac {
                                digits: j - i - 1,
                                trim: ch == b'9',
                            },
                            j - i,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Formats Unix seconds `secs` (UTC) with a Go layout.
pub(crate) fn format(layout: &str, secs: i64) -> String {
    let t: DateTime<Utc> = DateTime::from_timestamp(secs, 0).unwrap_or_default();
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout.as_bytes();
    let mut pos = 0;
    while let Some((prefix, std, len)) = next_chunk(rest) {
        out.push_str(&layout[pos..pos + prefix]);
        let hour = t.hour();
        match std {
            Std::LongMonth => out.push_str(LONG_MONTHS[t.month0() as usize]),
            Std::Month => out.push_str(&LONG_MONTHS[t.month0() as usize][..3]),
            Std::NumMonth => out.push_str(&t.month().to_string()),
            Std::ZeroMonth => out.push_str(&format!("{:02}", t.month())),
            Std::LongWeekDay => {
                out.push_str(LONG_DAYS[t.weekday().num_days_from_sunday() as usize]);
            }
            Std::WeekDay => {
                out.push_str(&LONG_DAYS[t.weekday().num_days_from_sunday() as usize][..3]);
            }
            Std::Day => out.push_str(&t.day().to_string()),
            Std::UnderDay => out.push_str(&format!("{:>2}", t.day())),
            Std::ZeroDay => out.push_str(&format!("{:02}", t.day())),
            Std::UnderYearDay => out.push_str(&format!("{:>3}", t.ordinal())),
            Std::ZeroYearDay => out.push_str(&format!("{:03}", t.ordinal())),
            Std::Hour => out.push_str(&format!("{hour:02}")),
            Std::Hour12 => out.push_str(&(if hour % 12 == 0 { 12 } else { hour % 12 }).to_string()),
            Std::ZeroHour12 => out.push_str(&format!(
                "{:02}",
                if hour % 12 == 0 { 12 } else { hour % 12 }
            )),
            Std::Minute => out.push_str(&t.minute().to_string()),
            Std::ZeroMinute => out.push_str(&format!("{:02}", t.minute())),
            Std::Second => out.push_str(&t.second().to_string()),
            Std::ZeroSecond => out.push_str(&format!("{:02}", t.second())),
            Std::LongYear => {
                let y = t.year();
                if y < 0 {
                    out.push_str(&format!("-{:04}", -y));
                } else {
                    out.push_str(&format!("{y:04}"));
                }
            }
            Std::Year => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
            Std::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Std::TZ => out.push_str("UTC"),
            Std::Iso8601 => out.push('Z'),
            Std::NumTZ(s) => out.push_str(s),
            Std::Frac { digits, trim } => {
                // Whole seconds only: nanoseconds are always zero here.
                if !trim {
                    out.push(rest[prefix] as char);
                    out.push_str(&"0".repeat(digits));
                }
            }
        }
        pos += prefix + len;
        rest = &layout.as_bytes()[pos..];
    }
    out.push_str(&layout[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2012-06-21 02:12:56 UTC, a Thursday, day 173 of the year.
    const T: i64 = 1_340_244_776;

    #[test]
    fn layouts() {
        let cases = [
            (RFC3339, "2012-06-21T02:12:56Z"),
            ("2006-01-02", "2012-06-21"),
            ("20060102150405", "20120621021256"),
            ("Jan _2 15:04:05", "Jun 21 02:12:56"),
            ("January Monday Mon", "June Thursday Thu"),
            ("3:04:05 PM pm", "2:12:56 AM am"),
            ("03", "02"),
            ("1/2/06", "6/21/12"),
            (
                "MST -0700 -07:00 -07 Z07:00 Z0700",
                "UTC +0000 +00:00 +00 Z Z",
            ),
            ("15:04:05.000", "02:12:56.000"),
            ("15:04:05.999", "02:12:56"),
            ("15:04:05,000", "02:12:56,000"),
            ("002 __2", "173 173"),
            ("_2006", "_2012"),
            ("Janet Month", "Janet Month"),
            ("no digits here", "no digits here"),
            ("", ""),
            ("2006-01-02 日本", "2012-06-21 日本"),
            (".0000x", ".0000x"),
            (".00001", ".00006"), // a run followed by a digit is no fraction; "01" is the month
        ];
        for (layout, want) in cases {
            assert_eq!(format(layout, T), want, "{layout}");
        }
    }

    #[test]
    fn afternoon_and_single_digits() {
        // 2021-01-05 13:07:09 UTC, a Tuesday.
        let t = 1_609_852_029;
        assert_eq!(
            format("3 03 15 PM 1 2 _2 4 5 Mon", t),
            "1 01 13 PM 1 5  5 7 9 Tue"
        );
        assert_eq!(
            format("Jan 2, 2006 at 3:04pm (MST)", t),
            "Jan 5, 2021 at 1:07pm (UTC)"
        );
    }
}
