//! One libssh2 session over a transport's socket: algorithm preferences (the host-key types
//! asked for may be narrowed by the build's host-key check), the handshake, authentication
//! (agent, key file, the build's temporary key from memory, password, keyboard-interactive, like
//! Packer's auth list), and host-key fingerprints.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;
use ssh2::{MethodType, Session};

use super::algs::Prefs;
use super::explain;
use super::params::Endpoint;
use super::transport::Sock;
use crate::communicator::CommError;

/// Ciphers in order of preference: AES-GCM is the fastest with AES-NI and needs no separate
/// MAC; chacha20 for hosts without AES-NI; the CTR modes for old servers.
const CIPHERS: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";
const MACS: &str = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const HOST_KEYS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// libssh2's host-key method names for key types (`ssh-rsa` keys sign with SHA-2 where the
/// server can).
pub(super) fn host_key_methods(types: &[String]) -> String {
    types
        .iter()
        .map(|t| match t.as_str() {
            "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
            t => t,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A session over `sock`; `host_keys`: the host-key methods to ask for (default: all rpack
/// handles, [`HOST_KEYS`]); `algs`: the template's ciphers and key exchange algorithms (the
/// only ones offered when set).
pub(super) fn new_session(
    sock: &Sock,
    timeout: Duration,
    host_keys: Option<&str>,
    algs: Option<&Prefs>,
) -> Result<Session, CommError> {
    let mut sess =
        Session::new().map_err(|e| CommError::Other(format!("creating ssh session: {e}")))?;
    match sock
        .try_clone()
        .map_err(|e| CommError::Other(format!("cloning socket: {e}")))?
    {
        Sock::Tcp(s) => sess.set_tcp_stream(s),
        Sock::Unix(s) => sess.set_tcp_stream(s),
    }
    sess.set_timeout(timeout.as_millis() as u32);
    sess.set_compress(false);
    for (kind, prefs) in [
        (MethodType::CryptCs, CIPHERS),
        (MethodType::CryptSc, CIPHERS),
        (MethodType::MacCs, MACS),
        (MethodType::MacSc, MACS),
    ] {
        // libssh2 drops names it does not know; an error means none were usable, keep defaults.
        let _ = sess.method_pref(kind, prefs);
    }
    let algs = algs.cloned().unwrap_or_default();
    for (kind, asked, key) in [
        (MethodType::CryptCs, &algs.ciphers, "ssh_ciphers"),
        (MethodType::CryptSc, &algs.ciphers, "ssh_ciphers"),
        (MethodType::Kex, &algs.kex, "ssh_key_exchange_algorithms"),
    ] {
        if let Some(asked) = asked {
            // Checked at validate: an error here must not fall back to other algorithms.
            sess.method_pref(kind, asked)
                .map_err(|e| CommError::Other(format!("{key} [{asked}]: {}", e.message())))?;
        }
    }
    if let Some(asked) = host_keys {
        // Restricted to what the build's host-key check accepts: an error here must not fall
        // back to every type.
        sess.method_pref(MethodType::HostKey, asked).map_err(|e| {
            CommError::Other(format!(
                "asking for host key types {asked}: {}",
                e.message()
            ))
        })?;
    } else {
        let _ = sess.method_pref(MethodType::HostKey, HOST_KEYS);
    }
    Ok(sess)
}

/// A failed handshake: the error, and libssh2's error code when it gave one.
pub(super) struct HandshakeError {
    pub error: CommError,
    pub code: Option<i32>,
}

pub(super) fn handshake(sess: &Session, addr: &str) -> Result<(), HandshakeError> {
    let mut s = sess.clone();
    s.handshake().map_err(|e| HandshakeError {
        code: match e.code() {
            ssh2::ErrorCode::Session(c) => Some(c),
            ssh2::ErrorCode::SFTP(_) => None,
        },
        error: CommError::Other(format!("ssh handshake with {addr}: {}", e.message())),
    })
}

/// Tries agent, key, then password (also as keyboard-interactive), like Packer's auth list.
pub(super) fn authenticate(sess: &Session, ep: &Endpoint) -> Result<(), CommError> {
    let mut tried = vec!["none"];
    let mut errors = Vec::new();
    let mut offered = Vec::new();
    // The "none" request: the server answers with the methods it accepts (or lets us in).
    let server_methods = sess.auth_methods(&ep.user).ok().map(str::to_string);
    if sess.authenticated() {
        return Ok(());
    }
    if ep.auth.agent {
        tried.push("publickey");
        offered.push("the ssh agent's keys".to_string());
        if let Err(e) = agent_auth(sess, &ep.user, ep.auth.agent_socket.as_deref()) {
            errors.push(format!("agent: {e}"));
        }
    }
    if !sess.authenticated() {
        if let Some(key) = &ep.auth.private_key_file {
            tried.push("publickey");
            let cert = ep.auth.certificate_file.as_deref();
            offered.push(match cert {
                Some(c) => format!(
                    "{} with the certificate in {}",
                    explain::key_offer(key),
                    c.display()
                ),
                None => explain::key_offer(key),
            });
            if let Err(e) = sess.userauth_pubkey_file(&ep.user, cert, key, None) {
                errors.push(format!("key {}: {}", key.display(), e.message()));
            }
        }
    }
    if !sess.authenticated() {
        if let Some(key) = &ep.auth.private_key {
            tried.push("publickey");
            offered.push(key_text_offer(key.as_str()));
            // libssh2 (OpenSSL backend) reads PEM and OpenSSH-format keys from memory and
            // derives the public key itself: the key never touches the disk.
            if let Err(e) = sess.userauth_pubkey_memory(&ep.user, None, key.as_str(), None) {
                errors.push(format!("the build's temporary key: {}", e.message()));
            }
        }
    }
    if !sess.authenticated() {
        if let Some(pw) = &ep.auth.password {
            tried.push("password");
            offered.push("the password".to_string());
            if let Err(e) = sess.userauth_password(&ep.user, pw) {
                errors.push(format!("password: {}", e.message()));
                let mut prompt = PasswordPrompt(pw.clone());
                tried.push("keyboard-interactive");
                if let Err(e) = sess.userauth_keyboard_interactive(&ep.user, &mut prompt) {
                    errors.push(format!("keyboard-interactive: {}", e.message()));
                }
            }
        }
    }
    if sess.authenticated() {
        return Ok(());
    }
    let failure = explain::AuthFailure {
        user: &ep.user,
        addr: format!("{}:{}", ep.host, ep.port),
        offered,
        tried,
        server_methods,
        errors,
    };
    Err(CommError::Auth(
        failure.message(crate::ui::voice::as_packer()),
    ))
}

/// Offers every key the agent holds until the server accepts one (Go's `agent.Signers`).
/// `Session::userauth_agent` only ever tries the agent's first key.
fn agent_auth(sess: &Session, user: &str, socket: Option<&Path>) -> Result<(), String> {
    let at = match socket {
        Some(p) => p.display().to_string(),
        None => match std::env::var_os("SSH_AUTH_SOCK") {
            Some(p) => Path::new(&p).display().to_string(),
            None => {
                return Err(
                    "SSH_AUTH_SOCK is not set; ssh_agent_auth needs a running ssh-agent".into(),
                )
            }
        },
    };
    let mut agent = sess
        .agent()
        .map_err(|e| format!("creating an agent client: {}", e.message()))?;
    if let Some(p) = socket {
        agent
            .set_identity_path(p)
            .map_err(|e| format!("agent socket {at}: {}", e.message()))?;
    }
    agent
        .connect()
        .map_err(|e| format!("connecting to the ssh agent at {at}: {}", e.message()))?;
    let res = (|| {
        agent
            .list_identities()
            .map_err(|e| format!("listing the keys of the ssh agent at {at}: {}", e.message()))?;
        let keys = agent
            .identities()
            .map_err(|e| format!("listing the keys of the ssh agent at {at}: {}", e.message()))?;
        if keys.is_empty() {
            return Err(format!("the ssh agent at {at} holds no keys"));
        }
        for key in &keys {
            match agent.userauth(user, key) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!("ssh agent key {:?} refused: {}", key.comment(), e.message());
                }
            }
        }
        Err(format!(
            "the server accepted none of the {} key(s) in the ssh agent at {at}",
            keys.len()
        ))
    })();
    let _ = agent.disconnect();
    res
}

/// How an in-memory key is offered, for messages: "the build's temporary ssh-ed25519 key".
fn key_text_offer(text: &str) -> String {
    match crate::communicator::keys::PrivateKey::from_openssh(text) {
        Ok(k) => format!("the build's temporary {} key", k.algorithm()),
        Err(_) => "the build's temporary key".to_string(),
    }
}

struct PasswordPrompt(String);
impl ssh2::KeyboardInteractivePrompt for PasswordPrompt {
    fn prompt(
        &mut self,
        _username: &str,
        _instructions: &str,
        prompts: &[ssh2::Prompt<'_>],
    ) -> Vec<String> {
        prompts.iter().map(|_| self.0.clone()).collect()
    }
}

/// OpenSSH-style `SHA256:<base64>` fingerprint of a host key blob.
pub(super) fn fingerprint(key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(key);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_openssh_style() {
        assert!(fingerprint(b"abc").starts_with("SHA256:"));
        assert!(!fingerprint(b"abc").ends_with('='));
    }
}
