//! The parts of Go's `fmt` and `strconv` that templates can observe: `%v` printing of values,
//! `print`/`println`/`printf` and `strconv.Quote`; float formatting lives in `gofloat`, the
//! escaping functions `html`, `js` and `urlquery` in `escape`.

use std::fmt::Write as _;

use super::value::V;
use super::Value;

pub(crate) use super::escape::{html_escape, js_escape, query_escape};
use super::gofloat::{float_with, fmt_e, fmt_float, fmt_g, rust_f};
use crate::gocompat::strconv::is_printable;
pub(crate) use crate::gocompat::strconv::{quote, quote_ascii, quote_rune};

/// Go's type name for a value, as `%T` and error messages print it.
pub(crate) fn type_name(v: &V) -> &'static str {
    match v {
        V::NoValue | V::Nil => "<nil>",
        V::Bool(_) => "bool",
        V::Int(_) => "int",
        V::Float(_) => "float64",
        V::Str(_) => "string",
        V::Ref(_) | V::Own(_) => match v.coll() {
            Some(Value::List(_)) => "[]interface {}",
            _ => "map[string]interface {}",
        },
    }
}

/// Appends Go's `%v` rendering of a data value.
pub(crate) fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&fmt_float(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// Appends Go's `fmt.Fprint` rendering of one run-time value.
pub(crate) fn write_v(out: &mut String, v: &V) {
    match v {
        V::NoValue | V::Nil => out.push_str("<nil>"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Int(i) => {
            let _ = write!(out, "{i}");
        }
        V::Float(f) => out.push_str(&fmt_float(*f)),
        V::Str(s) => out.push_str(s),
        V::Ref(_) | V::Own(_) => {
            if let Some(c) = v.coll() {
                write_value(out, c);
            }
        }
    }
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub(crate) fn sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, V::Str(_)) && !matches!(args[i - 1], V::Str(_)) {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out
}

/// `fmt.Sprintln`: always spaces, and a final newline.
pub(crate) fn sprintln(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out.push('\n');
    out
}

/// Largest width or precision honoured (Go has none; this bounds what one verb can allocate).
pub(crate) const MAX_WIDTH: usize = 100_000;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    /// Pads `s` to the width; `numeric` allows zero padding after a sign.
    fn pad(&self, s: String, numeric: bool) -> String {
        let Some(w) = self.width else { return s };
        let n = s.chars().count();
        if n >= w {
            return s;
        }
        let fill = w - n;
        if self.minus {
            return s + &" ".repeat(fill);
        }
        if self.zero && numeric {
            let (sign, rest) = match s.as_bytes().first() {
                Some(b'-' | b'+' | b' ') => s.split_at(1),
                _ => ("", s.as_str()),
            };
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        if self.zero && !numeric {
            return "0".repeat(fill) + &s;
        }
        " ".repeat(fill) + &s
    }

    fn sign(&self, neg: bool) -> &'static str {
        if neg {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        }
    }
}

/// `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %x %X %o %b %c %f %F %e %E %g %G
/// %t %T %%`, flags `- + # space 0`, width and precision (also `*` and `[n]` argument indexes).
/// Mismatches render like Go
/// (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).
pub(crate) fn sprintf(format: &str, args: &[V]) -> String {
    let b = format.as_bytes();
    let mut out = String::with_capacity(format.len() + 16);
    let mut argi = 0usize;
    let mut reordered = false;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // the '%'
        let mut spec = Spec::default();
        while i < b.len() {
            match b[i] {
                b'-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                b'+' => spec.plus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        let mut good_index = true;
        let mut after_index = arg_index(
            b,
            &mut i,
            &mut argi,
            args.len(),
            &mut good_index,
            &mut reordered,
        );
        if b.get(i) == Some(&b'*') {
            i += 1;
            match int_arg(args, &mut argi) {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            spec.width = digits(b, &mut i);
            if after_index && spec.width.is_some() {
                good_index = false; // "%[3]2d"
            }
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if after_index {
                good_index = false; // "%[3].2d"
            }
            after_index = arg_index(
                b,
                &mut i,
                &mut argi,
                args.len(),
                &mut good_index,
                &mut reordered,
            );
            if b.get(i) == Some(&b'*') {
                i += 1;
                match int_arg(args, &mut argi) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    Some(_) => spec.prec = None,
                    None => out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                spec.prec = Some(digits(b, &mut i).unwrap_or(0));
            }
        }
        if !after_index {
            arg_index(
                b,
                &mut i,
                &mut argi,
                args.len(),
                &mut good_index,
                &mut reordered,
            );
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%'); // takes no operand, ignores width and precision
        } else if !good_index {
            let _ = write!(out, "%!{verb}(BADINDEX)");
        } else if argi >= args.len() {
            let _ = write!(out, "%!{verb}(MISSING)");
        } else {
            format_one(&mut out, spec, verb, &args[argi]);
            argi += 1;
        }
    }
    if !reordered && argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match a {
                V::NoValue | V::Nil => out.push_str("<nil>"),
                _ => {
                    out.push_str(type_name(a));
                    out.push('=');
                    write_v(&mut out, a);
                }
            }
        }
        out.push(')');
    }
    out
}

/// Decimal digits at `i` (a width or precision), capped at [`MAX_WIDTH`].
fn digits(b: &[u8], i: &mut usize) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d @ b'0'..=b'9') = b.get(*i) {
        let v = (d - b'0') as usize;
        n = Some(
            n.unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(v)
                .min(MAX_WIDTH),
        );
        *i += 1;
    }
    n
}

