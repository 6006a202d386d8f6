//! The rest of Packer's list: YAML and CSV decoding (YAML through `template::yaml`, the one YAML
//! module), gzip and UTF-16 text encodings, UUIDv5, `setproduct`, time parsing and arithmetic,
//! and the functions that need a service rpack does not talk to here (`vault`, `consul_key`,
//! `bcrypt`, `rsadecrypt`: errors that say so).

use std::io::Write as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{args, list, num, number, string, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("yamlencode", yamlencode),
    ("yamldecode", yamldecode),
    ("csvdecode", csvdecode),
    ("base64gzip", base64gzip),
    ("textencodebase64", textencodebase64),
    ("textdecodebase64", textdecodebase64),
    ("uuidv5", uuidv5),
    ("setproduct", setproduct),
    ("timeadd", timeadd),
    ("rfc3339_parse", rfc3339_parse),
    ("unix_timestamp_parse", unix_timestamp_parse),
    ("vault", vault),
    ("consul_key", consul_key),
    ("bcrypt", bcrypt),
    ("rsadecrypt", rsadecrypt),
];

fn yamlencode(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    Ok(Value::String(crate::template::yaml::encode_cty(
        &cty(&v[0]),
    )))
}

/// An HCL value in the YAML module's cty shape.
fn cty(v: &Value) -> crate::template::yaml::Cty {
    use crate::template::yaml::Cty;
    match v {
        Value::Null => Cty::Null,
        Value::Bool(b) => Cty::Bool(*b),
        Value::Number(n) => Cty::Number(super::number_text(n)),
        Value::String(s) => Cty::String(s.clone()),
        Value::Array(a) => Cty::Seq(a.iter().map(cty).collect()),
        Value::Object(o) => Cty::Map(o.iter().map(|(k, x)| (k.clone(), cty(x))).collect()),
    }
}

fn yamldecode(a: FuncArgs) -> R {
    let s = string(&args(a, 1, 1)?[0])?;
    let v: crate::template::yaml::Value = crate::template::yaml::decode(&s)?;
    yaml_value(v)
}

/// YAML values as HCL values: keys become strings, tagged values lose their tag.
fn yaml_value(v: crate::template::yaml::Value) -> R {
    use crate::template::yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => num(n.as_f64().unwrap_or(0.0)),
        },
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_value)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut o = hcl::Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".into(),
                    _ => return Err("yamldecode: only scalar mapping keys are supported".into()),
                };
                o.insert(key, yaml_value(v)?);
            }
            Value::Object(o)
        }
        Y::Tagged(t) => yaml_value(t.value)?,
    })
}

