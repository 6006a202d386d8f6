//! Called as `packer`, a command-line error is on the stream Packer 1.6.6 uses (issue #21): the
//! usage and then the error line, both on stdout, nothing on stderr (Packer's `BasicUi` writes
//! errors to stdout). Checked stream by stream against the real `packer` for every command rpack
//! implements with flags (fmt and hcl2_upgrade included). Called as `rpack`, the error line is
//! on stderr.

use crate::fidelity::{as_packer, packer, packer_flag_error, packer_until_line};
use crate::persona::{exec, workdir, Input, Out};

/// The commands that read flags (`version` reads none).
const COMMANDS: [&str; 7] = [
    "build",
    "validate",
    "inspect",
    "fix",
    "console",
    "fmt",
    "hcl2_upgrade",
];

/// Packer's output for `args` with `line` in its usual place, last on stdout (its goroutine
/// sometimes writes it first, or not at all).
fn packer_with_line(
    packer: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
    line: &str,
) -> Out {
    let mut theirs = None;
    packer_until_line(packer, dir, args, line, |bin, dir, args| {
        let o = exec(bin, dir, args, &[], Input::Null);
        let last = if o.stdout.ends_with(line) {
            o.stdout.clone()
        } else {
            String::new()
        };
        theirs = Some(o);
        last
    });
    theirs.unwrap()
}

#[test]
fn as_packer_flag_errors_are_on_packers_streams() {
    let packer = packer();
    let (_link_dir, link) = as_packer();
    let dir = workdir();
    let mut differ = Vec::new();
    for cmd in COMMANDS {
        let args = [cmd, "-x", "x.json"];
        let mut theirs = None;
        packer_flag_error(&packer, dir.path(), &args, "-x", |bin, dir, args| {
            let o = exec(bin, dir, args, &[], Input::Null);
            let last = if o.stdout.ends_with("flag provided but not defined: -x\n") {
                o.stdout.clone()
            } else {
                String::new()
            };
            theirs = Some(o);
            last
        });
        let theirs = theirs.unwrap();
        assert!(theirs.stderr.is_empty() && theirs.code == 1, "{theirs:?}");
        let ours = exec(&link, dir.path(), &args, &[], Input::Null);
        if ours != theirs {
            differ.push(format!("{args:?}\npacker: {theirs:?}\nrpack:  {ours:?}"));
        }
    }
    // A flag with a bad value: Go's flag package words it, on the same path.
    for (args, line) in [
        (
            &["validate", "-var", "x", "x.json"][..],
            "invalid value \"x\" for flag -var: No '=' value in arg: x\n",
        ),
        (
            &["console", "-var", "x", "x.json"][..],
            "invalid value \"x\" for flag -var: No '=' value in arg: x\n",
        ),
        (
            &["build", "-parallel-builds=z", "x.json"][..],
            "invalid value \"z\" for flag -parallel-builds: parse error\n",
        ),
    ] {
        let theirs = packer_with_line(&packer, dir.path(), args, line);
        let ours = exec(&link, dir.path(), args, &[], Input::Null);
        if ours != theirs {
            differ.push(format!("{args:?}\npacker: {theirs:?}\nrpack:  {ours:?}"));
        }
    }
    // `version` parses no flags: Packer prints its version and exits 0.
    let args = ["version", "-x"];
    let theirs = exec(&packer, dir.path(), &args, &[], Input::Null);
    assert_eq!(theirs.code, 0, "{theirs:?}");
    let ours = exec(&link, dir.path(), &args, &[], Input::Null);
    if ours != theirs {
        differ.push(format!("{args:?}\npacker: {theirs:?}\nrpack:  {ours:?}"));
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

#[test]
fn as_rpack_a_flag_error_is_on_stderr_after_the_usage_on_stdout() {
    let dir = workdir();
    let rpack = std::path::PathBuf::from(env!("CARGO_BIN_EXE_rpack"));
    for cmd in COMMANDS {
        let o = exec(&rpack, dir.path(), &[cmd, "-x", "x.json"], &[], Input::Null);
        assert_eq!(o.code, 1, "{o:?}");
        assert_eq!(o.stderr, "flag provided but not defined: -x\n", "{o:?}");
        // rpack's own usage for the commands whose rpack form has more options (fmt).
        assert!(
            o.stdout.starts_with(&format!("Usage: packer {cmd}"))
                || o.stdout.starts_with(&format!("Usage: rpack {cmd}")),
            "{o:?}"
        );
        assert!(!o.stdout.contains("flag provided"), "{o:?}");
    }
}
