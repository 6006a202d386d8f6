//! The communicator keys every builder accepts (`communicator`, `ssh_*`, `winrm_*`,
//! `pause_before_connecting`, `temporary_key_pair_*`), decoded with Packer's defaults and
//! validation messages (packer-plugin-sdk `communicator/config.go`). `ssh_interface` belongs to
//! the amazon builders and is not decoded here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::decoder::Decoder;

/// `communicator`: how the build reaches the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommType {
    #[default]
    Ssh,
    Winrm,
    None,
    Docker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferMethod {
    #[default]
    Scp,
    Sftp,
}

/// A bastion ("jump") host the SSH connection is tunnelled through.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    /// `ssh_bastion_certificate_file` (default: `ssh_certificate_file`, as in Packer).
    pub certificate_file: Option<PathBuf>,
    pub agent_auth: bool,
    /// `ssh_bastion_host_key` (rpack extension): the bastion's host key, checked strictly.
    pub host_key: Option<String>,
}

/// A SOCKS5 proxy the SSH connection goes through (`ssh_proxy_*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proxy {
    pub host: String,
    /// `ssh_proxy_port`, default 1080.
    pub port: u16,
    /// Authentication is asked for only with a username, as in Packer.
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Decoded communicator configuration with Packer's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SshConfig {
    pub comm_type: CommType,
    pub host: Option<String>,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    /// `~`-expanded path.
    pub private_key_file: Option<PathBuf>,
    /// `ssh_certificate_file`, `~`-expanded: a certificate of `private_key_file`'s key.
    pub certificate_file: Option<PathBuf>,
    /// The private key's text in memory: set by the builder for its temporary key pair (Packer's
    /// `SSHPrivateKey`), never from the template.
    pub private_key: Option<super::keys::KeyText>,
    pub keypair_name: Option<String>,
    pub temporary_key_pair_name: Option<String>,
    /// `rsa` (default), `dsa`, `ecdsa` or `ed25519`.
    pub temporary_key_pair_type: String,
    pub temporary_key_pair_bits: u32,
    pub agent_auth: bool,
    pub disable_agent_forwarding: bool,
    pub clear_authorized_keys: bool,
    pub pty: bool,
    pub timeout: Duration,
    pub handshake_attempts: u32,
    /// `None` when disabled (a negative `ssh_keep_alive_interval`).
    pub keep_alive_interval: Option<Duration>,
    /// `None` = no timeout (Packer's 0).
    pub read_write_timeout: Option<Duration>,
    pub file_transfer_method: TransferMethod,
    pub bastion: Option<Bastion>,
    /// `ssh_proxy_host` and friends (never together with a bastion).
    pub proxy: Option<Proxy>,
    pub pause_before_connecting: Option<Duration>,
    /// `ssh_host_key_check` (rpack extension): how the instance's host key is verified.
    pub host_key_check: super::host_key::Mode,
    /// `ssh_host_key_keep_injected` (rpack extension): leave the injected host key in the image
    /// (cloud-init's copies of the user data are removed all the same).
    pub host_key_keep_injected: bool,
    /// `ssh_host_key_scrub_root` (rpack extension): where the instance's file system starts for
    /// that removal (`/`; a directory for chroot-style or test instances).
    pub host_key_scrub_root: String,
    /// `ssh_local_tunnels` then `ssh_remote_tunnels`, parsed.
    pub tunnels: Vec<super::tunnel_spec::TunnelSpec>,
    /// `ssh_ciphers` and `ssh_key_exchange_algorithms`, checked against libssh2.
    pub algorithms: super::ssh::algs::Prefs,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            comm_type: CommType::Ssh,
            host: None,
            port: 22,
            username: String::new(),
            password: None,
            private_key_file: None,
            certificate_file: None,
            private_key: None,
            keypair_name: None,
            temporary_key_pair_name: None,
            temporary_key_pair_type: "rsa".into(),
            temporary_key_pair_bits: 4096,
            agent_auth: false,
            disable_agent_forwarding: false,
            clear_authorized_keys: false,
            pty: false,
            timeout: Duration::from_secs(300),
            handshake_attempts: 10,
            keep_alive_interval: Some(Duration::from_secs(5)),
            read_write_timeout: None,
            file_transfer_method: TransferMethod::Scp,
            bastion: None,
            proxy: None,
            pause_before_connecting: None,
            host_key_check: super::host_key::Mode::Auto,
            host_key_keep_injected: false,
            host_key_scrub_root: "/".into(),
            tunnels: Vec::new(),
            algorithms: super::ssh::algs::Prefs::default(),
        }
    }
}

