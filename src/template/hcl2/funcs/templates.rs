//! `templatefile` (a file rendered as an HCL template with the given variables and every
//! function but itself), `fileset` (files under a directory matching a glob) and
//! `aws_secretsmanager`/`aws_secretsmanager_raw` (through the lookup the caller installs, the
//! same AWS SDK lookup as JSON templates' `{{aws_secretsmanager}}`).

use std::cell::RefCell;
use std::path::Path;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::Value;

use super::{args, object, string, R};
use crate::template::interp::SecretsLookup;

pub(super) const FUNCS: &[(&str, hcl::eval::Func)] = &[
    ("templatefile", templatefile),
    ("fileset", fileset),
    ("aws_secretsmanager", aws_secretsmanager),
    ("aws_secretsmanager_raw", aws_secretsmanager_raw),
];

/// Template files larger than this are refused.
const MAX_TEMPLATE: u64 = 16 << 20;
/// `fileset` stops after visiting this many directory entries.
const MAX_ENTRIES: usize = 100_000;

fn templatefile(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let path = string(&v[0])?;
    let vars = object(&v[1])?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("failed to read {path}: {e}"))?;
    if meta.len() > MAX_TEMPLATE {
        return Err(format!("{path} is larger than {MAX_TEMPLATE} bytes"));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("failed to read {path}: {e}"))?;
    if let Some(at) = super::super::limits::bracket_depth_exceeded(&text) {
        return Err(format!(
            "{path}: nesting deeper than {} levels at byte {at}",
            super::super::limits::MAX_NESTING
        ));
    }
    let t: hcl::Template = text
        .parse()
        .map_err(|e: hcl::Error| format!("{path}: invalid template: {e}"))?;
    let mut ctx = Context::new();
    super::declare(&mut ctx, false);
    ctx.declare_func(
        "templatefile",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(|_| Err("cannot call templatefile recursively".to_string())),
    );
    for (k, val) in vars {
        ctx.declare_var(k, val);
    }
    t.evaluate(&ctx)
        .map(Value::String)
        .map_err(|e| format!("{path}: {e}"))
}

fn fileset(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let base = string(&v[0])?;
    let pattern = string(&v[1])?;
    let glob = globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("failed to glob pattern {pattern:?}: {e}"))?
        .compile_matcher();
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&base)];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(format!(
                    "fileset visited more than {MAX_ENTRIES} entries under {base}"
                ));
            }
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let rel = p
                .strip_prefix(Path::new(&base))
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && glob.is_match(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::String).collect()))
}

thread_local! {
    static SECRETS: RefCell<Option<SecretsLookup>> = const { RefCell::new(None) };
}

/// Runs `f` with `lookup` answering `aws_secretsmanager` on this thread.
pub(crate) fn with_secrets<T>(lookup: Option<SecretsLookup>, f: impl FnOnce() -> T) -> T {
    let before = SECRETS.with(|s| s.replace(lookup));
    let out = f();
    SECRETS.with(|s| *s.borrow_mut() = before);
    out
}

fn lookup(name: &str, key: Option<&str>) -> R {
    let l = SECRETS.with(|s| s.borrow().clone());
    match l {
        Some(l) => l(name, key).map(Value::String),
        None => Err("AWS Secrets Manager is not available here".into()),
    }
}

fn aws_secretsmanager(a: FuncArgs) -> R {
    let v = args(a, 2, 2)?;
    let name = string(&v[0])?;
    match &v[1] {
        Value::Null => lookup(&name, None),
        k => lookup(&name, Some(&string(k)?)),
    }
}

fn aws_secretsmanager_raw(a: FuncArgs) -> R {
    let name = string(&args(a, 1, 1)?[0])?;
    lookup(&name, None)
}

#[cfg(test)]
mod tests {
    use super::super::testing::j;
    use super::*;

    #[test]
    fn templatefile_and_fileset() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("t.tpl"),
            "%{ for ip in ips ~}\nserver ${ip}:${port}\n%{ endfor ~}\nname=${upper(name)}",
        )
        .unwrap();
        assert_eq!(
            j(&format!(
                r#"templatefile("{d}/t.tpl", {{ ips = ["10.0.0.1", "10.0.0.2"], port = 80, name = "x" }})"#
            )),
            r#""server 10.0.0.1:80\nserver 10.0.0.2:80\nname=X""#
        );
        std::fs::write(dir.path().join("r.tpl"), "${templatefile(\"x\", {})}").unwrap();
        assert!(j(&format!(r#"templatefile("{d}/r.tpl", {{}})"#)).contains("recursively"));
        std::fs::write(dir.path().join("u.tpl"), "${nope}").unwrap();
        assert!(j(&format!(r#"templatefile("{d}/u.tpl", {{}})"#)).starts_with("ERR"));
        std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        for f in ["a.txt", "b.sh", "sub/c.txt", "sub/deeper/d.txt"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        assert_eq!(j(&format!(r#"fileset("{d}", "*.txt")"#)), r#"["a.txt"]"#);
        assert_eq!(
            j(&format!(r#"fileset("{d}", "**/*.txt")"#)),
            r#"["a.txt","sub/c.txt","sub/deeper/d.txt"]"#
        );
        assert_eq!(
            j(&format!(r#"fileset("{d}", "sub/*")"#)),
            r#"["sub/c.txt"]"#
        );
        assert_eq!(j(&format!(r#"fileset("{d}/none", "*")"#)), "[]");
    }

    #[test]
    fn secrets_go_through_the_installed_lookup() {
        assert!(j(r#"aws_secretsmanager("db", "pw")"#).contains("not available"));
        let l: SecretsLookup =
            std::sync::Arc::new(|name: &str, key: Option<&str>| match (name, key) {
                ("db", Some("pw")) => Ok("s3cret".into()),
                ("db", None) => Ok("{\"pw\":\"s3cret\"}".into()),
                _ => Err(format!(
                    "ResourceNotFoundException: secret {name} not found"
                )),
            });
        with_secrets(Some(l), || {
            assert_eq!(j(r#"aws_secretsmanager("db", "pw")"#), r#""s3cret""#);
            assert_eq!(
                j(r#"aws_secretsmanager_raw("db")"#),
                r#""{\"pw\":\"s3cret\"}""#
            );
            assert!(j(r#"aws_secretsmanager("x", "pw")"#).contains("ResourceNotFoundException"));
        });
        assert!(j(r#"aws_secretsmanager_raw("db")"#).contains("not available"));
    }
}
