//! Encoding and hashing functions: JSON, base64, URL encoding, digests, UUIDs.

use base64::Engine as _;
use hcl::eval::FuncArgs;
use hcl::Value;
use sha2::Digest as _;

use super::{args, string, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("jsonencode", jsonencode),
    ("jsondecode", jsondecode),
    ("base64encode", base64encode),
    ("base64decode", base64decode),
    ("urlencode", urlencode),
    ("md5", md5),
    ("sha1", sha1),
    ("sha256", sha256),
    ("sha512", sha512),
    ("uuidv4", uuidv4),
];

fn one(a: FuncArgs) -> Result<String, String> {
    string(&args(a, 1, 1)?[0])
}

fn jsonencode(a: FuncArgs) -> R {
    let v = args(a, 1, 1)?;
    serde_json::to_string(&v[0])
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn jsondecode(a: FuncArgs) -> R {
    let s = one(a)?;
    serde_json::from_str::<Value>(&s).map_err(|e| format!("invalid JSON: {e}"))
}

fn base64encode(a: FuncArgs) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(one(a)?),
    ))
}

fn base64decode(a: FuncArgs) -> R {
    let b = base64::engine::general_purpose::STANDARD
        .decode(one(a)?)
        .map_err(|e| format!("failed to decode base64 data: {e}"))?;
    String::from_utf8(b)
        .map(Value::String)
        .map_err(|_| "the result of decoding the provided string is not valid UTF-8".into())
}

fn urlencode(a: FuncArgs) -> R {
    let mut out = String::new();
    for b in one(a)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

fn md5(a: FuncArgs) -> R {
    Ok(Value::String(hex::encode(md5::Md5::digest(one(a)?))))
}
fn sha1(a: FuncArgs) -> R {
    Ok(Value::String(hex::encode(sha1::Sha1::digest(one(a)?))))
}
fn sha256(a: FuncArgs) -> R {
    Ok(Value::String(hex::encode(sha2::Sha256::digest(one(a)?))))
}
fn sha512(a: FuncArgs) -> R {
    Ok(Value::String(hex::encode(sha2::Sha512::digest(one(a)?))))
}
fn uuidv4(a: FuncArgs) -> R {
    args(a, 0, 0)?;
    Ok(Value::String(uuid::Uuid::new_v4().to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(
            j(r#"jsonencode({"hello"="world"})"#),
            r#""{\"hello\":\"world\"}""#
        );
        assert_eq!(
            j(r#"jsondecode("{\"hello\": \"world\"}")"#),
            r#"{"hello":"world"}"#
        );
        assert_eq!(j(r#"jsondecode("true")"#), "true");
        assert_eq!(j(r#"base64encode("Hello World")"#), r#""SGVsbG8gV29ybGQ=""#);
        assert_eq!(j(r#"base64decode("SGVsbG8gV29ybGQ=")"#), r#""Hello World""#);
        assert!(j(r#"base64decode("!!")"#).starts_with("ERR"));
        assert_eq!(j(r#"urlencode("Hello World!")"#), r#""Hello+World%21""#);
        assert_eq!(
            j(r#"md5("hello world")"#),
            r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#
        );
        assert_eq!(
            j(r#"sha1("hello world")"#),
            r#""2aae6c35c94fcfb415dbe95f408b9ce91ee846ed""#
        );
        assert_eq!(
            j(r#"sha256("hello world")"#),
            r#""b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9""#
        );
        assert!(j(r#"sha512("hello world")"#).starts_with("\"309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"));
        assert_eq!(j("length(uuidv4())"), "36");
    }
}
