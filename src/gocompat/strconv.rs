//! Go's `strconv`: `Quote`/`QuoteToASCII`/`QuoteRune`, `ParseBool`, `ParseInt`, `ParseFloat`,
//! and float formatting as `%g` and `FormatFloat(f, 'f', -1, 64)` print it.

use std::fmt::Write as _;

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteToASCII` (`%+q`).
pub(crate) fn quote_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() {
            escape_char(&mut out, c, '"');
        } else if (c as u32) < 0x10000 {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
pub(crate) fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    escape_char(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Go's `strconv.IsPrint` (the code points Go prints as they are).
pub(crate) fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0xFFF9..=0xFFFB)
        || matches!(c as u32, 0xE000..=0xF8FF | 0xF_0000..=0x10_FFFF))
}

fn escape_char(out: &mut String, c: char, q: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if is_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// `%v` of a float64: Go's `%g` with shortest representation (`5`, `0.5`, `1e+21`).
pub(crate) fn format_float_g(n: &str) -> String {
    let Some(f) = parse_float(n) else {
        return n.to_string();
    };
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{f}")
    } else {
        let s = format!("{f:e}");
        // Rust prints `1e21`; Go prints `1e+21`.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        }
    }
}

/// A JSON number as Go's weak string conversion prints it (`strconv.FormatFloat(f, 'f', -1, 64)`).
pub(crate) fn format_number(n: &str) -> String {
    match parse_float(n) {
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

/// `strconv.ParseFloat(s, 64)` for the spellings JSON numbers and Packer strings use.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    if t.is_empty()
        || t.eq_ignore_ascii_case("infinity")
        || t.eq_ignore_ascii_case("inf")
        || t.eq_ignore_ascii_case("nan")
    {
        return match t.to_ascii_lowercase().as_str() {
            "inf" | "infinity" => Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }),
            "nan" => Some(f64::NAN),
            _ => None,
        };
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Why `strconv.ParseInt` failed: Go's `invalid syntax` or `value out of range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    Syntax,
    Range,
}

impl IntError {
    /// Go's text for it (`strconv.ParseInt: parsing "x": <this>`).
    pub(crate) fn text(self) -> &'static str {
        match self {
            IntError::Syntax => "invalid syntax",
            IntError::Range => "value out of range",
        }
    }
}

/// `strconv.ParseInt(s, 0, 64)`: an optional sign, then decimal, `0x` hex, `0o`/leading-`0`
/// octal or `0b` binary. With base 0 Go accepts `_` digit separators, checked afterwards by
/// [`underscore_ok`] (`1_000`, `0x_1f`, `0_7` parse; `_1`, `1_`, `1__0` do not).
#[cfg(test)]
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    parse_int_checked(s).ok()
}

/// [`parse_int`] with Go's reason for a failure, found in Go's order (a value that overflows
/// before a bad character is out of range).
pub(crate) fn parse_int_checked(s: &str) -> Result<i64, IntError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint_base0(body)?;
    if neg {
        if magnitude > 1u64 << 63 {
            return Err(IntError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Range)
    }
}

/// Go's `ParseUint(s, 0, 64)` (no sign allowed).
fn parse_uint_base0(s: &str) -> Result<u64, IntError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(IntError::Syntax);
    }
    // The prefix needs a digit after it to count: "0x" alone is the octal "0" followed by 'x'.
    let (base, digits): (u32, &[u8]) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &b[2..]),
            b'o' => (8, &b[2..]),
            b'x' => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else if b[0] == b'0' {
        (8, &b[1..])
    } else {
        (10, b)
    };
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char)
            .to_digit(36)
            .filter(|d| *d < base)
            .ok_or(IntError::Syntax)?;
        n = n
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(IntError::Range)?;
    }
    if underscores && !underscore_ok(s) {
        return Err(IntError::Syntax);
    }
    Ok(n)
}

/// Go's `underscoreOK`: every `_` sits between two digits, or between a base prefix and a
/// digit.
pub(crate) fn underscore_ok(s: &str) -> bool {
    // What came last: the start, a digit (or base prefix), an underscore, anything else.
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut b = s.as_bytes();
    if let Some(b'-' | b'+') = b.first() {
        b = &b[1..];
    }
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = Saw::Digit;
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_go() {
        assert_eq!(format_number("5"), "5");
        assert_eq!(format_number("5.0"), "5");
        assert_eq!(format_number("0.25"), "0.25");
        assert_eq!(format_float_g("1e21"), "1e+21");
    }

    #[test]
    fn quoting_escapes_like_go() {
        assert_eq!(quote("a\"b\n\u{7}\u{200b}"), "\"a\\\"b\\n\\a\\u200b\"");
        assert_eq!(quote_rune('\''), "'\\''");
    }

    #[test]
    fn ints_and_bools_parse_like_go() {
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("-0b11"), Some(-3));
        assert_eq!(parse_int("1_0"), Some(10));
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn int_underscores_follow_gos_base_0_rules() {
        for (s, want) in [
            ("1_000", Some(1000)),
            ("-1_0", Some(-10)),
            ("+1_0", Some(10)),
            ("0x_1", Some(1)),
            ("0X_F_f", Some(255)),
            ("0b1_0", Some(2)),
            ("0o_7", Some(7)),
            ("0_1", Some(1)),
            ("0_7_7", Some(63)),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("-_1", None),
            ("0x_", None),
            ("0x1_", None),
            ("0_8", None),
            ("_", None),
        ] {
            assert_eq!(parse_int(s), want, "{s:?}");
        }
    }

    #[test]
    fn ints_keep_gos_prefix_sign_and_range_rules() {
        for (s, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("00", Some(0)),
            ("0x", None),
            ("0b", None),
            ("0o", None),
            ("08", None),
            ("0b2", None),
            ("0xg", None),
            ("1e3", None),
            (" 1", None),
            ("--1", None),
            ("+-1", None),
            ("", None),
            ("-", None),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("0x7fff_ffff_ffff_ffff", Some(i64::MAX)),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(parse_int(s), want, "{s:?}");
        }
        // Go's reasons, in Go's order.
        assert_eq!(parse_int_checked("1_"), Err(IntError::Syntax));
        assert_eq!(
            parse_int_checked("-9223372036854775809"),
            Err(IntError::Range)
        );
        assert_eq!(
            parse_int_checked("99999999999999999999x"),
            Err(IntError::Range)
        );
        assert_eq!(
            parse_int_checked("9_999_999_999_999_999_999"),
            Err(IntError::Range)
        );
        assert_eq!(
            parse_int_checked("x99999999999999999999"),
            Err(IntError::Syntax)
        );
        assert!(underscore_ok("1_2_3") && underscore_ok("0xa_b") && !underscore_ok("1_a"));
        // Outside hex, a letter after an underscore is not a digit.
        assert!(!underscore_ok("0b1_a"));
    }
}
