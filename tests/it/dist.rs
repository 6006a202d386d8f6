//! The release binary runs anywhere glibc does (issue "ship it like Packer"). Opt-in: it needs
//! root (chroot), the release build, and Debian's mirror once for two packages.
//!
//!     cargo build --release && cargo test --test it dist:: -- --ignored --nocapture
//!
//! (`scripts/release.sh` builds the same binary.) `RPACK_RELEASE_BIN` names another binary.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::paths::{fresh_dir, target_dir};
use crate::support::sshd::{ssh_keygen, KeyKind, Sshd};

/// The only packages the root is made of: glibc, libgcc's unwinder, and base-files (which makes
/// it Debian: /etc/os-release, the directory skeleton).
const PACKAGES: &[&str] = &["libc6", "libgcc-s1", "base-files"];
/// No command here may take longer (the build connects to loopback and uploads 4 MiB).
const TIMEOUT_SECS: &str = "180";

/// **What this proves.** The release binary needs nothing but glibc at run time: in a root that
/// holds only Debian's `libc6`, `libgcc-s1` and `base-files` (no libssl, no libcrypto, no zlib,
/// no shell), `rpack validate` and `rpack inspect` succeed on a template, and `rpack build` with
/// a null builder connects over SSH (libssh2 on the built-in OpenSSL) to an OpenSSH server on
/// 127.0.0.1, uploads a 4 MiB file with the file provisioner and runs a shell provisioner that
/// prints the file's SHA-256, which must be the uploaded one. Before that, the root's own loader
/// lists the binary's libraries, and every one must resolve inside the root.
///
/// **What it does not prove.** The root shares the host's kernel and network namespace (the sshd
/// is the host's, as an instance's would be). It says nothing about other glibc versions than
/// the host distribution's: the binary needs the glibc it was linked against, or newer.
#[test]
#[ignore = "needs root (chroot), a release build and Debian's mirror for libc6/libgcc-s1/base-files"]
fn release_binary_runs_in_a_debian_root_without_libssl_or_zlib() {
    // SAFETY: geteuid has no preconditions.
    assert!(unsafe { libc::geteuid() } == 0, "chroot needs root");
    let bin = std::env::var_os("RPACK_RELEASE_BIN")
        .map_or_else(|| target_dir().join("release/rpack"), PathBuf::from);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --release` (or scripts/release.sh) first",
        bin.display()
    );

    let dir = fresh_dir("dist-root");
    let root = dir.join("root");
    make_root(&root);
    let leftovers = find(&root, &|name| {
        ["libssl", "libcrypto", "libz.", "libssh2"]
            .iter()
            .any(|p| name.starts_with(p))
    });
    assert!(
        leftovers.is_empty(),
        "the root must lack them: {leftovers:?}"
    );
    fs::copy(&bin, root.join("rpack")).unwrap();

    let loader = in_root(&root, &["/lib64/ld-linux-x86-64.so.2", "--list", "/rpack"]);
    let libs = text(&loader);
    assert!(loader.status.success(), "{libs}");
    assert!(!libs.contains("not found"), "{libs}");
    eprintln!("dist: the binary's libraries inside the root:\n{libs}");

    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let work = root.join("work");
    fs::create_dir_all(&work).unwrap();
    copy_private(&key, &work.join("id_ed25519"));
    let payload: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(work.join("payload.bin"), &payload).unwrap();
    let want = hex::encode(Sha256::digest(&payload));
    let remote = format!("/tmp/rpack-dist-{}.bin", std::process::id());
    let template = json!({
        "builders": [{
            "type": "null",
            "ssh_host": sshd.host(),
            "ssh_port": sshd.port(),
            "ssh_username": sshd.user(),
            "ssh_private_key_file": "/work/id_ed25519",
            "ssh_timeout": "30s"
        }],
        "provisioners": [
            {"type": "file", "source": "/work/payload.bin", "destination": remote},
            {"type": "shell", "inline": [format!("sha256sum {remote}; rm -f {remote}")]}
        ]
    });
    fs::write(
        work.join("template.json"),
        serde_json::to_string_pretty(&template).unwrap(),
    )
    .unwrap();

    let version = in_root(&root, &["/rpack", "--version"]);
    assert!(version.status.success(), "{}", text(&version));
    eprintln!("dist: {}", text(&version).trim());

    let validate = in_root(&root, &["/rpack", "validate", "/work/template.json"]);
    assert!(validate.status.success(), "validate: {}", text(&validate));
    assert!(!text(&validate).contains("rror"), "{}", text(&validate));

    let inspect = in_root(&root, &["/rpack", "inspect", "/work/template.json"]);
    assert!(inspect.status.success(), "inspect: {}", text(&inspect));
    assert!(text(&inspect).contains("null"), "{}", text(&inspect));

    let build = in_root(&root, &["/rpack", "build", "/work/template.json"]);
    let out = text(&build);
    assert!(
        build.status.success(),
        "build: {out}\nsshd log:\n{}",
        sshd.log()
    );
    assert!(
        out.contains(&format!("{want}  {remote}")),
        "the remote checksum is not the uploaded file's {want}: {out}"
    );
    eprintln!("dist: build output:\n{out}");
    let _ = fs::remove_dir_all(&dir);
}

/// Downloads the packages once into `<target>/dist-test/debs` and unpacks them into `root`.
fn make_root(root: &Path) {
    let debs = target_dir().join("dist-test/debs");
    fs::create_dir_all(&debs).unwrap();
    let have = |pkg: &str| {
        fs::read_dir(&debs).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{pkg}_"))
        })
    };
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        let out = Command::new("apt-get")
            .arg("download")
            .args(&missing)
            .current_dir(&debs)
            .output()
            .expect("running apt-get download");
        assert!(
            out.status.success(),
            "apt-get download {missing:?}: {}",
            text(&out)
        );
    }
    fs::create_dir_all(root).unwrap();
    for entry in fs::read_dir(&debs).unwrap().flatten() {
        let out = Command::new("dpkg-deb")
            .arg("-x")
            .arg(entry.path())
            .arg(root)
            .output()
            .expect("running dpkg-deb");
        assert!(out.status.success(), "dpkg-deb: {}", text(&out));
    }
    for d in ["tmp", "root", "state"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

/// Runs `args` chrooted into `root` with a bare environment, within the time limit.
fn in_root(root: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["--kill-after=10", TIMEOUT_SECS, "chroot"])
        .arg(root)
        .args(args)
        .env_clear()
        .env("HOME", "/root")
        .env("TMPDIR", "/tmp")
        .env("RPACK_STATE_DIR", "/state")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {args:?} in {}: {e}", root.display()))
}

fn copy_private(from: &Path, to: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .unwrap();
    f.write_all(&fs::read(from).unwrap()).unwrap();
}

/// Files below `dir` whose name `hit` accepts.
fn find(dir: &Path, hit: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            out.extend(find(&path, hit));
        } else if hit(&entry.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
