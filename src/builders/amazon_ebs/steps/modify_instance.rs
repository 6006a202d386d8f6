//! StepModifyEBSBackedInstance: turns on SR-IOV (`sriov_support`) and ENA (`ena_support`) on
//! the stopped instance so the AMI inherits them.

use aws_sdk_ec2::types::AttributeBooleanValue;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Step, StepEnv};

pub struct ModifyInstance;

#[async_trait::async_trait]
impl Step<BuildCtx> for ModifyInstance {
    fn name(&self) -> &'static str {
        "StepModifyEBSBackedInstance"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let Some(id) = ctx.instance_id().map(str::to_string) else {
            return Ok(());
        };
        let ec2 = ctx.ec2();
        if ctx.cfg.ami.sriov_support {
            env.ui.say("Enabling Enhanced Networking (SR-IOV)...");
            ec2.modify_instance_attribute()
                .instance_id(&id)
                .sriov_net_support(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value("simple")
                        .build(),
                )
                .send()
                .await
                .aws_context(|| format!("enabling SR-IOV on instance {id} in {}", ctx.region))?;
        }
        if let Some(ena) = ctx.cfg.ami.ena_support {
            env.ui.say(&format!(
                "{} Enhanced Networking (ENA)...",
                if ena { "Enabling" } else { "Disabling" }
            ));
            ec2.modify_instance_attribute()
                .instance_id(&id)
                .ena_support(AttributeBooleanValue::builder().value(ena).build())
                .send()
                .await
                .aws_context(|| {
                    format!("setting ENA support on instance {id} in {}", ctx.region)
                })?;
        }
        Ok(())
    }
}
