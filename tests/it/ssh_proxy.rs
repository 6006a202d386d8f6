//! `ssh_proxy_host`, `ssh_proxy_port`, `ssh_proxy_username`, `ssh_proxy_password`: null builds
//! reaching the loopback sshd through the SOCKS5 proxy of `support::socks`, side by side with
//! Packer 1.6.6; the proxy's refusal named; the bastion/proxy conflict refused as Packer does.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::ssh_tunnels::{build, null_builder, rpack};
use crate::support::socks::Socks5;
use crate::support::{ssh_keygen, KeyKind, Sshd};

#[test]
fn builds_go_through_the_socks5_proxy_with_and_without_credentials_as_in_packer() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{}:{}", sshd.host(), sshd.port());
    for creds in [None, Some(("rpack-user", "proxy-secret-5e1"))] {
        let proxy = Socks5::start(creds);
        let mut extra = json!({"ssh_proxy_host": "127.0.0.1", "ssh_proxy_port": proxy.port()});
        if let Some((u, p)) = creds {
            extra["ssh_proxy_username"] = json!(u);
            extra["ssh_proxy_password"] = json!(p);
        }
        let template = json!({
            "builders": [null_builder(&sshd, &key, &extra)],
            "provisioners": [{"type": "shell", "inline": ["echo through-the-proxy"]}]
        });
        for bin in [rpack(), PathBuf::from("packer")] {
            let before = proxy.targets().len();
            let (code, text) = build(&bin, dir.path(), &template);
            assert_eq!(code, Some(0), "{} {creds:?}: {text}", bin.display());
            assert!(
                text.contains("through-the-proxy"),
                "{}: {text}",
                bin.display()
            );
            let targets = proxy.targets();
            assert!(
                targets.len() > before && targets[before..].iter().all(|t| *t == target),
                "{} {creds:?}: the proxy saw {targets:?}",
                bin.display()
            );
            assert!(!text.contains("proxy-secret-5e1"), "{text}");
        }
    }
}

#[test]
fn a_proxy_refusing_the_credentials_is_named_when_ssh_times_out() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let proxy = Socks5::start(Some(("rpack-user", "right-one")));
    let dir = tempfile::tempdir().unwrap();
    let template = json!({"builders": [null_builder(&sshd, &key, &json!({
        "ssh_timeout": "3s", "ssh_proxy_host": "127.0.0.1", "ssh_proxy_port": proxy.port(),
        "ssh_proxy_username": "rpack-user", "ssh_proxy_password": "wrong-one-77"}))]});
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(1), "{text}");
    let flat = text.replace('\n', " ");
    assert!(
        flat.contains(&format!(
            "SOCKS5 proxy 127.0.0.1:{}: connecting to {}:{}: the proxy refused username \"rpack-user\" and its password",
            proxy.port(),
            sshd.host(),
            sshd.port()
        )),
        "{text}"
    );
    assert!(!text.contains("wrong-one-77"), "{text}");
    assert!(proxy.targets().is_empty(), "{:?}", proxy.targets());
}

#[test]
fn a_bastion_and_a_proxy_together_are_refused_as_packer_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.json"),
        json!({"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_username": "u",
            "ssh_password": "pw-123456", "ssh_bastion_host": "127.0.0.2",
            "ssh_bastion_password": "pw-123456", "ssh_proxy_host": "127.0.0.3",
            "ssh_proxy_port": 70000}]})
        .to_string(),
    )
    .unwrap();
    let run = |bin: &str| {
        let out = Command::new(bin)
            .args(["validate", "t.json"])
            .current_dir(dir.path())
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text.replace('\n', " "))
    };
    let want = "please specify either ssh_bastion_host or ssh_proxy_host, not both";
    let (code, text) = run("packer");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(want), "{text}");
    let (code, text) = run(env!("CARGO_BIN_EXE_rpack"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(want), "{text}");
    // Packer binds the proxy port only when it dials; rpack checks it first.
    assert!(
        text.contains("ssh_proxy_port (70000) is not a valid port"),
        "{text}"
    );
}
