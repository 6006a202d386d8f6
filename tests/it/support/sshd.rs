//! `Sshd`: a dedicated OpenSSH server on 127.0.0.1 playing the instance a build connects to.
//!
//! Each `Sshd` has its own directory (config, log, per-instance host keys), port and process; the
//! login user is `ec2-user` with passwordless sudo (made by scripts/test-deps.sh), as on EC2
//! images. Keys are never read from a file (`AuthorizedKeysFile none`); `AuthorizedKeysCommand`
//! decides:
//! * EC2 mode (`start_ec2`): tests/support-py/authorized_keys.py accepts a key only while a
//!   pending or running instance in the given moto was launched with its key pair, so a build
//!   using the wrong key, or connecting after termination, is refused as on EC2;
//! * static mode (`start_static`): exactly one given public key.
//!
//! Host keys are generated once per target directory and shared (RSA generation costs ~0.3 s);
//! `regenerate_host_key` gives one instance fresh keys of its own.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::paths;
use super::process::{self, ChildGuard};

pub(crate) const SSHD: &str = "/usr/sbin/sshd";
pub(crate) const LOGIN_USER: &str = "ec2-user";
/// A second login user with a password (random per machine), for the password-login tests;
/// only servers started with `AllowUsers` for it in their extra config let it in.
pub(crate) const PASSWORD_USER: &str = "rpack-password";
/// Where scripts/test-deps.sh keeps `PASSWORD_USER`'s password (root only).
pub(crate) const PASSWORD_FILE: &str = "/var/lib/rpack-tests/rpack-password.password";
const HOST: &str = "127.0.0.1";
const HOST_KEY_KINDS: [&str; 3] = ["ed25519", "ecdsa", "rsa"];
/// Regions the EC2-mode key lookup searches, in order: those the templates and conformance
/// cases use. Use `start_ec2_in` for others.
pub(crate) const DEFAULT_REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "us-west-1",
    "eu-west-1",
    "ap-south-1",
];
/// sshd forks a child that writes the banner right after accept; seconds are plenty.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Which public keys the server accepts.
#[derive(Debug, Clone)]
enum KeySource {
    Static { keys_file: PathBuf },
    Ec2 { moto: String, regions: String },
}

#[derive(Debug)]
pub(crate) struct Sshd {
    dir: PathBuf,
    port: u16,
    keys: KeySource,
    host_keys: Vec<PathBuf>,
    child: Option<ChildGuard>,
    /// sshd_config lines placed before the standard ones (`start_static_with`).
    extra_config: String,
}

impl Sshd {
    /// A server accepting exactly `pubkey_openssh` ("ssh-ed25519 AAAA... comment") for ec2-user.
    pub(crate) fn start_static(pubkey_openssh: &str) -> Sshd {
        let dir = paths::fresh_dir("sshd");
        let keys_file = dir.join("authorized_keys");
        std::fs::write(&keys_file, format!("{}\n", pubkey_openssh.trim()))
            .unwrap_or_else(|e| panic!("writing {}: {e}", keys_file.display()));
        Self::launch(dir, KeySource::Static { keys_file })
    }

    /// As `start_static`, with `extra` sshd_config lines placed before the standard ones: sshd
    /// takes the first value of a keyword (so `extra` overrides, e.g. `UsePAM yes`), and
    /// `AllowUsers` lines add up.
    pub(crate) fn start_static_with(pubkey_openssh: &str, extra: &str) -> Sshd {
        let dir = paths::fresh_dir("sshd");
        let keys_file = dir.join("authorized_keys");
        std::fs::write(&keys_file, format!("{}\n", pubkey_openssh.trim()))
            .unwrap_or_else(|e| panic!("writing {}: {e}", keys_file.display()));
        Self::launch_with(dir, KeySource::Static { keys_file }, extra)
    }

    /// `PASSWORD_USER`'s password, as scripts/test-deps.sh set it.
    pub(crate) fn password_user_password() -> String {
        let pw = std::fs::read_to_string(PASSWORD_FILE).unwrap_or_else(|e| {
            panic!(
                "reading {PASSWORD_FILE}: {e}; run scripts/test-deps.sh (creates {PASSWORD_USER})"
            )
        });
        pw.trim_end_matches('\n').to_string()
    }

    /// A server accepting the key pairs of pending/running instances in the moto at
    /// `moto_endpoint` (use moto's own endpoint, not a proxy's, so lookups are not counted).
    pub(crate) fn start_ec2(moto_endpoint: &str) -> Sshd {
        Self::start_ec2_in(moto_endpoint, &DEFAULT_REGIONS)
    }

    /// As `start_ec2`, searching instances in `regions`.
    pub(crate) fn start_ec2_in(moto_endpoint: &str, regions: &[&str]) -> Sshd {
        assert!(
            !regions.is_empty(),
            "start_ec2_in needs at least one region"
        );
        let keys = KeySource::Ec2 {
            moto: moto_endpoint.to_string(),
            regions: regions.join(","),
        };
        Self::launch(paths::fresh_dir("sshd"), keys)
    }