/// Go's `argNumber`: an explicit `[n]` argument index at `i`. Returns whether one was read.
fn arg_index(
    b: &[u8],
    i: &mut usize,
    argi: &mut usize,
    nargs: usize,
    good: &mut bool,
    reordered: &mut bool,
) -> bool {
    if b.get(*i) != Some(&b'[') {
        return false;
    }
    *reordered = true;
    let Some(close) = b[*i..].iter().position(|&c| c == b']') else {
        *i += 1;
        *good = false;
        return false;
    };
    let inner = &b[*i + 1..*i + close];
    *i += close + 1;
    let n = if !inner.is_empty() && inner.iter().all(u8::is_ascii_digit) && inner.len() < 10 {
        std::str::from_utf8(inner)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
    } else {
        None
    };
    match n {
        Some(n) if n >= 1 && n <= nargs => {
            *argi = n - 1;
            true
        }
        Some(_) => {
            *good = false;
            true
        }
        None => {
            *good = false;
            false
        }
    }
}

/// Go's `intFromArg` for `*` widths and precisions: consumes the argument if there is one.
fn int_arg(args: &[V], argi: &mut usize) -> Option<i64> {
    let v = args.get(*argi)?;
    *argi += 1;
    match v {
        V::Int(n) if n.unsigned_abs() <= MAX_WIDTH as u64 => Some(*n),
        _ => None,
    }
}

fn bad_verb(out: &mut String, verb: char, arg: &V) {
    match arg {
        V::NoValue | V::Nil => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        _ => {
            let _ = write!(out, "%!{verb}({}=", type_name(arg));
            write_v(out, arg);
            out.push(')');
        }
    }
}

fn format_one(out: &mut String, spec: Spec, verb: char, arg: &V) {
    if verb == 'T' {
        out.push_str(&spec.pad(type_name(arg).to_string(), false));
        return;
    }
    match arg {
        V::NoValue | V::Nil => match verb {
            'v' => out.push_str(&spec.pad("<nil>".into(), false)),
            _ => bad_verb(out, verb, arg),
        },
        V::Bool(b) => match verb {
            'v' | 't' => out.push_str(&spec.pad(b.to_string(), false)),
            _ => bad_verb(out, verb, arg),
        },
        V::Int(i) => format_int(out, spec, verb, *i, arg),
        V::Float(f) => format_float(out, spec, verb, *f, arg),
        V::Str(s) => format_str(out, spec, verb, s, arg),
        V::Ref(_) | V::Own(_) => {
            let Some(c) = arg.coll() else { return };
            format_coll(out, spec, verb, c);
        }
    }
}

fn value_to_v(v: &Value) -> V<'_> {
    V::from_value(v)
}

fn format_coll(out: &mut String, spec: Spec, verb: char, c: &Value) {
    match c {
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_one(out, spec, verb, &value_to_v(item));
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_one(out, spec, verb, &V::Str(k.as_str().into()));
                out.push(':');
                format_one(out, spec, verb, &value_to_v(item));
            }
            out.push(']');
        }
        other => format_one(out, spec, verb, &value_to_v(other)),
    }
}

