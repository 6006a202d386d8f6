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
//!
//! The pieces: [`params`] (what to connect to), [`transport`] (the socket under a session:
//! TCP, or the bastion [`tunnel`]), [`session`] and [`dial`] (handshake, host key,
//! authentication), [`ctl`] (driving blocking libssh2 calls), [`exec`] (remote commands), and
//! [`transfer`] with [`scp`], [`sftp`] and [`tar`] (files and trees). This module holds the
//! communicator itself. It prints nothing: the connect step says what it is doing.

pub mod algs;
mod chan;
mod ctl;
mod dial;
mod exec;
mod explain;
mod forward;
mod params;
mod scp;
mod session;
mod sftp;
mod socks;
mod tar;
mod transfer;
pub(crate) mod transport;
mod tunnel;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssh2::Session;
use tokio_util::sync::CancellationToken;

use super::{CommError, Communicator, OutputSink, Progress};
use ctl::Ctl;
pub(crate) use exec::shell_quote;
use exec::{exec, has_tar, run_streamed};
use session::fingerprint;
use sftp::{download_dir_sftp, upload_dir_sftp};
use tar::{download_dir_tar, upload_dir_tar};
use transfer::{download_file, upload_file};
use transport::{Sock, Transport};

pub use params::{Auth, ConnectParams, Endpoint};

/// How long a libssh2 call may block before we get control back to check for cancellation
/// and send keepalives. Also the polling period of the connect loop (the issue asks ≤1 s).
const TICK: Duration = Duration::from_millis(500);
/// Chunk size for transfers: large enough that per-call overhead vanishes next to the crypto.
const CHUNK: usize = 1 << 20;
/// After a cancellation, how long a running command's thread may keep the connection to stop
/// the remote command (TERM, then KILL) before the socket is shut down under it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One live SSH connection.
struct Conn {
    sess: Session,
    sock: Sock,
    /// Keeps the transport's relay (the bastion pump) alive; dropping it stops the relay.
    _relay: Option<Box<dyn Send>>,
    /// Whether the remote has `tar` (asked once per connection).
    has_tar: Option<bool>,
}

struct Inner {
    params: ConnectParams,
    transport: Arc<dyn Transport>,
    conn: Mutex<Option<Conn>>,
    /// A clone of the live socket so cancellation can shut it down while an op holds `conn`.
    kill: Mutex<Option<Sock>>,
    /// (type, key blob) seen at the first successful handshake.
    host_key: Mutex<Option<(String, Vec<u8>)>>,
    /// The build's host-key check (`ssh_host_key_check`), asked before authentication.
    host_key_check: std::sync::OnceLock<Arc<crate::communicator::host_key::Verifier>>,
    /// `ssh_ciphers` and `ssh_key_exchange_algorithms` (set once, before the first connection).
    algs: std::sync::OnceLock<algs::Prefs>,
    /// The running `ssh_local_tunnels`/`ssh_remote_tunnels`.
    forward: Mutex<Option<forward::Forwarder>>,
}

/// The SSH communicator of one build. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SshComm {
    inner: Arc<Inner>,
}

impl SshComm {
    /// A communicator that reaches the target as `params` say: directly, or through the bastion.
    pub fn new(params: ConnectParams) -> Self {
        let transport = transport::for_params(&params);
        SshComm::with_transport(params, transport)
    }

    /// A communicator for a decoded configuration: through its SOCKS5 proxy
    /// (`ssh_proxy_host`) when it has one, else as [`Self::new`]; offering its algorithms.
    pub fn from_config(cfg: &crate::communicator::config::SshConfig, host: &str) -> Self {
        let params = ConnectParams::from_config(cfg, host);
        let comm = match &cfg.proxy {
            Some(proxy) => {
                let socks = socks::Socks {
                    proxy: proxy.clone(),
                    host: host.to_string(),
                    port: cfg.port,
                };
                SshComm::with_transport(params, Arc::new(socks))
            }
            None => SshComm::new(params),
        };
        comm.set_algorithms(cfg.algorithms.clone());
        comm
    }

