//! StepConnect, shared by the builders that reach their machine over SSH (amazon-ebs, null):
//! says where it connects, waits until SSH answers (honouring `ssh_timeout`,
//! `ssh_handshake_attempts` and `pause_before_connecting`, like Packer's `StepConnectSSH`),
//! and owns the connection (and its `ssh_local_tunnels`/`ssh_remote_tunnels`) until cleanup.
//! The transport under it prints nothing.
//!
//! When the builder routes the connection through Session Manager ([`HasComm::session_manager`],
//! amazon-ebs's `ssh_interface: session_manager`), every SSH connection runs over its own
//! session ([`SsmTransport`]): `pause_before_ssm` is waited first, the transport reports the
//! agent's registration wait and each session it starts (into the ledger before anything
//! waits on it), the host-key check applies as over TCP, and the cleanup waits until every
//! session was terminated (also after a failure or Ctrl-C). Once connected, a local port
//! forward ([`LocalForward`], on `session_manager_port` or a free port of 127.0.0.1) carries
//! each TCP connection over its own session for tools that connect by themselves (the
//! `ansible` provisioner's direct mode); the builder learns its port
//! ([`HasComm::set_session_manager_forward`]) and the cleanup closes it first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::host_key::{Evidence, Watch};
use crate::communicator::config::{CommType, SshConfig};
use crate::communicator::ssh::ConnectParams;
use crate::communicator::ssm::forward::LocalForward;
use crate::communicator::ssm::SsmTransport;
use crate::communicator::{CommError, SshComm};
use crate::engine::{Outcome, Step, StepEnv};
use crate::ui::Ui;
use tokio_util::sync::CancellationToken;

/// How long the cleanup waits for the sessions to be terminated before it gives up (the
/// ledger then still lists them for `rpack cleanup`).
const SESSIONS_CLOSE: Duration = Duration::from_secs(60);

/// A connection through Session Manager: the transport, `pause_before_ssm` and the local
/// forward's port (`session_manager_port`; `0`: a free one).
pub(crate) struct SsmRoute {
    pub transport: Arc<SsmTransport>,
    pub pause: Duration,
    pub local_port: u16,
}

/// What the connect step needs from a builder's context.
pub(crate) trait HasComm: Send {
    /// The communicator configuration to connect with.
    fn comm_config(&self) -> SshConfig;
    /// The address to connect to; an error says why there is none.
    fn host(&self) -> anyhow::Result<String>;
    /// Where the connection lives until the step's cleanup.
    fn comm_slot(&mut self) -> &mut Option<SshComm>;
    /// Who the machine's usual login user is when it is not `user` (from the source image),
    /// added to an authentication failure called as `rpack`.
    fn login_hint(&self, _user: &str) -> Option<String> {
        None
    }

    /// What the builder offers to verify the host key with (none by default).
    fn host_key_evidence(&self) -> Evidence {
        Evidence::default()
    }

    /// The Session Manager route to the machine, when it is reached that way (not by default).
    fn session_manager(&self, _env: &StepEnv) -> anyhow::Result<Option<SsmRoute>> {
        Ok(None)
    }

    /// Where the Session Manager port forward listens on 127.0.0.1 (`None` once it is closed).
    fn set_session_manager_forward(&mut self, _port: Option<u16>) {}
}

/// Packer's `StepConnect` for the SSH communicator; does nothing with `communicator: none`.
#[derive(Default)]
pub(crate) struct Connect {
    /// The Session Manager transport of this build, kept until cleanup has ended its sessions.
    ssm: Mutex<Option<Arc<SsmTransport>>>,
    /// Its local port forward, closed by the cleanup before the sessions are waited for.
    forward: Mutex<Option<LocalForward>>,
}

