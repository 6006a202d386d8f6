//! Session Manager as a transport for the SSH communicator, natively: `ssm:StartSession`
//! ([`session`]), the data-channel WebSocket with its binary framing ([`frame`]), acks and
//! retransmission ([`reliable`]), and handshake ([`datachannel`]). libssh2 needs a real socket,
//! so each session is bridged to one end of a Unix socket pair ([`SsmTunnel`]) whose other end a
//! tokio task pumps through the data channel. When the pump ends (SSH closed its socket, the
//! channel failed, or the build was cancelled) the same task calls `TerminateSession`, so every
//! session opened is ended; [`SsmTransport::close`] waits for that.
//!
//! With `RPACK_SSM_PLUGIN=/path/to/session-manager-plugin` an installed plugin carries the
//! stream instead (stdin/stdout on the socket pair); the session is still started and
//! terminated here.
//!
//! [`forward::LocalForward`] offers the same sessions as a TCP port on 127.0.0.1 (Packer's
//! `session_manager_port`) for tools that connect by themselves, one session per connection.

pub mod build_events;
pub mod datachannel;
pub mod forward;
pub mod frame;
pub(crate) mod outbox;
pub mod reliable;
pub mod session;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::ssh::transport::{Link, Transport};
use super::ssh::{ConnectParams, SshComm};
use super::CommError;

pub use datachannel::{ChannelError, ChannelOptions, DataChannel};
pub use session::{Document, SessionTarget, StartError, Started};

/// Who hears about sessions: the ledger (so `rpack cleanup` can end orphans) and the UI.
pub trait SessionEvents: Send + Sync {
    fn started(&self, _session_id: &str) {}
    fn terminated(&self, _session_id: &str) {}
    /// A progress line for the user.
    fn say(&self, _line: &str) {}
}

/// Hears nothing.
pub struct Quiet;
impl SessionEvents for Quiet {}

#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("session {session_id}: {source}")]
    Channel {
        session_id: String,
        source: ChannelError,
    },
    #[error("{0}")]
    Other(String),
}

impl SsmError {
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            SsmError::Start(StartError::Cancelled)
                | SsmError::Channel {
                    source: ChannelError::Cancelled,
                    ..
                }
        )
    }
}

/// Opens Session Manager sessions to one instance, one per SSH connection.
pub struct SsmTransport {
    client: aws_sdk_ssm::Client,
    region: String,
    target: SessionTarget,
    register_wait: Duration,
    opts: ChannelOptions,
    runtime: tokio::runtime::Handle,
    events: Arc<dyn SessionEvents>,
    plugin: Option<PathBuf>,
    pumps: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Time from StartSession's answer to a usable stream, of the last session (benchmarks).
    last_setup: Mutex<Option<Duration>>,
}

/// One session's local end: hand `socket` to libssh2. Dropping it closes the socket, which ends
/// the session (the pump task terminates it).
pub struct SsmTunnel {
    pub socket: UnixStream,
    pub session_id: String,
    /// Plugin mode: dropping this tells the task owning the plugin process to end the session.
    _plugin: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for SsmTunnel {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

impl std::fmt::Debug for SsmTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SsmTunnel({})", self.session_id)
    }
}

impl SsmTransport {
    /// A transport to `target`; must be created inside the tokio runtime the pumps run on.
    pub fn new(
        client: aws_sdk_ssm::Client,
        region: &str,
        target: SessionTarget,
        register_wait: Duration,
        events: Arc<dyn SessionEvents>,
    ) -> SsmTransport {
        SsmTransport {
            client,
            region: region.to_string(),
            target,
            register_wait,
            opts: ChannelOptions::default(),
            runtime: tokio::runtime::Handle::current(),
            events,
            plugin: std::env::var_os("RPACK_SSM_PLUGIN")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            pumps: Mutex::new(Vec::new()),
            last_setup: Mutex::new(None),
        }
    }

    pub fn with_options(mut self, opts: ChannelOptions) -> Self {
        self.opts = opts;
        self
    }

    pub fn target(&self) -> &SessionTarget {
        &self.target
    }

    /// How long the last session took from StartSession's answer to a usable stream.
    pub fn last_setup(&self) -> Option<Duration> {
        *self
            .last_setup
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`SsmTransport::open`] from a blocking thread (libssh2's), on the transport's runtime.
    pub fn open_blocking(&self, cancel: &CancellationToken) -> Result<SsmTunnel, SsmError> {
        self.runtime.block_on(self.open(cancel))
    }

    /// Starts a session and returns its bridged local socket.
    pub async fn open(&self, cancel: &CancellationToken) -> Result<SsmTunnel, SsmError> {
        let events = self.events.clone();
        let say = move |l: &str| events.say(l);
        let started =
            session::start(&self.client, &self.target, self.register_wait, &say, cancel).await?;
        let id = started.session_id.clone();
        self.events.started(&id);
        let t0 = Instant::now();
        let (ours, theirs) = UnixStream::pair()
            .map_err(|e| SsmError::Other(format!("creating the session socket pair: {e}")))?;
        let res = match &self.plugin {
            None => self
                .bridge_native(&started, theirs, cancel)
                .await
                .map(|()| None),
            Some(p) => self.bridge_plugin(p, &started, theirs, cancel).map(Some),
        };
        match res {
            Ok(plugin) => {
                *self
                    .last_setup
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t0.elapsed());
                Ok(SsmTunnel {
                    socket: ours,
                    session_id: id,
                    _plugin: plugin,
                })
            }
            Err(e) => {
                self.end_session(&id).await;
                Err(e)
            }
        }
    }

