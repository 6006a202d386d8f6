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

/// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/leading `0` octal, `0b`, optional sign.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    // Underscores are only allowed with a base prefix, between digits.
    let digits = if radix != 10 && body.len() > 1 {
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
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
        assert_eq!(parse_int("1_0"), None);
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
