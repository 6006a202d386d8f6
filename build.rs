//! Records the commit rpack is built from, for `rpack --version` and `rpack version`
//! (`RPACK_COMMIT`, empty when unknown).
//!
//! Where it comes from, first found wins: the `RPACK_COMMIT` environment variable (a packager
//! building from a tarball sets it), then `git rev-parse HEAD` when the source is a git checkout.
//! A tarball without git and without the variable builds fine and reports no commit.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RPACK_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = match std::env::var("RPACK_COMMIT") {
        Ok(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => from_git(),
    };
    let commit = commit.unwrap_or_default();
    let valid = commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    println!(
        "cargo:rustc-env=RPACK_COMMIT={}",
        if valid { commit.as_str() } else { "" }
    );
}

/// HEAD's commit, and rebuild triggers for when HEAD moves (a commit, a checkout). Only when
/// the crate itself is the top of the checkout: a crate vendored inside another repository
/// must not report that repository's commit.
fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != manifest.canonicalize().ok()? {
        return None;
    }
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    let head = git_dir.join("HEAD");
    println!("cargo:rerun-if-changed={}", head.display());
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let common = git(&["rev-parse", "--git-common-dir"])
            .map(|c| manifest.join(c))
            .unwrap_or(git_dir);
        let ref_file = common.join(&reference);
        // A packed ref has no file of its own; a missing path would make cargo rerun every time.
        if ref_file.exists() {
            println!("cargo:rerun-if-changed={}", ref_file.display());
        }
        let packed = common.join("packed-refs");
        if packed.exists() {
            println!("cargo:rerun-if-changed={}", packed.display());
        }
    }
    git(&["rev-parse", "HEAD"])
}
