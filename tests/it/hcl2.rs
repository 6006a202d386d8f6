//! HCL2 templates through the real binary: `validate` of the shipped template, and the plan of
//! an HCL2 twin equal to its JSON original (`inspect -machine-readable`, variable lines aside:
//! HCL2 resolves variables before the plan).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rpack(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .expect("running rpack");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_template_validates() {
    let t = root().join("templates/tara-ebcustom-platform.pkr.hcl");
    let (code, out, err) = rpack(&root(), &["validate", t.to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let j = root().join("templates/tara-ebcustom-platform.json");
    let (jcode, jout, jerr) = rpack(&root(), &["validate", j.to_str().unwrap()]);
    assert_eq!((code, out, err), (jcode, jout, jerr));
}

/// The plan lines of `inspect -machine-readable`: timestamps and variable lines dropped.
pub(crate) fn plan_lines(text: &str) -> Vec<String> {
    let mut skip_vars = false;
    let mut out = Vec::new();
    for l in text.lines() {
        let rest = l.split_once(',').map_or(l, |(_, r)| r).to_string();
        if rest.contains("variables") || rest.contains("Variables") {
            skip_vars = true;
            continue;
        }
        if rest.contains("Builders:") {
            skip_vars = false;
        }
        if skip_vars || rest.contains("template-variable") || rest.contains("Packer Inspect") {
            continue;
        }
        out.push(rest);
    }
    out
}

#[test]
fn hcl2_twin_has_the_json_plan() {
    let dir = root().join("tests/fixtures/hcl2");
    let (c1, json, e1) = rpack(&dir, &["inspect", "-machine-readable", "null_twin.json"]);
    let (c2, hcl, e2) = rpack(&dir, &["inspect", "-machine-readable", "null_twin.pkr.hcl"]);
    assert_eq!((c1, c2), (0, 0), "{e1}\n{e2}");
    assert!(plan_lines(&json)
        .iter()
        .any(|l| l.contains("template-builder,null.only,null")));
    assert_eq!(plan_lines(&json), plan_lines(&hcl));
}

#[test]
fn hcl_json_syntax_twin_has_the_json_plan() {
    let dir = root().join("tests/fixtures/hcl2");
    let (c1, json, e1) = rpack(&dir, &["inspect", "-machine-readable", "null_twin.json"]);
    let (c2, hj, e2) = rpack(
        &dir,
        &["inspect", "-machine-readable", "null_twin.pkr.json"],
    );
    assert_eq!((c1, c2), (0, 0), "{e1}\n{e2}");
    assert_eq!(plan_lines(&json), plan_lines(&hj));
    let (c3, out, err) = rpack(&dir, &["validate", "null_twin.pkr.json"]);
    assert_eq!(c3, 0, "{out}{err}");
}

#[test]
fn errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.pkr.hcl"),
        "source \"null\" \"a\" {\n  communicator = nope(1)\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    )
    .unwrap();
    let (code, _, err) = rpack(dir.path(), &["validate", "bad.pkr.hcl"]);
    assert_eq!(code, 1);
    assert!(err.contains("Error: Call to unknown function"), "{err}");
    assert!(err.contains("on bad.pkr.hcl:2:18:"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = rpack(empty.path(), &["validate", "."]);
    assert_eq!(code, 1);
    assert!(err.contains("Could not find any config file in ."), "{err}");
}
