//! The SSH communicator over libssh2 (`ssh2` crate).
//!
//! libssh2 is blocking, so every operation runs on a blocking thread that holds the build's one
//! connection for its duration. The session runs with a short libssh2 timeout ([`TICK`]) so that
//! waits wake up regularly to send keepalives and notice cancellation; on cancellation the
//! socket is also shut down, which ends any wait at once. A connection that dies (reboot,
//! `expect_disconnect`) is dropped and the next operation dials again. The host key seen at the
//! first connection is remembered and a different one is refused for the rest of the build.
//!
//! Transfers: single files go by scp (`scp -t`) or sftp as configured, in large chunks;
//! directory trees go as ONE tar stream over one exec channel (`tar -x` remotely) when the
//! remote has `tar`, falling back to sftp file by file.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;
use ssh2::{Channel, ErrorCode, MethodType, Session};
use tokio_util::sync::CancellationToken;

use super::config::{SshConfig, TransferMethod};
use super::{CommError, Communicator, OutputSink, Progress};
use crate::ui::Ui;

/// How long a libssh2 call may block before we get control back to check for cancellation
/// and send keepalives. Also the polling period of the connect loop (the issue asks ≤1 s).
const TICK: Duration = Duration::from_millis(500);
/// Chunk size for transfers: large enough that per-call overhead vanishes next to the crypto.
const CHUNK: usize = 1 << 20;
/// Ciphers in order of preference: AES-GCM is the fastest with AES-NI and needs no separate
/// MAC; chacha20 for hosts without AES-NI; the CTR modes for old servers.
const CIPHERS: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";
const MACS: &str = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const HOST_KEYS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// How to authenticate to one SSH server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Auth {
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub agent: bool,
    /// The agent's socket; `None` is `$SSH_AUTH_SOCK`, as in Packer.
    pub agent_socket: Option<PathBuf>,
}

/// One SSH endpoint: address, user and credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
}

/// Everything needed to dial the machine.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub target: Endpoint,
    pub bastion: Option<Endpoint>,
    pub pty: bool,
    pub keep_alive: Option<Duration>,
    pub read_write_timeout: Option<Duration>,
    pub transfer: TransferMethod,
    /// Packer's default with `ssh_agent_auth`. Not requested: libssh2 cannot serve forwarded
    /// agent channels, and a remote `SSH_AUTH_SOCK` that refuses every connection is worse
    /// than none.
    pub agent_forwarding: bool,
}

impl ConnectParams {
    /// Connection parameters from a decoded config and the host the builder found.
    pub fn from_config(cfg: &SshConfig, host: &str) -> Self {
        let auth = Auth {
            password: cfg.password.clone(),
            private_key_file: cfg.private_key_file.clone(),
            agent: cfg.agent_auth,
            agent_socket: None,
        };
        ConnectParams {
            target: Endpoint {
                host: host.to_string(),
                port: cfg.port,
                user: cfg.username.clone(),
                auth,
            },
            bastion: cfg.bastion.as_ref().map(|b| Endpoint {
                host: b.host.clone(),
                port: b.port,
                user: b.username.clone(),
                auth: Auth {
                    password: b.password.clone(),
                    private_key_file: b.private_key_file.clone(),
                    agent: b.agent_auth,
                    agent_socket: None,
                },
            }),
            pty: cfg.pty,
            keep_alive: cfg.keep_alive_interval,
            read_write_timeout: cfg.read_write_timeout,
            transfer: cfg.file_transfer_method,
            agent_forwarding: cfg.agent_auth && !cfg.disable_agent_forwarding,
        }
    }
}

/// The socket under a session: a TCP stream, or our end of the pipe to a bastion tunnel.
enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
    fn fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }
    fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
    }
}

/// One live SSH connection.
struct Conn {
    sess: Session,
    sock: Sock,
    /// Keeps the bastion pump alive; dropping it stops the pump thread.
    _tunnel: Option<Tunnel>,
    /// What a [`super::transport::Transport`] keeps alive for this connection.
    _transport: Option<Box<dyn Send>>,
    /// Whether the remote has `tar` (asked once per connection).
    has_tar: Option<bool>,
}

struct Inner {
    params: ConnectParams,
    /// Reaches the server instead of TCP when set (Session Manager).
    transport: Option<Arc<dyn super::transport::Transport>>,
    conn: Mutex<Option<Conn>>,
    /// A clone of the live socket so cancellation can shut it down while an op holds `conn`.
    kill: Mutex<Option<Sock>>,
    /// (type, key blob) seen at the first successful handshake.
    host_key: Mutex<Option<(String, Vec<u8>)>>,
}

/// The SSH communicator of one build. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SshComm {
    inner: Arc<Inner>,
}

impl SshComm {
    pub fn new(params: ConnectParams) -> Self {
        Self::with_transport(params, None)
    }

    /// As [`SshComm::new`], reaching the server through `transport` instead of TCP.
    pub fn with_transport(
        params: ConnectParams,
        transport: Option<Arc<dyn super::transport::Transport>>,
    ) -> Self {
        SshComm {
            inner: Arc::new(Inner {
                params,
                transport,
                conn: Mutex::new(None),
                kill: Mutex::new(None),
                host_key: Mutex::new(None),
            }),
        }
    }

    pub fn params(&self) -> &ConnectParams {
        &self.inner.params
    }

    /// Connects like Packer's `StepConnectSSH`: prints where it connects, retries until
    /// `cfg.timeout` (polling every ≤1 s instead of Packer's 5 s), honours
    /// `ssh_handshake_attempts` for authentication failures and `pause_before_connecting`.
    pub async fn connect(
        cfg: &SshConfig,
        host: &str,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> Result<SshComm, CommError> {
        let comm = SshComm::new(ConnectParams::from_config(cfg, host));
        ui.say(&format!("Using ssh communicator to connect: {host}"));
        ui.say("Waiting for SSH to become available...");
        comm.wait_until_up(cfg.timeout, cfg.handshake_attempts, cancel)
            .await?;
        if let Some(pause) = cfg.pause_before_connecting {
            comm.disconnect();
            ui.say(&format!(
                "Pausing {} before connecting...",
                crate::provisioners::go_duration(pause)
            ));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cancel.cancelled() => return Err(CommError::Cancelled),
            }
            comm.wait_until_up(cfg.timeout, cfg.handshake_attempts, cancel)
                .await?;
        }
        ui.say("Connected to SSH!");
        Ok(comm)
    }

