//! The provisioning hook a builder calls once the machine is reachable: runs the build's
//! provisioners in order with their common keys (pause_before, timeout, max_retries), and the
//! `error-cleanup-provisioner` when one fails — Packer's `StepProvision`.

use tokio_util::sync::CancellationToken;

use crate::builders::amazon_ebs::ProvisionHook;
use crate::communicator::{Communicator, NoneComm};
use crate::provisioners;
use crate::provisioners::PlannedProvisioner;
use crate::shell_local::{GeneratedData, RunData};
use crate::template::interp::Context;
use crate::ui::Ui;

pub(crate) struct Provisioners {
    pub build_name: String,
    pub builder_type: String,
    pub list: Vec<PlannedProvisioner>,
    pub error_cleanup: Option<PlannedProvisioner>,
    /// The template's render context (user variables, template path).
    pub ctx: Context,
    /// The run's `PackerRunUUID`, the same for every build (its one writer is the pipeline).
    pub run_uuid: String,
    /// The build's private local directory ([`RunData::work_dir`]).
    pub work_dir: Option<std::path::PathBuf>,
}

impl Provisioners {
    fn data(&self, generated: &GeneratedData) -> RunData {
        let generated = GeneratedData {
            packer_run_uuid: Some(self.run_uuid.clone()),
            ..generated.clone()
        };
        RunData {
            build_name: self.build_name.clone(),
            builder_type: self.builder_type.clone(),
            values: generated.to_map(),
            ctx: self.ctx.clone(),
            work_dir: self.work_dir.clone(),
        }
    }

    async fn run_one(
        &self,
        p: &PlannedProvisioner,
        ui: &dyn Ui,
        comm: &dyn Communicator,
        data: &RunData,
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
        values: &GeneratedData,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The run's id is the pipeline's to set: whatever a builder hands over, provisioners see
    /// the same `PackerRunUUID` as the post-processors and the manifest.
    #[test]
    fn provisioners_see_the_runs_uuid_with_the_builders_data() {
        let p = Provisioners {
            build_name: "b".into(),
            builder_type: "amazon-ebs".into(),
            list: Vec::new(),
            error_cleanup: None,
            ctx: Context::default(),
            run_uuid: "run-1".into(),
            work_dir: None,
        };
        let data = p.data(&GeneratedData {
            id: Some("i-1".into()),
            packer_run_uuid: Some("a-build-id".into()),
            ..Default::default()
        });
        assert_eq!(data.values["PackerRunUUID"], "run-1");
        assert_eq!(data.values["ID"], "i-1");
        let rendered = data.render("{{ build `PackerRunUUID` }}", None).unwrap();
        assert_eq!(rendered, "run-1");
    }
}
