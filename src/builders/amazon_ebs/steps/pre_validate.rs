//! StepPreValidate: credentials (STS; the account id goes to the ledger) and regions (DescribeRegions) unless skipped, a given VPC
//! without subnet must be the default VPC, and the AMI name must be free unless
//! `force_deregister` (or `skip_create_ami`) is set. Creates nothing.

use anyhow::bail;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Step, StepEnv};

pub struct PreValidate;

#[async_trait::async_trait]
impl Step<BuildCtx> for PreValidate {
    fn name(&self) -> &'static str {
        "StepPreValidate"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        if ctx.aws.should_validate_credentials(&cfg.access) {
            let account = ctx.aws.validate_credentials().await?;
            // Cleanup after a killed build names the account it needs credentials for. Only
            // when GetCallerIdentity ran anyway: an extra STS call just for this would go to
            // the real STS where EC2 is at a custom endpoint (see `should_validate_credentials`).
            if !account.is_empty() {
                env.ledger
                    .meta(crate::ledger::META_ACCOUNT, &account, &ctx.region);
            }
        }
        if !cfg.access.skip_region_validation {
            ctx.aws
                .validate_regions(&cfg.ami.all_regions(&ctx.region))
                .await?;
        }
        if let (Some(vpc), None) = (&cfg.run.vpc_id, &cfg.run.subnet_id) {
            env.ui.say("Prevalidating any provided VPC information");
            let out = ctx
                .ec2()
                .describe_vpcs()
                .vpc_ids(vpc)
                .send()
                .await
                .aws_context(|| format!("describing VPC {vpc} in {}", ctx.region))?;
            let default = out
                .vpcs()
                .first()
                .and_then(aws_sdk_ec2::types::Vpc::is_default)
                .unwrap_or(false);
            if !default {
                bail!("Error: subnet_id or subnet_filter must be provided for non-default VPCs");
            }
        } else {
            env.ui.say("Prevalidating any provided VPC information");
        }
        if cfg.ami.skip_create_ami {
            return Ok(());
        }
        if cfg.ami.force_deregister {
            env.ui
                .say("Force Deregister flag found, skipping prevalidating AMI Name");
            return Ok(());
        }
        env.ui
            .say(&format!("Prevalidating AMI Name: {}", cfg.ami.ami_name));
        let out = ctx
            .ec2()
            .describe_images()
            .owners("self")
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("name")
                    .values(&cfg.ami.ami_name)
                    .build(),
            )
            .send()
            .await
            .aws_context(|| {
                format!(
                    "looking up AMIs named '{}' in {}",
                    cfg.ami.ami_name, ctx.region
                )
            })?;
        if let Some(img) = out.images().first() {
            bail!(
                "Error: AMI Name: '{}' is used by an existing AMI: {}",
                cfg.ami.ami_name,
                img.image_id().unwrap_or("")
            );
        }
        Ok(())
    }
}
