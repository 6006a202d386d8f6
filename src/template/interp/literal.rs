//! Go's literals as `text/template` parses them: number constants with every interpretation Go
//! allows (`strconv`'s syntax: bases, underscores, hex floats, character constants) and quoted
//! strings (`strconv.Unquote`).

use std::borrow::Cow;

/// A numeric constant with the interpretations Go allows for it.
#[derive(Debug, Clone)]
pub(crate) struct Number<'s> {
    pub text: &'s str,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Fits uint64 but not int64.
    pub uint_only: bool,
    /// `'a'` character constants are integers even when written like floats.
    pub is_char: bool,
}

impl Number<'_> {
    /// Go's `idealConstant`: what the constant is when used as a value.
    pub(crate) fn ideal(&self) -> Result<super::value::V<'static>, String> {
        use super::value::V;
        let looks_float = !self.is_char
            && !is_hex_int(self.text)
            && self.text.contains(['.', 'e', 'E', 'p', 'P']);
        if let (Some(f), true) = (self.float, looks_float) {
            return Ok(V::Float(f));
        }
        if let Some(i) = self.int {
            return Ok(V::Int(i));
        }
        if self.uint_only {
            return Err(format!("{} overflows int", self.text));
        }
        match self.float {
            Some(f) => Ok(V::Float(f)),
            None => Err(format!("{} overflows int", self.text)),
        }
    }
}

pub(super) fn is_hex_int(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    (s.starts_with("0x") || s.starts_with("0X")) && !s.contains(['p', 'P'])
}

