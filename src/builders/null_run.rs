//! Running the `null` builder: connect to an existing host (`ssh_host`, `ssh_username`, key,
//! password or agent) and run the provisioners through the same [`ProvisionHook`] as amazon-ebs.
//! Two steps on the shared engine: connect (owns the connection) and provision. Its artifact
//! is Packer's: builder id `fnoeding.null`, id `Null`, string `Did not export anything. This is
//! the null builder`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::builders::null::Config;
use crate::builders::ProvisionHook;
use crate::communicator::config::CommType;
use crate::communicator::{Communicator, SshComm};
use crate::engine::{Ledger, Outcome, RunError, Runner, RunnerOptions, Step, StepEnv};
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

struct ConnectStep;

#[async_trait::async_trait]
impl Step<NullCtx> for ConnectStep {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&self, ctx: &mut NullCtx, env: &StepEnv) -> anyhow::Result<()> {
        if ctx.cfg.comm.comm_type != CommType::Ssh {
            return Ok(());
        }
        let host = ctx.cfg.comm.host.clone().unwrap_or_default();
        ctx.comm =
            Some(SshComm::connect(&ctx.cfg.comm, &host, env.ui.as_ref(), &env.cancel).await?);
        Ok(())
    }
    async fn cleanup(
        &self,
        ctx: &mut NullCtx,
        _env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        if let Some(c) = ctx.comm.take() {
            c.disconnect();
        }
        Ok(())
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
        let mut data = BTreeMap::new();
        data.insert("ID".to_string(), ARTIFACT_ID.to_string());
        data.insert("Host".to_string(), c.host.clone().unwrap_or_default());
        data.insert("Port".to_string(), c.port.to_string());
        data.insert("User".to_string(), c.username.clone());
        data.insert(
            "Password".to_string(),
            c.password.clone().unwrap_or_default(),
        );
        data.insert(
            "ConnType".to_string(),
            if c.comm_type == CommType::Ssh {
                "ssh"
            } else {
                "none"
            }
            .to_string(),
        );
        crate::provisioners::ansible::conn_data::insert(
            &mut data,
            c,
            c.private_key_file.as_deref(),
            ctx.comm.as_ref().and_then(|s| s.host_key_blob()),
        );
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
        vec![Box::new(ConnectStep), Box::new(ProvisionStep)],
        options,
    );
    runner.run(&mut ctx, &env).await.map(|_| ())
}