    /// Dials until a session is authenticated or `timeout` passes (`Timeout waiting for SSH.`).
    pub async fn wait_until_up(
        &self,
        timeout: Duration,
        handshake_attempts: u32,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let deadline = Instant::now() + timeout;
        let mut auth_failures = 0u32;
        loop {
            let this = self.clone();
            let token = cancel.clone();
            let attempt = tokio::task::spawn_blocking(move || {
                let mut guard = this.inner.conn.lock().unwrap_or_else(|e| e.into_inner());
                if guard.is_none() {
                    *guard = Some(this.inner.dial(&token, Some(deadline))?);
                }
                Ok::<(), CommError>(())
            })
            .await
            .map_err(|e| CommError::Other(format!("ssh connect task failed: {e}")))?;
            match attempt {
                Ok(()) => return Ok(()),
                Err(e @ (CommError::HostKeyChanged { .. } | CommError::Cancelled)) => {
                    return Err(e)
                }
                Err(CommError::Auth(msg)) => {
                    auth_failures += 1;
                    if auth_failures >= handshake_attempts.max(1) {
                        return Err(CommError::Auth(format!(
                            "Packer experienced an authentication error when trying to connect via SSH. This can happen if your \
                             username/password are wrong. You may want to double-check your credentials as part of your debugging \
                             process. original error: {msg}"
                        )));
                    }
                    tracing::debug!("ssh auth failure {auth_failures}/{handshake_attempts}: {msg}");
                }
                Err(e) => tracing::debug!("ssh not ready: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(CommError::Other("Timeout waiting for SSH.".into()));
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = cancel.cancelled() => return Err(CommError::Cancelled),
            }
        }
    }

    /// Drops the current connection (the next operation dials again).
    pub fn disconnect(&self) {
        if let Some(k) = self
            .inner
            .kill
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            k.shutdown();
        }
        *self.inner.conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// SHA256 fingerprint (`SHA256:…`) of the host key recorded at the first connection.
    pub fn host_key_fingerprint(&self) -> Option<String> {
        self.inner
            .host_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(_, k)| fingerprint(k))
    }

    /// Runs `op` on a blocking thread with the connection (dialled once if needed). A
    /// disconnect drops the connection; cancellation shuts the socket down.
    async fn with_conn<T: Send + 'static>(
        &self,
        cancel: &CancellationToken,
        op: impl FnOnce(&mut Conn, &Ctl) -> Result<T, CommError> + Send + 'static,
    ) -> Result<T, CommError> {
        if cancel.is_cancelled() {
            return Err(CommError::Cancelled);
        }
        let inner = self.inner.clone();
        let watcher = {
            let inner = inner.clone();
            let token = cancel.clone();
            tokio::spawn(async move {
                token.cancelled().await;
                if let Some(k) = inner
                    .kill
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                {
                    k.shutdown();
                }
            })
        };
        let token = cancel.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut guard = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some(inner.dial(&token, None).map_err(|e| match e {
                    CommError::Other(m) => CommError::Disconnected(m),
                    e => e,
                })?);
            }
            let conn = guard.as_mut().expect("connection present");
            let ctl = Ctl {
                cancel: token.clone(),
                keep_alive: inner.params.keep_alive,
                rw_timeout: inner.params.read_write_timeout,
                fd: conn.sock.fd(),
            };
            let res = op(conn, &ctl);
            let res = match res {
                Err(_) if token.is_cancelled() => Err(CommError::Cancelled),
                r => r,
            };
            if matches!(res, Err(CommError::Disconnected(_) | CommError::Cancelled)) {
                *guard = None;
                *inner.kill.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            res
        })
        .await
        .map_err(|e| CommError::Other(format!("ssh task failed: {e}")));
        watcher.abort();
        res?
    }

    /// Removes `pubkey` lines from the login user's and root's `authorized_keys`
    /// (`ssh_clear_authorized_keys`).
    pub async fn clear_authorized_keys(
        &self,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        ui.say("Trying to remove ephemeral keys from authorized_keys files");
        let sink = super::Discard;
        let status = self
            .start(
                "rm -f ~/.ssh/authorized_keys; sudo -n rm -f /root/.ssh/authorized_keys || true",
                &sink,
                cancel,
            )
            .await?;
        if status != 0 {
            return Err(CommError::Other(format!(
                "removing authorized_keys exited with status {status}"
            )));
        }
        Ok(())
    }
}

/// What a blocking operation needs to wait well: cancellation, keepalives, the rw timeout.
struct Ctl {
    cancel: CancellationToken,
    keep_alive: Option<Duration>,
    rw_timeout: Option<Duration>,
    fd: RawFd,
}

