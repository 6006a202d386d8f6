//! File and path functions. Relative paths are relative to the current directory, as in Packer
//! (templates use `"${path.root}/x"` to be independent of it).

use base64::Engine as _;
use hcl::eval::FuncArgs;
use hcl::Value;

use super::{args, string, R};

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("file", file),
    ("filebase64", filebase64),
    ("fileexists", fileexists),
    ("abspath", abspath),
    ("basename", basename),
    ("dirname", dirname),
    ("pathexpand", pathexpand),
];

/// Files read by `file()` larger than this are refused.
const MAX_FILE: u64 = 16 << 20;

fn one(a: FuncArgs) -> Result<String, String> {
    string(&args(a, 1, 1)?[0])
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    let p = expand(path);
    let meta = std::fs::metadata(&p).map_err(|e| format!("failed to read {path}: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!("{path} is larger than {MAX_FILE} bytes"));
    }
    std::fs::read(&p).map_err(|e| format!("failed to read {path}: {e}"))
}

fn file(a: FuncArgs) -> R {
    let path = one(a)?;
    String::from_utf8(read(&path)?)
        .map(Value::String)
        .map_err(|_| format!("contents of {path} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"))
}

fn filebase64(a: FuncArgs) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(read(&one(a)?)?),
    ))
}

fn fileexists(a: FuncArgs) -> R {
    let path = one(a)?;
    match std::fs::metadata(expand(&path)) {
        Ok(m) if m.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(format!(
            "{path} is not a regular file, but {:?}",
            "directory"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(format!("failed to stat {path}: {e}")),
    }
}

fn expand(p: &str) -> String {
    match (p.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => p.to_string(),
    }
}

fn abspath(a: FuncArgs) -> R {
    let p = one(a)?;
    let abs = std::path::absolute(&p).map_err(|e| e.to_string())?;
    Ok(Value::String(clean(&abs.to_string_lossy())))
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub(crate) fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let s = parts.join("/");
    match (rooted, s.is_empty()) {
        (true, _) => format!("/{s}"),
        (false, true) => ".".into(),
        _ => s,
    }
}

fn basename(a: FuncArgs) -> R {
    let p = one(a)?;
    let t = p.trim_end_matches('/');
    let b = if t.is_empty() {
        if p.is_empty() {
            "."
        } else {
            "/"
        }
    } else {
        t.rsplit('/').next().unwrap_or(t)
    };
    Ok(Value::String(b.to_string()))
}

fn dirname(a: FuncArgs) -> R {
    let p = one(a)?;
    let d = match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    };
    Ok(Value::String(d))
}

fn pathexpand(a: FuncArgs) -> R {
    Ok(Value::String(expand(&one(a)?)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;

    #[test]
    fn documented_examples() {
        assert_eq!(j(r#"basename("foo/bar/baz.txt")"#), r#""baz.txt""#);
        assert_eq!(j(r#"dirname("foo/bar/baz.txt")"#), r#""foo/bar""#);
        assert_eq!(j(r#"dirname("baz.txt")"#), r#"".""#);
        assert_eq!(j(r#"abspath("/a/b/../c")"#), r#""/a/c""#);
        assert_eq!(j(r#"fileexists("/nonexistent/x")"#), "false");
        assert_eq!(j(r#"fileexists("Cargo.toml")"#), "true");
        assert!(j(r#"file("/nonexistent/x")"#).starts_with("ERR"));
        assert!(j(r#"file("Cargo.toml")"#).contains("[package]"));
        std::env::var("HOME").unwrap();
        assert_eq!(j(r#"pathexpand("~/x") == "${env("HOME")}/x""#), "true");
    }
}