    /// As `start_ec2`, presenting only `host_keys` (private key files, 0600, each with its
    /// `.pub` beside it): an instance whose host key cloud-init installed from the user data.
    pub(crate) fn start_ec2_with_host_keys(moto_endpoint: &str, host_keys: Vec<PathBuf>) -> Sshd {
        let keys = KeySource::Ec2 {
            moto: moto_endpoint.to_string(),
            regions: DEFAULT_REGIONS.join(","),
        };
        Self::launch_keys(paths::fresh_dir("sshd"), keys, "", Some(host_keys))
    }

    fn launch(dir: PathBuf, keys: KeySource) -> Sshd {
        Self::launch_with(dir, keys, "")
    }

    fn launch_with(dir: PathBuf, keys: KeySource, extra_config: &str) -> Sshd {
        Self::launch_keys(dir, keys, extra_config, None)
    }

    fn launch_keys(
        dir: PathBuf,
        keys: KeySource,
        extra_config: &str,
        host_keys: Option<Vec<PathBuf>>,
    ) -> Sshd {
        check_prerequisites();
        let mut sshd = Sshd {
            dir,
            port: 0,
            keys,
            host_keys: host_keys.unwrap_or_else(|| shared_host_keys().to_vec()),
            child: None,
            extra_config: extra_config.to_string(),
        };
        // The free port may be taken by someone else before sshd binds it; then try another.
        for attempt in 1..=5 {
            sshd.port = process::free_port();
            match sshd.spawn() {
                Ok(()) => return sshd,
                Err(e) if attempt < 5 && sshd.log().contains("Address already in use") => {
                    eprintln!("sshd port {} was taken, retrying: {e:#}", sshd.port);
                }
                Err(e) => panic!("starting sshd in {}: {e:#}", sshd.dir.display()),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    pub(crate) fn host(&self) -> &'static str {
        HOST
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn user(&self) -> &'static str {
        LOGIN_USER
    }

    /// The sshd listener's process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// This server's directory (config, logs).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// sshd's log plus the authorized-keys command's decisions, for failure messages.
    pub(crate) fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("sshd.log"), read("akc.log"))
    }

    /// The public halves of the current host keys (OpenSSH format).
    pub(crate) fn host_public_keys(&self) -> Vec<String> {
        self.host_keys
            .iter()
            .map(|k| {
                let pubkey = k.with_extension("pub");
                std::fs::read_to_string(&pubkey)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", pubkey.display()))
                    .trim()
                    .to_string()
            })
            .collect()
    }

    /// The private host key files this server presents (their `.pub` beside them).
    pub(crate) fn host_key_files(&self) -> Vec<PathBuf> {
        self.host_keys.clone()
    }