    /// A communicator whose connections go over `transport` (for transports `params` cannot
    /// describe); `params.bastion` is then not used.
    pub(crate) fn with_transport(params: ConnectParams, transport: Arc<dyn Transport>) -> Self {
        SshComm {
            inner: Arc::new(Inner {
                params,
                transport,
                conn: Mutex::new(None),
                kill: Mutex::new(None),
                host_key: Mutex::new(None),
                host_key_check: std::sync::OnceLock::new(),
                algs: std::sync::OnceLock::new(),
                forward: Mutex::new(None),
            }),
        }
    }

    /// Makes every connection ask `v` about the server's host key before authenticating (set
    /// once, before the first connection).
    pub(crate) fn set_host_key_check(&self, v: Arc<crate::communicator::host_key::Verifier>) {
        let _ = self.inner.host_key_check.set(v);
    }

    /// Offers only the template's ciphers and key exchange algorithms where it names some (set
    /// once, before the first connection).
    pub(crate) fn set_algorithms(&self, prefs: algs::Prefs) {
        let _ = self.inner.algs.set(prefs);
    }

    /// Starts the tunnels (over a connection of their own, see [`forward`]); they run until
    /// [`Self::stop_tunnels`], `cancel`, or the communicator's end. A port that cannot be bound
    /// or a forward the server refuses is an error.
    pub async fn start_tunnels(
        &self,
        specs: Vec<crate::communicator::tunnel_spec::TunnelSpec>,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        if specs.is_empty() {
            return Ok(());
        }
        self.stop_tunnels();
        let inner = self.inner.clone();
        let token = cancel.clone();
        let fw = tokio::task::spawn_blocking(move || forward::start(&inner, &specs, &token))
            .await
            .map_err(|e| CommError::Other(format!("starting the tunnels failed: {e}")))??;
        *self
            .inner
            .forward
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fw);
        Ok(())
    }

    /// Tears the tunnels down: listeners closed, forwarded connections ended.
    pub fn stop_tunnels(&self) {
        let fw = self
            .inner
            .forward
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(fw);
    }

    pub fn params(&self) -> &ConnectParams {
        &self.inner.params
    }

    /// Dials until a session is authenticated or `timeout` passes (`Timeout waiting for SSH.`).
    pub async fn wait_until_up(
        &self,
        timeout: Duration,
        handshake_attempts: u32,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let deadline = Instant::now() + timeout;
        let started = Instant::now();
        let mut auth_failures = 0u32;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let this = self.clone();
            let token = cancel.clone();
            let attempt = tokio::task::spawn_blocking(move || {
                let mut guard = this
                    .inner
                    .conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if guard.is_none() {
                    *guard = Some(this.inner.dial(&token, Some(deadline))?);
                }
                Ok::<(), CommError>(())
            })
            .await
            .map_err(|e| CommError::Other(format!("ssh connect task failed: {e}")))?;
            let last = match attempt {
                Ok(()) => return Ok(()),
                Err(
                    e @ (CommError::HostKeyChanged { .. }
                    | CommError::HostKeyRejected(_)
                    | CommError::Negotiation(_)
                    | CommError::Cancelled),
                ) => return Err(e),
                Err(CommError::Auth(msg)) => {
                    auth_failures += 1;
                    if auth_failures >= handshake_attempts.max(1) {
                        return Err(CommError::Auth(explain::auth_gave_up(
                            &msg,
                            auth_failures,
                            crate::ui::voice::as_packer(),
                        )));
                    }
                    tracing::debug!("ssh auth failure {auth_failures}/{handshake_attempts}: {msg}");
                    CommError::Auth(msg)
                }
                Err(e) => {
                    tracing::debug!("ssh not ready: {e}");
                    e
                }
            };
            if Instant::now() >= deadline {
                return Err(CommError::Other(explain::timed_out(
                    started.elapsed(),
                    attempts,
                    Some(&last),
                    crate::ui::voice::as_packer(),
                )));
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = cancel.cancelled() => return Err(CommError::Cancelled),
            }
        }
    }

    /// Drops the current connection (the next operation dials again).
    pub fn disconnect(&self) {
        if let Some(k) = self
            .inner
            .kill
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            k.shutdown();
        }
        *self
            .inner
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// SHA256 fingerprint (`SHA256:…`) of the host key recorded at the first connection.
    pub fn host_key_fingerprint(&self) -> Option<String> {
        self.inner
            .host_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|(_, k)| fingerprint(k))
    }

    /// The host key blob (SSH wire format) recorded at the first connection.
    pub fn host_key_blob(&self) -> Option<Vec<u8>> {
        self.inner
            .host_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|(_, k)| k.clone())
    }

    /// The bastion's host key blob (SSH wire format) pinned by this build's connections
    /// through it (checked against `ssh_bastion_host_key` when set); `None` without a bastion
    /// or before the first connection.
    pub fn bastion_host_key_blob(&self) -> Option<Vec<u8>> {
        self.inner.transport.bastion_host_key()
    }

    /// Runs `op` on a blocking thread with the connection (dialled once if needed). A
    /// disconnect drops the connection; cancellation shuts the socket down.
    async fn with_conn<T: Send + 'static>(
        &self,
        cancel: &CancellationToken,
        op: impl FnOnce(&mut Conn, &Ctl) -> Result<T, CommError> + Send + 'static,
    ) -> Result<T, CommError> {
        self.with_conn_grace(cancel, Duration::ZERO, op).await
    }

    /// [`Self::with_conn`], leaving `op` up to `grace` after cancellation before the socket is
    /// shut down: time for a remote command to be told to stop ([`exec::run_streamed`]).
    async fn with_conn_grace<T: Send + 'static>(
        &self,
        cancel: &CancellationToken,
        grace: Duration,
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
                if !grace.is_zero() {
                    tokio::time::sleep(grace).await;
                }
                if let Some(k) = inner
                    .kill
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .as_ref()
                {
                    k.shutdown();
                }
            })
        };
        let token = cancel.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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
                *inner
                    .kill
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            }
            res
        })
        .await
        .map_err(|e| CommError::Other(format!("ssh task failed: {e}")));
        watcher.abort();
        res?
    }

    /// A remote command with its output streamed to `out` and, optionally, its standard input
    /// fed from the pipe `stdin`. Cancellation stops the remote command before the connection
    /// is dropped ([`STOP_GRACE`] at most).
    async fn run_command(
        &self,
        command: &str,
        stdin: Option<std::os::fd::OwnedFd>,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError> {
        // The sink is borrowed; lines go through a channel to this task.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, String)>();
        let command = command.to_string();
        let pty = self.inner.params.pty;
        let job = self.with_conn_grace(cancel, STOP_GRACE, move |conn, ctl| {
            let ch = exec(conn, ctl, &command, pty)?;
            let sink = ChanSink(tx);
            run_streamed(conn, ctl, ch, &sink, stdin)
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

    /// Removes `pubkey` lines from the login user's and root's `authorized_keys`
    /// (`ssh_clear_authorized_keys`).
    pub async fn clear_authorized_keys(&self, cancel: &CancellationToken) -> Result<(), CommError> {
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

#[async_trait::async_trait]
impl Communicator for SshComm {
    async fn start(
        &self,
        command: &str,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError> {
        self.run_command(command, None, out, cancel).await
    }

    async fn start_with_stdin(
        &self,
        command: &str,
        stdin: std::os::fd::OwnedFd,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError> {
        self.run_command(command, Some(stdin), out, cancel).await
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