fn format_int(out: &mut String, spec: Spec, verb: char, i: i64, arg: &V) {
    let neg = i < 0;
    let mag = i.unsigned_abs();
    let digits = match verb {
        'v' | 'd' => mag.to_string(),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        'o' | 'O' => format!("{mag:o}"),
        'b' => format!("{mag:b}"),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            out.push_str(&spec.pad(c.to_string(), false));
            return;
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            out.push_str(&spec.pad(quote_rune(c), false));
            return;
        }
        'U' => {
            let mut u = format!("U+{i:04X}");
            if spec.sharp {
                if let Some(c) = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .filter(|&c| is_printable(c))
                {
                    let _ = write!(u, " '{c}'");
                }
            }
            out.push_str(&spec.pad(u, false));
            return;
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => {
            bad_verb(out, verb, arg);
            return;
        }
        _ => {
            bad_verb(out, verb, arg);
            return;
        }
    };
    let mut digits = digits;
    if let Some(p) = spec.prec {
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
        if p == 0 && mag == 0 {
            digits.clear();
        }
    }
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') if !digits.starts_with('0') => "0",
        (_, 'O') => "0o",
        (true, 'b') => "0b",
        _ => "",
    };
    let s = format!("{}{}{}", spec.sign(neg), prefix, digits);
    // Zero padding is ignored when a precision is given.
    let mut sp = spec;
    if spec.prec.is_some() {
        sp.zero = false;
    }
    out.push_str(&sp.pad(s, true));
}

fn format_float(out: &mut String, spec: Spec, verb: char, f: f64, arg: &V) {
    let body = match verb {
        'v' | 'g' => float_with(f, |a| fmt_g(a, spec.prec, false)),
        'G' => float_with(f, |a| fmt_g(a, spec.prec, true)),
        'f' | 'F' => float_with(f, |a| rust_f(a, spec.prec.unwrap_or(6))),
        'e' => float_with(f, |a| fmt_e(a, Some(spec.prec.unwrap_or(6)), false)),
        'E' => float_with(f, |a| fmt_e(a, Some(spec.prec.unwrap_or(6)), true)),
        _ => {
            bad_verb(out, verb, arg);
            return;
        }
    };
    let s = if spec.plus && !body.starts_with('-') {
        format!("+{body}")
    } else if spec.space && !body.starts_with('-') {
        format!(" {body}")
    } else {
        body
    };
    let numeric = f.is_finite();
    out.push_str(&spec.pad(s, numeric));
}

