//! Opt-in slow tests. They are `#[ignore]`d, so a plain `cargo test` skips them. Run them as root
//! with `scripts/slow-test.sh`, which installs debootstrap and then runs
//! `cargo test --test it slow:: -- --ignored --nocapture`.
//!
//! The Debian root they need is made with debootstrap from this machine's own apt sources and
//! cached in `<target>/slow-test/debian-<codename>/`. Making it takes one to two minutes.
//! `rm -rf <target>/slow-test` forces a new one. Each run works on a copy of that root in a
//! tmpfs (about 1 GiB of memory), so it starts clean and leaves nothing on disk to delete. The
//! run's logs and template go to `<target>/slow-test/run-<pid>/`. That directory is removed when
//! the run passes. After a failure it stays until the next run starts.
//!
//! Everything these tests start listens on 127.0.0.1 only. All of it is stopped at the end, also
//! after a panic. The chroot's sshd runs in mount and UTS namespaces of its own, and the tmpfs,
//! /proc and /dev mounts exist only there. sshd is killed with its whole process tree. Any other
//! process left in its namespace is killed too, and the test fails if there was one. With the
//! namespace's last process, its mounts and the tmpfs go away.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::paths::{repo_root, target_dir};
use crate::support::process::{self, ChildGuard};

/// The login user of Ubuntu's EC2 images. The ubuntu templates connect as this user.
const LOGIN_USER: &str = "ubuntu";
/// The chroot's host name, set in its own UTS namespace so that the host keeps its name. sudo
/// wants to resolve it, so it is also in the root's /etc/hosts.
const HOSTNAME: &str = "eb-builder";
/// What debootstrap adds to minbase: the instance's sshd, the sudo the templates run
/// eb_builder.sh with, and systemd, as on a cloud image. Without systemd's unit directories,
/// `systemctl enable nginx` would have nothing to link.
const DEBOOTSTRAP_INCLUDE: &str = "openssh-server,sudo,systemd";
/// The packages install-node-ubuntu.sh installs. They are downloaded into the cached root, so a
/// run only asks the mirror for fresh package lists.
const PREFETCH: &[&str] = &[
    "unzip",
    "tar",
    "xz-utils",
    "curl",
    "ca-certificates",
    "nginx",
    "nodejs",
    "npm",
];
/// The apt sources used: only repositories signed with Debian's archive key.
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Bump this when the way the cached root is made changes, so that old caches are rebuilt.
const RECIPE_VERSION: &str = "3";
/// The version of the stand-in pm2 on the loopback npm registry.
const STUB_PM2: &str = "5.99.0";
/// The tmpfs a run works in: the cached root (about 450 MiB with its downloaded packages)
/// plus what the build installs (about 350 MiB).
const TMPFS_SIZE: &str = "3g";
/// debootstrap and the first build each download and unpack a few hundred packages.
const SLOW_STEP: Duration = Duration::from_secs(20 * 60);

/// Prints how long each phase took (visible with --nocapture).
struct Phases(Instant);

impl Phases {
    fn done(&mut self, what: &str) {
        eprintln!("slow: {what}: {:.1?}", self.0.elapsed());
        self.0 = Instant::now();
    }
}

// ---- the cached root ---------------------------------------------------------------------------

/// The cached Debian root, and what a run needs to know about it.
struct Base {
    root: PathBuf,
    /// Private key of the login user; the root's authorized_keys holds its public half.
    key: PathBuf,
    /// The major of the distribution's nodejs package, e.g. "18".
    node_major: String,
}

fn check_prerequisites() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "the slow tests run as root (debootstrap, chroot, mount namespaces): use scripts/slow-test.sh"
    );
    for tool in [
        "debootstrap",
        "unshare",
        "chroot",
        "ssh",
        "ssh-keygen",
        "python3",
        "tar",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{tool} is not installed: run scripts/slow-test.sh (installs debootstrap) after scripts/test-deps.sh"
        );
    }
}

