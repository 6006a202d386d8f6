//! StepStopEBSBackedInstance: stops the instance before imaging (unless
//! `disable_stop_instance`, or a spot instance) and waits until it is stopped.

use anyhow::Context as _;
use aws_sdk_ec2::types::InstanceStateName;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::builders::amazon_ebs::steps::wait_instance;
use crate::engine::{Step, StepEnv};

pub struct StopInstance;

#[async_trait::async_trait]
impl Step<BuildCtx> for StopInstance {
    fn name(&self) -> &'static str {
        "StepStopEBSBackedInstance"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        if ctx.cfg.run.is_spot() {
            return Ok(());
        }
        let id = ctx
            .instance_id()
            .context("no instance to stop")?
            .to_string();
        if ctx.cfg.run.disable_stop_instance {
            env.ui
                .say("Automatic instance stop disabled. Please stop instance manually.");
        } else {
            env.ui.say("Stopping the source instance...");
            ctx.ec2()
                .stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .aws_context(|| format!("stopping instance {id} in {}", ctx.region))?;
        }
        let _wait = env.ui.wait("Waiting for the instance to stop...");
        wait_instance(
            ctx,
            env,
            &id,
            InstanceStateName::Stopped,
            timeouts::INSTANCE_STOPPED,
            &env.cancel,
        )
        .await
        .with_context(|| format!("Error waiting for instance to stop ({id})"))?;
        Ok(())
    }
}
