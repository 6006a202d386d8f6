//! Verifying the SSH host key of the instance rpack provisions (issue #19; an rpack extension:
//! Packer never checks it). `ssh_host_key_check` picks the evidence: a host key rpack injects
//! through cloud-init user data ([`user_data`]), the keys cloud-init prints to the EC2 console
//! ([`console`]), trust on first use, or nothing; [`policy`] turns the evidence into a decision.

pub(crate) mod console;
pub(crate) mod expected;
pub(crate) mod policy;
pub(crate) mod poll;
pub(crate) mod scrub;
pub(crate) mod user_data;
pub(crate) mod verify;

pub(crate) use poll::ConsoleSource;
pub(crate) use verify::Verifier;

use base64::Engine as _;
use sha2::Digest as _;

use crate::decoder::Decoder;

/// `ssh_host_key_check`: where the expected host key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Accept only the ed25519 host key rpack generated and sent in the user data.
    Inject,
    /// Accept only a key cloud-init listed on the console.
    Console,
    /// Accept the first key seen and pin it for the rest of the build.
    Tofu,
    /// No check (Packer's behaviour).
    Off,
    /// Inject where possible and watch the console; accept a match of either, stop on a
    /// contradiction, fall back to `tofu` when nothing can be verified.
    #[default]
    Auto,
}

const MODES: &str = "inject, console, tofu, off, auto";

impl Mode {
    pub(crate) fn parse(s: &str) -> Result<Mode, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inject" => Ok(Mode::Inject),
            "console" => Ok(Mode::Console),
            "tofu" => Ok(Mode::Tofu),
            "off" | "none" | "false" => Ok(Mode::Off),
            "auto" | "" => Ok(Mode::Auto),
            _ => Err(format!(
                "ssh_host_key_check {s:?} is not one of {MODES} (the default is auto)"
            )),
        }
    }
}

/// Decodes `ssh_host_key_check` (errors are recorded on `d`; `auto` when absent or bad).
pub(crate) fn decode(d: &mut Decoder<'_>) -> Mode {
    let Some(s) = d.string("ssh_host_key_check") else {
        return Mode::Auto;
    };
    Mode::parse(&s).unwrap_or_else(|e| {
        d.error("ssh_host_key_check", e);
        Mode::Auto
    })
}

/// A public host key: the SSH wire-format blob (its first field names the algorithm).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HostKey {
    algorithm: String,
    blob: Vec<u8>,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

/// Host key types libssh2 (1.11) can negotiate and so check; others can be listed on the
/// console but never presented to rpack.
const CHECKABLE: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "ssh-dss",
];

impl HostKey {
    /// A key from its wire-format blob, when the blob is well formed for its algorithm.
    pub(crate) fn from_blob(blob: Vec<u8>) -> Option<HostKey> {
        let fields = ssh_strings(&blob)?;
        let algorithm = std::str::from_utf8(fields.first()?).ok()?.to_string();
        let ok = match algorithm.as_str() {
            "ssh-ed25519" => fields.len() == 2 && fields[1].len() == 32,
            "ssh-rsa" => fields.len() == 3,
            "ssh-dss" => fields.len() == 5,
            a if a.starts_with("ecdsa-sha2-") => {
                fields.len() == 3 && a.ends_with(std::str::from_utf8(fields[1]).ok()?)
            }
            "sk-ssh-ed25519@openssh.com" => fields.len() == 3 && fields[1].len() == 32,
            a => a.len() < 64 && a.is_ascii() && fields.len() >= 2,
        };
        ok.then_some(HostKey { algorithm, blob })
    }

    /// From an OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub(crate) fn from_openssh_line(line: &str) -> Option<HostKey> {
        console::parse_key_line(line)
    }

    pub(crate) fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// Whether libssh2 can negotiate this key type (so a server can present it to rpack).
    pub(crate) fn checkable(&self) -> bool {
        CHECKABLE.contains(&self.algorithm.as_str())
    }

    /// The blob in base64, as in the second field of an OpenSSH public key line.
    pub(crate) fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.blob)
    }

    /// The unpadded base64 SHA-256 of the blob, as `ssh-keygen -l` prints it.
    pub(crate) fn sha256(&self) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&self.blob))
    }

    /// `ED25519 SHA256:…` (the UI form).
    pub(crate) fn fingerprint(&self) -> String {
        format!("{} SHA256:{}", self.label(), self.sha256())
    }

    fn label(&self) -> String {
        match self.algorithm.as_str() {
            "ssh-ed25519" => "ED25519".into(),
            "ssh-rsa" => "RSA".into(),
            "ssh-dss" => "DSA".into(),
            a if a.starts_with("ecdsa-sha2-") => "ECDSA".into(),
            "sk-ssh-ed25519@openssh.com" => "ED25519-SK".into(),
            a if a.starts_with("sk-ecdsa-") => "ECDSA-SK".into(),
            a => a.to_ascii_uppercase(),
        }
    }
}

/// Splits an SSH wire-format blob into its length-prefixed strings (`None` if malformed).
fn ssh_strings(mut b: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let s = b.get(4..4usize.checked_add(len)?)?;
        out.push(s);
        b = &b[4 + len..];
        if out.len() > 16 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_decode_with_a_clear_error() {
        assert_eq!(Mode::parse("inject"), Ok(Mode::Inject));
        assert_eq!(Mode::parse("CONSOLE"), Ok(Mode::Console));
        assert_eq!(Mode::parse("tofu"), Ok(Mode::Tofu));
        assert_eq!(Mode::parse("off"), Ok(Mode::Off));
        assert_eq!(Mode::parse("auto"), Ok(Mode::Auto));
        assert_eq!(Mode::default(), Mode::Auto);
        let e = Mode::parse("strict").unwrap_err();
        assert_eq!(
            e,
            "ssh_host_key_check \"strict\" is not one of inject, console, tofu, off, auto (the default is auto)"
        );
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
        let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        let key = HostKey::from_openssh_line(&line).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(path.with_extension("pub"))
            .output()
            .unwrap();
        let want = String::from_utf8(out.stdout).unwrap();
        // "256 SHA256:… comment (ED25519)"
        let fp = want.split_whitespace().nth(1).unwrap();
        assert_eq!(format!("SHA256:{}", key.sha256()), fp);
        assert!(key.fingerprint().starts_with("ED25519 SHA256:"));
        assert!(key.checkable());
    }

    #[test]
    fn malformed_blobs_are_refused() {
        assert!(HostKey::from_blob(vec![]).is_none());
        assert!(HostKey::from_blob(vec![0, 0, 0, 9, b'x']).is_none());
        assert!(HostKey::from_blob(vec![0xff, 0xff, 0xff, 0xff]).is_none());
    }
}