/// The cached root under `cache`, made first when it is missing or when its recipe changed.
fn cached_base(cache: &Path) -> Base {
    let codename = os_release("VERSION_CODENAME");
    assert_eq!(
        os_release("ID"),
        "debian",
        "the slow test debootstraps the host's own distribution from its apt sources, and it knows only Debian"
    );
    let sources = debian_sources(&codename);
    let mirror = sources
        .iter()
        .find(|s| s.suite == codename)
        .unwrap_or_else(|| {
            panic!("no Debian '{codename}' repository in this machine's apt sources")
        })
        .uri
        .clone();
    let sources_list: String = sources.iter().map(AptSource::line).collect();
    let recipe = format!(
        "{RECIPE_VERSION}\n{codename}\n{mirror}\n{DEBOOTSTRAP_INCLUDE}\n{PREFETCH:?}\n{LOGIN_USER}\n{sources_list}"
    );
    let digest = hex::encode(Sha256::digest(recipe.as_bytes()));

    let base = Base {
        root: cache.join(format!("debian-{codename}")),
        key: cache.join("login_ed25519"),
        node_major: String::new(),
    };
    let stamp = cache.join(format!("debian-{codename}.recipe"));
    let node_file = cache.join(format!("debian-{codename}.node-major"));
    let ready = fs::read_to_string(&stamp).is_ok_and(|s| s == digest)
        && base.root.join("etc/os-release").is_file()
        && base.key.is_file()
        && node_file.is_file();
    if !ready {
        build_base(cache, &base, &codename, &mirror, &sources_list);
        let major = distro_node_major(&base.root);
        fs::write(&node_file, &major).unwrap();
        fs::write(&stamp, &digest).unwrap();
    }
    let node_major = fs::read_to_string(&node_file).unwrap().trim().to_string();
    assert!(
        !node_major.is_empty() && node_major.chars().all(|c| c.is_ascii_digit()),
        "{}: '{node_major}' is no Node.js major",
        node_file.display()
    );
    Base { node_major, ..base }
}

fn build_base(cache: &Path, base: &Base, codename: &str, mirror: &str, sources_list: &str) {
    fs::create_dir_all(cache).unwrap();
    let log = cache.join("prepare.log");
    let _ = fs::remove_file(&log);
    let tmp = cache.join(format!("debian-{codename}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let _ = fs::remove_dir_all(&base.root);
    eprintln!(
        "slow: debootstrapping Debian {codename} from {mirror} into {} (log: {})",
        tmp.display(),
        log.display()
    );

    // debootstrap mounts /proc and /sys inside the target; in a private mount namespace
    // those mounts end with it, even when debootstrap fails halfway.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "debootstrap"])
        .args([
            "--variant=minbase",
            &format!("--include={DEBOOTSTRAP_INCLUDE}"),
        ])
        .arg(format!("--keyring={DEBIAN_KEYRING}"))
        .arg(codename)
        .arg(&tmp)
        .arg(mirror);
    run_logged("debootstrap", cmd, &log);

    let r = &tmp;
    fs::write(r.join("etc/apt/sources.list"), sources_list).unwrap();
    // The standard way to keep package scripts from starting services in a chroot: nginx
    // must not start on the host's port 80.
    write_mode(r, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755);
    fs::write(r.join("etc/hostname"), format!("{HOSTNAME}\n")).unwrap();
    fs::write(
        r.join("etc/hosts"),
        format!("127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n"),
    )
    .unwrap();
    write_mode(
        r,
        "etc/ssh/sshd_config.d/rpack-slow-test.conf",
        &format!(
            "# written by tests/it/slow.rs; the port comes from sshd -p\n\
             ListenAddress 127.0.0.1\nAddressFamily inet\nAllowUsers {LOGIN_USER}\n\
             PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UseDNS no\nPrintMotd no\n"
        ),
        0o644,
    );
    write_mode(
        r,
        "etc/sudoers.d/90-cloud-init-users",
        &format!("{LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n"),
        0o440,
    );
    let _ = fs::remove_file(&base.key);
    let _ = fs::remove_file(base.key.with_extension("pub"));
    let mut keygen = Command::new("ssh-keygen");
    keygen
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "rpack-slow-test",
            "-f",
        ])
        .arg(&base.key);
    run_logged("ssh-keygen", keygen, &log);
    let public = fs::read_to_string(base.key.with_extension("pub")).unwrap();
    let public = public.trim();
    // A fresh account's password is '!' (locked), and sshd refuses locked accounts even for
    // key logins; '*' lets no password in without the lock.
    let setup = format!(
        "set -eu\n\
         useradd --create-home --shell /bin/bash {LOGIN_USER}\n\
         usermod -p '*' {LOGIN_USER}\n\
         install -d -m 700 -o {LOGIN_USER} -g {LOGIN_USER} /home/{LOGIN_USER}/.ssh\n\
         printf '%s\\n' '{public}' > /home/{LOGIN_USER}/.ssh/authorized_keys\n\
         chown {LOGIN_USER}: /home/{LOGIN_USER}/.ssh/authorized_keys\n\
         chmod 600 /home/{LOGIN_USER}/.ssh/authorized_keys\n\
         apt-get update -q\n\
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only --no-install-recommends {}\n",
        PREFETCH.join(" ")
    );
    run_logged("root setup", in_root(r, &["/bin/sh", "-c", &setup]), &log);
    fs::rename(&tmp, &base.root).unwrap();
}

