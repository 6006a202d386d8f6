//! The `null` builder: connect to an existing host (`ssh_host`, `ssh_username`, key,
//! password or agent) and run the provisioners through the same [`ProvisionHook`] as amazon-ebs.
//! Two steps on the shared engine: the shared connect step (owns the connection) and provision.
//! Its artifact is Packer's: builder id `fnoeding.null`, id `Null`, string `Did not export
//! anything. This is the null builder`. The configuration is in [`config`].

mod config;

pub use config::{decode, Config};

use std::sync::Arc;

use crate::builders::common::connect::{Connect, HasComm};
use crate::builders::ProvisionHook;
use crate::communicator::config::{CommType, SshConfig};
use crate::communicator::{Communicator, SshComm};
use crate::engine::{RunError, Runner, RunnerOptions, Step, StepEnv};
use crate::ledger::Ledger;
use crate::shell_local::{GeneratedData, SshFacts};
use crate::ui::Ui;
use tokio_util::sync::CancellationToken;

pub const BUILDER_ID: &str = "fnoeding.null";
pub const ARTIFACT_ID: &str = "Null";
pub const ARTIFACT_STRING: &str = "Did not export anything. This is the null builder";

pub struct NullCtx {
    pub cfg: Arc<Config>,
    pub hook: Arc<dyn ProvisionHook>,
    pub comm: Option<SshComm>,
}

impl HasComm for NullCtx {
    fn comm_config(&self) -> SshConfig {
        self.cfg.comm.clone()
    }

    fn host(&self) -> anyhow::Result<String> {
        Ok(self.cfg.comm.host.clone().unwrap_or_default())
    }

    fn comm_slot(&mut self) -> &mut Option<SshComm> {
        &mut self.comm
    }
}

struct ProvisionStep;

#[async_trait::async_trait]
impl Step<NullCtx> for ProvisionStep {
    fn name(&self) -> &'static str {
        "StepProvision"
    }
    async fn run(&self, ctx: &mut NullCtx, env: &StepEnv) -> anyhow::Result<()> {
        let c = &ctx.cfg.comm;
        let conn_type = if c.comm_type == CommType::Ssh {
            "ssh"
        } else {
            "none"
        };
        let data = GeneratedData {
            id: Some(ARTIFACT_ID.to_string()),
            host: Some(c.host.clone().unwrap_or_default()),
            port: Some(c.port),
            user: Some(c.username.clone()),
            password: Some(c.password.clone().unwrap_or_default()),
            conn_type: Some(conn_type.to_string()),
            ssh: Some(SshFacts::new(
                c,
                c.private_key_file.as_deref(),
                ctx.comm
                    .as_ref()
                    .and_then(crate::communicator::ssh::SshComm::host_key_blob),
                ctx.comm
                    .as_ref()
                    .and_then(crate::communicator::ssh::SshComm::bastion_host_key_blob),
            )),
            ..Default::default()
        };
        let comm = ctx.comm.clone();
        let comm_ref: Option<&dyn Communicator> = comm.as_ref().map(|c| c as &dyn Communicator);
        ctx.hook
            .provision(comm_ref, &data, env.ui.as_ref(), &env.cancel)
            .await
    }
}

/// Runs a `null` build. `Ok(())` means the artifact is Packer's null artifact (see the consts).
pub async fn run(
    cfg: Arc<Config>,
    hook: Arc<dyn ProvisionHook>,
    ui: Arc<dyn Ui>,
    cancel: CancellationToken,
    hard_cancel: CancellationToken,
    options: RunnerOptions,
) -> Result<(), RunError> {
    let mut ctx = NullCtx {
        cfg,
        hook,
        comm: None,
    };
    // Nothing in the cloud to record; an in-memory ledger keeps the engine contract uniform.
    let env = StepEnv {
        ui,
        ledger: Arc::new(Ledger::in_memory("null")),
        cancel,
        hard_cancel,
    };
    let runner = Runner::new(
        vec![Box::new(Connect::default()), Box::new(ProvisionStep)],
        options,
    );
    runner.run(&mut ctx, &env).await.map(|_| ())
}
