//! Words for SSH connection failures, called as `rpack`: which stage failed (TCP connect, the
//! wait for the SSH banner, the handshake, authentication), against what (user, host:port, the
//! key type offered, the methods the server accepts) and, when the wait runs out, what the last
//! attempt reached and for how long. Called as `packer`, the texts stay Packer 1.6.6's.

use std::io::Read as _;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio_util::sync::CancellationToken;

use super::TICK;
use crate::communicator::CommError;
use crate::gocompat::time::duration_string;

/// A TCP connect that failed, worded by what the failure means for a build.
pub(super) fn tcp_failure(addr: &str, e: &std::io::Error, timeout: Duration) -> CommError {
    use std::io::ErrorKind::{
        ConnectionRefused, HostUnreachable, NetworkUnreachable, TimedOut, WouldBlock,
    };
    let why = match e.kind() {
        ConnectionRefused => {
            "connection refused (nothing listens on that port, or a firewall rejects it)".into()
        }
        TimedOut | WouldBlock => format!(
            "no answer within {} (a security group or firewall drops the packets, or the host is down)",
            duration_string(timeout)
        ),
        HostUnreachable | NetworkUnreachable => format!("{e} (no route to the host)"),
        _ => e.to_string(),
    };
    CommError::Other(format!("TCP connect to {addr}: {why}"))
}

/// Waits until the server sends its first bytes (the SSH banner), so that a port that accepts
/// and then says nothing is reported as such rather than as a bare handshake timeout. Returns
/// the first line when it is not an SSH banner (an HTTP server on the port, say).
pub(super) fn await_banner(
    fd: RawFd,
    addr: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Option<String>, CommError> {
    let started = Instant::now();
    loop {
        if cancel.is_cancelled() {
            return Err(CommError::Cancelled);
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(CommError::Other(format!(
                "SSH handshake with {addr}: the TCP connection was accepted but no SSH banner came within {} (sshd is still starting or overloaded, or something other than sshd listens on that port)",
                duration_string(timeout)
            )));
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let wait = left.min(TICK).as_millis().max(1) as libc::c_int;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&raw mut pfd, 1, wait) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(CommError::Other(format!("waiting for {addr}: {e}")));
        }
        if n == 0 {
            continue;
        }
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is valid for its length; MSG_PEEK leaves the bytes for libssh2.
        let got = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if got == 0 || (got < 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0) {
            return Err(CommError::Other(format!(
                "SSH handshake with {addr}: the server closed the connection before sending an SSH banner (sshd refused it: MaxStartups, TCP wrappers, or it is shutting down)"
            )));
        }
        if got < 0 {
            continue;
        }
        let head = &buf[..got as usize];
        if head.starts_with(b"SSH-") || !head.contains(&b'\n') && b"SSH-".starts_with(head) {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or(head));
        let line: String = line.trim_end().chars().take(60).collect();
        return Ok(Some(line));
    }
}

/// The words for a handshake that failed after a server sent `first_line` instead of an SSH
/// banner.
pub(super) fn not_ssh(addr: &str, first_line: &str, err: &str) -> CommError {
    CommError::Other(format!(
        "SSH handshake with {addr}: the server does not speak SSH (it sent {first_line:?}): {err}"
    ))
}

/// What a failed authentication tried and what the server said.
pub(super) struct AuthFailure<'a> {
    pub user: &'a str,
    pub addr: String,
    /// What was offered, e.g. "the ssh-ed25519 key in /k/id", "the password".
    pub offered: Vec<String>,
    /// The methods tried, Go's way (`none` first).
    pub tried: Vec<&'static str>,
    /// The server's list of accepted methods, when it gave one.
    pub server_methods: Option<String>,
    /// Per method, why it failed.
    pub errors: Vec<String>,
}