/// The major of the root's nodejs candidate ("18.20.4+dfsg-1~deb12u3" -> "18").
fn distro_node_major(root: &Path) -> String {
    let out = Command::new("chroot")
        .arg(root)
        .args(["apt-cache", "policy", "nodejs"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let candidate = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|c| *c != "(none)")
        .unwrap_or_else(|| panic!("the root has no nodejs candidate:\n{text}"));
    let version = candidate.split_once(':').map_or(candidate, |(_, v)| v);
    version.split('.').next().unwrap().to_string()
}

/// A `chroot root args...` command inside new mount and UTS namespaces, with /proc and /dev
/// mounted in the root. The mounts exist only in that namespace: they end with its processes.
fn in_root(root: &Path, args: &[&str]) -> Command {
    in_namespace(root, None, args)
}

/// Like `in_root`, on a copy of `base` in a tmpfs mounted at `mountpoint` inside the
/// namespace. The copy lives as long as the namespace's processes: nothing is left to delete
/// (deleting the tens of thousands of files a build writes takes minutes on a disk mounted
/// with `discard`). From outside, the root is `/proc/<pid>/root` of such a process.
fn in_root_copy(base: &Path, mountpoint: &Path, args: &[&str]) -> Command {
    in_namespace(mountpoint, Some(base), args)
}

fn in_namespace(root: &Path, copy_from: Option<&Path>, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--uts", "--propagation", "private", "--"])
        .args(["/bin/sh", "-euc"])
        .arg(format!(
            "root=$1; base=$2; shift 2; hostname {HOSTNAME}; \
             if [ -n \"$base\" ]; then mount -t tmpfs -o mode=755,size={TMPFS_SIZE} tmpfs \"$root\"; \
             cp -a \"$base/.\" \"$root/\"; fi; \
             mount -t proc proc \"$root/proc\"; mount --rbind /dev \"$root/dev\"; \
             exec chroot \"$root\" \"$@\""
        ))
        .arg("in-root")
        .arg(root)
        .arg(copy_from.map_or(PathBuf::new(), Path::to_path_buf))
        .args(args);
    cmd
}

/// Runs `cmd` as a stack child with its output appended to `log`; panics with the log's tail
/// when it fails or outlives `SLOW_STEP`.
fn run_logged(what: &str, mut cmd: Command, log: &Path) {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut child = process::spawn(what, cmd).unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let status = wait(&mut child, SLOW_STEP);
    assert!(
        status.is_some_and(|s| s.success()),
        "{what} {} (log {}):\n{}",
        status.map_or("timed out".to_string(), |s| format!("failed: {s}")),
        log.display(),
        tail(&fs::read_to_string(log).unwrap_or_default(), 40)
    );
}

/// Waits up to `timeout` for `child` to exit; None when it still runs (it is then killed).
fn wait(child: &mut ChildGuard, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    process::wait_until(timeout, || {
        status = child.try_wait();
        status.is_some()
    });
    if status.is_none() {
        child.kill();
    }
    status
}

fn write_mode(root: &Path, rel: &str, content: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn os_release(key: &str) -> String {
    let text = fs::read_to_string("/etc/os-release").expect("reading /etc/os-release");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map_or_else(
            || panic!("/etc/os-release has no {key}"),
            |v| v.trim_matches('"').to_string(),
        )
}

// ---- this machine's apt sources ----------------------------------------------------------------

/// One `deb` repository suite.
#[derive(Debug)]
struct AptSource {
    uri: String,
    suite: String,
    components: Vec<String>,
    signed_by: Option<String>,
}

impl AptSource {
    /// The one-line sources.list form.
    fn line(&self) -> String {
        let opts = self
            .signed_by
            .as_ref()
            .map_or(String::new(), |k| format!("[signed-by={k}] "));
        format!(
            "deb {opts}{} {} {}\n",
            self.uri,
            self.suite,
            self.components.join(" ")
        )
    }
}

/// The Debian repositories for `codename` (and its -updates/-security suites) that apt on
/// this machine uses. These are the enabled `deb` entries of sources.list, sources.list.d/*.list
/// and *.sources that are signed with Debian's archive key, or that name no key and have a
/// path ending in /debian or /debian-security. Third-party repositories are left out.
fn debian_sources(codename: &str) -> Vec<AptSource> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    let mut parts: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    parts.sort();
    files.extend(parts);
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("list") => found.extend(parse_one_line(&text)),
            Some("sources") => found.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    found
        .into_iter()
        .filter(|s| s.suite == codename || s.suite.starts_with(&format!("{codename}-")))
        .filter(|s| {
            if let Some(key) = &s.signed_by {
                key == DEBIAN_KEYRING
            } else {
                let path = s.uri.trim_end_matches('/');
                path.ends_with("/debian") || path.ends_with("/debian-security")
            }
        })
        .collect()
}

fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        let mut signed_by = None;
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                let opt = w.trim_start_matches('[').trim_end_matches(']');
                if let Some(k) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(k.to_string());
                }
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            uri: uri.to_string(),
            suite: suite.to_string(),
            components: words.map(str::to_string).collect(),
            signed_by,
        });
    }
    out
}

fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut stanza: BTreeMap<String, String> = BTreeMap::new();
    let mut flush = |stanza: &mut BTreeMap<String, String>| {
        let field = |k: &str| stanza.get(k).map_or("", String::as_str);
        let enabled = !field("Enabled").eq_ignore_ascii_case("no");
        if enabled && field("Types").split_whitespace().any(|t| t == "deb") {
            // An inline key block is not a path; apt then falls back to trusted.gpg.d.
            let signed_by = Some(field("Signed-By").trim())
                .filter(|k| k.starts_with('/') && !k.contains(char::is_whitespace))
                .map(str::to_string);
            for uri in field("URIs").split_whitespace() {
                for suite in field("Suites").split_whitespace() {
                    out.push(AptSource {
                        uri: uri.to_string(),
                        suite: suite.to_string(),
                        components: field("Components")
                            .split_whitespace()
                            .map(str::to_string)
                            .collect(),
                        signed_by: signed_by.clone(),
                    });
                }
            }
        }
        stanza.clear();
    };
    let mut last_key = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut stanza);
            last_key = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(k) = &last_key {
                let v = stanza.entry(String::clone(k)).or_default();
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            stanza.insert(k.trim().to_string(), v.trim().to_string());
            last_key = Some(k.trim().to_string());
        }
    }
    flush(&mut stanza);
    out
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

mod ubuntu;
