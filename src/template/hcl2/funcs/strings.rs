//! String functions: case, trimming, substrings, splitting and joining, regular expressions
//! (RE2 syntax, which the `regex` crate follows) and `format`/`formatlist`.

use hcl::eval::FuncArgs;
use hcl::Value;

use super::{args, list, number, string, type_name, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("lower", lower),
    ("upper", upper),
    ("title", title),
    ("trimspace", trimspace),
    ("trim", trim),
    ("trimprefix", trimprefix),
    ("trimsuffix", trimsuffix),
    ("chomp", chomp),
    ("substr", substr),
    ("replace", replace),
    ("regex", regex),
    ("regexall", regexall),
    ("regex_replace", regex_replace),
    ("split", split),
    ("join", join),
    ("format", format),
    ("formatlist", formatlist),
    ("strrev", strrev),
    ("startswith", startswith),
    ("endswith", endswith),
    ("strcontains", strcontains),
    ("indent", indent),
];

fn one(a: FuncArgs) -> Result<String, String> {
    string(&args(a, 1, 1)?[0])
}
fn s(v: String) -> R {
    Ok(Value::String(v))
}
fn lower(a: FuncArgs) -> R {
    s(one(a)?.to_lowercase())
}
fn upper(a: FuncArgs) -> R {
    s(one(a)?.to_uppercase())
}
fn title(a: FuncArgs) -> R {
    let mut out = String::new();
    let mut start = true;
    for c in one(a)?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    s(out)
}
fn trimspace(a: FuncArgs) -> R {
    s(one(a)?.trim().to_string())
}
fn chomp(a: FuncArgs) -> R {
    s(one(a)?.trim_end_matches(['\n', '\r']).to_string())
}
fn strrev(a: FuncArgs) -> R {
    s(one(a)?.chars().rev().collect())
}
fn two(a: FuncArgs) -> Result<(String, String), String> {
    let v = args(a, 2, 2)?;
    Ok((string(&v[0])?, string(&v[1])?))
}
fn trim(a: FuncArgs) -> R {
    let (x, cut) = two(a)?;
    s(x.trim_matches(|c| cut.contains(c)).to_string())
}
fn trimprefix(a: FuncArgs) -> R {
    let (x, p) = two(a)?;
    s(x.strip_prefix(p.as_str()).unwrap_or(&x).to_string())
}
fn trimsuffix(a: FuncArgs) -> R {
    let (x, p) = two(a)?;
    s(x.strip_suffix(p.as_str()).unwrap_or(&x).to_string())
}
fn startswith(a: FuncArgs) -> R {
    let (x, p) = two(a)?;
    Ok(Value::Bool(x.starts_with(&p)))
}
fn endswith(a: FuncArgs) -> R {
    let (x, p) = two(a)?;
    Ok(Value::Bool(x.ends_with(&p)))
}
fn strcontains(a: FuncArgs) -> R {
    let (x, p) = two(a)?;
    Ok(Value::Bool(x.contains(&p)))
}
fn indent(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let n = number(&v[0])? as usize;
    let text = string(&v[1])?;
    let pad = " ".repeat(n);
    s(text.replace('\n', &format!("\n{pad}")))
}

fn substr(a: FuncArgs) -> R {
    let v = args(a, 3, 3)?;
    let chars: Vec<char> = string(&v[0])?.chars().collect();
    let len = chars.len() as i64;
    let mut off = number(&v[1])? as i64;
    let n = number(&v[2])? as i64;
    if off < 0 {
        off += len;
    }
    if off < 0 || off > len {
        return Err("offset out of range".into());
    }
    let end = if n < 0 { len } else { (off + n).min(len) };
    s(chars[off as usize..end.max(off) as usize].iter().collect())
}

fn compile(re: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(re)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regular expression {re:?}: {e}"))
}

fn replace(a: FuncArgs) -> R {
    let v = args(a, 3, 3)?;
    let (x, search, with) = (string(&v[0])?, string(&v[1])?, string(&v[2])?);
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = compile(&search[1..search.len() - 1])?;
        return s(re
            .replace_all(&x, go_to_rust_repl(&with).as_str())
            .into_owned());
    }
    s(x.replace(&search, &with))
}

fn regex_replace(a: FuncArgs) -> R {
    let v = args(a, 3, 3)?;
    let (x, re, with) = (string(&v[0])?, string(&v[1])?, string(&v[2])?);
    s(compile(&re)?
        .replace_all(&x, go_to_rust_repl(&with).as_str())
        .into_owned())
}

