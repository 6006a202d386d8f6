//! The SSH communicator and the provisioners against real OpenSSH servers (`support::Sshd`):
//! exit codes, streaming, reconnects after the server drops, host key pinning, bastion tunnels,
//! big and many-file transfers with modes, cancellation; agent, password and
//! keyboard-interactive logins, ptys, keepalives through an idle-cutting relay, the sftp
//! fallback on a remote without `tar`, and the file provisioner's progress bar.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rpack::communicator::config::TransferMethod;
use rpack::communicator::ssh::{Auth, ConnectParams, Endpoint};
use rpack::communicator::{CommError, Communicator, OutputSink, SshComm};
use rpack::provisioners::{self, shell};
use rpack::shell_local::RunData;
use tokio_util::sync::CancellationToken;

use crate::support::ui::Recording;
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// A server accepting a fresh key of `kind`, and the key's path.
fn server(kind: KeyKind) -> (Sshd, PathBuf) {
    let (key, public) = ssh_keygen(kind);
    (Sshd::start_static(&public), key)
}

/// Key login to `sshd` as its user, scp transfers, a 5 s keepalive.
pub(crate) fn params(sshd: &Sshd, key: &Path) -> ConnectParams {
    ConnectParams {
        target: Endpoint {
            host: sshd.host().to_string(),
            port: sshd.port(),
            user: sshd.user().to_string(),
            auth: Auth {
                private_key_file: Some(key.to_path_buf()),
                ..Default::default()
            },
        },
        bastion: None,
        pty: false,
        keep_alive: Some(Duration::from_secs(5)),
        read_write_timeout: None,
        transfer: TransferMethod::Scp,
        agent_forwarding: false,
    }
}