    /// Stops the server and every session it serves (clients see the connection drop).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Stops and starts again on the same port, dropping all sessions: an instance reboot.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn()
            .unwrap_or_else(|e| panic!("restarting sshd on port {}: {e:#}", self.port));
    }

    /// Gives this server new host keys of its own and restarts it, so clients that remember the
    /// old key see a changed host key.
    pub(crate) fn regenerate_host_key(&mut self) {
        let keys_dir = self.dir.join(format!("host-keys-{}", unique()));
        self.host_keys = generate_host_keys(&keys_dir)
            .unwrap_or_else(|e| panic!("generating host keys in {}: {e:#}", keys_dir.display()));
        self.restart();
    }

    /// An `ssh` client command logging in as ec2-user with `private_key`, non-interactive and
    /// without host key checks; append the remote command with `.arg(...)`.
    pub(crate) fn ssh_command(&self, private_key: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"])
            .arg("-i")
            .arg(private_key)
            .args(["-p", &self.port.to_string(), "-l", LOGIN_USER, HOST])
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `remote_command` over ssh with `private_key` and returns its output.
    pub(crate) fn ssh(&self, private_key: &Path, remote_command: &str) -> Output {
        self.ssh_command(private_key)
            .arg(remote_command)
            .output()
            .unwrap_or_else(|e| panic!("running ssh: {e}"))
    }

    fn spawn(&mut self) -> Result<()> {
        let config = self.dir.join("sshd_config");
        std::fs::write(&config, self.config_text())
            .with_context(|| format!("writing {}", config.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sshd.log"))
            .context("opening sshd.log")?;
        let mut cmd = Command::new(SSHD);
        cmd.arg("-D").arg("-e").arg("-f").arg(&config);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let mut child = process::spawn("sshd", cmd).context("running /usr/sbin/sshd")?;
        let port = self.port;
        let mut exited = None;
        let ready = process::wait_until(READY_TIMEOUT, || {
            exited = child.try_wait();
            exited.is_some() || answers_ssh(port)
        });
        if let Some(status) = exited {
            bail!(
                "sshd exited ({status}) on port {port}; log:\n{}",
                self.log()
            );
        }
        if !ready {
            child.kill();
            bail!(
                "sshd did not answer on port {port} within {READY_TIMEOUT:?}; log:\n{}",
                self.log()
            );
        }
        self.child = Some(child);
        Ok(())
    }

    fn config_text(&self) -> String {
        let quote = |p: &Path| format!("\"{}\"", p.display());
        let command = match &self.keys {
            KeySource::Static { keys_file } => format!("/usr/bin/cat {}", quote(keys_file)),
            KeySource::Ec2 { moto, regions } => format!(
                "{} -I -S {} {moto} {regions} {} %t %k",
                paths::SYSTEM_PYTHON,
                quote(&paths::support_py("authorized_keys.py")),
                quote(&self.dir),
            ),
        };
        let host_keys: String = self
            .host_keys
            .iter()
            .map(|k| format!("HostKey {}\n", quote(k)))
            .collect();
        let extra = match self.extra_config.trim() {
            "" => String::new(),
            e => format!("{e}\n"),
        };
        format!(
            "# written by tests/it/support/sshd.rs\n\
             {extra}\
             ListenAddress {HOST}:{port}\n\
             AddressFamily inet\n\
             {host_keys}\
             PidFile none\n\
             UsePAM no\n\
             AllowUsers {LOGIN_USER}\n\
             PermitRootLogin no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             AuthorizedKeysFile none\n\
             AuthorizedKeysCommand {command}\n\
             AuthorizedKeysCommandUser root\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             MaxStartups 100:30:200\n\
             MaxSessions 100\n\
             LogLevel VERBOSE\n",
            port = self.port,
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "sshd of the failed test: {} (sshd.log, akc.log)",
                self.dir.display()
            );
            self.stop();
        } else {
            self.stop();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether something on 127.0.0.1:`port` sends an SSH banner.
fn answers_ssh(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((HOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

fn check_prerequisites() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "the test sshd must run as root (it logs users in as {LOGIN_USER}); run the tests as root"
    );
    assert!(
        Path::new(SSHD).is_file(),
        "{SSHD} is missing: run scripts/test-deps.sh"
    );
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with(&format!("{LOGIN_USER}:"))),
        "user {LOGIN_USER} does not exist: run scripts/test-deps.sh"
    );
    // sshd's privilege separation directory; /run is a tmpfs, so it can vanish on reboot.
    if !Path::new("/run/sshd").is_dir() {
        let _ = std::fs::create_dir_all("/run/sshd");
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The host keys all servers share, generated on first use into `<target>/test-stack/host-keys`.
fn shared_host_keys() -> &'static [PathBuf] {
    static KEYS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = paths::target_dir().join("test-stack").join("host-keys");
        let keys: Vec<PathBuf> = HOST_KEY_KINDS
            .iter()
            .map(|k| dir.join(format!("ssh_host_{k}_key")))
            .collect();
        if keys
            .iter()
            .all(|k| k.is_file() && k.with_extension("pub").is_file())
        {
            return keys;
        }
        // Generate beside the final place and rename, so a concurrent test binary never sees
        // half a set.
        let tmp = dir.with_file_name(format!("host-keys.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        generate_host_keys(&tmp).unwrap_or_else(|e| panic!("generating host keys: {e:#}"));
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp); // another binary won the race
        }
        keys
    })
}

fn generate_host_keys(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Started together: RSA dominates and the others finish meanwhile.
    let mut jobs = Vec::new();
    for kind in HOST_KEY_KINDS {
        let path = dir.join(format!("ssh_host_{kind}_key"));
        let child = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", "rpack-test-host", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("running ssh-keygen")?;
        jobs.push((path, child));
    }
    let mut keys = Vec::new();
    for (path, child) in jobs {
        let out = child.wait_with_output().context("waiting for ssh-keygen")?;
        if !out.status.success() {
            bail!(
                "ssh-keygen for {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        keys.push(path);
    }
    Ok(keys)
}

/// Client key types for `ssh_keygen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Ed25519,
    Ecdsa,
    /// 2048-bit RSA in PEM ("BEGIN RSA PRIVATE KEY"), the format EC2's CreateKeyPair returns.
    Rsa,
}

/// A new key pair in a directory of its own: (private key path, public key in OpenSSH format).
pub(crate) fn ssh_keygen(kind: KeyKind) -> (PathBuf, String) {
    let dir = paths::fresh_dir("client-key");
    let (name, args): (&str, &[&str]) = match kind {
        KeyKind::Ed25519 => ("id_ed25519", &["-t", "ed25519"]),
        KeyKind::Ecdsa => ("id_ecdsa", &["-t", "ecdsa"]),
        KeyKind::Rsa => ("id_rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"]),
    };
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .arg("-q")
        .args(args)
        .args(["-N", "", "-C", "rpack-test", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ssh-keygen: {e}"));
    assert!(
        out.status.success(),
        "ssh-keygen {kind:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .unwrap_or_else(|e| panic!("reading the public key of {}: {e}", path.display()));
    (path, public.trim().to_string())
}

/// Writes a private key (e.g. CreateKeyPair's KeyMaterial) to a new 0600 file, as ssh requires.
pub(crate) fn save_private_key(material: &str) -> PathBuf {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = paths::fresh_dir("client-key").join("id_key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    file.write_all(material.as_bytes())
        .and_then(|()| {
            if material.ends_with('\n') {
                Ok(())
            } else {
                file.write_all(b"\n")
            }
        })
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}
