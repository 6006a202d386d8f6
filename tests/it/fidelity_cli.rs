//! The command line's own surface, on the fidelity fixtures: `rpack`'s help and version, the
//! same binary called `packer` answering byte for byte as Packer 1.6.6 does, the one-line error
//! without credentials, and `init`/`plugins` (nothing to install).

use std::process::{Command, Stdio};

use crate::fidelity::{as_packer, fixtures, flat, packer, rpack, run};

#[test]
fn as_rpack_help_and_version_are_rpacks_own() {
    for args in [&["--help"][..], &["help"], &["nope"]] {
        let out = rpack(args, &[]);
        assert!(
            out.text.starts_with("Usage: rpack"),
            "{args:?}: {}",
            out.text
        );
        for cmd in [
            "build",
            "cleanup",
            "completions",
            "console",
            "fix",
            "fmt",
            "hcl2_upgrade",
            "init",
            "inspect",
            "platform",
            "plugins",
            "validate",
            "version",
        ] {
            assert!(
                out.text.contains(&format!("\n    {cmd} ")),
                "{args:?}: {cmd} missing"
            );
        }
        // Only commands that exist.
        assert!(!out.text.contains("\n    push"), "{args:?} lists push");
    }
    for cmd in ["cleanup", "platform"] {
        let out = rpack(&["help", cmd], &[]);
        assert_eq!(out.code, 0);
        assert!(
            out.text.starts_with(&format!("Usage: rpack {cmd}")),
            "{}",
            out.text
        );
    }
    let v = rpack(&["--version"], &[]);
    assert_eq!(
        v.text.trim(),
        format!(
            "rpack {} (commit {}, compatible with Packer 1.6.6)",
            env!("CARGO_PKG_VERSION"),
            head_commit()
        )
    );
    let v = rpack(&["version"], &[]);
    assert!(
        v.text.contains(env!("CARGO_PKG_VERSION")) && v.text.contains("Packer v1.6.6"),
        "{}",
        v.text
    );
}

/// The repository's HEAD, shortened as `rpack --version` shows the commit it was built from.
fn head_commit() -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git rev-parse HEAD");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn as_packer_help_and_version_are_byte_identical_to_packer_1_6_6() {
    let real = packer();
    let (dir, link) = as_packer();
    for args in [
        &["--help"][..],
        &["--version"],
        &["-v"],
        &["version"],
        &["nope"],
    ] {
        let theirs = run(&real, dir.path(), args, &[]);
        let ours = run(&link, dir.path(), args, &[]);
        assert_eq!(
            (ours.code, &ours.text),
            (theirs.code, &theirs.text),
            "{args:?}"
        );
    }
}

#[test]
fn no_credentials_is_one_clear_line_with_the_sources_tried() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(["build", "weak-bool-number.json"])
        .current_dir(fixtures())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("no-credentials"),
        )
        // Nothing leaves the machine: no instance metadata, the endpoint is a closed local port.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let flat_text = flat(&text);
    assert!(
        flat_text.contains("NoCredentialProviders: no AWS credentials found; tried: environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), profile \"default\""),
        "{text}"
    );
    assert!(
        flat_text.contains("Hint: export AWS_ACCESS_KEY_ID"),
        "{text}"
    );
    for dump in ["DispatchFailure", "ConnectorError", "Some(", "{ source"] {
        assert!(!text.contains(dump), "a debug dump ({dump}) in:\n{text}");
    }
}

#[test]
fn init_and_plugins_succeed_and_say_no_plugins_are_needed() {
    for args in [
        &["init"][..],
        &["init", "weak-bool-number.json"],
        &["plugins", "installed"],
        &["plugins", "required", "weak-bool-number.json"],
    ] {
        let out = rpack(args, &[]);
        assert_eq!(out.code, 0, "{args:?}: {}", out.text);
        assert!(
            out.text.starts_with("rpack needs no plugins"),
            "{args:?}: {}",
            out.text
        );
    }
    assert!(rpack(&["init"], &[]).text.contains("amazon-ebs"));
    assert_eq!(rpack(&["plugins", "bogus"], &[]).code, 1);
    // Packer 1.6.6 has neither command; called as `packer`, neither has rpack.
    let (dir, link) = as_packer();
    let theirs = run(&packer(), dir.path(), &["init"], &[]);
    let ours = run(&link, dir.path(), &["init"], &[]);
    assert_eq!((ours.code, ours.text), (theirs.code, theirs.text));
}
