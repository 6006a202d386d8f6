//! `ssh_certificate_file` and `ssh_bastion_certificate_file`: OpenSSH user certificates signed
//! by a CA the loopback sshd trusts (`TrustedUserCAKeys`), for a key the server does not list
//! itself. Null builds with ed25519, ECDSA and RSA certificates (ed25519 side by side with
//! Packer 1.6.6), through a bastion that takes the same certificate, and the checks `validate`
//! makes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::ssh_tunnels::{build, null_builder, rpack};
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// A CA: its private key and the sshd_config line trusting it.
fn ca() -> (PathBuf, String) {
    let (ca, _) = ssh_keygen(KeyKind::Ed25519);
    let line = format!(
        "TrustedUserCAKeys {}\nAllowTcpForwarding yes",
        ca.with_extension("pub").display()
    );
    (ca, line)
}

/// Signs `key`'s public half for `principal`; the certificate's path.
fn sign(ca: &Path, key: &Path, principal: &str) -> PathBuf {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(ca)
        .args(["-I", "rpack-it", "-n", principal, "-V", "-5m:+1h"])
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = format!("{}-cert.pub", key.file_name().unwrap().to_string_lossy());
    key.with_file_name(name)
}

#[test]
fn a_certified_key_logs_in_where_the_bare_key_is_refused() {
    let (ca, trust) = ca();
    // The server lists only an unrelated key: the certificate is the only way in.
    let (_, other) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&other, &trust);
    let dir = tempfile::tempdir().unwrap();
    for kind in [KeyKind::Ed25519, KeyKind::Ecdsa, KeyKind::Rsa] {
        let (key, _) = ssh_keygen(kind);
        let cert = sign(&ca, &key, sshd.user());
        let provisioners = json!([{"type": "shell", "inline": ["echo certified-$(whoami)"]}]);
        let with = json!({"builders": [null_builder(&sshd, &key, &json!({
            "ssh_certificate_file": cert}))], "provisioners": provisioners});
        // Packer 1.6.6 signs RSA certificates with SHA-1 only, which this OpenSSH refuses.
        let bins: Vec<PathBuf> = match kind {
            KeyKind::Rsa => vec![rpack()],
            _ => vec![rpack(), PathBuf::from("packer")],
        };
        for bin in bins {
            let (code, text) = build(&bin, dir.path(), &with);
            assert_eq!(
                code,
                Some(0),
                "{} {kind:?}: {text}\n{}",
                bin.display(),
                sshd.log()
            );
            assert!(
                text.contains(&format!("certified-{}", sshd.user())),
                "{text}"
            );
        }
        let without = json!({"builders": [null_builder(&sshd, &key, &json!({
            "ssh_timeout": "5s", "ssh_handshake_attempts": 1}))]});
        let (code, text) = build(&rpack(), dir.path(), &without);
        assert_eq!(code, Some(1), "{kind:?} without the certificate: {text}");
    }
}

#[test]
fn the_bastion_takes_the_certificate_too_unless_it_has_its_own() {
    let (ca, trust) = ca();
    let (_, other) = ssh_keygen(KeyKind::Ed25519);
    let target = Sshd::start_static_with(&other, &trust);
    let bastion = Sshd::start_static_with(&other, &trust);
    let (key, _) = ssh_keygen(KeyKind::Ed25519);
    let cert = sign(&ca, &key, target.user());
    let dir = tempfile::tempdir().unwrap();
    let bastion_keys = json!({"ssh_certificate_file": cert,
        "ssh_bastion_host": bastion.host(), "ssh_bastion_port": bastion.port(),
        "ssh_bastion_username": bastion.user(), "ssh_bastion_private_key_file": key});
    let template = json!({"builders": [null_builder(&target, &key, &bastion_keys)],
        "provisioners": [{"type": "shell", "inline": ["echo via-bastion"]}]});
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(0), "{text}\n{}", bastion.log());
    assert!(text.contains("via-bastion"), "{text}");
    assert!(
        bastion.log().contains("Accepted publickey for ec2-user"),
        "{}",
        bastion.log()
    );

    // A bastion certificate of its own, for a principal the bastion does not accept: refused
    // there, although the target's certificate would do.
    let wrong = sign(&ca, &key, "somebody-else");
    let mut keys = bastion_keys.clone();
    keys["ssh_bastion_certificate_file"] = json!(wrong);
    keys["ssh_timeout"] = json!("5s");
    keys["ssh_handshake_attempts"] = json!(1);
    let template = json!({"builders": [null_builder(&target, &key, &keys)]});
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("bastion {}:{}", bastion.host(), bastion.port())),
        "{text}"
    );
}

#[test]
fn validate_checks_the_certificate_and_that_it_has_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = ssh_keygen(KeyKind::Ed25519);
    let not_cert = key.with_extension("pub");
    let write = |name: &str, extra: serde_json::Value| {
        let mut b = json!({"type": "null", "ssh_host": "127.0.0.1", "ssh_username": "u",
            "ssh_password": "pw-1234567"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        std::fs::write(
            dir.path().join(name),
            serde_json::to_string_pretty(&json!({"builders": [b]})).unwrap(),
        )
        .unwrap();
    };
    write("nokey.json", json!({"ssh_certificate_file": "id-cert.pub"}));
    write(
        "notcert.json",
        json!({"ssh_private_key_file": key, "ssh_certificate_file": not_cert}),
    );
    let validate = |name: &str| {
        let out = Command::new(rpack())
            .args(["validate", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text.replace('\n', " "))
    };
    let (code, text) = validate("nokey.json");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("ssh_certificate_file is invalid: it certifies the key in ssh_private_key_file, which is not set. Hint: set ssh_private_key_file to the key the certificate was issued for (nokey.json:"),
        "{text}"
    );
    let (code, text) = validate("notcert.json");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "ssh_certificate_file is invalid: {} is not an OpenSSH certificate",
            not_cert.display()
        )),
        "{text}"
    );
}