#[async_trait::async_trait]
impl<C: HasComm> Step<C> for Connect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(&self, ctx: &mut C, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.comm_config();
        if cfg.comm_type != CommType::Ssh {
            return Ok(());
        }
        let hint = ctx.login_hint(&cfg.username);
        let route = ctx.session_manager(env)?;
        let host = match &route {
            Some(_) => String::new(),
            None => ctx.host()?,
        };
        let watch = Watch::start(cfg.host_key_check, ctx.host_key_evidence());
        let ui = env.ui.as_ref();
        let mut local_port = None;
        let connected = match route {
            Some(route) => {
                *self
                    .ssm
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(route.transport.clone());
                local_port = Some(route.local_port);
                connect_ssm(&cfg, &route, ui, &env.cancel, &watch).await
            }
            None => connect_with(&cfg, &host, ui, &env.cancel, &watch).await,
        };
        let comm = connected.map_err(|e| match (e, hint) {
            (CommError::Auth(m), Some(h)) if !crate::ui::voice::as_packer() => {
                CommError::Auth(format!("{m}; hint: {h}"))
            }
            (e, _) => e,
        })?;
        *ctx.comm_slot() = Some(comm);
        if let (Some(port), Some(t)) = (local_port, self.transport()) {
            let fwd = LocalForward::start(t, port, &env.cancel)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("Session Manager port forward (session_manager_port): {e}")
                })?;
            let port = fwd.addr().port();
            ui.say(&format!(
                "Session Manager port forward listening on 127.0.0.1:{port} (build `Host` and `Port`), one session per connection"
            ));
            *self
                .forward
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fwd);
            ctx.set_session_manager_forward(Some(port));
        }
        Ok(())
    }

    async fn cleanup(&self, ctx: &mut C, env: &StepEnv, _outcome: Outcome) -> anyhow::Result<()> {
        if let Some(c) = ctx.comm_slot().take() {
            c.stop_tunnels();
            c.disconnect();
        }
        let forward = self
            .forward
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(f) = forward {
            ctx.set_session_manager_forward(None);
            f.close().await;
        }
        let transport = self
            .ssm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = transport {
            // Every session's socket is closed now: its pump ends and terminates it.
            tokio::select! {
                () = t.close() => {}
                () = tokio::time::sleep(SESSIONS_CLOSE) => anyhow::bail!(
                    "Session Manager sessions to {} did not end within {}; `rpack cleanup` terminates them",
                    t.target().instance_id,
                    crate::gocompat::time::duration_string(SESSIONS_CLOSE)
                ),
                () = env.hard_cancel.cancelled() => anyhow::bail!(
                    "stopped waiting for the Session Manager sessions to {} to end; `rpack cleanup` terminates them",
                    t.target().instance_id
                ),
            }
        }
        Ok(())
    }
}

impl Connect {
    fn transport(&self) -> Option<Arc<SsmTransport>> {
        self.ssm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Connects like Packer's `StepConnectSSH`: prints where it connects, retries until
/// `cfg.timeout` (polling every ≤1 s instead of Packer's 5 s), honours
/// `ssh_handshake_attempts` for authentication failures and `pause_before_connecting`; every
/// connection goes through `watch`'s host-key check before authenticating.
pub async fn connect(
    cfg: &SshConfig,
    host: &str,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) -> Result<SshComm, CommError> {
    let watch = Watch::start(cfg.host_key_check, Evidence::default());
    connect_with(cfg, host, ui, cancel, &watch).await
}

/// [`connect`] with the builder's host-key evidence.
pub(crate) async fn connect_with(
    cfg: &SshConfig,
    host: &str,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    watch: &Watch,
) -> Result<SshComm, CommError> {
    let comm = SshComm::from_config(cfg, host);
    ui.say(&format!("Using ssh communicator to connect: {host}"));
    wait_up(cfg, comm, ui, cancel, watch).await
}

/// Connects through Session Manager: `pause_before_ssm`, then SSH over sessions the transport
/// starts (each dial its own; StartSession retried while the instance's agent registers, for at
/// most `ssh_timeout`).
async fn connect_ssm(
    cfg: &SshConfig,
    route: &SsmRoute,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    watch: &Watch,
) -> Result<SshComm, CommError> {
    let t = &route.transport;
    ui.say(&format!(
        "Using ssh communicator to connect over {}",
        t.describe()
    ));
    if !route.pause.is_zero() {
        ui.say(&format!(
            "Waiting {} before establishing the SSM session...",
            crate::gocompat::time::duration_string(route.pause)
        ));
        tokio::select! {
            () = tokio::time::sleep(route.pause) => {}
            () = cancel.cancelled() => return Err(CommError::Cancelled),
        }
    }
    ui.say(&format!(
        "Starting a Session Manager session to {} (waits while its SSM agent registers, at most {})...",
        t.target().instance_id,
        crate::gocompat::time::duration_string(cfg.timeout)
    ));
    let comm = t.ssh_comm(ConnectParams::from_config(cfg, &t.target().instance_id));
    comm.set_algorithms(cfg.algorithms.clone());
    wait_up(cfg, comm, ui, cancel, watch).await
}

/// Waits until `comm` is up (host key checked by `watch`), honouring
/// `pause_before_connecting`.
async fn wait_up(
    cfg: &SshConfig,
    comm: SshComm,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    watch: &Watch,
) -> Result<SshComm, CommError> {
    watch.attach(&comm);
    let wait = ui.wait("Waiting for SSH to become available...");
    let up = comm
        .wait_until_up(cfg.timeout, cfg.handshake_attempts, cancel)
        .await;
    drop(wait);
    // What the host-key check saw, also when it stopped the build (the evidence before the
    // error).
    watch.say(ui);
    up?;
    if let Some(pause) = cfg.pause_before_connecting {
        comm.disconnect();
        ui.say(&format!(
            "Pausing {} before connecting...",
            crate::gocompat::time::duration_string(pause)
        ));
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return Err(CommError::Cancelled),
        }
        comm.wait_until_up(cfg.timeout, cfg.handshake_attempts, cancel)
            .await?;
    }
    ui.say("Connected to SSH!");
    // Packer sets the tunnels up with the connection; they live until the step's cleanup.
    comm.start_tunnels(cfg.tunnels.clone(), cancel).await?;
    Ok(comm)
}