impl Ctl {
    fn check(&self) -> Result<(), CommError> {
        if self.cancel.is_cancelled() {
            Err(CommError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Runs a libssh2 call, repeating it while it only timed out (libssh2 keeps its state
    /// across a timeout the same way as across EAGAIN), sending keepalives between tries.
    /// `what` names the operation for error messages.
    fn call<T>(
        &self,
        sess: &Session,
        what: &str,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, CommError> {
        let start = Instant::now();
        loop {
            self.check()?;
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if is_retry(&e) => {
                    self.idle(sess, start)?;
                }
                Err(e) => return Err(map_err(what, e)),
            }
        }
    }

    /// Runs a libssh2 request that waits for the server's answer (opening a channel, exec, scp,
    /// sftp start-up) without letting libssh2 block: between tries it waits for the socket
    /// itself ([`wait_socket`]), which first releases any ACK the kernel is holding back.
    ///
    /// Why: right after authentication OpenSSH's sshd sends its host keys notice and, before
    /// it has enabled TCP_NODELAY (it does so at exec), its answer to our first channel open
    /// as a second small segment. Nagle holds that segment until the first is acknowledged,
    /// and our kernel delays that ACK by up to 40 ms, so every connection's first command
    /// paid 40 ms for nothing.
    fn request<T>(
        &self,
        sess: &Session,
        what: &str,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, CommError> {
        sess.set_blocking(false);
        let res = (|| {
            let mut since = Instant::now();
            loop {
                self.check()?;
                match f() {
                    Ok(v) => return Ok(v),
                    Err(e) if is_retry(&e) => {
                        if since.elapsed() >= TICK {
                            self.idle(sess, since)?;
                            since = Instant::now();
                        }
                        wait_socket(sess, self.fd, TICK)?;
                    }
                    Err(e) => return Err(map_err(what, e)),
                }
            }
        })();
        sess.set_blocking(true);
        res
    }

    /// Called when a call made no progress for one tick: keepalive, cancel, rw timeout.
    fn idle(&self, sess: &Session, since: Instant) -> Result<(), CommError> {
        self.check()?;
        if self.keep_alive.is_some() {
            let _ = sess.keepalive_send();
        }
        if let Some(t) = self.rw_timeout {
            if since.elapsed() >= t {
                return Err(CommError::Disconnected(format!(
                    "no data for {} (ssh_read_write_timeout)",
                    crate::provisioners::go_duration(t)
                )));
            }
        }
        Ok(())
    }

    fn write_all(
        &self,
        sess: &Session,
        w: &mut impl Write,
        mut buf: &[u8],
    ) -> Result<(), CommError> {
        let mut last = Instant::now();
        while !buf.is_empty() {
            self.check()?;
            match w.write(buf) {
                Ok(0) => {
                    return Err(CommError::Disconnected(
                        "remote side stopped accepting data".into(),
                    ))
                }
                Ok(n) => {
                    buf = &buf[n..];
                    last = Instant::now();
                }
                Err(e) if is_io_retry(&e) => self.idle(sess, last)?,
                Err(e) => return Err(map_io("writing to the remote host", e)),
            }
        }
        Ok(())
    }

    fn read(&self, sess: &Session, r: &mut impl Read, buf: &mut [u8]) -> Result<usize, CommError> {
        let last = Instant::now();
        loop {
            self.check()?;
            match r.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_io_retry(&e) => self.idle(sess, last)?,
                Err(e) => return Err(map_io("reading from the remote host", e)),
            }
        }
    }
}

/// A reader over a channel for the `tar` crate: retries timeouts, honours cancellation.
struct ChanReader<'a> {
    ctl: &'a Ctl,
    sess: &'a Session,
    ch: &'a mut Channel,
}
impl Read for ChanReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ctl
            .read(self.sess, self.ch, buf)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// A writer over a channel for the `tar` crate.
struct ChanWriter<'a> {
    ctl: &'a Ctl,
    sess: &'a Session,
    ch: &'a mut Channel,
    /// The first transport error, kept so it is reported with its kind.
    err: Option<CommError>,
}
impl Write for ChanWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.ch.eof() {
            // The remote command exited without reading everything; its status says why.
            self.err
                .get_or_insert(CommError::Other(STOPPED_READING.into()));
            return Err(io::Error::other(STOPPED_READING));
        }
        match self.ctl.write_all(self.sess, self.ch, buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let msg = e.to_string();
                self.err.get_or_insert(e);
                Err(io::Error::other(msg))
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The io::Error side of [`is_retry`]: the call only timed out or would block.
fn is_io_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn is_retry(e: &ssh2::Error) -> bool {
    matches!(e.code(), ErrorCode::Session(-9) | ErrorCode::Session(-37))
}

/// libssh2 error codes that mean the connection itself is gone.
fn is_disconnect(e: &ssh2::Error) -> bool {
    // SOCKET_SEND -7, SOCKET_DISCONNECT -13, SOCKET_TIMEOUT -30, SOCKET_RECV -43,
    // CHANNEL_FAILURE -21, BAD_USE of a dead session -39, KEX failure -5, transport -11.
    matches!(
        e.code(),
        ErrorCode::Session(-7 | -13 | -30 | -43 | -5 | -11 | -1)
    )
}

fn map_err(what: &str, e: ssh2::Error) -> CommError {
    if is_disconnect(&e) {
        CommError::Disconnected(format!("{what}: {}", e.message()))
    } else {
        CommError::Other(format!("{what}: {}", e.message()))
    }
}

/// A failed read or write on an open channel: the `ssh2` io error has lost libssh2's code, and
/// in practice these fail only when the transport is gone, so they count as disconnects (the
/// connection is dropped and the next operation dials again).
fn map_io(what: &str, e: io::Error) -> CommError {
    CommError::Disconnected(format!("{what}: {e}"))
}

/// OpenSSH-style `SHA256:<base64>` fingerprint of a host key blob.
fn fingerprint(key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(key);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

impl Inner {
    /// One connection attempt: TCP (or tunnel through the bastion), handshake, host key check,
    /// authentication.
    fn dial(
        &self,
        cancel: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<Conn, CommError> {
        let p = &self.params;
        let budget = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(30));
        let dial_timeout = budget.clamp(Duration::from_secs(1), Duration::from_secs(10));
        let mut kept = None;
        let (sock, tunnel) = match &p.bastion {
            _ if self.transport.is_some() => {
                let t = self.transport.as_ref().expect("checked");
                let (s, keep) = t.open(dial_timeout, cancel)?;
                kept = Some(keep);
                (Sock::Unix(s), None)
            }
            None => (
                Sock::Tcp(tcp_connect(&p.target.host, p.target.port, dial_timeout)?),
                None,
            ),
            Some(b) => {
                let tunnel = Tunnel::open(b, &p.target.host, p.target.port, dial_timeout, cancel)?;
                let ours = tunnel
                    .local
                    .try_clone()
                    .map_err(|e| CommError::Other(format!("bastion tunnel socket: {e}")))?;
                (Sock::Unix(ours), Some(tunnel))
            }
        };
        let kill = sock
            .try_clone()
            .map_err(|e| CommError::Other(format!("cloning socket: {e}")))?;
        *self.kill.lock().unwrap_or_else(|e| e.into_inner()) = Some(kill);
        let sess = new_session(&sock, dial_timeout)?;
        let addr = format!("{}:{}", p.target.host, p.target.port);
        let res = (|| {
            handshake(&sess, &addr)?;
            self.check_host_key(&sess, &addr)?;
            authenticate(&sess, &p.target)?;
            Ok(())
        })();
        if let Err(e) = res {
            sock.shutdown();
            return Err(e);
        }
        sess.set_timeout(TICK.as_millis() as u32);
        if let Some(k) = p.keep_alive {
            sess.set_keepalive(true, k.as_secs().max(1) as u32);
        }
        Ok(Conn {
            sess,
            sock,
            _tunnel: tunnel,
            _transport: kept,
            has_tar: None,
        })
    }

    fn check_host_key(&self, sess: &Session, addr: &str) -> Result<(), CommError> {
        let (key, kind) = sess
            .host_key()
            .ok_or_else(|| CommError::Other(format!("{addr} sent no host key")))?;
        let kind = format!("{kind:?}");
        let mut seen = self.host_key.lock().unwrap_or_else(|e| e.into_inner());
        match seen.as_ref() {
            None => {
                *seen = Some((kind, key.to_vec()));
                Ok(())
            }
            Some((k, blob)) if *k == kind && blob.as_slice() == key => Ok(()),
            Some((_, blob)) => Err(CommError::HostKeyChanged {
                addr: addr.to_string(),
                expected: fingerprint(blob),
                found: fingerprint(key),
            }),
        }
    }
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, CommError> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| CommError::Other(format!("resolving {host}: {e}")))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(CommError::Other(format!(
        "dial tcp {host}:{port}: {}",
        last.map(|e| e.to_string())
            .unwrap_or_else(|| "no address".into())
    )))
}

fn new_session(sock: &Sock, timeout: Duration) -> Result<Session, CommError> {
    let mut sess =
        Session::new().map_err(|e| CommError::Other(format!("creating ssh session: {e}")))?;
    match sock
        .try_clone()
        .map_err(|e| CommError::Other(format!("cloning socket: {e}")))?
    {
        Sock::Tcp(s) => sess.set_tcp_stream(s),
        Sock::Unix(s) => sess.set_tcp_stream(s),
    }
    sess.set_timeout(timeout.as_millis() as u32);
    sess.set_compress(false);
    for (kind, prefs) in [
        (MethodType::CryptCs, CIPHERS),
        (MethodType::CryptSc, CIPHERS),
        (MethodType::MacCs, MACS),
        (MethodType::MacSc, MACS),
        (MethodType::HostKey, HOST_KEYS),
    ] {
        // libssh2 drops names it does not know; an error means none were usable, keep defaults.
        let _ = sess.method_pref(kind, prefs);
    }
    Ok(sess)
}

fn handshake(sess: &Session, addr: &str) -> Result<(), CommError> {
    let mut s = sess.clone();
    s.handshake()
        .map_err(|e| CommError::Other(format!("ssh handshake with {addr}: {}", e.message())))
}

/// Tries agent, key, then password (also as keyboard-interactive), like Packer's auth list.
fn authenticate(sess: &Session, ep: &Endpoint) -> Result<(), CommError> {
    let mut tried = vec!["none"];
    let mut errors = Vec::new();
    if ep.auth.agent {
        tried.push("publickey");
        if let Err(e) = agent_auth(sess, &ep.user, ep.auth.agent_socket.as_deref()) {
            errors.push(format!("agent: {e}"));
        }
    }
    if !sess.authenticated() {
        if let Some(key) = &ep.auth.private_key_file {
            tried.push("publickey");
            if let Err(e) = sess.userauth_pubkey_file(&ep.user, None, key, None) {
                errors.push(format!("key {}: {}", key.display(), e.message()));
            }
        }
    }
    if !sess.authenticated() {
        if let Some(pw) = &ep.auth.password {
            tried.push("password");
            if let Err(e) = sess.userauth_password(&ep.user, pw) {
                errors.push(format!("password: {}", e.message()));
                let mut prompt = PasswordPrompt(pw.clone());
                tried.push("keyboard-interactive");
                if let Err(e) = sess.userauth_keyboard_interactive(&ep.user, &mut prompt) {
                    errors.push(format!("keyboard-interactive: {}", e.message()));
                }
            }
        }
    }
    if sess.authenticated() {
        return Ok(());
    }
    tried.dedup();
    let mut msg = format!("ssh: handshake failed: ssh: unable to authenticate, attempted methods [{}], no supported methods remain", tried.join(" "));
    if !errors.is_empty() {
        msg.push_str(&format!(" ({})", errors.join("; ")));
    }
    Err(CommError::Auth(msg))
}

/// Offers every key the agent holds until the server accepts one (Go's `agent.Signers`).
/// `Session::userauth_agent` only ever tries the agent's first key.
fn agent_auth(sess: &Session, user: &str, socket: Option<&Path>) -> Result<(), String> {
    let at = match socket {
        Some(p) => p.display().to_string(),
        None => match std::env::var_os("SSH_AUTH_SOCK") {
            Some(p) => Path::new(&p).display().to_string(),
            None => {
                return Err(
                    "SSH_AUTH_SOCK is not set; ssh_agent_auth needs a running ssh-agent".into(),
                )
            }
        },
    };
    let mut agent = sess
        .agent()
        .map_err(|e| format!("creating an agent client: {}", e.message()))?;
    if let Some(p) = socket {
        agent
            .set_identity_path(p)
            .map_err(|e| format!("agent socket {at}: {}", e.message()))?;
    }
    agent
        .connect()
        .map_err(|e| format!("connecting to the ssh agent at {at}: {}", e.message()))?;
    let res = (|| {
        agent
            .list_identities()
            .map_err(|e| format!("listing the keys of the ssh agent at {at}: {}", e.message()))?;
        let keys = agent
            .identities()
            .map_err(|e| format!("listing the keys of the ssh agent at {at}: {}", e.message()))?;
        if keys.is_empty() {
            return Err(format!("the ssh agent at {at} holds no keys"));
        }
        for key in &keys {
            match agent.userauth(user, key) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!("ssh agent key {:?} refused: {}", key.comment(), e.message())
                }
            }
        }
        Err(format!(
            "the server accepted none of the {} key(s) in the ssh agent at {at}",
            keys.len()
        ))
    })();
    let _ = agent.disconnect();
    res
}

struct PasswordPrompt(String);
impl ssh2::KeyboardInteractivePrompt for PasswordPrompt {
    fn prompt<'a>(
        &mut self,
        _username: &str,
        _instructions: &str,
        prompts: &[ssh2::Prompt<'a>],
    ) -> Vec<String> {
        prompts.iter().map(|_| self.0.clone()).collect()
    }
}

/// A direct-tcpip channel through a bastion session, exposed as a local socket pair so the
/// target session can use it like a TCP stream. A thread pumps bytes both ways.
struct Tunnel {
    local: UnixStream,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.local.shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Tunnel {
    fn open(
        b: &Endpoint,
        host: &str,
        port: u16,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Tunnel, CommError> {
        let baddr = format!("{}:{}", b.host, b.port);
        let tcp = tcp_connect(&b.host, b.port, timeout)
            .map_err(|e| CommError::Other(format!("bastion {baddr}: {e}")))?;
        let sock = Sock::Tcp(tcp);
        let sess = new_session(&sock, timeout)?;
        handshake(&sess, &baddr).map_err(|e| CommError::Other(format!("bastion: {e}")))?;
        authenticate(&sess, b).map_err(|e| match e {
            CommError::Auth(m) => CommError::Auth(format!("bastion {baddr}: {m}")),
            e => e,
        })?;
        let ctl = Ctl {
            cancel: cancel.clone(),
            keep_alive: None,
            rw_timeout: None,
            fd: sock.fd(),
        };
        let ch = ctl.request(
            &sess,
            &format!("opening tunnel to {host}:{port} through bastion {baddr}"),
            || sess.channel_direct_tcpip(host, port, None),
        )?;
        let (local, remote) = UnixStream::pair()
            .map_err(|e| CommError::Other(format!("creating tunnel socket pair: {e}")))?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let cancel = cancel.clone();
            std::thread::Builder::new()
                .name("rpack-bastion".into())
                .spawn(move || pump(sess, sock, ch, remote, &stop, &cancel))
                .map_err(|e| CommError::Other(format!("starting bastion pump: {e}")))?
        };
        Ok(Tunnel {
            local,
            stop,
            thread: Some(thread),
        })
    }
}

/// Moves bytes between the bastion channel and our end of the socket pair until either side
/// closes or the tunnel is dropped.
fn pump(
    sess: Session,
    sock: Sock,
    mut ch: Channel,
    mut local: UnixStream,
    stop: &std::sync::atomic::AtomicBool,
    cancel: &CancellationToken,
) {
    sess.set_blocking(false);
    let _ = local.set_nonblocking(true);
    let mut up = vec![0u8; 64 * 1024];
    let (mut up_len, mut up_off) = (0usize, 0usize);
    let mut down = vec![0u8; 64 * 1024];
    let (mut down_len, mut down_off) = (0usize, 0usize);
    let mut local_eof = false;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && !cancel.is_cancelled() {
        let mut progress = false;
        if up_off == up_len && !local_eof {
            match local.read(&mut up) {
                Ok(0) => {
                    local_eof = true;
                    let _ = ch.send_eof();
                }
                Ok(n) => {
                    up_len = n;
                    up_off = 0;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if up_off < up_len {
            match ch.write(&up[up_off..up_len]) {
                Ok(n) => {
                    up_off += n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if down_off == down_len {
            match ch.read(&mut down) {
                Ok(0) => {
                    if ch.eof() {
                        break;
                    }
                }
                Ok(n) => {
                    down_len = n;
                    down_off = 0;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if down_off < down_len {
            match local.write(&down[down_off..down_len]) {
                Ok(n) => {
                    down_off += n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if local_eof && ch.eof() {
            break;
        }
        if !progress {
            // The bastion's sshd never sets TCP_NODELAY for a forwarded connection, so Nagle
            // holds each small segment it relays until our ACK for the previous one; without
            // this, every command through the tunnel waited ~40 ms for the delayed ACK.
            push_ack(sock.fd());
            let mut fds = [
                libc::pollfd {
                    fd: sock.fd(),
                    events: libc::POLLIN | (libc::POLLOUT * (up_off < up_len) as i16),
                    revents: 0,
                },
                libc::pollfd {
                    fd: local.as_raw_fd(),
                    events: (libc::POLLIN * (up_off == up_len && !local_eof) as i16)
                        | (libc::POLLOUT * (down_off < down_len) as i16),
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        }
    }
    let _ = local.shutdown(std::net::Shutdown::Both);
    sess.set_blocking(true);
    sess.set_timeout(1000);
    let _ = ch.close();
    sock.shutdown();
}

/// Quotes a remote path for the POSIX shell, keeping a leading `~/` expandable.
pub(crate) fn shell_quote(path: &str) -> String {
    fn q(s: &str) -> String {
        format!("'{}'", s.replace('\'', r#"'"'"'"#))
    }
    if path == "~" {
        return "~".into();
    }
    match path.strip_prefix("~/") {
        Some(rest) => format!("~/{}", q(rest)),
        None => q(path),
    }
}

/// Splits a byte stream into lines for an [`OutputSink`].
struct LineSplitter {
    buf: Vec<u8>,
}
impl LineSplitter {
    fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&str)) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]);
            emit(line.strip_suffix('\r').unwrap_or(&line));
        }
    }
    fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            emit(line.strip_suffix('\r').unwrap_or(&line));
            self.buf.clear();
        }
    }
}

/// Lines gathered in memory, for internal commands whose output we inspect.
#[derive(Default)]
struct Collect {
    out: Mutex<Vec<String>>,
    err: Mutex<Vec<String>>,
}
impl OutputSink for Collect {
    fn stdout_line(&self, line: &str) {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_string());
    }
    fn stderr_line(&self, line: &str) {
        self.err
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_string());
    }
}

/// Opens a session channel and starts `command`.
fn exec(conn: &Conn, ctl: &Ctl, command: &str, pty: bool) -> Result<Channel, CommError> {
    let sess = &conn.sess;
    let mut ch = ctl.request(sess, "opening an ssh session channel", || {
        sess.channel_session()
    })?;
    if pty {
        ctl.request(sess, "requesting a pty", || {
            ch.request_pty("xterm", None, Some((80, 40, 0, 0)))
        })?;
    }
    ctl.request(
        sess,
        &format!("starting remote command {command:?}"),
        || ch.exec(command),
    )?;
    Ok(ch)
}

/// Streams a running command's stdout/stderr line by line and returns its exit status
/// (128+signal when killed by a signal, like Go's ssh package).
fn run_streamed(
    conn: &Conn,
    ctl: &Ctl,
    mut ch: Channel,
    out: &dyn OutputSink,
) -> Result<i32, CommError> {
    let sess = &conn.sess;
    // Non-blocking reads of both streams with our own poll, so neither starves the other.
    sess.set_blocking(false);
    let res = (|| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut so = LineSplitter { buf: Vec::new() };
        let mut se = LineSplitter { buf: Vec::new() };
        let mut last_ka = Instant::now();
        loop {
            ctl.check()?;
            let mut progress = false;
            match ch.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    so.feed(&buf[..n], |l| out.stdout_line(l));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("reading command output", e)),
            }
            match ch.stderr().read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    se.feed(&buf[..n], |l| out.stderr_line(l));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io("reading command output", e)),
            }
            if !progress && ch.eof() {
                break;
            }
            if !progress {
                if let Some(k) = ctl.keep_alive {
                    if last_ka.elapsed() >= k {
                        match sess.keepalive_send() {
                            Err(e) if !is_retry(&e) => return Err(map_err("sending keepalive", e)),
                            _ => {}
                        }
                        last_ka = Instant::now();
                    }
                }
                wait_socket(sess, ctl.fd, TICK)?;
            }
        }
        so.finish(|l| out.stdout_line(l));
        se.finish(|l| out.stderr_line(l));
        Ok(())
    })();
    sess.set_blocking(true);
    res?;
    ctl.call(sess, "closing the command channel", || ch.wait_close())?;
    if let Ok(sig) = ch.exit_signal() {
        if let Some(name) = sig.exit_signal {
            return Ok(128 + signal_number(&name));
        }
    }
    ctl.call(sess, "reading the exit status", || ch.exit_status())
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "USR1" => 10,
        "USR2" => 12,
        _ => 0,
    }
}

/// Sends at once an ACK the kernel would otherwise delay (TCP_QUICKACK; a no-op when none is
/// pending, and on sockets that are not TCP, such as a bastion tunnel's pipe).
fn push_ack(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: a valid option value and length for the duration of the call; failure is harmless.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Waits until the session's socket is ready in the directions libssh2 is blocked on. Any ACK
/// the kernel is holding back goes out first: whatever we wait for may be a small segment the
/// server's Nagle keeps until that ACK arrives.
fn wait_socket(sess: &Session, fd: RawFd, timeout: Duration) -> Result<(), CommError> {
    push_ack(fd);
    let dirs = sess.block_directions();
    let mut events = libc::POLLIN;
    if matches!(
        dirs,
        ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
    ) {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(CommError::Disconnected(format!(
                "waiting on the ssh socket: {e}"
            )));
        }
    }
    if pfd.revents & (libc::POLLNVAL) != 0 {
        return Err(CommError::Disconnected("the ssh socket was closed".into()));
    }
    Ok(())
}

/// Runs a command to completion and returns (status, stdout lines, stderr lines).
fn run_collect(
    conn: &Conn,
    ctl: &Ctl,
    command: &str,
) -> Result<(i32, Vec<String>, Vec<String>), CommError> {
    let ch = exec(conn, ctl, command, false)?;
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink)?;
    let out = sink.out.into_inner().unwrap_or_default();
    let err = sink.err.into_inner().unwrap_or_default();
    Ok((status, out, err))
}

fn has_tar(conn: &mut Conn, ctl: &Ctl) -> Result<bool, CommError> {
    if let Some(t) = conn.has_tar {
        return Ok(t);
    }
    let (status, _, _) = run_collect(conn, ctl, "command -v tar >/dev/null 2>&1")?;
    conn.has_tar = Some(status == 0);
    Ok(status == 0)
}

fn local_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

fn upload_file(
    conn: &Conn,
    ctl: &Ctl,
    method: TransferMethod,
    local: &Path,
    remote: &str,
    mode: Option<u32>,
    progress: Option<&Progress>,
) -> Result<(), CommError> {
    match method {
        TransferMethod::Scp => scp_put(conn, ctl, local, remote, mode, progress),
        TransferMethod::Sftp => {
            let sess = &conn.sess;
            let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
            sftp_put(conn, ctl, &sftp, local, remote, mode, progress)
        }
    }
}

/// A local file to send: the open file, its size and the mode it gets remotely.
fn open_local(local: &Path, mode: Option<u32>) -> Result<(std::fs::File, u64, u32), CommError> {
    let f = std::fs::File::open(local)
        .map_err(|e| CommError::Other(format!("opening {}: {e}", local.display())))?;
    let meta = f
        .metadata()
        .map_err(|e| CommError::Other(format!("reading {}: {e}", local.display())))?;
    let mode = mode.unwrap_or_else(|| local_mode(&meta)) & 0o7777;
    Ok((f, meta.len(), mode))
}

/// Copies `f` into `w` in [`CHUNK`]s, reporting progress against `size`.
fn send_file(
    f: &mut std::fs::File,
    local: &Path,
    size: u64,
    progress: Option<&Progress>,
    mut w: impl FnMut(&[u8]) -> Result<(), CommError>,
) -> Result<(), CommError> {
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| CommError::Other(format!("reading {}: {e}", local.display())))?;
        if n == 0 {
            return Ok(());
        }
        w(&buf[..n])?;
        done += n as u64;
        if let Some(p) = progress {
            p(done, size);
        }
    }
}