/// Go's `$1`/`${name}` replacement syntax matches the regex crate's, except that the regex crate
/// reads `$1a` as a group named `1a`, like Go. Nothing to translate.
fn go_to_rust_repl(s: &str) -> String {
    s.to_string()
}

/// One match as Packer returns it: a string without groups, a list with unnamed groups, an object
/// with named ones.
fn captures(re: &regex::Regex, c: &regex::Captures) -> Value {
    let named: Vec<&str> = re.capture_names().flatten().collect();
    if re.captures_len() == 1 {
        return Value::String(c[0].to_string());
    }
    let text =
        |m: Option<regex::Match>| m.map_or(Value::Null, |m| Value::String(m.as_str().into()));
    if !named.is_empty() {
        let mut o = hcl::Map::new();
        for n in named {
            o.insert(n.to_string(), text(c.name(n)));
        }
        return Value::Object(o);
    }
    Value::Array((1..re.captures_len()).map(|i| text(c.get(i))).collect())
}

fn regex(a: FuncArgs) -> R {
    let (re, x) = two(a)?;
    let re = compile(&re)?;
    match re.captures(&x) {
        Some(c) => Ok(captures(&re, &c)),
        None => Err("pattern did not match any part of the given string".into()),
    }
}

fn regexall(a: FuncArgs) -> R {
    let (re, x) = two(a)?;
    let re = compile(&re)?;
    Ok(Value::Array(
        re.captures_iter(&x).map(|c| captures(&re, &c)).collect(),
    ))
}

fn split(a: FuncArgs) -> R {
    let (sep, x) = two(a)?;
    Ok(Value::Array(
        x.split(sep.as_str())
            .map(|p| Value::String(p.into()))
            .collect(),
    ))
}

fn join(a: FuncArgs) -> R {
    let v = args(a, 2, usize::MAX)?;
    let sep = string(&v[0])?;
    let mut parts = Vec::new();
    for l in &v[1..] {
        for x in list(l)? {
            parts.push(string(&x)?);
        }
    }
    s(parts.join(&sep))
}

fn format(a: FuncArgs) -> R {
    let v = args(a, 1, usize::MAX)?;
    s(sprintf(&string(&v[0])?, &v[1..])?)
}

fn formatlist(a: FuncArgs) -> R {
    let v = args(a, 1, usize::MAX)?;
    let f = string(&v[0])?;
    let mut n = None;
    for x in &v[1..] {
        if let Value::Array(l) = x {
            if n.is_some_and(|n| n != l.len()) {
                return Err("all list arguments must have the same length".into());
            }
            n = Some(l.len());
        }
    }
    let n = n.unwrap_or(1);
    let mut out = Vec::new();
    for i in 0..n {
        let row: Vec<Value> = v[1..]
            .iter()
            .map(|x| match x {
                Value::Array(l) => l[i].clone(),
                o => o.clone(),
            })
            .collect();
        out.push(Value::String(sprintf(&f, &row)?));
    }
    Ok(Value::Array(out))
}

