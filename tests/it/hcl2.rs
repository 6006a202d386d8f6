//! HCL2 templates through the real binary: `validate` of the shipped template, and the plan of
//! an HCL2 twin equal to its JSON original (the same `build` output and manifest).

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

/// What `build -machine-readable` of `template` (a copy of the `null_twin` fixtures, in a
/// fresh directory) prints, run-specific parts (timestamps, temporary script names, durations)
/// taken off, and the manifest's build entry. (`inspect` shows an HCL2 template's own view, so
/// the plans are compared by what they do.)
fn build_lines(template: &str) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["null_twin.json", "null_twin.pkr.hcl", "null_twin.pkr.json"] {
        std::fs::copy(
            root().join("tests/fixtures/hcl2").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    let (code, out, err) = rpack(dir.path(), &["build", "-machine-readable", template]);
    assert_eq!(code, 0, "{template}: {out}{err}");
    let lines = out
        .lines()
        .map(|l| {
            let rest = l.split_once(',').map_or(l, |(_, r)| r);
            let rest = rest.split(" after ").next().unwrap_or(rest);
            match rest.find("/packer-shell") {
                Some(i) => rest[..i].to_string(),
                None => rest.to_string(),
            }
        })
        .collect();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    let b = &manifest["builds"][0];
    (
        lines,
        format!("{} {} {}", b["name"], b["builder_type"], b["artifact_id"]),
    )
}

#[test]
fn hcl2_twin_has_the_json_plan() {
    let json = build_lines("null_twin.json");
    assert!(
        json.0.iter().any(|l| l == ",ui,message,    null.only: hi"),
        "{json:?}"
    );
    assert_eq!(json.1, r#""null.only" "null" "Null""#);
    let hcl = build_lines("null_twin.pkr.hcl");
    assert_eq!(json.0, hcl.0);
    // The manifest's `name` is the build name a plugin sees: the JSON builder's name, and in
    // HCL2 the source's name (`source "null" "only"`), as in Packer.
    assert_eq!(hcl.1, r#""only" "null" "Null""#);
}

#[test]
fn hcl_json_syntax_twin_has_the_json_plan() {
    let (json, hcl) = (
        build_lines("null_twin.json"),
        build_lines("null_twin.pkr.json"),
    );
    assert_eq!(json.0, hcl.0);
    assert_eq!(hcl.1, r#""only" "null" "Null""#);
    let dir = root().join("tests/fixtures/hcl2");
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

/// On a terminal, diagnostics are drawn in colour (bold red `Error:`, red caret); with
/// `PACKER_NO_COLOR`, with `build -color=false` and off a terminal they are plain text.
/// `script(1)` gives rpack a pseudo-terminal.
#[test]
fn diagnostics_are_coloured_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.pkr.hcl"),
        "source \"null\" \"a\" {\n  communicator = nope(1)\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    )
    .unwrap();
    let on_tty = |args: &str, no_colour: bool| {
        let mut c = std::process::Command::new("script");
        c.current_dir(dir.path())
            .args(["-q", "-e", "-c"])
            .arg(format!("'{}' {args}", env!("CARGO_BIN_EXE_rpack")))
            .arg("/dev/null")
            .env_remove("PACKER_NO_COLOR")
            .env_remove("NO_COLOR");
        if no_colour {
            c.env("PACKER_NO_COLOR", "1");
        }
        let out = c.output().expect("script(1) from util-linux");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = on_tty("validate bad.pkr.hcl", false);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("\x1b[1;31mError: Call to unknown function\x1b[0m"),
        "{text:?}"
    );
    assert!(text.contains("\x1b[31m"), "{text:?}");
    assert!(text.contains("on bad.pkr.hcl:2:18:"), "{text:?}");
    for (args, no_colour) in [
        ("validate bad.pkr.hcl", true),
        ("build -color=false bad.pkr.hcl", false),
    ] {
        let (code, text) = on_tty(args, no_colour);
        assert_eq!(code, Some(1), "{args}: {text}");
        assert!(text.contains("Error: Call to unknown function"), "{text:?}");
        assert!(!text.contains('\x1b'), "{args}: {text:?}");
    }
    let (code, _, err) = rpack(dir.path(), &["validate", "bad.pkr.hcl"]);
    assert_eq!(code, 1);
    assert!(!err.contains('\x1b'), "{err:?}");
}

#[test]
fn plan_errors_of_a_directory_name_the_file_they_are_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.pkr.hcl"),
        "build {\n  sources = [\"source.null.a\"]\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.pkr.hcl"),
        "# the source\nsource \"null\" \"a\" {\n  communicator = \"ssh\"\n  ssh_host     = \"127.0.0.1\"\n  ssh_username = \"u\"\n  ssh_password = \"p\"\n  ssh_port     = \"x\"\n}\n",
    )
    .unwrap();
    let (code, _, err) = rpack(dir.path(), &["validate", "."]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot parse 'ssh_port' as int"), "{err}");
    assert!(err.contains("(./b.pkr.hcl:7:3)"), "{err}");
    assert!(!err.contains("a.pkr.hcl:"), "{err}");
    // Unknown plugin keys are HCL diagnostics in the file they are written in.
    std::fs::write(
        dir.path().join("b.pkr.hcl"),
        "source \"null\" \"a\" {\n  communicator = \"none\"\n  bogus        = 1\n}\n",
    )
    .unwrap();
    let (code, _, err) = rpack(dir.path(), &["validate", "."]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Error: Unsupported argument\n\n  on ./b.pkr.hcl:3:3:"),
        "{err}"
    );
}