fn scp_put(
    conn: &Conn,
    ctl: &Ctl,
    local: &Path,
    remote: &str,
    mode: Option<u32>,
    progress: Option<&Progress>,
) -> Result<(), CommError> {
    let (mut f, size, mode) = open_local(local, mode)?;
    let sess = &conn.sess;
    let what = format!("uploading {} to {remote}", local.display());
    let path = home_relative(remote);
    let mut ch = ctl
        .request(sess, &what, || {
            sess.scp_send(&path, mode as i32, size, None)
        })
        .map_err(|e| scp_error(e, remote))?;
    send_file(&mut f, local, size, progress, |b| {
        ctl.write_all(sess, &mut ch, b)
    })?;
    // The scp protocol's end-of-file acknowledgement; without it the remote scp sees a
    // lost connection and exits 1 (the data is complete either way).
    ctl.write_all(sess, &mut ch, b"\0")?;
    ctl.call(sess, &what, || ch.send_eof())?;
    ctl.call(sess, &what, || ch.wait_eof())?;
    ctl.call(sess, &what, || ch.wait_close())?;
    let status = ch.exit_status().unwrap_or(0);
    if status != 0 {
        return Err(CommError::Other(format!(
            "{what}: scp exited with status {status}"
        )));
    }
    Ok(())
}