/// Keys decoded so they are known: WinRM's (ignored unless the communicator is `winrm`, which
/// is refused) and the SSH features rpack does not implement (refused when set, see
/// `refuse::unhonoured_ssh_options`).
const ACCEPTED_ONLY: &[&str] = &[
    "ssh_bastion_interactive",
    "winrm_username",
    "winrm_password",
    "winrm_host",
    "winrm_port",
    "winrm_timeout",
    "winrm_use_ssl",
    "winrm_insecure",
    "winrm_use_ntlm",
    "winrm_no_proxy",
];

/// Decodes every communicator key of a builder config, recording Packer's validation errors
/// on `d`.
pub fn decode(d: &mut Decoder) -> SshConfig {
    let mut c = SshConfig::default();
    let comm_type = d.string("communicator").unwrap_or_default();
    let mut type_ok = true;
    c.comm_type = match comm_type.as_str() {
        "" | "ssh" => CommType::Ssh,
        "winrm" => CommType::Winrm,
        "none" => CommType::None,
        "docker" | "dockerWindowsContainer" => CommType::Docker,
        other => {
            d.error(
                "communicator",
                format!("Communicator type {other} is invalid"),
            );
            type_ok = false;
            CommType::Ssh
        }
    };
    c.pause_before_connecting = d
        .duration("pause_before_connecting")
        .filter(|p| !p.is_zero());

    c.host = d.string("ssh_host").filter(|s| !s.is_empty());
    if let Some(p) = d.int("ssh_port") {
        match u16::try_from(p) {
            Ok(0) => {}
            Ok(p) => c.port = p,
            Err(_) => d.error("ssh_port", format!("ssh_port ({p}) is not a valid port")),
        }
    }
    c.username = d.string("ssh_username").unwrap_or_default();
    c.password = d.string("ssh_password").filter(|s| !s.is_empty());
    c.host_key_check = super::host_key::decode(d);
    c.host_key_keep_injected = d.bool("ssh_host_key_keep_injected").unwrap_or(false);
    if let Some(r) = d
        .string("ssh_host_key_scrub_root")
        .filter(|s| !s.is_empty())
    {
        if r.starts_with('/') {
            c.host_key_scrub_root = r;
        } else {
            d.error(
                "ssh_host_key_scrub_root",
                format!("ssh_host_key_scrub_root {r:?} must be an absolute path on the instance"),
            );
        }
    }
    let key_file = d.string("ssh_private_key_file").filter(|s| !s.is_empty());
    let cert_file = d.string("ssh_certificate_file").filter(|s| !s.is_empty());
    let bastion_cert = d
        .string("ssh_bastion_certificate_file")
        .filter(|s| !s.is_empty());
    c.keypair_name = d.string("ssh_keypair_name").filter(|s| !s.is_empty());
    c.temporary_key_pair_name = d
        .string("temporary_key_pair_name")
        .filter(|s| !s.is_empty());
    if let Some(t) = d
        .string("temporary_key_pair_type")
        .filter(|s| !s.is_empty())
    {
        c.temporary_key_pair_type = t;
    }
    let bits = d.int("temporary_key_pair_bits").unwrap_or(0);
    c.agent_auth = d.bool("ssh_agent_auth").unwrap_or(false);
    c.disable_agent_forwarding = d.bool("ssh_disable_agent_forwarding").unwrap_or(false);
    c.clear_authorized_keys = d.bool("ssh_clear_authorized_keys").unwrap_or(false);
    c.pty = d.bool("ssh_pty").unwrap_or(false);
    if let Some(t) = d.duration("ssh_timeout").filter(|t| !t.is_zero()) {
        c.timeout = t;
    }
    // Deprecated alias; like Packer it wins over ssh_timeout when both are set.
    if let Some(t) = d.duration("ssh_wait_timeout").filter(|t| !t.is_zero()) {
        c.timeout = t;
    }
    if let Some(n) = d.int("ssh_handshake_attempts").filter(|n| *n > 0) {
        c.handshake_attempts = n as u32;
    }
    c.keep_alive_interval = keep_alive(d);
    c.read_write_timeout = d
        .duration("ssh_read_write_timeout")
        .filter(|t| !t.is_zero());
    let method = d.string("ssh_file_transfer_method").unwrap_or_default();

    let bastion_host = d.string("ssh_bastion_host").filter(|s| !s.is_empty());
    let bastion_port = d.int("ssh_bastion_port");
    let bastion_user = d.string("ssh_bastion_username").unwrap_or_default();
    let bastion_password = d.string("ssh_bastion_password").filter(|s| !s.is_empty());
    let bastion_key = d
        .string("ssh_bastion_private_key_file")
        .filter(|s| !s.is_empty());
    let bastion_agent = d.bool("ssh_bastion_agent_auth").unwrap_or(false);
    let bastion_host_key = d.string("ssh_bastion_host_key").filter(|s| !s.is_empty());
    if let Some(Err(e)) = bastion_host_key
        .as_deref()
        .map(super::host_key::expected::Expected::parse)
    {
        d.error("ssh_bastion_host_key", format!("ssh_bastion_host_key: {e}"));
    }
    let proxy_host = d.string("ssh_proxy_host").filter(|s| !s.is_empty());
    let proxy_port = d.int("ssh_proxy_port");
    let proxy_user = d.string("ssh_proxy_username").filter(|s| !s.is_empty());
    let proxy_password = d.string("ssh_proxy_password").filter(|s| !s.is_empty());
    let local_tunnels = d.string_list("ssh_local_tunnels").unwrap_or_default();
    let remote_tunnels = d.string_list("ssh_remote_tunnels").unwrap_or_default();
    let ciphers = d.string_list("ssh_ciphers").unwrap_or_default();
    let kex = d
        .string_list("ssh_key_exchange_algorithms")
        .unwrap_or_default();
    for key in ACCEPTED_ONLY {
        let _ = d.raw(key);
    }

    // What rpack cannot do is refused now, before anything is launched.
    match c.comm_type {
        CommType::Winrm => super::refuse::winrm(d),
        CommType::Ssh if type_ok => super::refuse::unhonoured_ssh_options(d),
        _ => {}
    }
    // Like Packer, an invalid type is the only error reported.
    if c.comm_type != CommType::Ssh || !type_ok {
        return c;
    }

    // Validation, in the order of Packer's prepareSSH.
    if c.username.is_empty() {
        d.error(
            "ssh_username",
            "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\".",
        );
    }
    if let Some(path) = key_file.as_deref() {
        let path = expand_user(path);
        if let Err(msg) = check_private_key(&path) {
            d.error(
                "ssh_private_key_file",
                format!("ssh_private_key_file is invalid: {msg}"),
            );
        }
        c.private_key_file = Some(path);
    }
    if let Some(cert) = cert_file.as_deref() {
        let cert = expand_user(cert);
        if c.private_key_file.is_none() {
            d.error(
                "ssh_certificate_file",
                "ssh_certificate_file is invalid: it certifies the key in ssh_private_key_file, which is not set. Hint: set ssh_private_key_file to the key the certificate was issued for",
            );
        } else if let Err(msg) = check_certificate(&cert) {
            d.error(
                "ssh_certificate_file",
                format!("ssh_certificate_file is invalid: {msg}"),
            );
        }
        c.certificate_file = Some(cert);
    }
    if let Some(host) = bastion_host {
        let private_key_file = bastion_key
            .map(|k| expand_user(&k))
            .or_else(|| c.private_key_file.clone());
        if !bastion_agent {
            if bastion_password.is_none() && private_key_file.is_none() {
                d.error(
                    "ssh_bastion_host",
                    "ssh_bastion_password or ssh_bastion_private_key_file must be specified",
                );
            } else if let Some(path) = &private_key_file {
                if let Err(msg) = check_private_key(path) {
                    d.error(
                        "ssh_bastion_private_key_file",
                        format!("ssh_bastion_private_key_file is invalid: {msg}"),
                    );
                }
            }
        }
        let certificate_file = match bastion_cert {
            Some(cert) => {
                let cert = expand_user(&cert);
                if let Err(msg) = check_certificate(&cert) {
                    d.error(
                        "ssh_bastion_certificate_file",
                        format!("ssh_bastion_certificate_file is invalid: {msg}"),
                    );
                }
                Some(cert)
            }
            None => c.certificate_file.clone(),
        };
        c.bastion = Some(Bastion {
            host,
            port: bastion_port
                .filter(|p| *p > 0)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(22),
            username: bastion_user,
            password: bastion_password,
            private_key_file,
            certificate_file,
            agent_auth: bastion_agent,
            host_key: bastion_host_key,
        });
    }
    c.file_transfer_method = match method.as_str() {
        "" | "scp" => TransferMethod::Scp,
        "sftp" => TransferMethod::Sftp,
        other => {
            d.error(
                "ssh_file_transfer_method",
                format!(
                    "ssh_file_transfer_method ('{other}') is invalid, valid methods: sftp, scp"
                ),
            );
            TransferMethod::Scp
        }
    };
    if let Some(host) = proxy_host {
        let port = match proxy_port.unwrap_or(0) {
            0 => 1080,
            p => u16::try_from(p).unwrap_or_else(|_| {
                d.error(
                    "ssh_proxy_port",
                    format!("ssh_proxy_port ({p}) is not a valid port"),
                );
                1080
            }),
        };
        if c.bastion.is_some() {
            d.error(
                "ssh_proxy_host",
                "please specify either ssh_bastion_host or ssh_proxy_host, not both",
            );
        }
        c.proxy = Some(Proxy {
            host,
            port,
            username: proxy_user,
            password: proxy_password,
        });
    }
    c.tunnels = tunnels(d, &local_tunnels, &remote_tunnels);
    for (key, kind, names) in [
        ("ssh_ciphers", super::ssh::algs::Kind::Cipher, &ciphers),
        (
            "ssh_key_exchange_algorithms",
            super::ssh::algs::Kind::Kex,
            &kex,
        ),
    ] {
        for e in super::ssh::algs::check(key, kind, names) {
            d.error(key, e);
        }
    }
    c.algorithms = super::ssh::algs::Prefs::new(&ciphers, &kex);
    if c.keypair_name.is_some() && c.private_key_file.is_none() && !c.agent_auth {
        d.error(
            "ssh_keypair_name",
            "ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.",
        );
    }
    match c.temporary_key_pair_type.as_str() {
        "rsa" => c.temporary_key_pair_bits = if bits > 0 { bits as u32 } else { 4096 },
        "ecdsa" => c.temporary_key_pair_bits = if bits > 0 { bits as u32 } else { 521 },
        "dsa" | "ed25519" => c.temporary_key_pair_bits = 0,
        other => d.error(
            "temporary_key_pair_type",
            format!("temporary_key_pair_type ('{other}') is invalid, valid types: dsa, ecdsa, ed25519, rsa"),
        ),
    }
    c
}

