//! Logins against a real sshd: agent keys, passwords, keyboard-interactive; ptys; keepalives
//! through a relay that cuts idle connections.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpack::communicator::ssh::{Auth, ConnectParams};
use rpack::communicator::{CommError, Communicator, SshComm};
use tokio_util::sync::CancellationToken;

use crate::support::process::{self, ChildGuard};
use crate::support::sshd::PASSWORD_USER;
use crate::support::{ssh_keygen, KeyKind, Sshd};

use super::*;

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
