//! StepEnableDeregistrationProtection (`deregistration_protection`): protects every final AMI
//! against deregistration, optionally with AWS's 24-hour cooldown. It runs last, after the
//! tags, so that no later step can fail and need to deregister a protected AMI; an AMI it
//! protected before failing on the next one is marked, and its cleanup lifts the protection.

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Step, StepEnv};

pub struct DeregistrationProtection;

#[async_trait::async_trait]
impl Step<BuildCtx> for DeregistrationProtection {
    fn name(&self) -> &'static str {
        "StepEnableDeregistrationProtection"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let o = &ctx.cfg.ami_options;
        if !o.deregistration_protection {
            return Ok(());
        }
        let cooldown = o.deregistration_protection_cooldown;
        for img in ctx.finals().cloned().collect::<Vec<_>>() {
            let (id, region) = (&img.id, &img.region);
            env.ui.say(&format!(
                "Enabling deregistration protection on AMI ({id}) in {region}..."
            ));
            ctx.aws
                .ec2(region)
                .enable_image_deregistration_protection()
                .image_id(id)
                .with_cooldown(cooldown)
                .send()
                .await
                .aws_context(|| {
                    format!("failed to enable AMI deregistration protection on {id} in {region}")
                })?;
            // A later failure (protecting the next region) must lift it before deregistering.
            if let Some(i) = ctx
                .images
                .iter_mut()
                .find(|i| i.id == img.id && i.region == img.region)
            {
                i.protected = true;
            }
        }
        Ok(())
    }
}
