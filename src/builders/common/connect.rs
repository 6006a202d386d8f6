//! StepConnect, shared by the builders that reach their machine over SSH (amazon-ebs, null):
//! says where it connects, waits until SSH answers (honouring `ssh_timeout`,
//! `ssh_handshake_attempts` and `pause_before_connecting`, like Packer's `StepConnectSSH`),
//! and owns the connection (and its `ssh_local_tunnels`/`ssh_remote_tunnels`) until cleanup.
//! The transport under it prints nothing.

use super::host_key::{Evidence, Watch};
use crate::communicator::config::{CommType, SshConfig};
use crate::communicator::{CommError, SshComm};
use crate::engine::{Outcome, Step, StepEnv};
use crate::ui::Ui;
use tokio_util::sync::CancellationToken;

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
}

/// Packer's `StepConnect` for the SSH communicator; does nothing with `communicator: none`.
pub(crate) struct Connect;

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
        let host = ctx.host()?;
        let hint = ctx.login_hint(&cfg.username);
        let watch = Watch::start(cfg.host_key_check, ctx.host_key_evidence());
        let comm = connect_with(&cfg, &host, env.ui.as_ref(), &env.cancel, &watch)
            .await
            .map_err(|e| match (e, hint) {
                (CommError::Auth(m), Some(h)) if !crate::ui::voice::as_packer() => {
                    CommError::Auth(format!("{m}; hint: {h}"))
                }
                (e, _) => e,
            })?;
        *ctx.comm_slot() = Some(comm);
        Ok(())
    }

    async fn cleanup(&self, ctx: &mut C, _env: &StepEnv, _outcome: Outcome) -> anyhow::Result<()> {
        if let Some(c) = ctx.comm_slot().take() {
            c.stop_tunnels();
            c.disconnect();
        }
        Ok(())
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
    watch.attach(&comm);
    ui.say(&format!("Using ssh communicator to connect: {host}"));
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
