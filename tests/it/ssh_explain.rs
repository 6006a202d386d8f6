//! SSH failures say exactly what failed, against real servers on loopback: a wrong user and a
//! wrong key (user, host:port, key type offered, methods the server accepts), a closed port
//! (TCP connect refused), a port that accepts and stays silent (no SSH banner), a port that
//! speaks something else, and an amazon-ebs build whose source AMI's usual login user differs
//! from `ssh_username` (the hint names it). The test binary is not named `packer`, so these are
//! rpack's words; Packer's own are pinned by the unit tests of `communicator::ssh::explain`.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use rpack::communicator::config::TransferMethod;
use rpack::communicator::ssh::{Auth, ConnectParams, Endpoint};
use rpack::communicator::{CommError, SshComm};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ebs::{assert_clean, build, config, err_text, stack, REGION};
use crate::support::{ssh_keygen, KeyKind, Sshd};

fn params(host: &str, port: u16, user: &str, key: &Path) -> ConnectParams {
    ConnectParams {
        target: Endpoint {
            host: host.to_string(),
            port,
            user: user.to_string(),
            auth: Auth {
                private_key_file: Some(key.to_path_buf()),
                ..Default::default()
            },
        },
        bastion: None,
        pty: false,
        keep_alive: None,
        read_write_timeout: None,
        transfer: TransferMethod::Scp,
        agent_forwarding: false,
    }
}

async fn failure(p: ConnectParams, timeout: Duration) -> CommError {
    SshComm::new(p)
        .wait_until_up(timeout, 1, &CancellationToken::new())
        .await
        .expect_err("the connection must fail")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_user_and_wrong_key_name_user_address_key_type_and_server_methods() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let addr = format!("{}:{}", sshd.host(), sshd.port());

    let err = failure(
        params(sshd.host(), sshd.port(), "ubuntu", &key),
        Duration::from_secs(20),
    )
    .await;
    assert!(matches!(err, CommError::Auth(_)), "{err}");
    let want = format!(
        "SSH authentication as user \"ubuntu\" at {addr} failed: the server refused the ssh-ed25519 key in {}; the server accepts: publickey",
        key.display()
    );
    assert!(err.to_string().starts_with(&want), "{err}\nwant: {want}");
    assert!(err.to_string().ends_with("; tried once"), "{err}");

    let (rsa, _) = ssh_keygen(KeyKind::Rsa);
    let err = failure(
        params(sshd.host(), sshd.port(), sshd.user(), &rsa),
        Duration::from_secs(20),
    )
    .await
    .to_string();
    let want = format!(
        "SSH authentication as user \"{}\" at {addr} failed: the server refused the ssh-rsa key in {}; the server accepts: publickey",
        sshd.user(),
        rsa.display()
    );
    assert!(err.starts_with(&want), "{err}\nwant: {want}");
    assert!(!err.contains("Packer experienced"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_times_out_naming_the_refused_tcp_connect() {
    let (key, _) = ssh_keygen(KeyKind::Ed25519);
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = failure(
        params("127.0.0.1", port, "ec2-user", &key),
        Duration::from_secs(2),
    )
    .await
    .to_string();
    assert!(
        err.starts_with("Timeout waiting for SSH. Gave up after 2"),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            "the last one failed: TCP connect to 127.0.0.1:{port}: connection refused (nothing listens on that port, or a firewall rejects it)"
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_port_is_a_missing_banner_and_a_foreign_one_does_not_speak_ssh() {
    let (key, _) = ssh_keygen(KeyKind::Ed25519);
    // Accepts and says nothing, keeping every connection open until the test ends.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        silent.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            if let Ok((c, _)) = silent.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        conns.len()
    });
    let started = Instant::now();
    let err = failure(
        params("127.0.0.1", port, "ec2-user", &key),
        Duration::from_secs(3),
    )
    .await
    .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert!(err.starts_with("Timeout waiting for SSH."), "{err}");
    assert!(
        err.contains(&format!(
            "SSH handshake with 127.0.0.1:{port}: the TCP connection was accepted but no SSH banner came within"
        )),
        "{err}"
    );
    assert!(held.join().unwrap() >= 1);

    // Answers like a web server.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in http.incoming().take(20) {
            let Ok(mut c) = c else { break };
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let err = failure(
        params("127.0.0.1", port, "ec2-user", &key),
        Duration::from_secs(2),
    )
    .await
    .to_string();
    assert!(
        err.contains(&format!(
            "SSH handshake with 127.0.0.1:{port}: the server does not speak SSH (it sent \"HTTP/1.1 400 Bad Request\")"
        )),
        "{err}"
    );
}

/// An Ubuntu source AMI with `ssh_username: root`: the build fails at authentication, the error
/// names the AMI and suggests `ubuntu`, and nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_failure_on_a_known_ami_hints_its_login_user() {
    let st = stack();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"source_ami": "ami-785db401", "ssh_username": "root",
                   "ssh_timeout": "20s", "ssh_handshake_attempts": 1}),
        ),
    )
    .await;
    let err = err_text(&o);
    assert!(
        err.contains("SSH authentication as user \"root\" at 127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains("hint: the source AMI ami-785db401 (ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-20170721) looks like Ubuntu, whose login user is usually \"ubuntu\": try \"ssh_username\": \"ubuntu\""),
        "{err}"
    );
    assert_clean(&st, &o, &[REGION]).await;
}

/// The whole program, side by side with Packer 1.6.6: a null build whose key the server refuses
/// fails with Packer's exact error line when rpack is called as `packer`, and with rpack's
/// words (user, address, key type, what the server accepts) when called as `rpack`.
#[test]
fn called_as_packer_the_auth_failure_is_packers_line_and_as_rpack_its_own() {
    let (_, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let (wrong, _) = ssh_keygen(KeyKind::Ed25519);
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.json");
    let body = json!({"builders": [{"type": "null", "ssh_host": sshd.host(), "ssh_port": sshd.port(),
        "ssh_username": sshd.user(), "ssh_private_key_file": wrong, "ssh_timeout": "30s",
        "ssh_handshake_attempts": 1}]});
    std::fs::write(&template, body.to_string()).unwrap();
    let link = dir.path().join("packer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpack"), &link).unwrap();
    let run = |bin: &Path| {
        let out = std::process::Command::new(bin)
            .args(["build", "-color=false", "t.json"])
            .current_dir(dir.path())
            .env("CHECKPOINT_DISABLE", "1")
            .env("PACKER_CACHE_DIR", dir.path().join("cache"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let line = text
            .lines()
            .find(|l| l.starts_with("Build 'null' errored after "))
            .unwrap_or_else(|| panic!("{} printed no build error:\n{text}", bin.display()));
        // Without the duration: "Build 'null' errored after 87 milliseconds: <error>".
        let line = line.split_once(": ").map_or(line, |(_, e)| e).to_string();
        (out.status.code(), line)
    };
    let theirs = run(Path::new("packer"));
    assert!(
        theirs.1.contains("attempted methods [none publickey]"),
        "{theirs:?}"
    );
    assert_eq!(run(&link), theirs);
    let ours = run(Path::new(env!("CARGO_BIN_EXE_rpack")));
    assert_eq!(ours.0, Some(1));
    assert!(
        ours.1.contains(&format!(
            "SSH authentication as user \"{}\" at {}:{} failed: the server refused the ssh-ed25519 key in {}; the server accepts: publickey",
            sshd.user(),
            sshd.host(),
            sshd.port(),
            wrong.display()
        )),
        "{ours:?}"
    );
}
