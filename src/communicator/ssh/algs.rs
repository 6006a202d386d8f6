//! `ssh_ciphers` and `ssh_key_exchange_algorithms`: checked when the template is (a name
//! libssh2 does not implement is an error naming it, not a handshake failure after launch) and
//! handed to libssh2 as the session's only choices, in the template's order.
//!
//! Packer 1.6.6 passes the lists to Go's x/crypto unchecked; the names it knows are below. rpack
//! accepts every name the linked libssh2 implements (its own list, asked at run time), which
//! covers Go's except the legacy ciphers libssh2 no longer offers.

use ssh2::{MethodType, Session};

/// The ciphers Go's x/crypto in Packer 1.6.6 implements.
const GO_CIPHERS: &[&str] = &[
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "arcfour256",
    "arcfour128",
    "arcfour",
    "aes128-cbc",
    "3des-cbc",
];

/// The key exchange algorithms Go's x/crypto in Packer 1.6.6 implements.
const GO_KEX: &[&str] = &[
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
];

/// Which list a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Cipher,
    Kex,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Cipher => "cipher",
            Kind::Kex => "key exchange algorithm",
        }
    }

    fn go_names(self) -> &'static [&'static str] {
        match self {
            Kind::Cipher => GO_CIPHERS,
            Kind::Kex => GO_KEX,
        }
    }

    fn method(self) -> MethodType {
        match self {
            Kind::Cipher => MethodType::CryptCs,
            Kind::Kex => MethodType::Kex,
        }
    }
}

/// What the linked libssh2 implements for `kind` (the pseudo-algorithms it adds to the key
/// exchange list by itself are not choices).
fn supported(kind: Kind) -> Vec<&'static str> {
    Session::new()
        .and_then(|s| s.supported_algs(kind.method()))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.starts_with("ext-info-") && !n.starts_with("kex-strict-"))
        .collect()
}

/// Checks every name of `key`'s list; one message per name libssh2 does not implement.
pub(crate) fn check(key: &str, kind: Kind, names: &[String]) -> Vec<String> {
    let ours = supported(kind);
    let mut errs = Vec::new();
    for name in names {
        if ours.contains(&name.as_str()) {
            continue;
        }
        let noun = kind.noun();
        let why = if kind.go_names().contains(&name.as_str()) {
            format!(
                "{noun} {name:?} (known to Packer 1.6.6) is not supported by rpack's SSH library (libssh2)"
            )
        } else {
            format!("unknown {noun} {name:?}")
        };
        errs.push(format!(
            "{key}: {why}. Hint: choose from {}",
            ours.join(", ")
        ));
    }
    errs
}

/// The template's choices, as libssh2 takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefs {
    /// `ssh_ciphers`, comma-separated; `None`: rpack's defaults.
    pub ciphers: Option<String>,
    /// `ssh_key_exchange_algorithms`, comma-separated; `None`: libssh2's defaults.
    pub kex: Option<String>,
}

impl Prefs {
    pub fn new(ciphers: &[String], kex: &[String]) -> Prefs {
        let join = |l: &[String]| (!l.is_empty()).then(|| l.join(","));
        Prefs {
            ciphers: join(ciphers),
            kex: join(kex),
        }
    }

    /// What the template asked for, for a failed negotiation's message.
    pub(super) fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("ssh_ciphers", &self.ciphers),
            ("ssh_key_exchange_algorithms", &self.kex),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{k} [{}]", v.replace(',', ", ")))
        })
        .collect();
        (!parts.is_empty()).then(|| parts.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libssh2_names_pass_and_others_are_named() {
        let ok = ["aes256-ctr".to_string(), "aes128-gcm@openssh.com".into()];
        assert!(check("ssh_ciphers", Kind::Cipher, &ok).is_empty());
        let kex = [
            "curve25519-sha256@libssh.org".to_string(),
            "curve25519-sha256".into(),
        ];
        assert!(check("ssh_key_exchange_algorithms", Kind::Kex, &kex).is_empty());
        let bad = check("ssh_ciphers", Kind::Cipher, &["aes999-xyz".to_string()]);
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].starts_with("ssh_ciphers: unknown cipher \"aes999-xyz\". Hint: choose from "),
            "{bad:?}"
        );
        assert!(bad[0].contains("aes256-ctr"), "{bad:?}");
        let bad = check(
            "ssh_key_exchange_algorithms",
            Kind::Kex,
            &["ext-info-c".to_string()],
        );
        assert!(bad[0].contains("unknown key exchange algorithm \"ext-info-c\""));
    }

    #[test]
    fn prefs_join_and_describe() {
        let p = Prefs::new(&["aes256-ctr".into(), "aes128-ctr".into()], &[]);
        assert_eq!(p.ciphers.as_deref(), Some("aes256-ctr,aes128-ctr"));
        assert_eq!(p.kex, None);
        assert_eq!(
            p.describe().as_deref(),
            Some("ssh_ciphers [aes256-ctr, aes128-ctr]")
        );
        assert_eq!(Prefs::default().describe(), None);
    }
}
