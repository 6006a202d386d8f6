//! The provisioning hook a builder calls once the machine is reachable: runs the build's
//! provisioners in order with their common keys (pause_before, timeout, max_retries), and the
//! `error-cleanup-provisioner` when one fails — Packer's `StepProvision`.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::builders::amazon_ebs::ProvisionHook;
use crate::communicator::{Communicator, NoneComm};
use crate::provisioners::PlannedProvisioner;
use crate::provisioners::{self, BuildData};
use crate::template::interp::Context;
use crate::ui::Ui;

pub struct Provisioners {
    pub build_name: String,
    pub builder_type: String,
    pub list: Vec<PlannedProvisioner>,
    pub error_cleanup: Option<PlannedProvisioner>,
    /// The template's render context (user variables, template path).
    pub ctx: Context,
    /// Values every build sees (`PackerRunUUID`).
    pub extra: BTreeMap<String, String>,
}

impl Provisioners {
    fn data(&self, values: &BTreeMap<String, String>) -> BuildData {
        let mut all = self.extra.clone();
        all.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        BuildData {
            build_name: self.build_name.clone(),
            builder_type: self.builder_type.clone(),
            values: all,
            ctx: self.ctx.clone(),
        }
    }

    async fn run_one(
        &self,
        p: &PlannedProvisioner,
        ui: &dyn Ui,
        comm: &dyn Communicator,
        data: &BuildData,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        provisioners::run_with_common(&p.common, ui, cancel, |token| {
            let cfg = p.config.clone();
            async move { cfg.provision(ui, comm, data, &token).await }
        })
        .await
    }
}

#[async_trait::async_trait]
impl ProvisionHook for Provisioners {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        values: &BTreeMap<String, String>,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let none = NoneComm;
        let comm: &dyn Communicator = comm.unwrap_or(&none);
        let data = self.data(values);
        for p in &self.list {
            if cancel.is_cancelled() {
                anyhow::bail!("Build was cancelled.");
            }
            if let Err(e) = self.run_one(p, ui, comm, &data, cancel).await {
                if let Some(cleanup) = &self.error_cleanup {
                    if !cancel.is_cancelled() {
                        ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
                        // The cleanup provisioner gets its own token: the build failed, it was not cancelled.
                        let token = CancellationToken::new();
                        if let Err(ce) = self.run_one(cleanup, ui, comm, &data, &token).await {
                            ui.error(&format!("Error running the cleanup provisioner: {ce:#}"));
                        }
                    }
                } else if !cancel.is_cancelled() {
                    ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Shares one hook between the builder and the orchestration.
pub fn shared(p: Provisioners) -> Arc<dyn ProvisionHook> {
    Arc::new(p)
}