/// A communicator for `p`, connected (or the test fails).
pub(crate) async fn connect(p: ConnectParams) -> SshComm {
    let comm = SshComm::new(p);
    comm.wait_until_up(Duration::from_secs(20), 3, &CancellationToken::new())
        .await
        .expect("connecting to the test sshd");
    comm
}

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);
impl OutputSink for Lines {
    fn stdout_line(&self, l: &str) {
        self.0.lock().unwrap().push(format!("out: {l}"));
    }
    fn stderr_line(&self, l: &str) {
        self.0.lock().unwrap().push(format!("err: {l}"));
    }
}
impl Lines {
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

async fn run(comm: &SshComm, cmd: &str) -> (i32, Vec<String>) {
    let lines = Lines::default();
    let status = comm
        .start(cmd, &lines, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (status, lines.get())
}

/// Runs the file provisioner with `cfg` over `comm`; panics on failure.
async fn provision_file(comm: &SshComm, cfg: &provisioners::file::Config) {
    provisioners::file::provision(
        cfg,
        &Recording::new(),
        comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
}

fn data() -> RunData {
    RunData {
        build_name: "ssh-test".into(),
        builder_type: "null".into(),
        ..Default::default()
    }
}

/// A tmpfs both this process and the test sshd's user can write.
const SHM: &str = "/dev/shm";

fn scratch(sshd: &Sshd, name: &str) -> String {
    format!("/home/{}/rpack-it-{}-{name}", sshd.user(), sshd.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_exit_codes_and_streamed_output() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let (status, lines) = run(&comm, "echo one; echo two >&2; printf 'no newline'; exit 3").await;
    assert_eq!(status, 3);
    assert!(
        lines.contains(&"out: one".to_string()) && lines.contains(&"err: two".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"out: no newline".to_string()), "{lines:?}");
    assert_eq!(
        run(&comm, "sudo -n true").await.0,
        0,
        "passwordless sudo as on EC2"
    );
    assert!(comm.host_key_fingerprint().unwrap().starts_with("SHA256:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_keys_use_rsa_sha2() {
    // OpenSSH ≥ 8.8 refuses ssh-rsa (SHA-1) signatures: logging in proves rsa-sha2-256/512.
    let (sshd, key) = server(KeyKind::Rsa);
    let comm = connect(params(&sshd, &key)).await;
    assert_eq!(run(&comm, "true").await.0, 0);
    let log = sshd.log();
    assert!(
        log.contains("RSA SHA256:") || log.contains("Accepted publickey"),
        "{log}"
    );
}

/// The build's temporary key authenticates from memory (libssh2 on OpenSSL reads it without a
/// file): every type and size rpack generates, in OpenSSH's own format, and a PEM RSA key as
/// EC2's CreateKeyPair returns one. A key the server does not accept is an authentication error
/// that names the key's type, not a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_held_in_memory_log_in_for_every_type_rpack_generates() {
    use rpack::builders::amazon_ebs::steps::key_pair::generate;
    use rpack::communicator::keys::KeyText;
    let mut cases = Vec::new();
    for (kind, bits) in [
        ("ed25519", 0),
        ("ecdsa", 256),
        ("ecdsa", 384),
        ("ecdsa", 521),
        ("rsa", 2048),
    ] {
        let (private, public) = generate(kind, bits, "rpack-in-memory").unwrap();
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        cases.push((format!("{kind} {bits}"), private, public));
    }
    let (pem_file, public) = ssh_keygen(KeyKind::Rsa);
    let pem = std::fs::read_to_string(&pem_file).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pem}");
    cases.push(("PEM rsa".into(), pem, public));
    let in_memory = |sshd: &Sshd, key: &str| {
        let mut p = params(sshd, Path::new("/nonexistent"));
        p.target.auth = Auth {
            private_key: Some(KeyText::new(key)),
            ..Default::default()
        };
        p
    };
    for (name, private, public) in &cases {
        let sshd = Sshd::start_static(public);
        let comm = connect(in_memory(&sshd, private)).await;
        assert_eq!(
            run(&comm, "echo in-memory").await,
            (0, vec!["out: in-memory".to_string()]),
            "{name}"
        );
        let log = sshd.log();
        assert!(log.contains("Accepted publickey"), "{name}: {log}");
    }

    let sshd = Sshd::start_static(&cases[1].2);
    let err = SshComm::new(in_memory(&sshd, &cases[0].1))
        .wait_until_up(Duration::from_secs(20), 1, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommError::Auth(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the build's temporary ssh-ed25519 key") && !text.contains("/nonexistent"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_an_authentication_error() {
    let (sshd, _) = server(KeyKind::Ed25519);
    let (other, _) = ssh_keygen(KeyKind::Ed25519);
    let comm = SshComm::new(params(&sshd, &other));
    let err = comm
        .wait_until_up(Duration::from_secs(20), 2, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommError::Auth(_)), "{err}");
    assert!(
        err.to_string().starts_with("SSH authentication as user"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_waits_for_the_server_to_come_up() {
    let (mut sshd, key) = server(KeyKind::Ed25519);
    sshd.stop();
    let p = params(&sshd, &key);
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        sshd.restart();
        sshd
    });
    let started = Instant::now();
    let comm = connect(p).await;
    let _sshd = starter.join().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "polls at ≤1 s: {:?}",
        started.elapsed()
    );
    assert_eq!(run(&comm, "true").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_valid_exit_codes_env_and_output() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let ui = Recording::new();
    let cfg = shell::Config {
        inline: Some(vec![
            "echo \"name=$PACKER_BUILD_NAME type=$PACKER_BUILDER_TYPE foo=$FOO\"".into(),
            "exit 2".into(),
        ]),
        environment_vars: vec!["FOO=it's".into()],
        valid_exit_codes: vec![0, 2],
        remote_path: scratch(&sshd, "script.sh"),
        ..Default::default()
    };
    shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        ui.lines()
            .contains(&"message: name=ssh-test type=null foo=it's".to_string()),
        "{:?}",
        ui.lines()
    );
    assert_eq!(
        run(&comm, &format!("test -e {}", cfg.remote_path)).await.0,
        1,
        "script removed"
    );

    let cfg = shell::Config {
        valid_exit_codes: vec![0],
        ..cfg
    };
    let err = shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Script exited with non-zero exit status: 2.Allowed exit codes are: [0]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_disconnect_survives_sshd_restart_mid_script() {
    let (mut sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let remote_path = scratch(&sshd, "reboot.sh");
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        sshd.restart();
        sshd
    });
    let ui = Recording::new();
    let cfg = shell::Config {
        inline: Some(vec!["echo rebooting".into(), "sleep 30".into()]),
        expect_disconnect: true,
        start_retry_timeout: Duration::from_secs(20),
        remote_path: remote_path.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap();
    let sshd = restarter.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        ui.lines().contains(&"message: rebooting".to_string()),
        "{:?}",
        ui.lines()
    );
    // The connection was re-established for the cleanup and later commands.
    assert_eq!(run(&comm, &format!("test -e {remote_path}")).await.0, 1);

    // Without expect_disconnect the same drop is Packer's error.
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let mut sshd = sshd;
        sshd.restart();
        sshd
    });
    let cfg = shell::Config {
        expect_disconnect: false,
        ..cfg
    };
    let err = shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap_err();
    let _sshd = restarter.join().unwrap();
    assert!(
        err.to_string()
            .starts_with("Script disconnected unexpectedly."),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_is_refused() {
    let (mut sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    assert_eq!(run(&comm, "true").await.0, 0);
    sshd.regenerate_host_key();
    let err = comm
        .start("true", &Lines::default(), &CancellationToken::new())
        .await;
    let err = match err {
        // The first call may only notice the dropped connection; the reconnect sees the new key.
        Err(CommError::Disconnected(_)) => comm
            .start("true", &Lines::default(), &CancellationToken::new())
            .await
            .unwrap_err(),
        Err(e) => e,
        Ok(s) => panic!("command ran against a changed host key (status {s})"),
    };
    assert!(matches!(err, CommError::HostKeyChanged { .. }), "{err}");
    assert!(err.to_string().contains("changed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bastion_tunnels_to_the_target() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let bastion = Sshd::start_static(&public);
    let mut target = Sshd::start_static(&public);
    let mut p = params(&target, &key);
    p.bastion = Some(Endpoint {
        host: bastion.host().into(),
        port: bastion.port(),
        user: bastion.user().into(),
        auth: Auth {
            private_key_file: Some(key.clone()),
            ..Default::default()
        },
    });
    let comm = connect(p).await;
    let (status, lines) = run(&comm, "echo via-bastion").await;
    assert_eq!((status, lines), (0, vec!["out: via-bastion".to_string()]));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), vec![7u8; 3 << 20]).unwrap();
    let remote = scratch(&target, "through-bastion.bin");
    comm.upload(file.path(), &remote, None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        run(&comm, &format!("stat -c %s {remote} && rm -f {remote}"))
            .await
            .1,
        ["out: 3145728"]
    );
    // The target only ever saw connections forwarded by the bastion's sshd.
    assert!(
        target.log().contains("Accepted publickey"),
        "{}",
        target.log()
    );
    target.stop();
    let err = comm
        .start("true", &Lines::default(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommError::Disconnected(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_a_running_command_quickly() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let started = Instant::now();
    let err = comm
        .start("sleep 60", &Lines::default(), &cancel)
        .await
        .unwrap_err();
    assert!(matches!(err, CommError::Cancelled), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The communicator is still usable for cleanup after a cancelled step.
    assert_eq!(run(&comm, "true").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_script_runs_with_lf_and_binary_keeps_crlf() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("crlf.sh");
    std::fs::write(&script, "#!/bin/bash\n\r\necho crlf-ok\r\n").unwrap();
    let cfg = shell::Config {
        scripts: vec![script.to_string_lossy().into_owned()],
        remote_path: scratch(&sshd, "crlf.sh"),
        ..Default::default()
    };
    let ui = Recording::new();
    shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        ui.lines().contains(&"message: crlf-ok".to_string()),
        "{:?}",
        ui.lines()
    );
    let cfg = shell::Config {
        binary: true,
        ..cfg
    };
    let ui = Recording::new();
    shell::provision(&cfg, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        ui.lines()
            .iter()
            .any(|l| l.starts_with("error: ") && l.ends_with("$'\\r': command not found")),
        "{:?}",
        ui.lines()
    );
}

// ---- logins: ssh-agent, password, keyboard-interactive -------------------------------------------

mod auth;
mod transfer;
