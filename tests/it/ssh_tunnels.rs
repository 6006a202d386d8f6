//! `ssh_local_tunnels`, `ssh_remote_tunnels`, `ssh_ciphers` and `ssh_key_exchange_algorithms`
//! against a real OpenSSH server (`support::Sshd` plays the instance): whole null builds whose
//! provisioners go through the tunnels (side by side with Packer 1.6.6 for the remote tunnel),
//! teardown on success, failure and cancellation, a forward the server refuses, and the
//! algorithms the server negotiates or refuses.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpack::communicator::tunnel_spec::{parse, Direction};
use rpack::communicator::Communicator as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ssh::{connect, params};
use crate::support::process::{free_port, wait_until};
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// A line echo server on 127.0.0.1: answers each line with `echo:<line>`; counts connections.
struct Echo {
    port: u16,
    served: Arc<AtomicUsize>,
}

impl Echo {
    fn start() -> Echo {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    for line in BufReader::new(s).lines().map_while(Result::ok) {
                        if writeln!(w, "echo:{line}").is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Echo { port, served }
    }
}

/// Sends `line` to 127.0.0.1:`port` and reads one line back.
fn ask(port: u16, line: &str) -> std::io::Result<String> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    (&s).write_all(format!("{line}\n").as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer)?;
    Ok(answer.trim_end().to_string())
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Runs `bin build` on `template` in `dir`; exit code and everything printed.
pub(crate) fn build(bin: &Path, dir: &Path, template: &serde_json::Value) -> (Option<i32>, String) {
    std::fs::write(dir.join("t.json"), template.to_string()).unwrap();
    let out = Command::new(bin)
        .args(["build", "-color=false", "t.json"])
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CACHE_DIR", dir.join("cache"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

pub(crate) fn rpack() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rpack"))
}

/// A null builder connecting to `sshd` with `key`, plus `extra` builder keys.
pub(crate) fn null_builder(
    sshd: &Sshd,
    key: &Path,
    extra: &serde_json::Value,
) -> serde_json::Value {
    let mut b = json!({"type": "null", "ssh_host": sshd.host(), "ssh_port": sshd.port(),
        "ssh_username": sshd.user(), "ssh_private_key_file": key, "ssh_timeout": "30s"});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// Bash on the "instance" (the loopback sshd's user): one line through 127.0.0.1:`port`.
fn bash_ask(port: u16, tag: &str) -> String {
    format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port}; echo {tag} >&3; read -r answer <&3; echo \"got $answer\""
    )
}

#[test]
fn a_remote_tunnel_lets_the_instance_reach_a_service_on_rpacks_machine_as_in_packer() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "AllowTcpForwarding yes");
    let echo = Echo::start();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("packer");
    std::os::unix::fs::symlink(rpack(), &link).unwrap();
    for (n, bin) in [rpack(), PathBuf::from("packer"), link].iter().enumerate() {
        // The port the instance's sshd listens on, free on "the instance".
        let rport = free_port();
        let template = json!({
            "builders": [null_builder(&sshd, &key, &json!({
                "ssh_remote_tunnels": [format!("{rport}:127.0.0.1:{}", echo.port)]}))],
            "provisioners": [{"type": "shell", "inline_shebang": "/bin/bash -e",
                "inline": [bash_ask(rport, &format!("remote{n}"))]}]
        });
        let (code, text) = build(bin, dir.path(), &template);
        assert_eq!(code, Some(0), "{}: {text}\n{}", bin.display(), sshd.log());
        assert!(
            text.contains(&format!("got echo:remote{n}")),
            "{}: {text}",
            bin.display()
        );
        // Torn down with the build: the instance listens no more.
        assert!(
            wait_until(Duration::from_secs(5), || !listening(rport)),
            "{}: port {rport} still open on the instance after the build",
            bin.display()
        );
    }
    assert_eq!(echo.served.load(Ordering::SeqCst), 3);
}

