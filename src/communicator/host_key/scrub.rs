//! Removing the injected host key from the build instance before it is imaged (issue #19): the
//! key rpack sent in the user data reaches the disk as cloud-init's copies of the user data
//! (`/var/lib/cloud/instance*/user-data*`, the merged `cloud-config.txt`, the cached datasource
//! `obj.pkl`) and as the sshd's ed25519 host key (`/etc/ssh/ssh_host_ed25519_key`, kept when
//! `ssh_host_key_keep_injected` is set). Only files that contain the injected public key are
//! removed, so nothing the image had before is touched; the command then checks that none of
//! them remains.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::HostKey;
use crate::communicator::{Communicator, OutputSink};

/// cloud-init's copies of the user data, relative to the instance root.
pub(crate) const CLOUD_INIT_COPIES: &[&str] = &[
    "/var/lib/cloud/instance/user-data*",
    "/var/lib/cloud/instance/cloud-config.txt",
    "/var/lib/cloud/instance/obj.pkl",
    "/var/lib/cloud/instances/*/user-data*",
    "/var/lib/cloud/instances/*/cloud-config.txt",
    "/var/lib/cloud/instances/*/obj.pkl",
];

/// Where cloud-init's `ssh_keys` puts the injected ed25519 host key.
pub(crate) const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key";

/// What to remove, and where the instance's file system starts.
#[derive(Debug, Clone)]
pub(crate) struct Scrub<'a> {
    /// The instance's root (`/`; a test or chroot directory otherwise).
    pub root: &'a str,
    pub injected: &'a HostKey,
    /// `ssh_host_key_keep_injected`: leave the host key itself in the image.
    pub keep_host_key: bool,
}

/// The outcome: files removed, and files that could not be removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub removed: Vec<String>,
    pub left: Vec<String>,
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Scrub<'_> {
    /// The shell script (run as root) that removes the files and prints `removed PATH` or
    /// `left PATH` for each.
    pub(crate) fn script(&self) -> String {
        let root = self.root.trim_end_matches('/');
        let copies: Vec<String> = CLOUD_INIT_COPIES
            .iter()
            .map(|p| format!("\"$R\"{p}"))
            .collect();
        let mut s = format!(
            "R={}; K={}\n\
             gone() {{ rm -f -- \"$1\"; if [ -e \"$1\" ]; then echo \"left $1\"; else echo \"removed $1\"; fi; }}\n\
             for f in {}; do [ -f \"$f\" ] && grep -qF -- \"$K\" \"$f\" && gone \"$f\"; done\n",
            sh_quote(root),
            sh_quote(&self.injected.base64()),
            copies.join(" "),
        );
        if !self.keep_host_key {
            s.push_str(&format!(
                "H=\"$R\"{HOST_KEY}; if [ -f \"$H.pub\" ] && grep -qF -- \"$K\" \"$H.pub\"; then gone \"$H\"; gone \"$H.pub\"; fi\n"
            ));
        }
        s.push_str("true\n");
        s
    }

    /// The remote command: the script through `sh`, with `sudo -n` unless already root. A
    /// cheap check as the login user comes first, so a machine with neither cloud-init's
    /// directory nor the injected key as its host key (it did not run cloud-init) costs no
    /// `sudo` (about 80 ms on the test stack).
    pub(crate) fn command(&self) -> String {
        let root = self.root.trim_end_matches('/');
        let mut need = format!("[ -e {}/var/lib/cloud ]", sh_quote(root));
        if !self.keep_host_key {
            let p = sh_quote(&format!("{root}{HOST_KEY}.pub"));
            need.push_str(&format!(
                " || {{ [ -f {p} ] && {{ [ ! -r {p} ] || grep -qF -- {} {p}; }}; }}",
                sh_quote(&self.injected.base64())
            ));
        }
        let s = sh_quote(&self.script());
        format!(
            "if {need}; then if [ \"$(id -u)\" = 0 ]; then sh -c {s}; else sudo -n sh -c {s}; fi; fi"
        )
    }

    /// Runs the removal; `Err` says why it could not run (no sudo, a failed command).
    pub(crate) async fn run(
        &self,
        comm: &dyn Communicator,
        cancel: &CancellationToken,
    ) -> Result<Report, String> {
        let out = Collect::default();
        let status = comm
            .start(&self.command(), &out, cancel)
            .await
            .map_err(|e| e.to_string())?;
        let lines = out
            .lines
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut report = Report::default();
        let mut other = Vec::new();
        for (err, l) in lines {
            match (err, l.split_once(' ')) {
                (false, Some(("removed", p))) => report.removed.push(p.to_string()),
                (false, Some(("left", p))) => report.left.push(p.to_string()),
                _ => other.push(l),
            }
        }
        if status != 0 {
            return Err(format!(
                "the removal exited with status {status}{}",
                if other.is_empty() {
                    String::new()
                } else {
                    format!(": {}", other.join("; "))
                }
            ));
        }
        Ok(report)
    }
}

/// Collects output lines (`true` = stderr).
#[derive(Default)]
struct Collect {
    lines: Mutex<Vec<(bool, String)>>,
}

impl OutputSink for Collect {
    fn stdout_line(&self, line: &str) {
        self.push(false, line);
    }
    fn stderr_line(&self, line: &str) {
        self.push(true, line);
    }
}

