//! StepCleanupVolumes (cleanup only): after the instance is gone, deletes the build's volumes
//! that are left `available` (mappings with `delete_on_termination: false`). Volumes are found
//! by the build-id tag the run step put on them, so one DescribeVolumes call suffices. After a
//! successful amazon-ebsvolume build the volumes it delivers are spared.

use aws_sdk_ec2::types::Filter;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::{BuildCtx, BUILD_ID_TAG};
use crate::engine::{Outcome, Step, StepEnv};

pub struct CleanupVolumes;

#[async_trait::async_trait]
impl Step<BuildCtx> for CleanupVolumes {
    fn name(&self) -> &'static str {
        "StepCleanupVolumes"
    }

    async fn run(&self, _ctx: &mut BuildCtx, _env: &StepEnv) -> anyhow::Result<()> {
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        if ctx.instance.is_none() {
            return Ok(());
        }
        let ec2 = ctx.ec2();
        let out = ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name(format!("tag:{BUILD_ID_TAG}"))
                    .values(&ctx.build_id)
                    .build(),
            )
            .send()
            .await
            .aws_context(|| format!("listing the build's volumes in {}", ctx.region))?;
        for v in out.volumes() {
            let Some(id) = v.volume_id() else { continue };
            if v.state().map(aws_sdk_ec2::types::VolumeState::as_str) != Some("available") {
                continue;
            }
            if outcome == Outcome::Success && ctx.kept.volumes.iter().any(|k| k == id) {
                continue;
            }
            env.ui.say(&format!("Deleting volume {id}..."));
            delete::delete_volume(&ec2, &ctx.region, id).await?;
            env.ledger.deleted(ResourceKind::Volume, id, &ctx.region);
        }
        Ok(())
    }
}