/// Parses the tunnels in Packer's order (local, then remote), with Packer's messages.
fn tunnels(
    d: &mut Decoder,
    local: &[String],
    remote: &[String],
) -> Vec<super::tunnel_spec::TunnelSpec> {
    use super::tunnel_spec::{parse, Direction};
    let mut out = Vec::new();
    for (key, direction, list) in [
        ("ssh_local_tunnels", Direction::Local, local),
        ("ssh_remote_tunnels", Direction::Remote, remote),
    ] {
        for text in list {
            match parse(text, direction) {
                Ok(t) => out.push(t),
                Err(e) => d.error(key, format!("{key} ('{text}') is invalid: {e}")),
            }
        }
    }
    out
}

/// `ssh_keep_alive_interval`: default 5s, a negative duration disables keepalives.
fn keep_alive(d: &mut Decoder) -> Option<Duration> {
    let negative = matches!(d.raw("ssh_keep_alive_interval"),
        Some(n) if n.as_str().is_some_and(|s| s.trim_start().starts_with('-')));
    if negative {
        return None;
    }
    match d.duration("ssh_keep_alive_interval") {
        Some(t) if !t.is_zero() => Some(t),
        _ => Some(Duration::from_secs(5)),
    }
}

pub(crate) use crate::decoder::expand_user;