#[test]
fn a_local_tunnel_is_reachable_from_rpacks_machine_during_the_build_only() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "AllowTcpForwarding yes");
    let echo = Echo::start();
    let lport = free_port();
    assert!(!listening(lport));
    let dir = tempfile::tempdir().unwrap();
    // Like Packer's own fixture (side by side with Packer 1.6.6): shell-local on rpack's machine talks through the tunnel; a
    // second tunnel reaches the instance's sshd itself (its banner comes back).
    let sshport = free_port();
    let template = json!({
        "builders": [null_builder(&sshd, &key, &json!({"ssh_local_tunnels": [
            format!("{lport}:127.0.0.1:{}", echo.port),
            format!("{sshport}:localhost:{}", sshd.port())]}))],
        "provisioners": [{"type": "shell-local", "inline_shebang": "/bin/bash -e", "inline": [
            bash_ask(lport, "local"),
            format!("exec 4<>/dev/tcp/127.0.0.1/{sshport}; read -r banner <&4; echo \"banner $banner\""),
        ]}]
    });
    for bin in [rpack(), PathBuf::from("packer")] {
        let (code, text) = build(&bin, dir.path(), &template);
        assert_eq!(code, Some(0), "{}: {text}\n{}", bin.display(), sshd.log());
        // Packer 1.6.6 dials every local tunnel's destination through the last tunnel's
        // (its dialer captures the Go loop variable); rpack sends each to its own (README,
        // "Where rpack deliberately differs").
        let want = if bin == rpack() {
            "got echo:local"
        } else {
            "got SSH-2.0-OpenSSH"
        };
        assert!(text.contains(want), "{}: {text}", bin.display());
        assert!(
            text.contains("banner SSH-2.0-OpenSSH"),
            "{}: {text}",
            bin.display()
        );
        assert!(
            wait_until(Duration::from_secs(5), || !listening(lport)
                && !listening(sshport)),
            "{}: tunnels left open",
            bin.display()
        );
    }

    // A failing build tears them down too (and the tunnel worked until then).
    let template = json!({
        "builders": [null_builder(&sshd, &key, &json!({
            "ssh_local_tunnels": [format!("{lport}:127.0.0.1:{}", echo.port)]}))],
        "provisioners": [{"type": "shell-local", "inline_shebang": "/bin/bash -e",
            "inline": [bash_ask(lport, "before-failure"), "exit 7"]}]
    });
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("got echo:before-failure"), "{text}");
    assert!(!listening(lport));
}

#[test]
fn a_port_in_use_fails_the_connect_step_naming_the_tunnel() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let template = json!({"builders": [null_builder(&sshd, &key, &json!({
        "ssh_local_tunnels": [format!("{port}:localhost:22")]}))]});
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "Tunnel: Failed to bind local port 127.0.0.1:{port} (ssh_local_tunnels '{port}:localhost:22')"
        )),
        "{text}"
    );
}

