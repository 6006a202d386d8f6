//! The real `rpack` binary, run in a temp dir over the templates in `tests/fixtures/templates`,
//! with its exact exit code, stdout and stderr pinned by insta snapshots.
//!
//! One test per error kind of Packer's template error catalogue, table-driven template and
//! variables cases, and the command line itself (spellings, help, version, exit codes).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

/// A temp dir holding a copy of every fixture template.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    for entry in std::fs::read_dir(fixtures()).expect("reading fixtures") {
        let entry = entry.expect("fixture entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copying a fixture");
    }
    dir
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run_bin(bin: &Path, dir: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("RPACK_TEST_HOME", "/home/tester")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting rpack");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting for rpack");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn rpack_in(dir: &Path, args: &[&str]) -> Out {
    run_bin(Path::new(env!("CARGO_BIN_EXE_rpack")), dir, args, None)
}

fn rpack(args: &[&str]) -> Out {
    let dir = workdir();
    rpack_in(dir.path(), args)
}

/// Machine-readable lines start with a timestamp.
fn without_timestamps(s: &str) -> String {
    s.lines()
        .map(|l| match l.split_once(',') {
            Some((ts, rest)) if ts.bytes().all(|b| b.is_ascii_digit()) => format!("[ts],{rest}\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

/// `validate FIXTURE` (plus args): snapshot named after the case.
fn validate_case(name: &str, fixture: &str, extra: &[&str]) {
    let mut args = vec!["validate"];
    args.extend_from_slice(extra);
    args.push(fixture);
    let out = rpack(&args);
    insta::assert_snapshot!(format!("validate_{name}"), out.snapshot());
}

// ---- Packer's template error catalogue (spec §1.6), one test per kind.

macro_rules! catalogue {
    ($($name:ident => $fixture:expr $(, $arg:expr)*;)*) => {
        $(
            #[test]
            fn $name() {
                validate_case(stringify!($name), $fixture, &[$($arg),*]);
            }
        )*
    };
}

catalogue! {
    at_least_one_builder => "no_builders.json";
    builder_missing_type => "builder_no_type.json";
    builder_name_exists => "builder_repeat.json";
    builder_decode_error => "builder_bad_field.json";
    provisioner_missing_type => "provisioner_no_type.json";
    provisioner_decode_error => "provisioner_bad_field.json";
    provisioner_only_and_except => "provisioner_only_and_except.json";
    provisioner_only_not_found => "provisioner_only_missing.json";
    provisioner_except_not_found => "provisioner_except_missing.json";
    provisioner_override_not_found => "provisioner_override_missing.json";
    post_processor_type_required => "pp_no_type.json";
    post_processor_nested_sequence => "pp_nested.json";
    post_processor_unknown_format => "pp_unknown_format.json";
    post_processor_bad_format => "pp_bad_format.json";
    post_processor_only_not_found => "pp_only_missing.json";
    variable_decode_error => "variable_not_string.json";
    cleanup_provisioner_error => "cleanup_provisioner_no_type.json";
    unknown_root_level_key => "unknown_root_key.json";
    root_comment_not_string => "comment_not_string.json";
    duplicate_field => "duplicate_field.json";
    json_syntax_error => "syntax_error.json";
    min_version_invalid => "min_version_invalid.json";
    min_version_too_high => "min_version_high.json";
    required_variable_not_set => "required_variable.json";
    max_retries_not_integer => "max_retries_bad.json";
    unknown_builder => "unknown_builder.json";
    unknown_provisioner => "unknown_provisioner.json";
    unknown_post_processor => "unknown_post_processor.json";
    unknown_configuration_key => "unknown_config_key.json";
    deprecated_configuration_key => "deprecated_config_key.json";
    template_function_not_defined => "function_not_defined.json";
    env_outside_variables => "env_outside_variables.json";
}

// ---- rpack's own template and variable behaviour, table-driven over fixtures.

#[test]
fn template_and_variable_cases() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "ok_with_required_set",
            "ok_null.json",
            &["-var", "needed=yes"],
        ),
        ("undefined_variable", "undefined_variable.json", &[]),
        ("variable_cycle", "variable_cycle.json", &[]),
        (
            "var_files_then_var",
            "variables_env_and_files.json",
            &[
                "-var-file=vars_one.json",
                "-var-file",
                "vars_two.json",
                "-var",
                "from_cli=cli",
            ],
        ),
        (
            "var_file_not_strings",
            "variables_env_and_files.json",
            &["-var-file=vars_bad.json"],
        ),
        (
            "var_file_missing",
            "variables_env_and_files.json",
            &["-var-file=nope.json"],
        ),
        (
            "only_matches_nothing",
            "ok_null.json",
            &["-var", "needed=1", "-only=nothing"],
        ),
        ("except_skips_build", "all_problems.json", &["-except=d"]),
        ("weak_typing", "weak_typing.json", &[]),
        ("all_problems_in_one_run", "all_problems.json", &[]),
        (
            "syntax_only_passes_despite_errors",
            "all_problems.json",
            &["-syntax-only"],
        ),
        (
            "syntax_only_reports_parse_errors",
            "syntax_error.json",
            &["-syntax-only"],
        ),
        (
            "deprecated_keys_in_every_plugin_but_shell_local",
            "deprecated_keys_everywhere.json",
            &[],
        ),
        ("fixable_configuration_is_a_warning", "fixable.json", &[]),
    ];
    for (name, fixture, args) in cases {
        validate_case(name, fixture, args);
    }
}

// ---- inspect

#[test]
fn inspect_human() {
    insta::assert_snapshot!(rpack(&["inspect", "ok_null.json"]).snapshot());
}

#[test]
fn inspect_machine_readable_masks_sensitive_values() {
    let out = rpack(&["inspect", "-machine-readable", "ok_null.json"]);
    assert!(!out.stdout.contains("s3cr3t-value"));
    insta::assert_snapshot!(format!(
        "exit: {}\n{}",
        out.code,
        without_timestamps(&out.stdout)
    ));
}

#[test]
fn inspect_without_anything() {
    insta::assert_snapshot!(rpack(&["inspect", "no_builders.json"]).snapshot());
}

// ---- the command line

/// The commit rpack was built from: the repository's HEAD (build.rs), shown as `[commit]`.
fn built_commit() -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git rev-parse HEAD");
    assert!(out.status.success(), "the tests run in a git checkout");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn without_commit(s: &str, commit: &str) -> String {
    s.replace(commit, "[commit]")
        .replace(&commit[..12], "[commit]")
}

#[test]
fn version_spellings() {
    let commit = built_commit();
    for args in [&["version"][..], &["-v"], &["--version"]] {
        let out = rpack(args);
        insta::assert_snapshot!(
            format!("version_{}", args[0].replace('-', "_")),
            without_commit(&out.snapshot(), &commit)
        );
    }
}

#[test]
fn version_machine_readable() {
    let out = rpack(&["version", "--machine-readable"]);
    let text = without_timestamps(&out.stdout);
    insta::assert_snapshot!(without_commit(&text, &built_commit()));
}

#[test]
fn unknown_command_exits_127() {
    let out = rpack(&["frobnicate"]);
    assert_eq!(out.code, 127);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(rpack(&[]).code, 127);
}

#[test]
fn help_and_usage_errors() {
    let help = rpack(&["validate", "-h"]);
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("validate_help", help.snapshot());
    insta::assert_snapshot!(
        "validate_bad_flag",
        rpack(&["validate", "-bogus", "x.json"]).snapshot()
    );
    insta::assert_snapshot!(
        "validate_var_without_equals",
        rpack(&["validate", "-var", "x", "ok_null.json"]).snapshot()
    );
    let two = rpack(&["validate", "a.json", "b.json"]);
    assert_eq!(two.code, 1);
    assert!(two.stdout.starts_with("Usage: packer validate"));
}

#[test]
fn packer_and_gnu_spellings_agree() {
    let dir = workdir();
    let packer = rpack_in(
        dir.path(),
        &[
            "validate",
            "-var",
            "needed=1",
            "-only=null",
            "-syntax-only",
            "ok_null.json",
        ],
    );
    let gnu = rpack_in(
        dir.path(),
        &[
            "validate",
            "--var",
            "needed=1",
            "--only",
            "null",
            "--syntax-only",
            "ok_null.json",
        ],
    );
    assert_eq!(packer.code, 0);
    assert_eq!(packer.snapshot(), gnu.snapshot());
    let anywhere = rpack_in(
        dir.path(),
        &[
            "validate",
            "ok_null.json",
            "--machine-readable",
            "-var",
            "needed=1",
        ],
    );
    assert_eq!(anywhere.code, 0, "{}", anywhere.snapshot());
}

#[test]
fn template_from_stdin() {
    let dir = workdir();
    let tpl = std::fs::read_to_string(dir.path().join("unknown_root_key.json")).unwrap();
    let out = run_bin(
        Path::new(env!("CARGO_BIN_EXE_rpack")),
        dir.path(),
        &["validate", "-"],
        Some(&tpl),
    );
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn missing_template_file() {
    insta::assert_snapshot!(rpack(&["validate", "nope.json"]).snapshot());
}

#[test]
fn argv0_packer_behaves_identically() {
    let dir = workdir();
    let link = dir.path().join("packer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpack"), &link).unwrap();
    for args in [
        &["validate", "all_problems.json"][..],
        &["inspect", "ok_null.json"],
    ] {
        let a = rpack_in(dir.path(), args);
        let b = run_bin(&link, dir.path(), args, None);
        assert_eq!(a.snapshot(), b.snapshot(), "{args:?}");
    }
    // Only rpack's own voice differs: its help and version (tests/it/fidelity.rs).
    for args in [&["version"][..], &["nope"]] {
        let a = rpack_in(dir.path(), args);
        let b = run_bin(&link, dir.path(), args, None);
        assert_eq!(a.code, b.code, "{args:?}");
        assert!(
            b.stdout.contains("Packer") && a.stdout.contains("rpack"),
            "{args:?}"
        );
    }
}

#[test]
fn build_flags_parse_in_both_spellings() {
    // The same build in Packer's single-dash and the GNU spelling: both must take effect
    // (-only keeps one build, -timestamp-ui stamps the build's lines, -var sets the required
    // variable) and give the same transcript.
    let single = rpack(&[
        "build",
        "-color=false",
        "-parallel-builds=1",
        "-on-error=abort",
        "-timestamp-ui",
        "-only=null",
        "-var",
        "needed=x",
        "ok_null.json",
    ]);
    let gnu = rpack(&[
        "build",
        "--color=false",
        "--parallel-builds",
        "1",
        "--on-error",
        "abort",
        "--timestamp-ui",
        "--only",
        "null",
        "--var",
        "needed=x",
        "ok_null.json",
    ]);
    // Times, durations and temporary script names differ from run to run.
    let normal = |s: &str| -> String {
        s.lines()
            .map(|l| {
                let l = match l.split_once("Z: ") {
                    Some((ts, rest)) if ts.len() == 19 && ts.as_bytes()[10] == b'T' => {
                        format!("[TS]: {rest}")
                    }
                    _ => l.to_string(),
                };
                let l = match l.find(" after ") {
                    Some(i) => format!("{} after [DURATION]", &l[..i]),
                    None => l,
                };
                match l.find("/packer-shell") {
                    Some(i) => format!("{}/packer-shell[N]", &l[..i]),
                    None => l,
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for out in [&single, &gnu] {
        assert_eq!(out.code, 0, "{}", out.snapshot());
        assert!(out.stdout.contains("null: hello, world"), "{}", out.stdout);
        assert!(!out.stdout.contains("second-hello"), "{}", out.stdout);
        assert!(
            out.stdout
                .lines()
                .filter(|l| l.contains("==> null:"))
                .all(|l| l.starts_with("20") && l.contains("Z: ==> null:")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(normal(&single.stdout), normal(&gnu.stdout));
    let bad = rpack(&["build", "-on-error=explode", "ok_null.json"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.starts_with("Usage: packer build"),
        "{}",
        bad.snapshot()
    );
}