/// RFC 4180 CSV with a header row: a list of objects keyed by the header.
fn csvdecode(a: FuncArgs) -> R {
    let s = string(&args(a, 1, 1)?[0])?;
    let rows = csv_rows(&s)?;
    let Some((head, body)) = rows.split_first() else {
        return Ok(Value::Array(Vec::new()));
    };
    let mut out = Vec::new();
    for (i, r) in body.iter().enumerate() {
        if r.len() != head.len() {
            return Err(format!(
                "CSV row {} has {} fields; the header has {}",
                i + 2,
                r.len(),
                head.len()
            ));
        }
        let o: hcl::Map<String, Value> = head
            .iter()
            .cloned()
            .zip(r.iter().cloned().map(Value::String))
            .collect();
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

fn csv_rows(s: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err("CSV: a quoted field is not closed".into());
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

fn base64gzip(a: FuncArgs) -> R {
    let s = string(&args(a, 1, 1)?[0])?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(s.as_bytes()).map_err(|e| e.to_string())?;
    let bytes = gz.finish().map_err(|e| e.to_string())?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// The encodings rpack converts: UTF-8 and UTF-16 (LE, BE).
fn encoding(name: &str) -> Result<&'static str, String> {
    match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok("UTF-8"),
        "UTF-16LE" | "UTF16LE" => Ok("UTF-16LE"),
        "UTF-16BE" | "UTF16BE" => Ok("UTF-16BE"),
        _ => Err(format!(
            "unsupported encoding {name:?}; rpack supports UTF-8, UTF-16LE and UTF-16BE"
        )),
    }
}

fn textencodebase64(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let s = string(&v[0])?;
    let bytes: Vec<u8> = match encoding(&string(&v[1])?)? {
        "UTF-8" => s.into_bytes(),
        "UTF-16LE" => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        _ => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    };
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

fn textdecodebase64(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(string(&v[0])?)
        .map_err(|e| format!("invalid base64: {e}"))?;
    let enc = encoding(&string(&v[1])?)?;
    let text = if enc == "UTF-8" {
        String::from_utf8(bytes).map_err(|_| "the bytes are not valid UTF-8".to_string())?
    } else {
        if bytes.len() % 2 != 0 {
            return Err(format!("the bytes are not valid {enc} (odd length)"));
        }
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| {
                if enc == "UTF-16LE" {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| format!("the bytes are not valid {enc}"))?
    };
    Ok(Value::String(text))
}

/// RFC 4122 version 5: SHA-1 of the namespace and the name.
fn uuidv5(a: FuncArgs) -> R {
    use sha1::Digest as _;
    let v = args(a, 2, 2)?;
    let ns = string(&v[0])?;
    let name = string(&v[1])?;
    let ns = match ns.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|e| format!("uuidv5() doesn't support namespace {other:?}: {e}"))?,
    };
    let mut h = sha1::Sha1::new();
    h.update(ns.as_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Ok(Value::String(
        uuid::Builder::from_sha1_bytes(b).into_uuid().to_string(),
    ))
}

fn setproduct(a: FuncArgs) -> R {
    let v = args(a, 1, usize::MAX)?;
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for s in &v {
        let items = list(s)?;
        let mut next = Vec::new();
        for prefix in &acc {
            for it in &items {
                let mut p = prefix.clone();
                p.push(it.clone());
                next.push(p);
            }
        }
        if next.len() > 1_000_000 {
            return Err("setproduct: the product has more than 1,000,000 elements".into());
        }
        acc = next;
    }
    Ok(Value::Array(acc.into_iter().map(Value::Array).collect()))
}

fn rfc3339(s: &str) -> Result<DateTime<chrono::FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("not a valid RFC3339 timestamp: {s:?} ({e})"))
}

fn timeadd(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let t = rfc3339(&string(&v[0])?)?;
    let nanos = crate::gocompat::time::parse_duration_nanos(&string(&v[1])?)?;
    let d = chrono::Duration::nanoseconds(nanos.round() as i64);
    let r = t
        .checked_add_signed(d)
        .ok_or("timeadd: the result is out of range")?;
    Ok(Value::String(
        r.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    ))
}

/// The parts of an RFC 3339 timestamp as an object (Packer's `rfc3339_parse`).
fn rfc3339_parse(a: FuncArgs) -> R {
    let t = rfc3339(&string(&args(a, 1, 1)?[0])?)?;
    parts(t)
}

fn unix_timestamp_parse(a: FuncArgs) -> R {
    let n = number(&args(a, 1, 1)?[0])?;
    let t = DateTime::<Utc>::from_timestamp(n as i64, 0).ok_or("timestamp out of range")?;
    parts(t.fixed_offset())
}

fn parts(t: DateTime<chrono::FixedOffset>) -> R {
    use chrono::{Datelike, Timelike};
    let mut o = hcl::Map::new();
    o.insert("year".into(), Value::from(i64::from(t.year())));
    o.insert("month".into(), Value::from(i64::from(t.month())));
    o.insert("day".into(), Value::from(i64::from(t.day())));
    o.insert("hour".into(), Value::from(i64::from(t.hour())));
    o.insert("minute".into(), Value::from(i64::from(t.minute())));
    o.insert("second".into(), Value::from(i64::from(t.second())));
    o.insert("unix".into(), Value::from(t.timestamp()));
    o.insert(
        "iso_year".into(),
        Value::from(i64::from(t.iso_week().year())),
    );
    o.insert(
        "iso_week".into(),
        Value::from(i64::from(t.iso_week().week())),
    );
    o.insert(
        "week_day".into(),
        Value::from(i64::from(t.weekday().num_days_from_sunday())),
    );
    o.insert("year_day".into(), Value::from(i64::from(t.ordinal())));
    Ok(Value::Object(o))
}

fn unavailable(name: &str, why: &str) -> R {
    Err(format!("{name}() is not available in rpack: {why}"))
}

fn vault(_: FuncArgs) -> R {
    unavailable("vault", "rpack has no Vault client; pass the secret in a sensitive variable (PKR_VAR_name or a var file)")
}

fn consul_key(_: FuncArgs) -> R {
    unavailable(
        "consul_key",
        "rpack has no Consul client; pass the value in a variable",
    )
}

fn bcrypt(_: FuncArgs) -> R {
    unavailable("bcrypt", "rpack does not hash passwords; compute the hash beforehand and pass it in a sensitive variable")
}

fn rsadecrypt(_: FuncArgs) -> R {
    unavailable("rsadecrypt", "rpack does not decrypt with RSA keys; decrypt beforehand and pass the value in a sensitive variable")
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(j(r#"yamldecode("hello: world")"#), r#"{"hello":"world"}"#);
        assert_eq!(
            j(r#"yamldecode("- a\n- 2\n- true\n- null")"#),
            r#"["a",2,true,null]"#
        );
        assert_eq!(
            j(r#"yamlencode({a = "b", c = [1, 2]})"#),
            r#""\"a\": \"b\"\n\"c\":\n- 1\n- 2\n""#
        );
        assert_eq!(
            j(r#"yamldecode(yamlencode({x = {y = "z"}}))"#),
            r#"{"x":{"y":"z"}}"#
        );
        assert!(j(&format!("yamldecode(\"{}\")", "[".repeat(500))).contains("nested deeper"));
        assert_eq!(
            j(r#"csvdecode("a,b,c\n1,2,3\n4,\"5,x\",6\n")"#),
            r#"[{"a":"1","b":"2","c":"3"},{"a":"4","b":"5,x","c":"6"}]"#
        );
        assert!(j(r#"csvdecode("a,b\n1\n")"#).starts_with("ERR"));
        assert_eq!(
            j(r#"uuidv5("dns", "www.terraform.io")"#),
            r#""a5008fae-b28c-5ba5-96cd-82b4c53552d6""#
        );
        assert_eq!(
            j(r#"uuidv5("url", "https://www.terraform.io/")"#),
            r#""9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5""#
        );
        assert_eq!(
            j(r#"uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.terraform.io")"#),
            r#""a5008fae-b28c-5ba5-96cd-82b4c53552d6""#
        );
        assert_eq!(
            j(r#"setproduct(["development", "staging"], ["app1", "app2"])"#),
            r#"[["development","app1"],["development","app2"],["staging","app1"],["staging","app2"]]"#
        );
        assert_eq!(
            j(r#"timeadd("2017-11-22T00:00:00Z", "10m")"#),
            r#""2017-11-22T00:10:00Z""#
        );
        assert_eq!(
            j(r#"timeadd("2017-11-22T00:00:00Z", "-1h30m")"#),
            r#""2017-11-21T22:30:00Z""#
        );
        assert!(j(r#"timeadd("2017-11-22T00:00:00Z", "1d")"#).starts_with("ERR"));
        assert_eq!(
            j(r#"textencodebase64("Hello World", "UTF-16LE")"#),
            r#""SABlAGwAbABvACAAVwBvAHIAbABkAA==""#
        );
        assert_eq!(
            j(r#"textdecodebase64("SABlAGwAbABvACAAVwBvAHIAbABkAA==", "UTF-16LE")"#),
            r#""Hello World""#
        );
        assert!(j(r#"base64gzip("hello")"#).starts_with("\"H4sI"));
        assert_eq!(j(r#"rfc3339_parse("2023-01-02T03:04:05Z").year_day"#), "2");
        assert_eq!(j(r"unix_timestamp_parse(0).year"), "1970");
        assert!(j(r#"vault("a", "b")"#).contains("not available in rpack"));
    }
}