impl Collect {
    fn push(&self, err: bool, line: &str) {
        let mut l = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if l.len() < 1000 {
            l.push((err, line.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::host_key::user_data::Injected;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// Lays out what cloud-init writes for an injected key, plus files that are not ours.
    fn instance(root: &Path, inj: &Injected) {
        let ud = format!("Content-Type: multipart/mixed\n\n{}", inj.cloud_config());
        let dir = root.join("var/lib/cloud/instances/i-0abc");
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "user-data.txt",
            "user-data.txt.i",
            "cloud-config.txt",
            "obj.pkl",
        ] {
            std::fs::write(dir.join(f), &ud).unwrap();
        }
        std::fs::write(dir.join("vendor-data.txt"), &ud).unwrap();
        symlink("instances/i-0abc", root.join("var/lib/cloud/instance")).unwrap();
        // An older instance's copy without our key is not ours.
        let old = root.join("var/lib/cloud/instances/i-0old");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("user-data.txt"), "#!/bin/sh\necho hi\n").unwrap();
        let ssh = root.join("etc/ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("ssh_host_ed25519_key"), &inj.private_openssh).unwrap();
        std::fs::write(ssh.join("ssh_host_ed25519_key.pub"), &inj.public_line).unwrap();
        std::fs::write(ssh.join("ssh_host_rsa_key.pub"), "ssh-rsa AAAA other\n").unwrap();
    }

    fn run_script(s: &Scrub<'_>) -> Report {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(s.script())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut r = Report::default();
        for l in String::from_utf8(out.stdout).unwrap().lines() {
            match l.split_once(' ') {
                Some(("removed", p)) => r.removed.push(p.to_string()),
                Some(("left", p)) => r.left.push(p.to_string()),
                _ => panic!("unexpected line {l:?}"),
            }
        }
        r
    }

    #[test]
    fn only_the_files_holding_the_injected_key_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("it's a root"); // quoting
        let inj = Injected::generate().unwrap();
        instance(&root, &inj);
        let root_s = format!("{}/", root.display());
        let r = run_script(&Scrub {
            root: &root_s,
            injected: &inj.key,
            keep_host_key: false,
        });
        assert!(r.left.is_empty(), "{r:?}");
        assert_eq!(r.removed.len(), 6, "{r:?}");
        let i = root.join("var/lib/cloud/instances/i-0abc");
        for f in [
            "user-data.txt",
            "user-data.txt.i",
            "cloud-config.txt",
            "obj.pkl",
        ] {
            assert!(!i.join(f).exists(), "{f} remains");
        }
        assert!(!root.join("etc/ssh/ssh_host_ed25519_key").exists());
        assert!(!root.join("etc/ssh/ssh_host_ed25519_key.pub").exists());
        // Not ours, or not a user data copy: untouched.
        assert!(i.join("vendor-data.txt").exists());
        assert!(root
            .join("var/lib/cloud/instances/i-0old/user-data.txt")
            .exists());
        assert!(root.join("etc/ssh/ssh_host_rsa_key.pub").exists());
        // Nothing left to do the second time.
        let again = run_script(&Scrub {
            root: &root_s,
            injected: &inj.key,
            keep_host_key: false,
        });
        assert_eq!(again, Report::default());
    }

    #[test]
    fn the_host_key_can_be_kept_and_another_key_is_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let inj = Injected::generate().unwrap();
        instance(dir.path(), &inj);
        let root = dir.path().display().to_string();
        let r = run_script(&Scrub {
            root: &root,
            injected: &inj.key,
            keep_host_key: true,
        });
        assert_eq!(r.removed.len(), 4, "{r:?}");
        assert!(dir.path().join("etc/ssh/ssh_host_ed25519_key").exists());
        // The image's own host key (cloud-init's ssh module did not run): not removed.
        let other = Injected::generate().unwrap();
        let r = run_script(&Scrub {
            root: &root,
            injected: &other.key,
            keep_host_key: false,
        });
        assert_eq!(r, Report::default());
        assert!(dir.path().join("etc/ssh/ssh_host_ed25519_key.pub").exists());
    }

    #[test]
    fn the_command_checks_cheaply_then_runs_the_script_as_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let inj = Injected::generate().unwrap();
        let run = |keep: bool| {
            let c = Scrub {
                root: &root,
                injected: &inj.key,
                keep_host_key: keep,
            }
            .command();
            assert!(c.contains("sudo -n sh -c 'R="), "{c}");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&c)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        // Nothing of cloud-init and another host key: nothing runs.
        let ssh = dir.path().join("etc/ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(
            ssh.join("ssh_host_ed25519_key.pub"),
            "ssh-ed25519 AAAAother x\n",
        )
        .unwrap();
        assert_eq!(run(false), "");
        // The injected key as the host key, without cloud-init's directory: removed (these
        // tests run as root, so the script runs without sudo).
        std::fs::write(ssh.join("ssh_host_ed25519_key"), &inj.private_openssh).unwrap();
        std::fs::write(ssh.join("ssh_host_ed25519_key.pub"), &inj.public_line).unwrap();
        assert_eq!(run(true), "");
        let out = run(false);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!ssh.join("ssh_host_ed25519_key").exists());
        // cloud-init's directory alone is enough to look (its files may be root's only).
        std::fs::remove_dir_all(dir.path().join("etc")).unwrap();
        let inst = dir.path().join("var/lib/cloud/instances/i-1");
        std::fs::create_dir_all(&inst).unwrap();
        std::fs::write(inst.join("user-data.txt"), inj.cloud_config()).unwrap();
        assert_eq!(
            run(true),
            format!("removed {}/user-data.txt\n", inst.display())
        );
    }
}
