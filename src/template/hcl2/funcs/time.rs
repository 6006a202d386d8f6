//! Time functions: `timestamp`, `formatdate` (Terraform's format spec) and the legacy
//! Go-template `isotime`/`strftime` forms.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{args, string, R};
use crate::gocompat::time::{DAY_NAMES, MONTH_NAMES as MONTHS};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("timestamp", timestamp),
    ("formatdate", formatdate),
    ("legacy_isotime", legacy_isotime),
    ("legacy_strftime", legacy_strftime),
];

fn timestamp(a: FuncArgs) -> R {
    args(a, 0, 0)?;
    Ok(Value::String(
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ))
}

fn formatdate(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let spec = string(&v[0])?;
    let ts = string(&v[1])?;
    let t = DateTime::parse_from_rfc3339(&ts)
        .map_err(|e| format!("not a valid RFC3339 timestamp: {ts:?} ({e})"))?;
    Ok(Value::String(format_spec(&spec, &t)?))
}

fn format_spec(spec: &str, t: &DateTime<FixedOffset>) -> Result<String, String> {
    let c: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\'' {
            // Quoted literal; '' is a literal quote.
            let mut j = i + 1;
            if j < c.len() && c[j] == '\'' {
                out.push('\'');
                i += 2;
                continue;
            }
            loop {
                if j >= c.len() {
                    return Err("unterminated literal '".into());
                }
                if c[j] == '\'' {
                    if j + 1 < c.len() && c[j + 1] == '\'' {
                        out.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                out.push(c[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if !ch.is_ascii_alphabetic() {
            out.push(ch);
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < c.len() && c[i + n] == ch {
            n += 1;
        }
        let hour12 = if t.hour() % 12 == 0 {
            12
        } else {
            t.hour() % 12
        };
        let off = t.offset().local_minus_utc();
        let tok = match (ch, n) {
            ('Y', 4) => format!("{:04}", t.year()),
            ('Y', 2) => format!("{:02}", t.year() % 100),
            ('M', 4) => MONTHS[t.month0() as usize].into(),
            ('M', 3) => MONTHS[t.month0() as usize][..3].into(),
            ('M', 2) => format!("{:02}", t.month()),
            ('M', 1) => t.month().to_string(),
            ('D', 2) => format!("{:02}", t.day()),
            ('D', 1) => t.day().to_string(),
            ('E', 4) => DAY_NAMES[t.weekday().num_days_from_sunday() as usize].into(),
            ('E', 3) => DAY_NAMES[t.weekday().num_days_from_sunday() as usize][..3].into(),
            ('h', 2) => format!("{:02}", t.hour()),
            ('h', 1) => t.hour().to_string(),
            ('H', 2) => format!("{hour12:02}"),
            ('H', 1) => hour12.to_string(),
            ('A', 2) => if t.hour() < 12 { "AM" } else { "PM" }.into(),
            ('a', 2) => if t.hour() < 12 { "am" } else { "pm" }.into(),
            ('m', 2) => format!("{:02}", t.minute()),
            ('m', 1) => t.minute().to_string(),
            ('s', 2) => format!("{:02}", t.second()),
            ('s', 1) => t.second().to_string(),
            ('Z', 1) if off == 0 => "Z".into(),
            ('Z', 1) => zone(off, true),
            ('Z', 3) => {
                if off == 0 {
                    "UTC".into()
                } else {
                    zone(off, false)
                }
            }
            ('Z', 4) => zone(off, false),
            ('Z', 5) => zone(off, true),
            _ => {
                return Err(format!(
                    "invalid date format verb {:?}: unsupported sequence",
                    c[i..i + n].iter().collect::<String>()
                ))
            }
        };
        out.push_str(&tok);
        i += n;
    }
    Ok(out)
}

fn zone(off: i32, colon: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, a % 3600 / 60)
    }
}

/// Renders a legacy Go-template call through rpack's template engine.
fn legacy(call: String) -> R {
    let ctx = crate::template::interp::Context::default();
    crate::template::interp::render(&call, &ctx)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn legacy_isotime(a: FuncArgs) -> R {
    let v = args(a, 0, 1)?;
    match v.first() {
        Some(f) => legacy(format!(
            "{{{{isotime {}}}}}",
            crate::gocompat::strconv::quote(&string(f)?)
        )),
        None => legacy("{{isotime}}".into()),
    }
}

fn legacy_strftime(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    legacy(format!(
        "{{{{strftime {}}}}}",
        crate::gocompat::strconv::quote(&string(&v[0])?)
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        let ts = "\"2018-01-02T23:12:01Z\"";
        let f = |spec: &str| j(&format!("formatdate({spec:?}, {ts})"));
        assert_eq!(f("DD MMM YYYY hh:mm ZZZ"), r#""02 Jan 2018 23:12 UTC""#);
        assert_eq!(
            f("EEEE, DD-MMM-YY hh:mm:ss ZZZ"),
            r#""Tuesday, 02-Jan-18 23:12:01 UTC""#
        );
        assert_eq!(
            f("EEE, DD MMM YYYY hh:mm:ss ZZZ"),
            r#""Tue, 02 Jan 2018 23:12:01 UTC""#
        );
        assert_eq!(f("MMM DD, YYYY"), r#""Jan 02, 2018""#);
        assert_eq!(f("HH:mmaa"), r#""11:12pm""#);
        assert_eq!(f("YYYYMMDDhhmmss"), r#""20180102231201""#);
        assert_eq!(f("h 'o''clock'"), r#""23 o'clock""#);
        assert!(f("q").starts_with("ERR"));
        assert!(j("formatdate(\"YYYY\", \"nope\")").starts_with("ERR"));
        let now = j("timestamp()");
        assert_eq!(now.len(), 22, "{now}");
        assert!(now.ends_with("Z\""));
        assert_eq!(j("length(legacy_isotime(\"2006\"))"), "4");
        assert_eq!(j("length(legacy_strftime(\"%Y\"))"), "4");
    }
}