/// cty's `format`: `%%`, `%v %s %q %d %f %e %g %t %x %X %o %b` with flags, width and precision.
pub(super) fn sprintf(f: &str, vals: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = f.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = it.peek() {
            if "-+ #0".contains(f) {
                flags.push(f);
                it.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            return Err("unterminated format verb at end of string".into());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = vals.get(next) else {
            return Err(format!("not enough arguments for %{verb}"));
        };
        next += 1;
        let body = match verb {
            'v' | 's' => match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => string(v)?,
                Value::Null => "null".into(),
                other => serde_json::to_string(other).map_err(|e| e.to_string())?,
            },
            'q' => serde_json::to_string(&string(v)?).map_err(|e| e.to_string())?,
            't' => match v {
                Value::Bool(b) => b.to_string(),
                o => return Err(format!("%t requires a bool, got {}", type_name(o))),
            },
            'd' => {
                let n = number(v)?;
                if n.fract() != 0.0 {
                    return Err(format!("%d requires an integer, got {n}"));
                }
                let n = n as i64;
                if flags.contains('+') && n >= 0 {
                    format!("+{n}")
                } else {
                    n.to_string()
                }
            }
            'x' | 'X' | 'o' | 'b' => {
                let n = number(v)? as i64;
                match verb {
                    'x' => format!("{n:x}"),
                    'X' => format!("{n:X}"),
                    'o' => format!("{n:o}"),
                    _ => format!("{n:b}"),
                }
            }
            'f' => format!("{:.*}", prec.unwrap_or(6), number(v)?),
            'e' => format!("{:.*e}", prec.unwrap_or(6), number(v)?),
            'g' => number(v)?.to_string(),
            other => return Err(format!("unsupported format verb %{other}")),
        };
        let body = match (prec, verb) {
            (Some(p), 's' | 'v') => body.chars().take(p).collect(),
            _ => body,
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                out.push_str(&body);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && "dfxXeob".contains(verb) {
                let (sign, digits) = match body.strip_prefix('-') {
                    Some(d) => ("-", d),
                    None => ("", body.as_str()),
                };
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    if next < vals.len() {
        return Err(format!(
            "too many arguments; only {next} used by format string"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(j(r#"lower("HELLO")"#), r#""hello""#);
        assert_eq!(j(r#"upper("hello")"#), r#""HELLO""#);
        assert_eq!(j(r#"title("hello world")"#), r#""Hello World""#);
        assert_eq!(j(r#"trimspace("  hello\n\n")"#), r#""hello""#);
        assert_eq!(j(r#"trim("?!hello?!", "!?")"#), r#""hello""#);
        assert_eq!(j(r#"trimprefix("helloworld", "hello")"#), r#""world""#);
        assert_eq!(j(r#"trimsuffix("helloworld", "world")"#), r#""hello""#);
        assert_eq!(j(r#"chomp("hello\n\n")"#), r#""hello""#);
        assert_eq!(j(r#"substr("hello world", 1, 4)"#), r#""ello""#);
        assert_eq!(j(r#"substr("hello world", -5, -1)"#), r#""world""#);
        assert_eq!(j(r#"replace("1 + 2 + 3", "+", "-")"#), r#""1 - 2 - 3""#);
        assert_eq!(
            j(r#"replace("hello world", "/w.*d/", "everybody")"#),
            r#""hello everybody""#
        );
        assert_eq!(
            j(r#"regex("[a-z]+", "53453453.345345aaabbbccc23454")"#),
            r#""aaabbbccc""#
        );
        assert_eq!(
            j(r#"regex("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)", "2019-02-01")"#),
            r#"["2019","02","01"]"#
        );
        assert_eq!(
            j(r#"regex("^(?:(?P<scheme>[^:/?#]+):)?", "https://x")"#),
            r#"{"scheme":"https"}"#
        );
        assert_eq!(
            j(r#"regexall("[a-z]+", "1234abcd5678efgh9")"#),
            r#"["abcd","efgh"]"#
        );
        assert!(j(r#"regex("z", "abc")"#).starts_with("ERR"));
        assert_eq!(j(r#"regex_replace("a1b22", "[0-9]+", "_")"#), r#""a_b_""#);
        assert_eq!(j(r#"split(",", "foo,bar,baz")"#), r#"["foo","bar","baz"]"#);
        assert_eq!(
            j(r#"join(", ", ["foo", "bar", "baz"])"#),
            r#""foo, bar, baz""#
        );
        assert_eq!(j(r#"format("Hello, %s!", "Ander")"#), r#""Hello, Ander!""#);
        assert_eq!(
            j(r#"format("There are %d lights", 4)"#),
            r#""There are 4 lights""#
        );
        assert_eq!(
            j(r#"format("%05.2f|%-4s|%q|%%", 3.14159, "ab", "x")"#),
            r#""03.14|ab  |\"x\"|%""#
        );
        assert!(j(r#"format("%d", 1.5)"#).starts_with("ERR"));
        assert_eq!(
            j(r#"formatlist("Hello, %s!", ["Valentina", "Ander"])"#),
            r#"["Hello, Valentina!","Hello, Ander!"]"#
        );
        assert_eq!(j(r#"strrev("hello")"#), r#""olleh""#);
        assert_eq!(j(r#"startswith("hello world", "hello")"#), "true");
        assert_eq!(j(r#"endswith("hello world", "x")"#), "false");
        assert_eq!(j(r#"strcontains("hello world", "wor")"#), "true");
        assert_eq!(j(r#"indent(2, "a\nb")"#), r#""a\n  b""#);
    }
}