/// Go's `underscoreOK`: underscores may only separate digits (or follow a base prefix).
pub(super) fn underscore_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base prefixes, leading-zero octal, underscores between
/// digits.
pub(super) fn parse_uint(s: &str) -> Option<u64> {
    if !underscore_ok(s) {
        return None;
    }
    let lower = |p: &str| s.len() >= 2 && s[..2].eq_ignore_ascii_case(p);
    let (digits, radix) = if lower("0x") {
        (&s[2..], 16)
    } else if lower("0o") {
        (&s[2..], 8)
    } else if lower("0b") {
        (&s[2..], 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !clean.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(&clean, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for what the lexer accepts: decimal floats and hexadecimal
/// ones with a binary exponent (`0x1.8p3`).
pub(super) fn parse_float(s: &str) -> Option<f64> {
    if !underscore_ok(s) {
        return None;
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean[..2].eq_ignore_ascii_case("0x") {
        parse_hex_float(&clean[2..])?
    } else {
        // Rust also accepts "inf"/"nan"; Go's lexer never produces them here.
        if !clean.bytes().any(|b| b.is_ascii_digit())
            || clean
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `MANTISSA[.FRACTION]p[+-]EXP` in hexadecimal with a decimal binary exponent.
pub(super) fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exp.checked_sub(4 * frac.len() as i32)?;
    Some(v * 2f64.powi(scale))
}

/// Go's `newNumber` for number tokens.
pub(super) fn new_number(text: &str) -> Result<Number<'_>, String> {
    if text.ends_with('i') {
        return Err(format!(
            "complex number {} is not supported by rpack",
            super::gofmt::quote(text)
        ));
    }
    let (neg, mag) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut n = Number {
        text,
        int: None,
        float: None,
        uint_only: false,
        is_char: false,
    };
    if let Some(u) = parse_uint(mag) {
        if neg {
            if u <= i64::MAX as u64 + 1 {
                n.int = Some(i128::from(u).wrapping_neg() as i64);
            }
        } else if i64::try_from(u).is_ok() {
            n.int = Some(u as i64);
        } else {
            n.uint_only = true;
        }
        n.float = Some(if neg { -(u as f64) } else { u as f64 });
        return Ok(n);
    }
    match parse_float(text) {
        Some(f) => {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", super::gofmt::quote(text)));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                n.int = Some(f as i64);
            }
            Ok(n)
        }
        None => Err(format!(
            "illegal number syntax: {}",
            super::gofmt::quote(text)
        )),
    }
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals.
pub(crate) fn unquote(text: &str) -> Option<Cow<'_, str>> {
    let b = text.as_bytes();
    if b.len() < 2 {
        return None;
    }
    if b[0] == b'`' {
        let inner = &text[1..text.len() - 1];
        if inner.contains('\r') {
            return Some(Cow::Owned(inner.replace('\r', "")));
        }
        return Some(Cow::Borrowed(inner));
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (bytes, tail) = unquote_char(rest, b'"')?;
        out.extend_from_slice(&bytes);
        rest = tail;
    }
    Some(Cow::Owned(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

/// Go's `strconv.UnquoteChar`: decodes one (possibly escaped) character; returns its UTF-8
/// bytes (or a raw byte for `\x`/octal escapes) and the rest.
pub(crate) fn unquote_char(s: &str, quote: u8) -> Option<(Vec<u8>, &str)> {
    let c = s.chars().next()?;
    if c as u32 == u32::from(quote) && (quote == b'\'' || quote == b'"') {
        return None;
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        return Some((
            c.encode_utf8(&mut buf).as_bytes().to_vec(),
            &s[c.len_utf8()..],
        ));
    }
    let b = s.as_bytes();
    let e = *b.get(1)?;
    if !e.is_ascii() {
        return None; // `\` before a non-ASCII character is no escape
    }
    let rest = &s[2..];
    let simple = |c: u8| Some((vec![c], rest));
    match e {
        b'a' => simple(7),
        b'b' => simple(8),
        b'f' => simple(12),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(11),
        b'\\' => simple(b'\\'),
        b'\'' | b'"' => {
            if e != quote {
                return None;
            }
            simple(e)
        }
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..n)?;
            let v = u32::from_str_radix(hex, 16).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let tail = &rest[n..];
            if e == b'x' {
                return Some((vec![v as u8], tail));
            }
            let c = char::from_u32(v)?;
            let mut buf = [0u8; 4];
            Some((c.encode_utf8(&mut buf).as_bytes().to_vec(), tail))
        }
        b'0'..=b'7' => {
            let oct = s.get(1..4)?;
            if !oct.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
                return None;
            }
            let v = u32::from_str_radix(oct, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((vec![v as u8], &s[4..]))
        }
        _ => None,
    }
}

pub(super) fn char_constant(text: &str) -> Result<Number<'_>, String> {
    let inner = &text[1..];
    let malformed = || format!("malformed character constant: {text}");
    let (bytes, tail) = unquote_char(inner, b'\'').ok_or_else(|| "invalid syntax".to_string())?;
    if tail != "'" {
        return Err(malformed());
    }
    let v = match std::str::from_utf8(&bytes) {
        Ok(s) => s.chars().next().map_or(0, |c| c as u32),
        Err(_) => u32::from(bytes[0]),
    };
    Ok(Number {
        text,
        int: Some(i64::from(v)),
        float: Some(f64::from(v)),
        uint_only: false,
        is_char: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let int = |s: &str| new_number(s).ok().and_then(|n| n.int);
        assert_eq!(int("42"), Some(42));
        assert_eq!(int("-42"), Some(-42));
        assert_eq!(int("0x1F"), Some(31));
        assert_eq!(int("017"), Some(15));
        assert_eq!(int("0o17"), Some(15));
        assert_eq!(int("0b101"), Some(5));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("1__000"), None);
        assert_eq!(int("0x_1F"), Some(31));
        assert_eq!(new_number("0x1p4").unwrap().float, Some(16.0));
        assert_eq!(new_number("0x1.8p1").unwrap().float, Some(3.0));
        assert_eq!(int("2.0"), Some(2));
        assert_eq!(int("1e3"), Some(1000));
        assert_eq!(int("2.5"), None);
        assert!(new_number("18446744073709551615").unwrap().uint_only);
        assert_eq!(
            new_number("99999999999999999999").unwrap_err(),
            "integer overflow: \"99999999999999999999\""
        );
        assert_eq!(new_number("-").unwrap_err(), "illegal number syntax: \"-\"");
        assert_eq!(
            new_number("1.2.3").unwrap_err(),
            "illegal number syntax: \"1.2.3\""
        );
        assert_eq!(char_constant("'a'").unwrap().int, Some(97));
        assert_eq!(char_constant(r"'\n'").unwrap().int, Some(10));
        assert_eq!(
            char_constant("'ab'").unwrap_err(),
            "malformed character constant: 'ab'"
        );
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"a\\tb\"").as_deref(), Some("a\tb"));
        assert_eq!(
            unquote("\"\\u00e9\\x41\\101\\\"\"").as_deref(),
            Some("éAA\"")
        );
        assert_eq!(unquote("`a\\tb`").as_deref(), Some("a\\tb"));
        assert_eq!(unquote("`a\r\nb`").as_deref(), Some("a\nb"));
        assert_eq!(unquote("\"\\'\""), None);
        assert_eq!(unquote("\"\\q\""), None);
        assert_eq!(unquote("\"\\400\""), None);
        // Found by fuzzing: a backslash before a multi-byte character.
        assert_eq!(unquote("\"\\\u{616}0\""), None);
        assert_eq!(char_constant("'\\é'").unwrap_err(), "invalid syntax");
    }
}
