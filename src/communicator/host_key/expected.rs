//! A host key the user states (`ssh_bastion_host_key`, an rpack extension): an OpenSSH public
//! key line (`ssh-ed25519 AAAA…`, as in `known_hosts` or `/etc/ssh/ssh_host_ed25519_key.pub`)
//! or a fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).

use super::HostKey;

/// A stated key, checked for form when the template is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expected {
    Key(HostKey),
    Sha256(String),
}

impl Expected {
    pub(crate) fn parse(spec: &str) -> Result<Expected, String> {
        let spec = spec.trim();
        if let Some(fp) = spec.strip_prefix("SHA256:") {
            let fp = fp.trim_end_matches('=');
            let ok = fp.len() == 43
                && fp
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
            return if ok {
                Ok(Expected::Sha256(fp.to_string()))
            } else {
                Err(format!(
                    "{spec:?} is not a SHA256 fingerprint as ssh-keygen -l prints it (SHA256: and 43 base64 characters)"
                ))
            };
        }
        super::console::parse_key_line(spec)
            .map(Expected::Key)
            .ok_or_else(|| {
                "expected an OpenSSH public key line (\"ssh-ed25519 AAAA…\") or a fingerprint (\"SHA256:…\")"
                    .to_string()
            })
    }

    pub(crate) fn matches(&self, k: &HostKey) -> bool {
        match self {
            Expected::Key(e) => e == k,
            Expected::Sha256(fp) => *fp == k.sha256(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Expected::Key(k) => k.fingerprint(),
            Expected::Sha256(fp) => format!("SHA256:{fp}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRQ8pAtYbEp0wOfM2uM6jX7C0mYf8FX7bqE9cZf1Xsz c";

    #[test]
    fn a_key_line_or_its_fingerprint_matches_and_junk_is_refused() {
        let key = HostKey::from_openssh_line(LINE).unwrap();
        let by_line = Expected::parse(LINE).unwrap();
        let by_fp = Expected::parse(&format!("SHA256:{}", key.sha256())).unwrap();
        assert!(by_line.matches(&key) && by_fp.matches(&key));
        let other = Expected::parse(&format!("SHA256:{}", "A".repeat(43))).unwrap();
        assert!(!other.matches(&key));
        assert!(Expected::parse("SHA256:short").unwrap_err().contains("43"));
        assert!(Expected::parse("ssh-ed25519 !!!").is_err());
        assert!(Expected::parse("").is_err());
    }
}