/// Uploads one file over an open sftp session, with exactly `mode` (the umask does not apply).
fn sftp_put(
    conn: &Conn,
    ctl: &Ctl,
    sftp: &ssh2::Sftp,
    local: &Path,
    remote: &str,
    mode: Option<u32>,
    progress: Option<&Progress>,
) -> Result<(), CommError> {
    let (mut f, size, mode) = open_local(local, mode)?;
    let sess = &conn.sess;
    let what = format!("uploading {} to {remote}", local.display());
    let path = home_relative(remote);
    let flags = ssh2::OpenFlags::WRITE | ssh2::OpenFlags::CREATE | ssh2::OpenFlags::TRUNCATE;
    let mut file = ctl.call(sess, &what, || {
        sftp.open_mode(&path, flags, mode as i32, ssh2::OpenType::File)
    })?;
    send_file(&mut f, local, size, progress, |b| {
        ctl.write_all(sess, &mut file, b)
    })?;
    ctl.call(sess, &what, || file.setstat(perm_only(mode)))?;
    ctl.call(sess, &what, || file.close())?;
    Ok(())
}

/// A remote path as scp and sftp take it: both start in the login directory and expand no
/// `~`, so `~/x` becomes `x` (the tar and shell paths let the remote shell expand it).
fn home_relative(remote: &str) -> PathBuf {
    if remote == "~" {
        return PathBuf::from(".");
    }
    PathBuf::from(remote.strip_prefix("~/").unwrap_or(remote))
}

