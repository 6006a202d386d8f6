//! Builders (`amazon-ebs`, `amazon-ebsvolume`, `amazon-ebssurrogate`, `null`, `file`): configuration and the ordered steps that create a machine
//! image. The shared runner lives in `crate::engine`.

pub mod amazon_ebs;
pub mod amazon_ebssurrogate;
pub mod amazon_ebsvolume;
pub mod common;
pub mod file;
pub mod null;

use tokio_util::sync::CancellationToken;

use crate::communicator::Communicator;
use crate::shell_local::GeneratedData;
use crate::ui::Ui;

/// Runs the provisioners once the machine is reachable (amazon-ebs and null builders). The build
/// orchestration implements it (provisioner list, `build` data, error-cleanup-provisioner).
#[async_trait::async_trait]
pub trait ProvisionHook: Send + Sync {
    /// `comm` is `None` with `communicator: none`. `data` is the builder's generated data
    /// (`ID`, `Host`, `Port`, `User`, `SourceAMI`, `BuildRegion`, …); the pipeline adds
    /// `PackerRunUUID`, the one value every build of the run shares.
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        data: &GeneratedData,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()>;
}

/// A hook that only proves the machine is reachable: runs `true` over the communicator.
pub struct TrueHook;

#[async_trait::async_trait]
impl ProvisionHook for TrueHook {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        _: &GeneratedData,
        _: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let Some(comm) = comm else { return Ok(()) };
        let status = comm
            .start("true", &crate::communicator::Discard, cancel)
            .await
            .map_err(|e| anyhow::anyhow!("running `true` on the instance: {e}"))?;
        anyhow::ensure!(
            status == 0,
            "`true` exited with status {status} on the instance"
        );
        Ok(())
    }
}