impl AuthFailure<'_> {
    /// Packer's wording (Go's `ssh: unable to authenticate …`, exactly) or rpack's, which also
    /// says why each method failed.
    pub(super) fn message(&self, packer: bool) -> String {
        let mut tried = self.tried.clone();
        tried.dedup();
        if packer {
            return format!(
                "ssh: handshake failed: ssh: unable to authenticate, attempted methods [{}], no supported methods remain",
                tried.join(" ")
            );
        }
        let details = if self.errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.errors.join("; "))
        };
        let offered = if self.offered.is_empty() {
            "rpack had no credentials to offer (set ssh_private_key_file, ssh_password or ssh_agent_auth)".to_string()
        } else {
            format!("the server refused {}", self.offered.join(" and "))
        };
        let mut msg = format!(
            "SSH authentication as user {:?} at {} failed: {offered}",
            self.user, self.addr
        );
        if let Some(m) = &self.server_methods {
            let server: Vec<&str> = m.split(',').filter(|s| !s.is_empty()).collect();
            msg.push_str(&format!("; the server accepts: {}", server.join(", ")));
            let usable = tried.iter().any(|t| *t != "none" && server.contains(t));
            if !usable && !self.offered.is_empty() {
                msg.push_str(&format!(
                    " (none of what rpack tried: {})",
                    tried[1..].join(", ")
                ));
            }
        }
        msg.push_str(&details);
        msg
    }
}

/// The final authentication error, after `attempts` tries (`ssh_handshake_attempts`).
pub(super) fn auth_gave_up(msg: &str, attempts: u32, packer: bool) -> String {
    if packer {
        return format!(
            "Packer experienced an authentication error when trying to connect via SSH. This can happen if your \
             username/password are wrong. You may want to double-check your credentials as part of your debugging \
             process. original error: {msg}"
        );
    }
    let times = if attempts == 1 {
        "once".to_string()
    } else {
        format!("{attempts} times (ssh_handshake_attempts)")
    };
    format!("{msg}; tried {times}")
}

/// `Timeout waiting for SSH.`, and called as `rpack` what the last attempt reached.
pub(super) fn timed_out(
    waited: Duration,
    attempts: u32,
    last: Option<&CommError>,
    packer: bool,
) -> String {
    let base = "Timeout waiting for SSH.";
    match last {
        Some(e) if !packer => format!(
            "{base} Gave up after {} and {attempts} attempt(s); the last one failed: {e}",
            duration_string(waited)
        ),
        _ => base.to_string(),
    }
}

/// The SSH key type in a private key file (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256` …),
/// read from its header or, for OpenSSH's format, from the public key stored inside.
pub(crate) fn key_type(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    key_type_of(&text)
}

fn key_type_of(pem: &str) -> Option<String> {
    let first = pem.lines().find(|l| !l.trim().is_empty())?.trim();
    let label = first
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")?
        .trim();
    match label {
        "RSA PRIVATE KEY" => Some("ssh-rsa".into()),
        "DSA PRIVATE KEY" => Some("ssh-dss".into()),
        "EC PRIVATE KEY" => Some("ecdsa".into()),
        "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => Some("PKCS#8".into()),
        "OPENSSH PRIVATE KEY" => {
            let body: String = pem
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .map(str::trim)
                .collect();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?;
            openssh_key_type(&raw)
        }
        _ => None,
    }
}

/// `openssh-key-v1\0`, then cipher, kdf, kdf options, the key count and the first public key,
/// whose first field is its type.
fn openssh_key_type(raw: &[u8]) -> Option<String> {
    let mut rest = raw.strip_prefix(b"openssh-key-v1\0")?;
    let string = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let s = rest.get(4..4 + len)?.to_vec();
        *rest = &rest[4 + len..];
        Some(s)
    };
    for _ in 0..3 {
        string(&mut rest)?;
    }
    rest = rest.get(4..)?;
    let mut public = &string(&mut rest)?[..];
    String::from_utf8(string(&mut public)?).ok()
}