fn perm_only(mode: u32) -> ssh2::FileStat {
    ssh2::FileStat {
        size: None,
        uid: None,
        gid: None,
        perm: Some(mode),
        atime: None,
        mtime: None,
    }
}

fn scp_error(e: CommError, remote: &str) -> CommError {
    match e {
        CommError::Other(m) => CommError::Other(format!(
            "{m} (does the directory of {remote} exist and is it writable?)"
        )),
        e => e,
    }
}

/// Exit status of the upload command when the remote has no `tar` (nothing was written then).
const NO_TAR: i32 = 197;
/// Exit status of the upload command when it could not create the destination.
const NO_MKDIR: i32 = 198;
const STOPPED_READING: &str = "the remote command stopped reading its input";

/// The remote side of a tree upload: checks for `tar` (exit [`NO_TAR`] without it), creates
/// `remote` and extracts stdin into it. `-m` gives the files the time of the upload, as
/// Packer's scp and sftp uploads do. GNU tar reads 1 MiB records (`-b 2048`): the default
/// 10 KiB reads make sshd feed the pipe in small pieces, which costs ~10% of the wall time
/// on 5,000 small files; busybox tar has no `-b` and gets the plain command.
fn tar_extract_command(remote: &str) -> String {
    let q = shell_quote(remote);
    format!(
        "command -v tar >/dev/null 2>&1 || exit {NO_TAR}; mkdir -p {q} 2>/dev/null || exit {NO_MKDIR}; \
         case $(tar --version 2>/dev/null) in *GNU*) b='-b 2048';; *) b=;; esac; \
         exec tar -x -m -p $b -f - -C {q}"
    )
}

/// Streams the tree under `local` as one tar archive into `tar -x` on the remote, in one exec
/// channel and without a separate probe for `tar`. Returns `Ok(false)` when the remote turned
/// out to have no `tar`, so the caller can fall back to sftp.
fn upload_dir_tar(conn: &Conn, ctl: &Ctl, local: &Path, remote: &str) -> Result<bool, CommError> {
    let mut ch = exec(conn, ctl, &tar_extract_command(remote), false)?;
    let sess = &conn.sess;
    let mut w = ChanWriter {
        ctl,
        sess,
        ch: &mut ch,
        err: None,
    };
    let res = {
        let mut bw = io::BufWriter::with_capacity(CHUNK, &mut w);
        let r = append_tree(&mut bw, local);
        r.and_then(|_| bw.flush())
    };
    let send_err = match res {
        Ok(()) => None,
        Err(e) => Some(w.err.take().unwrap_or_else(|| {
            CommError::Other(format!("sending {} as tar: {e}", local.display()))
        })),
    };
    drop(w);
    // A remote command that stopped reading (no tar, no destination) shows up as a failed
    // write; its exit status says why. A local read error or a dead connection is reported as
    // it is.
    match send_err {
        Some(CommError::Other(m)) if m == STOPPED_READING => {}
        Some(e) => return Err(e),
        None => ctl.call(sess, "finishing the tar upload", || ch.send_eof())?,
    }
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink)?;
    match status {
        0 => Ok(true),
        NO_TAR => Ok(false),
        NO_MKDIR => {
            // Only now ask for mkdir's own words, for the error message.
            let (_, _, err) = run_collect(conn, ctl, &format!("mkdir -p {}", shell_quote(remote)))?;
            Err(CommError::Other(format!(
                "creating {remote} on the remote host failed: {}",
                err.join("\n")
            )))
        }
        _ => {
            let err = sink.err.into_inner().unwrap_or_default().join("\n");
            Err(CommError::Other(format!(
                "extracting into {remote} on the remote host failed (tar exit {status}): {err}"
            )))
        }
    }
}

