//! The SSH communicator and the provisioners against real OpenSSH servers (`support::Sshd`):
//! exit codes, streaming, reconnects after the server drops, host key pinning, bastion tunnels,
//! big and many-file transfers with modes, cancellation; agent, password and
//! keyboard-interactive logins, ptys, keepalives through an idle-cutting relay, the sftp
//! fallback on a remote without `tar`, and the file provisioner's progress bar.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpack::communicator::config::TransferMethod;
use rpack::communicator::ssh::{Auth, ConnectParams, Endpoint};
use rpack::communicator::{CommError, Communicator, OutputSink, SshComm};
use rpack::provisioners::{self, shell};
use rpack::shell_local::RunData;
use rpack::ui::build::BuildUi;
use rpack::ui::Ui;
use tokio_util::sync::CancellationToken;

use crate::support::process::{self, ChildGuard};
use crate::support::sshd::PASSWORD_USER;
use crate::support::ui::Recording;
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// A server accepting a fresh key of `kind`, and the key's path.
fn server(kind: KeyKind) -> (Sshd, PathBuf) {
    let (key, public) = ssh_keygen(kind);
    (Sshd::start_static(&public), key)
}

fn params(sshd: &Sshd, key: &Path) -> ConnectParams {
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

async fn connect(p: ConnectParams) -> SshComm {
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

/// `bytes` random bytes from /dev/urandom (faster than generating them in a debug build).
fn random_file(path: &Path, bytes: usize) {
    let out = std::process::Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/urandom"])
        .stdout(std::fs::File::create(path).unwrap())
        .status()
        .unwrap();
    assert!(out.success());
}

/// sha256 of a local file with `sha256sum` (a debug-build sha2 takes seconds on 256 MiB).
fn sha256_file(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_upload_is_checksum_verified_scp_and_sftp() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let dir = tempfile::tempdir_in(SHM).unwrap();
    // 256 MiB by scp (the default method), as the issue asks; the sftp path and the download
    // move a 32 MiB file, which crosses the same chunk loops many times over at an eighth of
    // the suite's time.
    let big = dir.path().join("big.bin");
    random_file(&big, 256 << 20);
    let medium = dir.path().join("medium.bin");
    random_file(&medium, 32 << 20);
    for (method, file) in [(TransferMethod::Scp, &big), (TransferMethod::Sftp, &medium)] {
        let want = sha256_file(file);
        let mib = std::fs::metadata(file).unwrap().len() >> 20;
        let mut p = params(&sshd, &key);
        p.transfer = method;
        let comm = connect(p).await;
        let remote = format!("{SHM}/rpack-it-{}-big.bin", sshd.port());
        let started = Instant::now();
        comm.upload(file, &remote, Some(0o640), &CancellationToken::new())
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{mib} MiB upload via {method:?}: {secs:.2} s ({:.0} MiB/s)",
            mib as f64 / secs
        );
        let (status, lines) = run(
            &comm,
            &format!("sha256sum {remote} | cut -d' ' -f1; stat -c %a {remote}; rm -f {remote}"),
        )
        .await;
        assert_eq!(status, 0);
        assert_eq!(
            lines,
            [format!("out: {want}"), "out: 640".to_string()],
            "{method:?}"
        );
        // Round trip back down.
        if method == TransferMethod::Sftp {
            comm.upload(file, &remote, None, &CancellationToken::new())
                .await
                .unwrap();
            let back = dir.path().join("back.bin");
            comm.download(&remote, &back, &CancellationToken::new())
                .await
                .unwrap();
            assert_eq!(sha256_file(&back), want);
            run(&comm, &format!("rm -f {remote}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_of_5000_files_round_trips_with_modes() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    // Both sides on tmpfs: on this disk (ext4 without a journal) creating 5,000 files shortly
    // after deleting 5,000 costs seconds of kernel time (ialloc.c: recently_deleted), which says
    // nothing about rpack.
    let dir = tempfile::tempdir_in(SHM).unwrap();
    let src = dir.path().join("tree");
    for d in 0..10 {
        let sub = src.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..500 {
            let p = sub.join(format!("f{i:04}.bin"));
            std::fs::write(&p, [(i % 251) as u8; 4096]).unwrap();
        }
    }
    std::fs::set_permissions(
        src.join("d3/f0007.bin"),
        std::fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    std::fs::set_permissions(src.join("d4"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let remote = format!("{SHM}/rpack-it-{}-tree", sshd.port());

    // The file provisioner's rules: no trailing slash → the directory itself lands in dst.
    let cfg = provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("{remote}/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    run(&comm, &format!("mkdir -p {remote}")).await;
    let started = Instant::now();
    provision_file(&comm, &cfg).await;
    eprintln!(
        "5000 x 4 KiB upload: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    // Like Packer's scp and sftp uploads, files get the time of the upload (no 2006 mtimes
    // from the archive headers).
    let (_, lines) = run(&comm, &format!("find {remote}/tree -type f | wc -l; stat -c %a {remote}/tree/d3/f0007.bin {remote}/tree/d4; find {remote}/tree ! -newermt '10 minutes ago' | wc -l")).await;
    assert_eq!(lines, ["out: 5000", "out: 751", "out: 700", "out: 0"]);

    let back = dir.path().join("back");
    let started = Instant::now();
    comm.download_dir(&format!("{remote}/tree"), &back, &CancellationToken::new())
        .await
        .unwrap();
    eprintln!(
        "5000 x 4 KiB download: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let count = walk_files(&back);
    assert_eq!(count, 5000);
    assert_eq!(
        std::fs::metadata(back.join("d3/f0007.bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o751
    );
    assert_eq!(
        std::fs::read(back.join("d9/f0499.bin")).unwrap(),
        [(499 % 251) as u8; 4096]
    );
    run(&comm, &format!("rm -rf {remote}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_upload_to_an_impossible_destination_reports_mkdirs_words() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), "a\n").unwrap();
    // A regular file where the destination's parent directory should be.
    let blocker = scratch(&sshd, "blocker");
    run(&comm, &format!("echo x > {blocker}")).await;
    let err = comm
        .upload_dir(&src, &format!("{blocker}/sub"), &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("creating {blocker}/sub on the remote host failed"))
            && err.contains("Not a directory"),
        "{err}"
    );
    run(&comm, &format!("rm -f {blocker}")).await;
}

fn walk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_files(&e.path())
            } else {
                1
            }
        })
        .sum()
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

/// A real `ssh-agent` on a socket in a temp dir of its own; killed (with the dir removed) on drop.
struct Agent {
    sock: PathBuf,
    child: Option<ChildGuard>,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        // Under /tmp: a unix socket path must stay below 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("rpack-agent-")
            .tempdir()
            .unwrap();
        let sock = dir.path().join("agent.sock");
        let mut cmd = Command::new("ssh-agent");
        cmd.arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = process::spawn("ssh-agent", cmd).expect("starting ssh-agent");
        assert!(
            process::wait_until(Duration::from_secs(5), || sock.exists()),
            "ssh-agent made no socket at {}",
            sock.display()
        );
        Agent {
            sock,
            child: Some(child),
            _dir: dir,
        }
    }

    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add {}: {}",
            key.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// Connection parameters using only this agent (no key file, no password).
    fn params(&self, sshd: &Sshd) -> ConnectParams {
        let mut p = params(sshd, Path::new("/nonexistent"));
        p.target.auth = Auth {
            agent: true,
            agent_socket: Some(self.sock.clone()),
            ..Default::default()
        };
        p
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One connection attempt; the authentication error it ends with.
async fn auth_error(p: ConnectParams) -> CommError {
    let err = SshComm::new(p)
        .wait_until_up(Duration::from_secs(20), 1, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommError::Auth(_)),
        "not an authentication error: {err}"
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_auth_tries_every_agent_key_and_says_why_it_failed() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let (other, _) = ssh_keygen(KeyKind::Ed25519);
    let mut agent = Agent::start();
    let sock = agent.sock.display().to_string();

    let err = auth_error(agent.params(&sshd)).await.to_string();
    assert!(
        err.contains(&format!("agent: the ssh agent at {sock} holds no keys")),
        "{err}"
    );

    agent.add(&other);
    let err = auth_error(agent.params(&sshd)).await.to_string();
    assert!(
        err.contains(&format!(
            "agent: the server accepted none of the 1 key(s) in the ssh agent at {sock}"
        )),
        "{err}"
    );
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());

    // The server's key comes second: the first agent key is refused, the second one logs in.
    agent.add(&key);
    let comm = connect(agent.params(&sshd)).await;
    assert_eq!(
        run(&comm, "echo via-agent").await,
        (0, vec!["out: via-agent".to_string()])
    );
    assert!(
        sshd.log()
            .contains(&format!("Accepted publickey for {}", sshd.user())),
        "{}",
        sshd.log()
    );
    // libssh2 cannot serve a forwarded agent: the remote gets no SSH_AUTH_SOCK rather than a
    // socket that fails every connection.
    let mut forwarding = agent.params(&sshd);
    forwarding.agent_forwarding = true;
    let comm = connect(forwarding).await;
    assert_eq!(
        run(&comm, "echo \"sock=$SSH_AUTH_SOCK\"").await.1,
        ["out: sock="]
    );

    agent.stop();
    let err = auth_error(agent.params(&sshd)).await.to_string();
    assert!(
        err.contains(&format!("agent: connecting to the ssh agent at {sock}")),
        "{err}"
    );
}

/// A server that also lets `PASSWORD_USER` in, configured by `extra` sshd_config lines.
fn password_server(extra: &str) -> Sshd {
    let (_, unused_key) = ssh_keygen(KeyKind::Ed25519);
    Sshd::start_static_with(&unused_key, &format!("AllowUsers {PASSWORD_USER}\n{extra}"))
}

fn password_params(sshd: &Sshd, password: &str) -> ConnectParams {
    let mut p = params(sshd, Path::new("/nonexistent"));
    p.target.user = PASSWORD_USER.to_string();
    p.target.auth = Auth {
        password: Some(password.to_string()),
        ..Default::default()
    };
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_logs_in_and_a_wrong_password_is_refused() {
    let sshd = password_server("PasswordAuthentication yes");
    let password = Sshd::password_user_password();
    let comm = connect(password_params(&sshd, &password)).await;
    assert_eq!(
        run(&comm, "id -un").await,
        (0, vec![format!("out: {PASSWORD_USER}")])
    );
    assert!(
        sshd.log()
            .contains(&format!("Accepted password for {PASSWORD_USER}")),
        "{}",
        sshd.log()
    );

    let err = auth_error(password_params(&sshd, "not-the-password"))
        .await
        .to_string();
    assert!(
        err.starts_with(&format!(
            "SSH authentication as user \"{PASSWORD_USER}\" at {}:{} failed: the server refused the password; the server accepts: publickey, password",
            sshd.host(),
            sshd.port()
        )),
        "{err}"
    );
    assert!(err.contains("(password: "), "{err}");
    assert!(
        sshd.log()
            .contains(&format!("Failed password for {PASSWORD_USER}")),
        "{}",
        sshd.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_interactive_auth_answers_the_password_prompt() {
    // Only keyboard-interactive (through PAM) is offered: the plain password method is refused.
    let sshd =
        password_server("UsePAM yes\nPasswordAuthentication no\nKbdInteractiveAuthentication yes");
    let password = Sshd::password_user_password();
    let comm = connect(password_params(&sshd, &password)).await;
    assert_eq!(
        run(&comm, "id -un").await,
        (0, vec![format!("out: {PASSWORD_USER}")])
    );
    assert!(
        sshd.log().contains(&format!(
            "Accepted keyboard-interactive/pam for {PASSWORD_USER}"
        )),
        "{}",
        sshd.log()
    );

    let err = auth_error(password_params(&sshd, "not-the-password"))
        .await
        .to_string();
    assert!(err.contains("keyboard-interactive: "), "{err}");
    assert_eq!(
        sshd.log()
            .matches(&format!(
                "Accepted keyboard-interactive/pam for {PASSWORD_USER}"
            ))
            .count(),
        1,
        "{}",
        sshd.log()
    );
}

// ---- ssh_pty -------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_gives_commands_a_terminal_only_when_asked() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let check = "test -t 0 && test -t 1; echo \"tty=$?\"; tty; exit 3";
    let comm = connect(params(&sshd, &key)).await;
    assert_eq!(
        run(&comm, check).await,
        (
            3,
            vec!["out: tty=1".to_string(), "out: not a tty".to_string()]
        )
    );

    let mut p = params(&sshd, &key);
    p.pty = true;
    let comm = connect(p).await;
    let (status, lines) = run(&comm, check).await;
    assert_eq!(status, 3, "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "out: tty=0");
    assert!(lines[1].starts_with("out: /dev/pts/"), "{lines:?}");
    // Transfers never go through the pty (it would mangle the bytes).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"a\r\nb\n\x00\x03\x04").unwrap();
    let remote = scratch(&sshd, "pty.bin");
    comm.upload(file.path(), &remote, None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        run(
            &comm,
            &format!("od -An -c {remote} | tr -s ' '; rm -f {remote}")
        )
        .await
        .1,
        ["out:  a \\r \\n b \\n \\0 003 004"]
    );
}

// ---- ssh_keep_alive_interval -------------------------------------------------------------------

/// A TCP relay in front of a server that drops a connection after `idle` without a byte in
/// either direction, like a NAT gateway or a load balancer.
struct IdleCutter {
    port: u16,
    cuts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl IdleCutter {
    fn start(upstream_port: u16, idle: Duration) -> IdleCutter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cuts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (cuts.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => {
                        let up = TcpStream::connect(("127.0.0.1", upstream_port)).unwrap();
                        down.set_nonblocking(false).unwrap();
                        relay(down, up, idle, c.clone(), st.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        IdleCutter { port, cuts, stop }
    }

    fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for IdleCutter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies both ways on two threads; either one cuts both sockets once the pair was idle too long.
fn relay(
    a: TcpStream,
    b: TcpStream,
    idle: Duration,
    cuts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let started = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    for (mut from, mut to) in [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)] {
        let (last, done, cuts, stop) = (last.clone(), done.clone(), cuts.clone(), stop.clone());
        from.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        last.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        let quiet = started
                            .elapsed()
                            .saturating_sub(Duration::from_millis(last.load(Ordering::SeqCst)));
                        if quiet >= idle && !done.swap(true, Ordering::SeqCst) {
                            cuts.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if done.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            done.store(true, Ordering::SeqCst);
            let _ = from.shutdown(std::net::Shutdown::Both);
            let _ = to.shutdown(std::net::Shutdown::Both);
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_carry_an_idle_command_through_an_idle_timeout() {
    let (sshd, key) = server(KeyKind::Ed25519);
    // The relay cuts a connection silent for 3 s; keepalives every second leave 2 s of slack
    // for a loaded machine.
    let cutter = IdleCutter::start(sshd.port(), Duration::from_secs(3));
    let mut p = params(&sshd, &key);
    p.target.port = cutter.port;
    // 4 s of silence: with keepalives every second the relay never sees 3 s without traffic.
    let quiet = "sleep 4; echo survived";
    p.keep_alive = Some(Duration::from_secs(1));
    let comm = connect(p.clone()).await;
    assert_eq!(
        run(&comm, quiet).await,
        (0, vec!["out: survived".to_string()])
    );
    assert_eq!(cutter.cuts(), 0);
    drop(comm); // closes its connection before it idles into the cutoff

    p.keep_alive = None;
    let comm = connect(p).await;
    let started = Instant::now();
    let err = comm
        .start(quiet, &Lines::default(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommError::Disconnected(_)), "{err}");
    assert_eq!(cutter.cuts(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(3900),
        "cut at {:?}",
        started.elapsed()
    );
}

// ---- directory transfers on a remote without tar ----------------------------------------------

/// `find` listing (path, type, mode, size) and checksums of a tree, run locally or remotely.
const LISTING: &str = "find . -mindepth 1 -printf '%p %y %m %s\\n' | LC_ALL=C sort; find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2";

fn local_listing(dir: &Path) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(LISTING)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| format!("out: {l}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tar_directories_go_by_sftp_with_modes_intact() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    // The remote shell finds nothing on PATH, so no tar; sftp-server has an absolute path.
    let sshd = Sshd::start_static_with(&public, "SetEnv PATH=/nonexistent");
    let comm = connect(params(&sshd, &key)).await;
    assert_eq!(
        run(&comm, "command -v tar").await.0,
        1,
        "tar must be out of reach"
    );

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::create_dir_all(src.join("ro")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("top file.txt"), "top\n").unwrap();
    std::fs::write(src.join("a/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(src.join("a/b/data.bin"), vec![42u8; 300_000]).unwrap();
    std::fs::write(src.join("ro/secret"), "s\n").unwrap();
    mode(&src.join("top file.txt"), 0o640);
    mode(&src.join("a/run.sh"), 0o755);
    mode(&src.join("a/b/data.bin"), 0o604);
    mode(&src.join("ro/secret"), 0o400);
    mode(&src.join("a"), 0o750);
    mode(&src.join("a/b"), 0o775); // the remote umask (022) must not apply
    mode(&src.join("empty"), 0o700);
    mode(&src.join("ro"), 0o555); // read-only: made so only after its file arrived
    let want = local_listing(&src);

    // `~/…/deep/` does not exist yet: created with its parents, like `mkdir -p` on the tar path.
    let base = format!("rpack-it-{}-notar", sshd.port());
    let cfg = provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("~/{base}/deep/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    provision_file(&comm, &cfg).await;
    let remote = format!("/home/{}/{base}/deep/tree", sshd.user());
    let (status, got) = run(
        &comm,
        &format!("export PATH=/usr/bin:/bin; cd {remote} && {{ {LISTING}; }}"),
    )
    .await;
    assert_eq!(status, 0, "{got:?}");
    assert_eq!(got, want);
    // One sftp session carried the whole tree.
    assert_eq!(
        sshd.log().matches("subsystem 'sftp'").count(),
        1,
        "{}",
        sshd.log()
    );

    let back = dir.path().join("back");
    comm.download_dir(&remote, &back, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(local_listing(&back), want);
    assert_eq!(
        sshd.log().matches("subsystem 'sftp'").count(),
        2,
        "{}",
        sshd.log()
    );

    mode(&src.join("ro"), 0o755);
    mode(&back.join("ro"), 0o755);
    run(
        &comm,
        &format!("export PATH=/usr/bin:/bin; chmod -R u+w ~/{base} && rm -rf ~/{base}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tilde_destinations_land_in_the_home_directory_with_scp_and_sftp() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "home\n").unwrap();
    for method in [TransferMethod::Scp, TransferMethod::Sftp] {
        let mut p = params(&sshd, &key);
        p.transfer = method;
        let comm = connect(p).await;
        let name = format!("rpack-it-{}-{method:?}.txt", sshd.port());
        comm.upload(
            file.path(),
            &format!("~/{name}"),
            Some(0o600),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let (status, lines) = run(
            &comm,
            &format!("cat ~/{name} && stat -c %a ~/{name} && rm ~/{name}"),
        )
        .await;
        assert_eq!(
            (status, lines),
            (0, vec!["out: home".to_string(), "out: 600".to_string()]),
            "{method:?}"
        );
        run(&comm, &format!("echo back > ~/{name}")).await;
        let back = file.path().with_extension("back");
        comm.download(&format!("~/{name}"), &back, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            "back\n",
            "{method:?}"
        );
        run(&comm, &format!("rm ~/{name}")).await;
    }
}

// ---- the file provisioner's progress bar ----------------------------------------------------------

/// A pseudo-terminal: `term` writes to its slave side, a thread collects what the master reads.
struct Pty {
    term: Option<console::Term>,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Pty {
    fn open() -> Pty {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out-pointers for the two fds, no name buffer, no termios, a valid winsize.
        let rc = unsafe {
            libc::openpty(
                &raw mut master,
                &raw mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &raw const size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two fresh fds that nothing else owns.
        let (master, slave) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                std::fs::File::from_raw_fd(slave),
            )
        };
        let term = console::Term::read_write_pair(slave.try_clone().unwrap(), slave);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut master = master;
                let mut buf = [0u8; 4096];
                loop {
                    let mut pfd = libc::pollfd {
                        fd: master.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd for the duration of the call.
                    let ready = unsafe { libc::poll(&raw mut pfd, 1, 50) };
                    if ready > 0 {
                        match master.read(&mut buf) {
                            Ok(n) if n > 0 => seen.lock().unwrap().extend_from_slice(&buf[..n]),
                            _ => return, // EIO: the slave side is closed
                        }
                    } else if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
            })
        };
        Pty {
            term: Some(term),
            seen,
            stop,
            reader: Some(reader),
        }
    }

    fn term(&self) -> &console::Term {
        self.term.as_ref().unwrap()
    }

    /// Everything written to the terminal so far (waits until the reader caught up).
    fn output(&mut self) -> String {
        self.term = None;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

/// The file provisioner asks the build's UI for a bar (`Ui::progress`). `rpack build` gives its
/// builds' UIs a live area only on a terminal without -machine-readable; this test gives one
/// the pty instead of stdout, and checks a UI without one (plain output) draws nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_for_big_uploads_on_a_terminal_only() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-upload.bin");
    random_file(&big, 16 << 20);
    let small = dir.path().join("small-upload.bin");
    random_file(
        &small,
        (provisioners::file::PROGRESS_MIN_BYTES - 1) as usize,
    );
    let remote = scratch(&sshd, "progress");
    run(&comm, &format!("mkdir -p {remote}")).await;
    let upload = |src: &Path| provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("{remote}/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    let go = |cfg: provisioners::file::Config, ui: Arc<dyn Ui>| {
        let comm = comm.clone();
        async move {
            provisioners::file::provision(&cfg, &*ui, &comm, &data(), &CancellationToken::new())
                .await
                .unwrap();
        }
    };
    let sizes = format!("stat -c '%n %s' {remote}/*; rm -f {remote}/*");
    let recorded: Arc<dyn Ui> = Arc::new(Recording::new());
    let mut pty = Pty::open();
    assert!(pty.term().is_term());
    let live = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::term(
        pty.term().clone(),
        20,
    ));
    let build_ui: Arc<dyn Ui> = Arc::new(
        BuildUi::new("pb", recorded.clone(), None, false).with_spinners(Some(Arc::new(live))),
    );
    go(upload(&big), build_ui.clone()).await;
    go(upload(&small), build_ui.clone()).await;
    drop(build_ui);
    let drawn = pty.output();
    assert!(
        drawn.contains("pb: big-upload.bin") && drawn.contains("/16.00 MiB"),
        "no progress bar on the terminal: {drawn:?}"
    );
    assert!(
        !drawn.contains("small-upload"),
        "a bar for a file under {} bytes: {drawn:?}",
        provisioners::file::PROGRESS_MIN_BYTES
    );
    assert_eq!(
        run(&comm, &sizes).await.1,
        [
            format!("out: {remote}/big-upload.bin {}", 16 << 20),
            format!("out: {remote}/small-upload.bin {}", (8 << 20) - 1)
        ]
    );

    // A build UI without a live area (plain output, -machine-readable) offers no bar.
    let plain = BuildUi::new("pb", recorded.clone(), None, false);
    assert!(plain.progress(16 << 20, "big-upload.bin").is_none());
    go(upload(&big), Arc::new(plain)).await;
    assert_eq!(
        run(&comm, &sizes).await.1,
        [format!("out: {remote}/big-upload.bin {}", 16 << 20)]
    );
    run(&comm, &format!("rmdir {remote}")).await;
}