/// Held by the tests that run tunnels in this process, so that counting tunnel threads sees only
/// the holder's.
static IN_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The threads serving tunnels in this process.
fn tunnel_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "rpack-tunnels")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_end_when_stopped_or_cancelled_leaving_no_listener_or_thread() {
    let _alone = IN_PROCESS.lock().await;
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "AllowTcpForwarding yes");
    let echo = Echo::start();
    let comm = connect(params(&sshd, &key)).await;
    let before = tunnel_threads();
    for how in ["stop", "cancel"] {
        let (lport, rport) = (free_port(), free_port());
        let specs = vec![
            parse(
                &format!("{lport}:127.0.0.1:{}", echo.port),
                Direction::Local,
            )
            .unwrap(),
            parse(
                &format!("{rport}:127.0.0.1:{}", echo.port),
                Direction::Remote,
            )
            .unwrap(),
        ];
        let cancel = CancellationToken::new();
        comm.start_tunnels(specs, &cancel).await.unwrap();
        // The thread names itself once it runs.
        assert!(wait_until(Duration::from_secs(5), || tunnel_threads() == before + 1));
        // Both directions carry traffic, several connections at once.
        let answers = tokio::task::spawn_blocking(move || {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let port = if i % 2 == 0 { lport } else { rport };
                    std::thread::spawn(move || ask(port, &format!("{how}{i}")).unwrap())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(
            answers,
            (0..4).map(|i| format!("echo:{how}{i}")).collect::<Vec<_>>()
        );
        match how {
            "stop" => comm.stop_tunnels(),
            _ => cancel.cancel(),
        }
        let gone = wait_until(Duration::from_secs(5), || {
            !listening(lport) && !listening(rport) && tunnel_threads() == before
        });
        assert!(gone, "{how}: a listener or the thread is left");
        // The communicator itself still works.
        let out = comm
            .start(
                "true",
                &rpack::communicator::Discard,
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(out, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_forward_the_server_refuses_is_a_clear_error() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "AllowTcpForwarding no");
    let comm = connect(params(&sshd, &key)).await;
    let rport = free_port();
    let spec = parse(&format!("{rport}:127.0.0.1:9"), Direction::Remote).unwrap();
    let started = Instant::now();
    let err = comm
        .start_tunnels(vec![spec], &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        err.contains(&format!(
            "Tunnel: Failed to bind remote localhost:{rport} on the instance (ssh_remote_tunnels '{rport}:127.0.0.1:9')"
        )) && err.contains("AllowTcpForwarding yes"),
        "{err}"
    );
}

#[test]
fn ciphers_and_key_exchange_are_the_templates_and_a_refusal_is_named_at_once() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "LogLevel DEBUG1");
    let dir = tempfile::tempdir().unwrap();
    let template = json!({"builders": [null_builder(&sshd, &key, &json!({
        "ssh_ciphers": ["aes256-ctr"],
        "ssh_key_exchange_algorithms": ["curve25519-sha256", "ecdh-sha2-nistp256"]}))],
        "provisioners": [{"type": "shell", "inline": ["echo provisioned"]}]});
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(0), "{text}");
    let log = sshd.log();
    assert!(log.contains("kex: algorithm: curve25519-sha256"), "{log}");
    assert!(
        log.contains("kex: client->server cipher: aes256-ctr"),
        "{log}"
    );
    assert!(
        log.contains("kex: server->client cipher: aes256-ctr"),
        "{log}"
    );

    // A server that takes only another cipher: one clear error, long before ssh_timeout.
    let strict = Sshd::start_static_with(&public, "Ciphers aes128-ctr");
    let template = json!({"builders": [null_builder(&strict, &key, &json!({
        "ssh_timeout": "2m", "ssh_ciphers": ["aes256-ctr", "aes192-ctr"]}))]});
    let started = Instant::now();
    let (code, text) = build(&rpack(), dir.path(), &template);
    assert_eq!(code, Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(30), "{text}");
    assert!(
        text.contains("the server accepts none of the algorithms the template allows (ssh_ciphers [aes256-ctr, aes192-ctr])"),
        "{text}"
    );

    // A name libssh2 does not implement is a validate error with its position.
    std::fs::write(
        dir.path().join("v.json"),
        "{\"builders\": [{\"type\": \"null\", \"ssh_host\": \"127.0.0.1\",\n \"ssh_username\": \"u\", \"ssh_password\": \"secret-pw\",\n \"ssh_ciphers\": [\"3des-cbc\"]}]}",
    )
    .unwrap();
    let out = Command::new(rpack())
        .args(["validate", "v.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = (String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr))
        .replace('\n', " ");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ssh_ciphers: cipher \"3des-cbc\" (known to Packer 1.6.6) is not supported by rpack's SSH library (libssh2). Hint: choose from"),
        "{text}"
    );
    assert!(text.contains("(v.json:3:17)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_come_back_after_the_instance_reboots() {
    let _alone = IN_PROCESS.lock().await;
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let mut sshd = Sshd::start_static_with(&public, "AllowTcpForwarding yes");
    let echo = Echo::start();
    let comm = connect(params(&sshd, &key)).await;
    let (lport, rport) = (free_port(), free_port());
    let specs = vec![
        parse(
            &format!("{lport}:127.0.0.1:{}", echo.port),
            Direction::Local,
        )
        .unwrap(),
        parse(
            &format!("{rport}:127.0.0.1:{}", echo.port),
            Direction::Remote,
        )
        .unwrap(),
    ];
    comm.start_tunnels(specs, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ask(rport, "before").unwrap(), "echo:before");
    // A reboot drops every session: the remote listener goes with the tunnels' connection.
    sshd.restart();
    let back = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(15), || {
            ask(rport, "after").is_ok_and(|a| a == "echo:after")
                && ask(lport, "after").is_ok_and(|a| a == "echo:after")
        })
    })
    .await
    .unwrap();
    assert!(back, "the tunnels did not come back:\n{}", sshd.log());
    comm.stop_tunnels();
    assert!(wait_until(Duration::from_secs(5), || !listening(lport)
        && !listening(rport)));
}