/// Writes a tar archive of the contents of `dir` (symlinks followed, like Packer).
fn append_tree(w: &mut impl Write, dir: &Path) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(true);
    b.mode(tar::HeaderMode::Deterministic);
    let mut stack = vec![(dir.to_path_buf(), PathBuf::new())];
    // Directories the owner cannot write (a read-only 0555 tree) are first created writable so
    // their contents can be extracted, then re-emitted at the end with their real mode: tar
    // updates an existing directory's mode in place (scp -r does the same dance).
    let mut restore: Vec<(PathBuf, std::fs::Metadata, u32)> = Vec::new();
    while let Some((abs, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&abs)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = rel.join(e.file_name());
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                let mode = local_mode(&meta);
                let mut h = tar::Header::new_gnu();
                h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
                h.set_mode(mode | 0o700);
                b.append_data(&mut h, &name, io::empty())?;
                if mode & 0o700 != 0o700 {
                    restore.push((name.clone(), meta.clone(), mode));
                }
                stack.push((path, name));
            } else if meta.is_file() {
                let mut h = tar::Header::new_gnu();
                h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
                h.set_mode(local_mode(&meta));
                b.append_data(&mut h, &name, std::fs::File::open(&path)?)?;
            }
        }
    }
    // Deepest first, so a parent becomes read-only only after its children got their modes.
    restore.sort_by_key(|(name, _, _)| std::cmp::Reverse(name.components().count()));
    for (name, meta, mode) in restore {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        h.set_mode(mode);
        b.append_data(&mut h, &name, io::empty())?;
    }
    b.finish()
}

/// The directory upload without `tar`: one sftp session for the whole tree, file by file.
/// The result matches the tar path: `remote` is created with its parents, directories and
/// files get their local modes exactly, and read-only directories are made read-only only
/// after their contents arrived.
fn upload_dir_sftp(conn: &Conn, ctl: &Ctl, local: &Path, remote: &str) -> Result<(), CommError> {
    let sess = &conn.sess;
    let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
    let root = home_relative(remote);
    sftp_mkdir_p(ctl, sess, &sftp, &root)?;
    let mut restore: Vec<(PathBuf, u32)> = Vec::new();
    let mut stack = vec![(local.to_path_buf(), root)];
    while let Some((abs, rdir)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&abs)
            .and_then(|d| d.collect::<Result<_, _>>())
            .map_err(|e| CommError::Other(format!("reading {}: {e}", abs.display())))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rpath = rdir.join(e.file_name());
            let meta = std::fs::metadata(&path)
                .map_err(|e| CommError::Other(format!("reading {}: {e}", path.display())))?;
            if meta.is_dir() {
                let mode = local_mode(&meta);
                // Writable while its contents arrive (like the tar path and scp -r).
                sftp_dir(ctl, sess, &sftp, &rpath, mode | 0o700)?;
                if mode & 0o700 != 0o700 {
                    restore.push((rpath.clone(), mode));
                }
                stack.push((path, rpath));
            } else if meta.is_file() {
                sftp_put(
                    conn,
                    ctl,
                    &sftp,
                    &path,
                    &rpath.to_string_lossy(),
                    None,
                    None,
                )?;
            }
        }
    }
    // Deepest first, so a parent becomes read-only only after its children got their modes.
    restore.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (path, mode) in restore {
        ctl.call(
            sess,
            &format!("setting the mode of {}", path.display()),
            || sftp.setstat(&path, perm_only(mode)),
        )?;
    }
    Ok(())
}

/// Makes `dir` a directory with exactly `mode` (sftp's mkdir is subject to the umask), also
/// when it exists already, as `tar -x -p` does.
fn sftp_dir(
    ctl: &Ctl,
    sess: &Session,
    sftp: &ssh2::Sftp,
    dir: &Path,
    mode: u32,
) -> Result<(), CommError> {
    let what = format!("creating directory {} over sftp", dir.display());
    if let Err(e) = ctl.call(sess, &what, || sftp.mkdir(dir, mode as i32)) {
        match ctl.call(sess, &what, || sftp.stat(dir)) {
            Ok(st) if st.is_dir() => {}
            Ok(_) => {
                return Err(CommError::Other(format!(
                    "{what}: it exists and is not a directory"
                )))
            }
            Err(_) => return Err(e),
        }
    }
    ctl.call(
        sess,
        &format!("setting the mode of {}", dir.display()),
        || sftp.setstat(dir, perm_only(mode)),
    )
}

/// `mkdir -p` over sftp (new directories get the server's default mode, as with `mkdir -p`).
fn sftp_mkdir_p(ctl: &Ctl, sess: &Session, sftp: &ssh2::Sftp, dir: &Path) -> Result<(), CommError> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") || dir == Path::new(".") {
        return Ok(());
    }
    let what = format!("creating directory {} over sftp", dir.display());
    match ctl.call(sess, &what, || sftp.stat(dir)) {
        Ok(st) if st.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(CommError::Other(format!(
                "{what}: it exists and is not a directory"
            )))
        }
        Err(CommError::Other(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sftp_mkdir_p(ctl, sess, sftp, parent)?;
    }
    ctl.call(sess, &what, || sftp.mkdir(dir, 0o755))
}

fn download_file(
    conn: &Conn,
    ctl: &Ctl,
    method: TransferMethod,
    remote: &str,
    local: &Path,
) -> Result<(), CommError> {
    let sess = &conn.sess;
    let what = format!("downloading {remote}");
    let mut out = std::fs::File::create(local)
        .map_err(|e| CommError::Other(format!("creating {}: {e}", local.display())))?;
    match method {
        TransferMethod::Scp => {
            let mut buf = vec![0u8; CHUNK];
            let (mut ch, stat) =
                ctl.request(sess, &what, || sess.scp_recv(&home_relative(remote)))?;
            let mut left = stat.size();
            while left > 0 {
                let want = buf.len().min(left as usize);
                let n = ctl.read(sess, &mut ch, &mut buf[..want])?;
                if n == 0 {
                    return Err(CommError::Disconnected(format!(
                        "{what}: stream ended early"
                    )));
                }
                out.write_all(&buf[..n])
                    .map_err(|e| CommError::Other(format!("writing {}: {e}", local.display())))?;
                left -= n as u64;
            }
            let _ = ch.send_eof();
            let _ = ctl.call(sess, &what, || ch.wait_close());
        }
        TransferMethod::Sftp => {
            let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
            sftp_get(ctl, sess, &sftp, remote, &mut out, local)?;
        }
    }
    Ok(())
}

/// Downloads one file over an open sftp session into `out`.
fn sftp_get(
    ctl: &Ctl,
    sess: &Session,
    sftp: &ssh2::Sftp,
    remote: &str,
    out: &mut std::fs::File,
    local: &Path,
) -> Result<(), CommError> {
    let what = format!("downloading {remote}");
    let mut buf = vec![0u8; CHUNK];
    let path = home_relative(remote);
    let mut f = ctl.call(sess, &what, || sftp.open(&path))?;
    loop {
        let n = ctl.read(sess, &mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| CommError::Other(format!("writing {}: {e}", local.display())))?;
    }
    let _ = ctl.call(sess, &what, || f.close());
    Ok(())
}

fn download_dir_tar(conn: &Conn, ctl: &Ctl, remote: &str, local: &Path) -> Result<(), CommError> {
    std::fs::create_dir_all(local)
        .map_err(|e| CommError::Other(format!("creating {}: {e}", local.display())))?;
    let cmd = format!("tar -c -f - -C {} .", shell_quote(remote));
    let mut ch = exec(conn, ctl, &cmd, false)?;
    let sess = &conn.sess;
    let res = {
        let r = ChanReader {
            ctl,
            sess,
            ch: &mut ch,
        };
        let mut ar = tar::Archive::new(io::BufReader::with_capacity(CHUNK, r));
        ar.set_preserve_permissions(true);
        ar.set_overwrite(true);
        ar.unpack(local)
    };
    if let Err(e) = res {
        ctl.check()?;
        return Err(CommError::Other(format!(
            "downloading {remote} as tar into {}: {e}",
            local.display()
        )));
    }
    let sink = Collect::default();
    let status = run_streamed(conn, ctl, ch, &sink)?;
    if status != 0 {
        let err = sink.err.into_inner().unwrap_or_default().join("\n");
        return Err(CommError::Other(format!(
            "tar of {remote} on the remote host failed (exit {status}): {err}"
        )));
    }
    Ok(())
}