/// How a key file is offered, for messages: "the ssh-ed25519 key in /path".
pub(super) fn key_offer(path: &Path) -> String {
    match key_type(path) {
        Some(t) => format!("the {t} key in {}", path.display()),
        None => format!("the key in {}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(errors: Vec<String>) -> AuthFailure<'static> {
        AuthFailure {
            user: "ubuntu",
            addr: "10.0.0.5:22".into(),
            offered: vec!["the ssh-ed25519 key in /k/id".into()],
            tried: vec!["none", "publickey"],
            server_methods: Some("publickey,password".into()),
            errors,
        }
    }

    #[test]
    fn packer_wording_is_gos() {
        assert_eq!(
            failure(vec!["key /k/id: denied".into()]).message(true),
            "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain"
        );
        assert!(
            auth_gave_up("x", 3, true).starts_with("Packer experienced an authentication error")
        );
        assert_eq!(
            timed_out(Duration::from_secs(5), 3, None, true),
            "Timeout waiting for SSH."
        );
        let e = CommError::Other("TCP connect to h:1: refused".into());
        assert_eq!(
            timed_out(Duration::from_secs(5), 3, Some(&e), true),
            "Timeout waiting for SSH."
        );
    }

    #[test]
    fn rpack_wording_names_user_address_key_and_server_methods() {
        assert_eq!(
            failure(vec![]).message(false),
            "SSH authentication as user \"ubuntu\" at 10.0.0.5:22 failed: the server refused the ssh-ed25519 key in /k/id; the server accepts: publickey, password"
        );
        let mut f = failure(vec![]);
        f.server_methods = Some("keyboard-interactive".into());
        assert!(f.message(false).ends_with(
            "the server accepts: keyboard-interactive (none of what rpack tried: publickey)"
        ));
        f.offered.clear();
        assert!(f
            .message(false)
            .contains("rpack had no credentials to offer"));
        assert_eq!(auth_gave_up("m", 1, false), "m; tried once");
        assert_eq!(
            auth_gave_up("m", 3, false),
            "m; tried 3 times (ssh_handshake_attempts)"
        );
        let e = CommError::Other("TCP connect to h:1: refused".into());
        assert_eq!(
            timed_out(Duration::from_secs(90), 7, Some(&e), false),
            "Timeout waiting for SSH. Gave up after 1m30s and 7 attempt(s); the last one failed: TCP connect to h:1: refused"
        );
    }

    #[test]
    fn tcp_failures_say_what_the_failure_means() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(tcp_failure("h:22", &refused, Duration::from_secs(10))
            .to_string()
            .starts_with("TCP connect to h:22: connection refused"));
        let timed = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert!(tcp_failure("h:22", &timed, Duration::from_secs(10))
            .to_string()
            .starts_with("TCP connect to h:22: no answer within 10s"));
    }

    #[test]
    fn key_types_from_headers_and_openssh_blobs() {
        assert_eq!(
            key_type_of("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
                .as_deref(),
            Some("ssh-rsa")
        );
        // An OpenSSH container holding one (unencrypted) ed25519 public key.
        let mut raw = b"openssh-key-v1\0".to_vec();
        for s in [&b"none"[..], b"none", b""] {
            raw.extend((s.len() as u32).to_be_bytes());
            raw.extend(s);
        }
        raw.extend(1u32.to_be_bytes());
        let mut public = Vec::new();
        for s in [&b"ssh-ed25519"[..], &[7u8; 32][..]] {
            public.extend((s.len() as u32).to_be_bytes());
            public.extend(s);
        }
        raw.extend((public.len() as u32).to_be_bytes());
        raw.extend(public);
        let pem = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        );
        assert_eq!(key_type_of(&pem).as_deref(), Some("ssh-ed25519"));
        assert_eq!(key_type_of("not a key"), None);
        assert_eq!(openssh_key_type(&raw[..raw.len() - 40]), None, "truncated");
    }
}