fn format_str(out: &mut String, spec: Spec, verb: char, s: &str, arg: &V) {
    let s = match spec.prec {
        Some(p) if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X') => match s.char_indices().nth(p) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        _ => s,
    };
    let body = match verb {
        'v' | 's' => s.to_string(),
        'q' => {
            if spec.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                format!("`{s}`")
            } else if spec.plus {
                quote_ascii(s)
            } else {
                quote(s)
            }
        }
        'x' | 'X' => {
            let mut h = String::with_capacity(s.len() * 2);
            for (i, b) in s.bytes().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{b:02x}");
                } else {
                    let _ = write!(h, "{b:02X}");
                }
            }
            h
        }
        _ => {
            bad_verb(out, verb, arg);
            return;
        }
    };
    out.push_str(&spec.pad(body, false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn s(x: &str) -> V<'static> {
        V::Str(x.to_string().into())
    }

    #[test]
    fn quoting() {
        let cases = [
            ("abc", r#""abc""#),
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("\n\t\r", r#""\n\t\r""#),
            ("\u{7}\u{1}", r#""\a\x01""#),
            ("é", "\"é\""),
            ("\u{a0}", r#""\u00a0""#),
            ("\u{feff}", r#""\ufeff""#),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input:?}");
        }
        assert_eq!(quote_rune('a'), "'a'");
        assert_eq!(quote_rune('\''), r"'\''");
    }

    #[test]
    fn floats_like_go() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (100_000.0, "100000"),
            (1e6, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (1.23456, "1.23456"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(fmt_float(f), want, "{f}");
        }
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(sprint(&[s("a"), s("b")]), "ab");
        assert_eq!(sprint(&[V::Int(1), V::Int(2)]), "1 2");
        assert_eq!(sprint(&[s("a"), V::Int(1), V::Int(2), s("b")]), "a1 2b");
        assert_eq!(sprint(&[V::Nil]), "<nil>");
        assert_eq!(sprintln(&[s("a"), s("b")]), "a b\n");
        assert_eq!(sprintln(&[]), "\n");
    }

    #[test]
    fn printf_verbs() {
        let list = Value::List(vec![Value::String("a".into()), Value::Int(2)]);
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), Value::Bool(true));
        let map = Value::Map(m);
        let cases: Vec<(&str, Vec<V>, &str)> = vec![
            ("%s", vec![s("x")], "x"),
            ("%d", vec![V::Int(42)], "42"),
            (
                "%5d|%-5d|%05d",
                vec![V::Int(42), V::Int(42), V::Int(-42)],
                "   42|42   |-0042",
            ),
            ("%+d % d", vec![V::Int(5), V::Int(5)], "+5  5"),
            (
                "%x %X %o %b",
                vec![V::Int(255), V::Int(255), V::Int(8), V::Int(5)],
                "ff FF 10 101",
            ),
            ("%#x", vec![V::Int(255)], "0xff"),
            ("%x", vec![s("hi")], "6869"),
            ("%q", vec![s("a\"b")], r#""a\"b""#),
            ("%q", vec![V::Int(65)], "'A'"),
            ("%c", vec![V::Int(0x263A)], "☺"),
            ("%v %v", vec![V::Bool(true), V::Float(2.5)], "true 2.5"),
            ("%t", vec![V::Bool(false)], "false"),
            ("%f", vec![V::Float(1.23456)], "1.234560"),
            ("%.2f", vec![V::Float(1.23456)], "1.23"),
            ("%8.3f|", vec![V::Float(-1.23456)], "  -1.235|"),
            ("%e", vec![V::Float(1234.5678)], "1.234568e+03"),
            ("%g", vec![V::Float(1e6)], "1e+06"),
            ("%.3g", vec![V::Float(1.23456)], "1.23"),
            ("%.2s", vec![s("héllo")], "hé"),
            ("%6s|%-6s|", vec![s("ab"), s("ab")], "    ab|ab    |"),
            ("%%", vec![], "%"),
            ("100%%", vec![], "100%"),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s", vec![V::Int(3)], "%!s(int=3)"),
            ("%s", vec![V::Nil], "%!s(<nil>)"),
            ("%v", vec![V::Nil], "<nil>"),
            ("%d", vec![], "%!d(MISSING)"),
            ("%d %d", vec![V::Int(1)], "1 %!d(MISSING)"),
            ("x", vec![V::Int(1)], "x%!(EXTRA int=1)"),
            ("x", vec![s("a"), V::Int(1)], "x%!(EXTRA string=a, int=1)"),
            ("%", vec![], "%!(NOVERB)"),
            ("%v", vec![V::Ref(&list)], "[a 2]"),
            ("%s", vec![V::Ref(&list)], "[a %!s(int=2)]"),
            ("%v", vec![V::Ref(&map)], "map[k:true]"),
            (
                "%T %T",
                vec![s("a"), V::Ref(&list)],
                "string []interface {}",
            ),
            ("%.3d", vec![V::Int(7)], "007"),
            ("%[2]d %[1]d", vec![V::Int(1), V::Int(2)], "2 1"),
            ("%[1]d %d", vec![V::Int(1), V::Int(2)], "1 2"),
            ("%[3]d", vec![V::Int(1)], "%!d(BADINDEX)"),
            ("%[x]d", vec![V::Int(1)], "%!d(BADINDEX)"),
            (
                "%*d|%-*d|",
                vec![V::Int(4), V::Int(7), V::Int(3), V::Int(8)],
                "   7|8  |",
            ),
            ("%*d", vec![V::Int(-3), V::Int(7)], "7  "),
            ("%.*f", vec![V::Int(2), V::Float(1.23456)], "1.23"),
            ("%*d", vec![s("x"), V::Int(7)], "%!(BADWIDTH)7"),
            ("%5%", vec![], "%"),
            ("%+q", vec![s("é☃")], r#""\u00e9\u2603""#),
            ("%#U", vec![V::Int(0x2603)], "U+2603 '☃'"),
            ("%f", vec![V::Int(1)], "%!f(int=1)"),
        ];
        for (fmt, args, want) in cases {
            assert_eq!(sprintf(fmt, &args), want, "{fmt}");
        }
        // Found by fuzzing: precisions beyond what Rust's formatter accepts.
        let f = sprintf("%.70000f", &[V::Float(0.5)]);
        assert_eq!(f, format!("0.5{}", "0".repeat(69_999)));
        let e = sprintf("%.70000e", &[V::Float(2.0)]);
        assert_eq!(e, format!("2.{}e+00", "0".repeat(70_000)));
        assert_eq!(sprintf("%.70000g", &[V::Float(0.25)]), "0.25");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c\\<>&=\n"),
            r#"a\'b\"c\\\u003C\u003E\u0026\u003D\u000A"#
        );
        assert_eq!(query_escape("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9~");
    }
}