    async fn end_session(&self, id: &str) {
        match session::terminate(&self.client, id).await {
            Ok(()) => self.events.terminated(id),
            Err(e) => tracing::warn!("{e}"),
        }
    }

    async fn bridge_native(
        &self,
        started: &Started,
        theirs: UnixStream,
        cancel: &CancellationToken,
    ) -> Result<(), SsmError> {
        let id = started.session_id.clone();
        let dc = DataChannel::open(
            &started.stream_url,
            &started.token,
            self.opts.clone(),
            cancel,
        )
        .await
        .map_err(|source| SsmError::Channel {
            session_id: id.clone(),
            source,
        })?;
        theirs
            .set_nonblocking(true)
            .map_err(|e| SsmError::Other(format!("session socket: {e}")))?;
        let local = tokio::net::UnixStream::from_std(theirs)
            .map_err(|e| SsmError::Other(format!("session socket: {e}")))?;
        let cancel = cancel.clone();
        let sid = id.clone();
        self.run_then_terminate(&id, async move {
            match dc.pump(local, &cancel).await {
                Ok(()) => tracing::debug!("Session Manager session {sid} ended"),
                Err(e) => tracing::debug!("Session Manager session {sid}: {e}"),
            }
        });
        Ok(())
    }

    /// `session-manager-plugin <session JSON> <region> StartSession "" <params JSON> <endpoint>`
    /// with its stdin and stdout on the socket pair (AWS-StartSSHSession streams over them).
    /// A task owns the child: when the tunnel is dropped, the plugin exits or the build is
    /// cancelled, it stops the plugin and terminates the session.
    fn bridge_plugin(
        &self,
        plugin: &std::path::Path,
        started: &Started,
        theirs: UnixStream,
        cancel: &CancellationToken,
    ) -> Result<tokio::sync::oneshot::Sender<()>, SsmError> {
        let session = serde_json::json!({
            "SessionId": started.session_id,
            "TokenValue": started.token,
            "StreamUrl": started.stream_url,
        });
        let params = serde_json::json!({
            "Target": self.target.instance_id,
            "DocumentName": self.target.document.name(),
            "Parameters": self.target.parameters(),
        });
        let endpoint = session::env_endpoint("SSM")
            .unwrap_or_else(|| format!("https://ssm.{}.amazonaws.com", self.region));
        let out = theirs
            .try_clone()
            .map_err(|e| SsmError::Other(format!("session socket: {e}")))?;
        let mut child = tokio::process::Command::new(plugin)
            // The token goes through the environment, as the AWS CLI passes it, not argv.
            .env("AWS_SSM_START_SESSION_RESPONSE_RPACK", session.to_string())
            .arg("AWS_SSM_START_SESSION_RESPONSE_RPACK")
            .arg(&self.region)
            .arg("StartSession")
            .arg("")
            .arg(params.to_string())
            .arg(endpoint)
            .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                theirs,
            )))
            .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(out)))
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                SsmError::Other(format!(
                    "starting RPACK_SSM_PLUGIN {}: {e}",
                    plugin.display()
                ))
            })?;
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let cancel = cancel.clone();
        self.run_then_terminate(&started.session_id, async move {
            tokio::select! {
                _ = child.wait() => {}
                _ = closed_rx => {}
                () = cancel.cancelled() => {}
            }
            let _ = child.kill().await;
        });
        Ok(closed_tx)
    }

    /// Runs `carry` (what moves the session's bytes) as a task, then terminates the session.
    fn run_then_terminate(
        &self,
        session_id: &str,
        carry: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (client, events, id) = (
            self.client.clone(),
            self.events.clone(),
            session_id.to_string(),
        );
        let task = self.runtime.spawn(async move {
            carry.await;
            match session::terminate(&client, &id).await {
                Ok(()) => events.terminated(&id),
                Err(e) => tracing::warn!("{e}"),
            }
        });
        self.pumps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// Waits until every session this transport opened has ended and been terminated (their
    /// sockets must have been dropped, or the build's cancellation token fired).
    pub async fn close(&self) {
        let pumps: Vec<_> = std::mem::take(
            &mut *self
                .pumps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for p in pumps {
            let _ = p.await;
        }
    }
}

impl SsmTransport {
    /// An SSH communicator whose connections each run over a new Session Manager session.
    pub fn ssh_comm(self: &Arc<Self>, params: ConnectParams) -> SshComm {
        SshComm::with_transport(params, self.clone())
    }

    /// What the user is told ("Session Manager (AWS-StartSSHSession) to i-0abc, port 22").
    pub fn describe(&self) -> String {
        format!(
            "Session Manager ({}) to {}, port {}",
            self.target.document.name(),
            self.target.instance_id,
            self.target.port
        )
    }
}

/// Each dial starts a session and bridges it to a socket pair; the tunnel is the relay
/// [`Link`] keeps alive (dropping it ends the session).
impl Transport for SsmTransport {
    fn open(&self, _timeout: Duration, cancel: &CancellationToken) -> Result<Link, CommError> {
        let tunnel = self.open_blocking(cancel).map_err(|e| {
            if e.is_cancelled() {
                CommError::Cancelled
            } else {
                CommError::Other(e.to_string())
            }
        })?;
        let socket = tunnel
            .socket
            .try_clone()
            .map_err(|e| CommError::Other(format!("session socket: {e}")))?;
        Ok(Link::relayed(socket, Box::new(tunnel)))
    }
}