/// The directory download without `tar`: one sftp session, file by file, keeping modes.
fn download_dir_sftp(conn: &Conn, ctl: &Ctl, remote: &str, local: &Path) -> Result<(), CommError> {
    use std::os::unix::fs::PermissionsExt;
    let sess = &conn.sess;
    let sftp = ctl.request(sess, "starting sftp", || sess.sftp())?;
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut stack = vec![(home_relative(remote), local.to_path_buf())];
    while let Some((rdir, ldir)) = stack.pop() {
        std::fs::create_dir_all(&ldir)
            .map_err(|e| CommError::Other(format!("creating {}: {e}", ldir.display())))?;
        let entries = ctl.call(sess, &format!("listing {}", rdir.display()), || {
            sftp.readdir(&rdir)
        })?;
        for (path, stat) in entries {
            let Some(name) = path.file_name() else {
                continue;
            };
            let lpath = ldir.join(name);
            if stat.is_dir() {
                if let Some(perm) = stat.perm {
                    dirs.push((lpath.clone(), perm & 0o7777));
                }
                stack.push((path.clone(), lpath));
            } else {
                let mut out = std::fs::File::create(&lpath)
                    .map_err(|e| CommError::Other(format!("creating {}: {e}", lpath.display())))?;
                sftp_get(ctl, sess, &sftp, &path.to_string_lossy(), &mut out, &lpath)?;
                if let Some(perm) = stat.perm {
                    let _ = std::fs::set_permissions(
                        &lpath,
                        std::fs::Permissions::from_mode(perm & 0o7777),
                    );
                }
            }
        }
    }
    // Directory modes last and deepest first, so read-only directories could be filled.
    dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (dir, mode) in dirs {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Communicator for SshComm {
    async fn start(
        &self,
        command: &str,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError> {
        // The sink is borrowed; lines go through a channel to this task.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, String)>();
        let command = command.to_string();
        let pty = self.inner.params.pty;
        let job = self.with_conn(cancel, move |conn, ctl| {
            let ch = exec(conn, ctl, &command, pty)?;
            let sink = ChanSink(tx);
            run_streamed(conn, ctl, ch, &sink)
        });
        tokio::pin!(job);
        loop {
            tokio::select! {
                biased;
                line = rx.recv() => match line {
                    Some((true, l)) => out.stderr_line(&l),
                    Some((false, l)) => out.stdout_line(&l),
                    None => break,
                },
                res = &mut job => {
                    while let Ok((err, l)) = rx.try_recv() {
                        if err { out.stderr_line(&l) } else { out.stdout_line(&l) }
                    }
                    return res;
                }
            }
        }
        job.await
    }

    async fn upload(
        &self,
        local: &Path,
        remote: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (local, remote) = (local.to_path_buf(), remote.to_string());
        let method = self.inner.params.transfer;
        self.with_conn(cancel, move |conn, ctl| {
            upload_file(conn, ctl, method, &local, &remote, mode, None)
        })
        .await
    }

    async fn upload_with_progress(
        &self,
        local: &Path,
        remote: &str,
        mode: Option<u32>,
        progress: Progress,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (local, remote) = (local.to_path_buf(), remote.to_string());
        let method = self.inner.params.transfer;
        self.with_conn(cancel, move |conn, ctl| {
            upload_file(conn, ctl, method, &local, &remote, mode, Some(&progress))
        })
        .await
    }

    async fn upload_dir(
        &self,
        local: &Path,
        remote: &str,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (local, remote) = (local.to_path_buf(), remote.to_string());
        self.with_conn(cancel, move |conn, ctl| {
            if conn.has_tar != Some(false) {
                if upload_dir_tar(conn, ctl, &local, &remote)? {
                    conn.has_tar = Some(true);
                    return Ok(());
                }
                conn.has_tar = Some(false);
            }
            upload_dir_sftp(conn, ctl, &local, &remote)
        })
        .await
    }

    async fn download(
        &self,
        remote: &str,
        local: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (local, remote) = (local.to_path_buf(), remote.to_string());
        let method = self.inner.params.transfer;
        self.with_conn(cancel, move |conn, ctl| {
            download_file(conn, ctl, method, &remote, &local)
        })
        .await
    }

    async fn download_dir(
        &self,
        remote: &str,
        local: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (local, remote) = (local.to_path_buf(), remote.to_string());
        self.with_conn(cancel, move |conn, ctl| {
            if has_tar(conn, ctl)? {
                download_dir_tar(conn, ctl, &remote, &local)
            } else {
                download_dir_sftp(conn, ctl, &remote, &local)
            }
        })
        .await
    }
}

/// Forwards lines from the blocking thread to the async side.
struct ChanSink(tokio::sync::mpsc::UnboundedSender<(bool, String)>);
impl OutputSink for ChanSink {
    fn stdout_line(&self, line: &str) {
        let _ = self.0.send((false, line.to_string()));
    }
    fn stderr_line(&self, line: &str) {
        let _ = self.0.send((true, line.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_home_expandable() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("~/x y"), "~/'x y'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
    }

    #[test]
    fn lines_are_split_across_chunks_and_crlf_trimmed() {
        let mut s = LineSplitter { buf: Vec::new() };
        let mut got = Vec::new();
        s.feed(b"one\r\ntw", |l| got.push(l.to_string()));
        s.feed(b"o\nthree", |l| got.push(l.to_string()));
        s.finish(|l| got.push(l.to_string()));
        assert_eq!(got, ["one", "two", "three"]);
    }

    #[test]
    fn tar_of_tree_keeps_modes_and_nesting() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/x.sh"), "echo").unwrap();
        std::fs::set_permissions(
            dir.path().join("sub/x.sh"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        let mut buf = Vec::new();
        append_tree(&mut buf, dir.path()).unwrap();
        let mut ar = tar::Archive::new(&buf[..]);
        let entries: Vec<(String, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert!(
            entries.contains(&("sub/x.sh".to_string(), 0o750)),
            "{entries:?}"
        );
        assert!(entries.iter().any(|(p, _)| p == "sub"), "{entries:?}");
    }

    #[test]
    fn scp_and_sftp_paths_start_in_the_home_directory() {
        assert_eq!(home_relative("~/a/b"), PathBuf::from("a/b"));
        assert_eq!(home_relative("~"), PathBuf::from("."));
        assert_eq!(home_relative("/tmp/x"), PathBuf::from("/tmp/x"));
        assert_eq!(home_relative("rel/~/x"), PathBuf::from("rel/~/x"));
    }

    #[test]
    fn fingerprint_is_openssh_style() {
        assert!(fingerprint(b"abc").starts_with("SHA256:"));
        assert!(!fingerprint(b"abc").ends_with('='));
    }
}
