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

/// An instance whose name only the proxy resolves: rpack and Packer reach it (the name goes to
/// the proxy unresolved), and the ansible provisioner, whose own ssh could not, goes through
/// rpack's adapter without being told to.
#[test]
fn a_name_only_the_proxy_knows_is_reached_and_ansible_follows_through_the_adapter() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let proxy = Socks5::start(None);
    let dir = tempfile::tempdir().unwrap();
    let name = format!("instance{}", crate::support::socks::PRIVATE_DOMAIN);
    // Written by the instance's user: outside this test's private directory.
    let out_file = PathBuf::from(format!("/tmp/rpack-socks-ansible-{}.txt", sshd.port()));
    let play = dir.path().join("play.yml");
    std::fs::write(
        &play,
        format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: {}\n        content: \"ansible via {{{{ packer_builder_type }}}}\\n\"\n",
            out_file.display()
        ),
    )
    .unwrap();
    let mut builder = null_builder(
        &sshd,
        &key,
        &json!({"ssh_proxy_host": "127.0.0.1", "ssh_proxy_port": proxy.port()}),
    );
    builder["ssh_host"] = json!(name);
    let shell = json!({"type": "shell", "inline": ["echo reached-$(hostname)"]});
    for bin in [rpack(), PathBuf::from("packer")] {
        let (code, text) = build(
            &bin,
            dir.path(),
            &json!({"builders": [builder], "provisioners": [shell]}),
        );
        assert_eq!(code, Some(0), "{}: {text}", bin.display());
        assert!(text.contains("reached-"), "{}: {text}", bin.display());
    }
    let venv_bin = crate::support::paths::venv_bin("ansible-playbook");
    std::fs::write(
        dir.path().join("t.json"),
        json!({"builders": [builder],
            "provisioners": [{"type": "ansible", "playbook_file": play}]})
        .to_string(),
    )
    .unwrap();
    let out = Command::new(rpack())
        .args(["build", "-color=false", "t.json"])
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv_bin.parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PLAY RECAP"), "{text}");
    let written = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(written, "ansible via null\n");
    // Not told to (no use_proxy): the adapter carried Ansible over rpack's connection.
    assert!(text.contains("SSH proxy: serving on 127.0.0.1:"), "{text}");
    let target = format!("{name}:{}", sshd.port());
    assert!(
        proxy.targets().iter().all(|t| *t == target),
        "{:?}",
        proxy.targets()
    );
}
