//! A sensitive value of one to three characters (issue #19): masked where it stands alone, never
//! inside other words, and rpack says once that it is too short to mask safely. Packer 1.6.6
//! masks every occurrence, so a password "a" garbles every line.

use std::process::Command;

use serde_json::json;

use crate::support::paths::fresh_dir;

fn build(dir: &std::path::Path, argv0_packer: bool) -> (Option<i32>, String, String) {
    let bin = env!("CARGO_BIN_EXE_rpack");
    let exe = if argv0_packer {
        let link = dir.join("packer");
        if !link.exists() {
            std::os::unix::fs::symlink(bin, &link).unwrap();
        }
        link
    } else {
        bin.into()
    };
    let out = Command::new(exe)
        .current_dir(dir)
        .args(["build", "t.json"])
        .env_remove("PACKER_LOG")
        .env_remove("RPACK_LOG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_one_character_secret_masks_only_itself_and_is_warned_about() {
    let dir = fresh_dir("short-secret");
    let tpl = json!({
        "variables": {"pw": "a"},
        "sensitive-variables": ["pw"],
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [{"type": "shell-local",
            "inline": ["echo 'alpha banana: pw={{user `pw`}} [{{user `pw`}}]'"]}]
    });
    std::fs::write(dir.join("t.json"), tpl.to_string()).unwrap();
    let (code, out, err) = build(&dir, false);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("null: alpha banana: pw=<sensitive> [<sensitive>]"),
        "{out}"
    );
    assert!(out.contains("Build 'null' finished"), "{out}");
    assert_eq!(err.matches("too short to mask safely").count(), 1, "{err}");
    // Called as `packer`: the same masking, no line Packer does not print.
    let (code, out, err) = build(&dir, true);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("null: alpha banana: pw=<sensitive> [<sensitive>]"),
        "{out}"
    );
    assert!(!err.contains("too short"), "{err}");
}
