//! Go's float formatting (strconv's shortest representation, `%e`, `%g` and `%v` of a
//! float64), for `gofmt`'s printing and `printf` verbs.

/// Splits the shortest decimal representation of a finite, non-negative `f` into digits and
/// the decimal exponent `dp` (value = 0.DIGITS × 10^dp), like strconv's `decimal`.
pub(super) fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` is the shortest round-trip representation, e.g. "1.2345e6".
    let s = format!("{f:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return ("0".into(), 1);
    }
    (digits.to_string(), exp + 1)
}

/// Rust's formatter takes at most 65535 digits of precision. A double's exact decimal expansion
/// ends within 1100 digits, so longer precisions are that many digits plus zeros.
const EXACT_DIGITS: usize = 1100;

/// `format!("{:.p$e}")` for any `p`.
pub(super) fn rust_e(f: f64, p: usize) -> String {
    let s = format!("{:.*e}", p.min(EXACT_DIGITS), f);
    if p <= EXACT_DIGITS {
        return s;
    }
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    format!("{m}{}e{e}", "0".repeat(p - EXACT_DIGITS))
}

/// `format!("{:.p$}")` for any `p`.
pub(super) fn rust_f(f: f64, p: usize) -> String {
    let s = format!("{:.*}", p.min(EXACT_DIGITS), f);
    if p <= EXACT_DIGITS {
        return s;
    }
    s + &"0".repeat(p - EXACT_DIGITS)
}

/// `%e` with `prec` digits after the point (None = shortest).
pub(super) fn fmt_e(f: f64, prec: Option<usize>, upper: bool) -> String {
    let (mant, exp) = match prec {
        None => {
            let (d, dp) = shortest_digits(f);
            let mant = if d.len() > 1 {
                format!("{}.{}", &d[..1], &d[1..])
            } else {
                d.clone()
            };
            (mant, if f == 0.0 { 0 } else { dp - 1 })
        }
        Some(p) => {
            let s = rust_e(f, p);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            (m.to_string(), e.parse().unwrap_or(0))
        }
    };
    let sign = if exp < 0 { '-' } else { '+' };
    let e = if upper { 'E' } else { 'e' };
    format!("{}{}{}{:02}", mant, e, sign, exp.abs())
}

/// `%g` (and `%v` with `prec == None`): strconv's 'g' format.
pub(super) fn fmt_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    let (digits, dp) = match prec {
        None => shortest_digits(f),
        Some(p) => {
            let p = p.max(1);
            let s = rust_e(f, p - 1);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let d: String = m.chars().filter(char::is_ascii_digit).collect();
            let d = d.trim_end_matches('0');
            let d = if d.is_empty() {
                "0".to_string()
            } else {
                d.to_string()
            };
            (d, e.parse::<i32>().unwrap_or(0) + 1)
        }
    };
    let eprec: i32 = match prec {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            if p > digits.len() as i32 && digits.len() as i32 >= dp {
                digits.len() as i32
            } else {
                p
            }
        }
    };
    let exp = if f == 0.0 { 0 } else { dp - 1 };
    if exp < -4 || exp >= eprec {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let sign = if exp < 0 { '-' } else { '+' };
        let e = if upper { 'E' } else { 'e' };
        return format!("{}{}{}{:02}", mant, e, sign, exp.abs());
    }
    if f == 0.0 {
        return "0".into();
    }
    // Plain decimal with exactly the significant digits.
    if dp <= 0 {
        format!("0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(dp as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    }
}

/// Go's `%v` for a float64.
pub(crate) fn fmt_float(f: f64) -> String {
    float_with(f, |a| fmt_g(a, None, false))
}

pub(super) fn float_with(f: f64, body: impl Fn(f64) -> String) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative();
    let s = body(f.abs());
    if neg {
        format!("-{s}")
    } else {
        s
    }
}