/// Checks that `path` holds an OpenSSH certificate (`<type>-cert-v01@openssh.com AAAA…`).
pub(crate) fn check_certificate(path: &Path) -> Result<(), String> {
    let data =
        crate::limits::read_file(path, "certificate file", crate::limits::MAX_KEY_FILE, |e| {
            crate::gocompat::fmt::stat_error(path, e)
        })
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&data);
    let kind = text.split_whitespace().next().unwrap_or_default();
    if kind.ends_with("-cert-v01@openssh.com") && text.split_whitespace().nth(1).is_some() {
        Ok(())
    } else {
        Err(format!(
            "{} is not an OpenSSH certificate (ssh-keygen -s writes one as <key>-cert.pub)",
            path.display()
        ))
    }
}

/// Checks that `path` exists and holds a private key libssh2 can use (PEM or OpenSSH format).
/// The error text follows Go's (`stat x: no such file or directory`).
pub(crate) fn check_private_key(path: &Path) -> Result<(), String> {
    let data =
        crate::limits::read_file(path, "private key file", crate::limits::MAX_KEY_FILE, |e| {
            crate::gocompat::fmt::stat_error(path, e)
        })
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&data);
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
        if text.contains("ENCRYPTED") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(format!(
                "Failed to read key '{}': password protected keys are not supported",
                path.display()
            ));
        }
        if text.contains("BEGIN OPENSSH PRIVATE KEY") {
            use super::keys::{KeyError, PrivateKey};
            match PrivateKey::from_openssh(&text) {
                // A well-formed key of a type rpack does not decode: libssh2 judges it.
                Ok(_) | Err(KeyError::Unsupported { .. }) => {}
                Err(KeyError::Encrypted { .. }) => {
                    return Err(format!(
                        "Failed to read key '{}': password protected keys are not supported",
                        path.display()
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "Failed to read key '{}': ssh: no key found",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    } else {
        Err(format!(
            "Failed to read key '{}': ssh: no key found",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_user_uses_home() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(expand_user("~/.ssh/id"), Path::new(&home).join(".ssh/id"));
        assert_eq!(expand_user("/abs/id"), PathBuf::from("/abs/id"));
    }

    #[test]
    fn missing_key_file_reads_like_go() {
        let err = check_private_key(Path::new("no-such-key")).unwrap_err();
        assert_eq!(err, "stat no-such-key: no such file or directory");
    }

    #[test]
    fn garbage_key_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("rpack-keytest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k");
        std::fs::write(&p, "hello").unwrap();
        assert!(check_private_key(&p).unwrap_err().contains("no key found"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn openssh_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let key = crate::communicator::keys::PrivateKey::generate_ed25519().unwrap();
        let text = key.to_openssh().unwrap();
        std::fs::write(&plain, &text).unwrap();
        assert_eq!(check_private_key(&plain), Ok(()));

        // Damaged inside the armour: only the first line of base64 is left.
        let damaged = dir.path().join("damaged");
        let lines: Vec<&str> = text.lines().collect();
        let keep = [&lines[..2], &lines[lines.len() - 1..]].concat().join("\n");
        std::fs::write(&damaged, keep).unwrap();
        assert!(check_private_key(&damaged)
            .unwrap_err()
            .ends_with("ssh: no key found"));

        let encrypted = dir.path().join("encrypted");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
            .arg(&encrypted)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(check_private_key(&encrypted)
            .unwrap_err()
            .ends_with("password protected keys are not supported"));
    }
}
