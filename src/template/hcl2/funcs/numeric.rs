//! Numeric functions.

use hcl::eval::FuncArgs;

use super::{args, num, number, string, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("abs", abs),
    ("ceil", ceil),
    ("floor", floor),
    ("signum", signum),
    ("min", min),
    ("max", max),
    ("pow", pow),
    ("log", log),
    ("parseint", parseint),
];

fn one(a: FuncArgs) -> Result<f64, String> {
    number(&args(a, 1, 1)?[0])
}
fn abs(a: FuncArgs) -> R {
    Ok(num(one(a)?.abs()))
}
fn ceil(a: FuncArgs) -> R {
    Ok(num(one(a)?.ceil()))
}
fn floor(a: FuncArgs) -> R {
    Ok(num(one(a)?.floor()))
}
fn signum(a: FuncArgs) -> R {
    let n = one(a)?;
    Ok(num(if n > 0.0 {
        1.0
    } else if n < 0.0 {
        -1.0
    } else {
        0.0
    }))
}
fn all(a: FuncArgs) -> Result<Vec<f64>, String> {
    let v = args(a, 1, usize::MAX)?;
    v.iter().map(number).collect()
}
fn min(a: FuncArgs) -> R {
    Ok(num(all(a)?.into_iter().fold(f64::INFINITY, f64::min)))
}
fn max(a: FuncArgs) -> R {
    Ok(num(all(a)?.into_iter().fold(f64::NEG_INFINITY, f64::max)))
}
fn pow(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    Ok(num(number(&v[0])?.powf(number(&v[1])?)))
}
fn log(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    Ok(num(number(&v[0])?.ln() / number(&v[1])?.ln()))
}
fn parseint(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let s = string(&v[0])?;
    let base = number(&v[1])? as u32;
    if !(2..=62).contains(&base) {
        return Err(format!("invalid base {base}: must be between 2 and 62"));
    }
    if base > 36 {
        return Err("bases above 36 are not supported by rpack".into());
    }
    i64::from_str_radix(&s, base)
        .map(|n| num(n as f64))
        .map_err(|_| format!("cannot parse {s:?} as a base {base} integer"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(j("abs(-12.4)"), "12.4");
        assert_eq!(j("ceil(4.1)"), "5");
        assert_eq!(j("floor(4.9)"), "4");
        assert_eq!(j("signum(-13)"), "-1");
        assert_eq!(j("min(12, 54, 3)"), "3");
        assert_eq!(j("max(12, 54, 3)"), "54");
        assert_eq!(j("pow(3, 2)"), "9");
        assert_eq!(j("log(16, 2)"), "4");
        assert_eq!(j(r#"parseint("100", 10)"#), "100");
        assert_eq!(j(r#"parseint("FF", 16)"#), "255");
        assert_eq!(j(r#"parseint("-10", 16)"#), "-16");
        assert_eq!(j(r#"parseint("11", 2)"#), "3");
        assert!(j(r#"parseint("12", 2)"#).starts_with("ERR"));
    }
}
