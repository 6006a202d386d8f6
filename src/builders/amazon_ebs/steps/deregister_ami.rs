//! StepDeregisterAMI: with `force_deregister`, removes AMIs named `ami_name` owned by this
//! account in the build region and every `ami_regions` region (and their snapshots with
//! `force_delete_snapshot`) before the new AMI takes the name; an AMI with deregistration
//! protection on gets it turned off first.

use aws_sdk_ec2::types::Filter;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::builders::amazon_ebs::steps::snapshots_of;
use crate::engine::{Step, StepEnv};

pub struct DeregisterAmi;

#[async_trait::async_trait]
impl Step<BuildCtx> for DeregisterAmi {
    fn name(&self) -> &'static str {
        "StepDeregisterAMI"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        if !cfg.ami.force_deregister || cfg.ami.skip_create_ami {
            return Ok(());
        }
        for region in cfg.ami.all_regions(&ctx.region) {
            let ec2 = ctx.aws.ec2(&region);
            let out = ec2
                .describe_images()
                .owners("self")
                .filters(
                    Filter::builder()
                        .name("name")
                        .values(&cfg.ami.ami_name)
                        .build(),
                )
                .send()
                .await
                .aws_context(|| {
                    format!("looking up AMIs named '{}' in {region}", cfg.ami.ami_name)
                })?;
            for img in out.images() {
                let Some(id) = img.image_id() else { continue };
                // EC2 refuses to deregister a protected AMI: lift the protection first.
                if crate::aws::delete::is_protected(img.deregistration_protection()) {
                    env.ui.say(&format!(
                        "Disabling deregistration protection of AMI id: {id}"
                    ));
                    crate::aws::delete::disable_deregistration_protection(&ec2, &region, id)
                        .await?;
                }
                ec2.deregister_image()
                    .image_id(id)
                    .send()
                    .await
                    .aws_context(|| format!("deregistering AMI {id} in {region}"))?;
                env.ui.say(&format!("Deregistered AMI id: {id}"));
                if cfg.ami.force_delete_snapshot {
                    for s in snapshots_of(img) {
                        ec2.delete_snapshot()
                            .snapshot_id(&s)
                            .send()
                            .await
                            .aws_context(|| format!("deleting snapshot {s} in {region}"))?;
                        env.ui.say(&format!("Deleted snapshot: {s}"));
                    }
                }
            }
        }
        Ok(())
    }
}
