//! Who rpack is run as (issue #21): called as `packer` (a link named packer) its command line is
//! Packer 1.6.6's byte for byte, checked side by side with the real `packer`; called as `rpack`
//! it documents and honours its own `-strict`. Also `build`'s undefined-variable warnings and
//! `console` reading a file (`< file`) and templates without builders.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fidelity::{as_packer, packer, packer_flag_error};

fn rpack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rpack"))
}

/// Where a run's standard input comes from.
pub(crate) enum Input<'a> {
    Null,
    /// A regular file (`< file`), not a pipe.
    File(&'a Path),
    /// A pipe fed with this text.
    Pipe(&'a str),
}

#[derive(Debug, PartialEq)]
pub(crate) struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin args` in `dir` with an empty HOME, no version check and only `env` set.
pub(crate) fn exec(
    bin: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Input,
) -> Out {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(match input {
        Input::Null => Stdio::null(),
        Input::File(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        Input::Pipe(_) => Stdio::piped(),
    });
    let mut child = cmd.spawn().unwrap();
    if let Input::Pipe(text) = input {
        use std::io::Write;
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// stdout and stderr of `bin args` through one pipe, in the order they were written.
fn merged(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut all = vec!["-c", "exec \"$0\" \"$@\" 2>&1"];
    let bin = bin.to_string_lossy();
    all.push(&bin);
    all.extend_from_slice(args);
    let o = exec(Path::new("sh"), dir, &all, env, Input::Null);
    (o.code, o.stdout)
}

const TEMPLATE: &str = r#"{
  "variables": {"a": "A1", "b": "{{user `a`}}-b"},
  "builders": [{"type": "file", "target": "out.txt", "content": "x"}]
}
"#;

/// A temp dir with `x.json` (a valid template).
pub(crate) fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), TEMPLATE).unwrap();
    dir
}

#[test]
fn as_packer_the_command_line_is_packers_byte_for_byte() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let dir = workdir();
    let commands = [
        "build",
        "console",
        "fix",
        "fmt",
        "hcl2_upgrade",
        "inspect",
        "validate",
        "version",
        // Not Packer's: unknown commands when called as packer.
        "init",
        "plugins",
        "cleanup",
        "platform",
        "completions",
        "help",
    ];
    let mut cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["help"],
        vec!["--help"],
        vec!["-h"],
        vec!["-help"],
        vec!["-v"],
        vec!["--version"],
        vec!["-version"],
        vec!["version"],
        vec!["version", "-h"],
        vec!["version", "-v"],
        vec!["nope"],
        vec!["-autocomplete-install", "-h"],
        vec!["-autocomplete-uninstall", "-h"],
        // Both: Packer exits 1 before touching any file.
        vec!["-autocomplete-install", "-autocomplete-uninstall"],
        vec!["-h", "-v"],
        vec!["--", "-v"],
        vec!["-foo", "build", "x.json"],
        vec!["-foo"],
        vec!["build", "x.json", "-h"],
        vec!["validate", "--help"],
        vec!["plugins", "installed"],
        vec!["fmt"],
        vec!["hcl2_upgrade"],
        vec!["hcl2_upgrade", "x.json"],
        vec!["hcl2_upgrade", "-output-file=sub/y.pkr.hcl", "x.json"],
        vec!["-machine-readable"],
        vec!["-machine-readable", "-h"],
        vec!["-machine-readable", "-v"],
        vec!["build", "-h", "-machine-readable"],
    ];
    for c in commands {
        cases.push(vec!["help", c]);
        cases.push(vec![c, "-h"]);
        cases.push(vec![c, "--help"]);
    }
    cases.push(vec!["cleanup"]);
    cases.push(vec!["platform"]);
    let mut differ = Vec::new();
    for args in &cases {
        let theirs = exec(&packer, dir.path(), args, &[], Input::Null);
        let ours = exec(&link, dir.path(), args, &[], Input::Null);
        if theirs != ours {
            differ.push(format!("{args:?}\npacker: {theirs:?}\nrpack:  {ours:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
    assert!(cases.len() > 60, "{}", cases.len());
}

#[test]
fn strict_is_rpacks_flag_documented_in_its_help() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let dir = workdir();
    // As packer the flag does not exist: Packer's usage text and flag error, exit 1, both on
    // stdout as Packer prints them.
    for cmd in ["validate", "build"] {
        let args = [cmd, "-strict", "x.json"];
        let mut theirs = None;
        // Rerun until the racy line is there and in its usual place, last.
        packer_flag_error(&packer, dir.path(), &args, "-strict", |bin, dir, args| {
            let o = exec(bin, dir, args, &[], Input::Null);
            let text = if o
                .stdout
                .ends_with("flag provided but not defined: -strict\n")
            {
                o.stdout.clone()
            } else {
                String::new()
            };
            theirs = Some(o);
            text
        });
        let theirs = theirs.unwrap();
        assert_eq!(theirs.code, 1, "{theirs:?}");
        assert!(
            theirs
                .stdout
                .ends_with("flag provided but not defined: -strict\n"),
            "{theirs:?}"
        );
        let ours = exec(&link, dir.path(), &args, &[], Input::Null);
        assert_eq!(ours, theirs);
        assert_eq!(
            merged(&link, dir.path(), &args, &[]),
            (theirs.code, theirs.stdout.clone())
        );
        assert!(!ours.stdout.contains("-strict  "), "{}", ours.stdout);
        // As rpack it is in the help, with RPACK_STRICT and a true -var-file line.
        let help = exec(&rpack_bin(), dir.path(), &[cmd, "-h"], &[], Input::Null);
        assert_eq!(help.code, 0);
        let line = |name: &str| {
            help.stdout
                .lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("{cmd} -h has no {name}: {}", help.stdout))
                .to_string()
        };
        assert!(
            line("-strict ").ends_with(
                "Undefined user variables are errors, not warnings (also RPACK_STRICT=1)."
            ),
            "{}",
            help.stdout
        );
        assert!(
            line("-var-file=path").ends_with(
                "JSON or HCL2 file containing user variables (HCL2 only for an HCL2 template)."
            ),
            "{}",
            help.stdout
        );
        // `help CMD` says the same.
        let via_help = exec(&rpack_bin(), dir.path(), &["help", cmd], &[], Input::Null);
        assert_eq!(via_help, help);
    }
    // What the help says holds: an HCL2 var file for an HCL2 template, JSON for JSON.
    std::fs::write(
        dir.path().join("t.pkr.hcl"),
        "variable \"a\" { type = string }\nsource \"file\" \"x\" {\n  target  = \"o.txt\"\n  content = var.a\n}\nbuild { sources = [\"source.file.x\"] }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("v.pkrvars.hcl"), "a = \"hi\"\n").unwrap();
    let hcl = exec(
        &rpack_bin(),
        dir.path(),
        &["validate", "-var-file=v.pkrvars.hcl", "t.pkr.hcl"],
        &[],
        Input::Null,
    );
    assert_eq!(hcl.code, 0, "{hcl:?}");
    let json = exec(
        &rpack_bin(),
        dir.path(),
        &["validate", "-var-file=v.pkrvars.hcl", "x.json"],
        &[],
        Input::Null,
    );
    assert_eq!(json.code, 1, "{json:?}");
    // As packer, RPACK_STRICT=1 still applies.
    std::fs::write(
        dir.path().join("u.json"),
        r#"{"builders": [{"type": "file", "target": "o.txt", "content": "{{user `nope`}}"}]}"#,
    )
    .unwrap();
    let args = ["validate", "u.json"];
    assert_eq!(exec(&link, dir.path(), &args, &[], Input::Null).code, 0);
    let strict = exec(
        &link,
        dir.path(),
        &args,
        &[("RPACK_STRICT", "1")],
        Input::Null,
    );
    assert_eq!(strict.code, 1, "{strict:?}");
    assert!(
        strict.stderr.contains("Error: Undefined user variables"),
        "{strict:?}"
    );
}

#[test]
fn build_warns_about_undefined_variables_like_validate_before_building() {
    let packer = packer();
    let dir = tempfile::tempdir().unwrap();
    let template = r#"{
  "variables": {"defined": "d"},
  "builders": [{
    "type": "file",
    "target": "out.txt",
    "content": "a={{user `nope`}} b={{user `other`}} c={{user `defined`}}"
  }]
}
"#;
    std::fs::write(dir.path().join("u.json"), template).unwrap();
    let out = dir.path().join("out.txt");
    // Packer renders "" and says nothing.
    let theirs = exec(&packer, dir.path(), &["build", "u.json"], &[], Input::Null);
    assert_eq!(theirs.code, 0, "{theirs:?}");
    let packers_file = std::fs::read_to_string(&out).unwrap();
    assert_eq!(packers_file, "a= b= c=d");
    std::fs::remove_file(&out).unwrap();

    let validate = exec(
        &rpack_bin(),
        dir.path(),
        &["validate", "u.json"],
        &[],
        Input::Null,
    );
    assert_eq!(validate.code, 0, "{validate:?}");
    let warning = validate.stderr.clone();
    for place in [
        "user variable \"nope\" is not defined (u.json:6:16",
        "user variable \"other\" is not defined (u.json:6:16",
    ] {
        assert!(warning.contains(place), "{place}: {warning}");
    }
    assert!(warning.starts_with("Warning: Undefined user variables\n"));

    // build prints the same warning, before it builds, and builds what Packer builds.
    let (code, text) = merged(&rpack_bin(), dir.path(), &["build", "u.json"], &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with(&warning), "{text}");
    assert!(text.contains("Builds finished"), "{text}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), packers_file);
    std::fs::remove_file(&out).unwrap();

    // Strict: the same list as an error, and nothing is built.
    for (args, env) in [
        (&["build", "-strict", "u.json"][..], &[][..]),
        (&["build", "u.json"], &[("RPACK_STRICT", "1")]),
    ] {
        let o = exec(&rpack_bin(), dir.path(), args, env, Input::Null);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            o.stderr.starts_with("Error: Undefined user variables\n"),
            "{o:?}"
        );
        assert!(o.stderr.contains("(u.json:6:16"), "{o:?}");
        assert!(!o.stdout.contains("Builds finished"), "{o:?}");
        assert!(!out.exists(), "{args:?} {env:?} built");
    }
}

/// Console input exercising what Packer's line editor does with a file: spaces kept, an
/// interpolation error, an empty line, `\r\n` (two line ends), backspace, Ctrl-C, `exit`
/// before the end.
const CONSOLE_INPUT: &str = "{{user `a`}}\n  {{user `b`}}  \n{{nope}}\nplain\n\n{{user `a`}}\r\nab\x7fc\nd\x03e\nexit\n{{user `b`}}\n";

#[test]
fn console_reads_a_file_like_packer() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let dir = workdir();
    let inputs = [
        ("in.txt", CONSOLE_INPUT),
        // The last line without its newline still counts.
        ("last.txt", "{{user `a`}}\n{{user `b`}}"),
        ("empty.txt", ""),
    ];
    for (name, text) in inputs {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut checked = 0;
    for (name, _) in inputs {
        let file = dir.path().join(name);
        for args in [&["console", "x.json"][..], &["console", "-var", "a=2"]] {
            let theirs = exec(&packer, dir.path(), args, &[], Input::File(&file));
            let ours = exec(&link, dir.path(), args, &[], Input::File(&file));
            assert_eq!(ours, theirs, "{name} {args:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
    // What the file gives is more than the last line (what a pipe gives).
    let file = dir.path().join("in.txt");
    let theirs = exec(
        &packer,
        dir.path(),
        &["console", "x.json"],
        &[],
        Input::File(&file),
    );
    assert!(
        theirs
            .stdout
            .starts_with("A1\n  A1-b  \n???????: Interpolation error\n"),
        "{theirs:?}"
    );
    let piped = exec(
        &link,
        dir.path(),
        &["console", "x.json"],
        &[],
        Input::Pipe("{{user `a`}}\n{{user `b`}}\n"),
    );
    assert_eq!(piped.stdout, "A1-b\n");
    // /dev/null is no pipe either: no line, nothing printed.
    let null = exec(&link, dir.path(), &["console", "x.json"], &[], Input::Null);
    assert_eq!(
        null,
        exec(
            &packer,
            dir.path(),
            &["console", "x.json"],
            &[],
            Input::Null
        )
    );
    // As rpack: the same results on stdout, the error on stderr and exit 1.
    let mine = exec(
        &rpack_bin(),
        dir.path(),
        &["console", "x.json"],
        &[],
        Input::File(&file),
    );
    assert_eq!(mine.code, 1, "{mine:?}");
    assert_eq!(mine.stdout, "A1\n  A1-b  \n\nplain\n\nA1\n\nac\ne\n");
    assert!(
        mine.stderr.starts_with(
            "Error: Interpolation error\n\ntemplate: root:1: function \"nope\" not defined"
        ),
        "{mine:?}"
    );
}

#[test]
fn console_on_a_template_packer_rejects() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let dir = tempfile::tempdir().unwrap();
    let templates = [
        ("nobuilders.json", r#"{"variables": {"a": "A1"}}"#),
        (
            "only.json",
            r#"{"variables": {"a": "A1"}, "builders": [{"type": "file", "target": "o", "content": "x"}],
                "provisioners": [{"type": "shell-local", "inline": ["true"], "only": ["zz"]}]}"#,
        ),
    ];
    for (name, text) in templates {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("in.txt"), "{{user `a`}}\nvariables\n").unwrap();
    let file = dir.path().join("in.txt");
    for (name, _) in templates {
        let args = ["console", name];
        // Packer drops every variable: `a` renders "" and `variables` lists none.
        let theirs = exec(&packer, dir.path(), &args, &[], Input::File(&file));
        assert_eq!(theirs.stdout, "\n\n\n", "{name}: {theirs:?}");
        let ours = exec(&link, dir.path(), &args, &[], Input::File(&file));
        assert_eq!(ours, theirs, "{name}");
        let pipe = Input::Pipe("{{user `a`}}\n");
        assert_eq!(
            exec(&link, dir.path(), &args, &[], pipe),
            exec(
                &packer,
                dir.path(),
                &args,
                &[],
                Input::Pipe("{{user `a`}}\n")
            ),
            "{name}"
        );
        // rpack keeps the variables (README: a deliberate difference).
        let mine = exec(&rpack_bin(), dir.path(), &args, &[], Input::File(&file));
        assert_eq!(mine.code, 0, "{mine:?}");
        assert_eq!(mine.stdout, "A1\n\na: A1,\n\n", "{name}");
    }
}

#[test]
fn autocomplete_install_with_help_only_prints_help() {
    let (_link_dir, link) = as_packer();
    for bin in [rpack_bin(), link] {
        for flag in ["-autocomplete-install", "-autocomplete-uninstall"] {
            let home = tempfile::tempdir().unwrap();
            let rc = home.path().join(".bashrc");
            std::fs::write(&rc, "# mine\n").unwrap();
            let out = Command::new(&bin)
                .args([flag, "-h"])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", home.path())
                .env("CHECKPOINT_DISABLE", "1")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} {flag}: {text}",
                bin.display()
            );
            assert!(text.contains("Available commands are:"), "{text}");
            assert_eq!(std::fs::read_to_string(&rc).unwrap(), "# mine\n");
        }
    }
}