/// Packer's own fixtures (`communicator-ssh/local-tunnel.json`, `remote-tunnel.json`) as one
/// amazon-ebs build against moto and the EC2-mode sshd, with the build's temporary key: the
/// local tunnel reaches the instance's sshd from rpack's machine, the remote one lets the
/// instance reach a service on rpack's machine; the build leaves nothing but its AMI.
#[test]
fn amazon_ebs_builds_with_packers_tunnel_fixtures() {
    let st = crate::build::stack();
    let echo = Echo::start();
    let (lport, rport) = (free_port(), free_port());
    let tpl = st.template(
        "tunnels",
        json!({
            "ssh_local_tunnels": [format!("{lport}:localhost:{}", st.sshd.port())],
            "ssh_remote_tunnels": [format!("{rport}:127.0.0.1:{}", echo.port)]
        }),
        json!([
            {"type": "shell-local", "inline_shebang": "/bin/bash -e", "inline": [
                format!("exec 4<>/dev/tcp/127.0.0.1/{lport}; read -r banner <&4; echo \"banner $banner\"")]},
            {"type": "shell", "inline_shebang": "/bin/bash -e", "inline": [bash_ask(rport, "ebs")]}
        ]),
    );
    let (code, out) =
        crate::build::run_to_end(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("banner SSH-2.0-OpenSSH"), "{out}");
    assert!(out.contains("got echo:ebs"), "{out}");
    assert!(!listening(lport) && !listening(rport));
    // The AMI and its snapshot are the artifact; no instance, key pair or security group stays.
    let left: Vec<String> = st
        .leftovers(&[crate::build::REGION])
        .into_iter()
        .filter(|l| !l.starts_with("AMI ") && !l.starts_with("snapshot "))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_tunnel_to_a_closed_port_ends_the_instances_connection_at_once() {
    let _alone = IN_PROCESS.lock().await;
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static_with(&public, "AllowTcpForwarding yes");
    let comm = connect(params(&sshd, &key)).await;
    let (rport, closed) = (free_port(), free_port());
    let spec = parse(&format!("{rport}:127.0.0.1:{closed}"), Direction::Remote).unwrap();
    comm.start_tunnels(vec![spec], &CancellationToken::new())
        .await
        .unwrap();
    let ended = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        // The instance's client (sshd listens on this machine's loopback).
        let mut s = TcpStream::connect(("127.0.0.1", rport)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf);
        (
            matches!(n, Ok(0))
                || n.is_err_and(|e| {
                    e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }),
            started.elapsed(),
        )
    })
    .await
    .unwrap();
    assert!(ended.0 && ended.1 < Duration::from_secs(5), "{ended:?}");
    // The tunnel still serves the next connection the same way.
    assert!(listening(rport));
    comm.stop_tunnels();
}
