//! StepCreateTags: `tags` on each AMI and its snapshots, then `snapshot_tags` on the snapshots,
//! in every region, rendered with `{{ .BuildRegion }}` (always the build region, like Packer)
//! and the `{{ .SourceAMI* }}` data. The build-id tag rides along (so this runs even without
//! `tags`: the snapshots are tagged nowhere else).

use crate::aws::error::AwsResultExt;
use crate::aws::wait;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::{ec2_tags, BuildCtx};
use crate::engine::{Step, StepEnv};

pub struct CreateTags;

#[async_trait::async_trait]
impl Step<BuildCtx> for CreateTags {
    fn name(&self) -> &'static str {
        "StepCreateTags"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let tags = ctx.render_tags("tags", &cfg.ami.tags, None)?;
        let snap_tags = ctx.render_tags("snapshot_tags", &cfg.ami.snapshot_tags, None)?;
        for img in ctx.finals().cloned().collect::<Vec<_>>() {
            let ec2 = ctx.aws.ec2(&img.region);
            let (id, region) = (&img.id, &img.region);
            // Always one call per region: the build-id tag must reach the snapshots too.
            {
                env.ui.say(&format!("Adding tags to AMI ({id})..."));
                for (k, v) in tags
                    .iter()
                    .filter(|(k, _)| k != crate::builders::amazon_ebs::context::BUILD_ID_TAG)
                {
                    env.ui.message(&format!("Adding tag: \"{k}\": \"{v}\""));
                }
                let mut resources = vec![id.clone()];
                resources.extend(img.snapshots.iter().cloned());
                wait::retry_codes(
                    &["InvalidAMIID.NotFound", "InvalidSnapshot.NotFound"],
                    timeouts::TAG_NEW_IMAGE_RETRY,
                    || async {
                        ec2.create_tags()
                            .set_resources(Some(resources.clone()))
                            .set_tags(Some(ec2_tags(&tags)))
                            .send()
                            .await
                            .aws_context(|| {
                                format!("tagging AMI {id} and its snapshots in {region}")
                            })
                    },
                )
                .await?;
            }
            if !cfg.ami.snapshot_tags.is_empty() && !img.snapshots.is_empty() {
                env.ui
                    .say(&format!("Tagging snapshot: {}", img.snapshots.join(", ")));
                ec2.create_tags()
                    .set_resources(Some(img.snapshots.clone()))
                    .set_tags(Some(ec2_tags(&snap_tags)))
                    .send()
                    .await
                    .aws_context(|| format!("tagging the snapshots of AMI {id} in {region}"))?;
            }
        }
        Ok(())
    }
}
