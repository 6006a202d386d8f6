//! StepAMIRegionCopy: copies the AMI to every `ami_regions` region (and back into the build
//! region encrypted for `encrypt_boot`), with `encrypt_boot`/`kms_key_id`/`region_kms_key_ids`.
//! Each copy is recorded the instant CopyImage returns; the waits run in parallel (bounded).
//! Cleanup: on failure or cancel every copy and its snapshots are removed (Packer leaks them,
//! packer#10248).

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_ec2::types::ResourceType;
use tokio::task::JoinSet;

use crate::aws::error::AwsResultExt;
use crate::aws::ResourceKind;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::{BuildCtx, Image};
use crate::builders::amazon_ebs::steps::{delete_image, wait_image_owned};
use crate::engine::{Outcome, Step, StepEnv};

pub struct CopyAmi;

/// Copies waited on at the same time; EC2 allows ~20 concurrent copies per destination region
/// and each wait is only a poll loop, so 8 keeps request rates modest on wide fan-outs.
const MAX_PARALLEL_WAITS: usize = 8;

#[async_trait::async_trait]
impl Step<BuildCtx> for CopyAmi {
    fn name(&self) -> &'static str {
        "StepAMIRegionCopy"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let Some(source) = ctx.images.first().cloned() else {
            return Ok(());
        };
        let encrypt = cfg.ami.encrypt_boot == Some(true);
        let mut targets: Vec<String> = cfg.ami.ami_regions.clone();
        if source.intermediary && !cfg.ami.skip_save_build_region {
            targets.insert(0, ctx.region.clone());
        }
        if targets.is_empty() {
            return Ok(());
        }
        let verb = if encrypt {
            "Copying/Encrypting"
        } else {
            "Copying"
        };
        env.ui
            .say(&format!("{verb} AMI ({}) to other regions...", source.id));
        let description = match &cfg.ami.ami_description {
            Some(d) => Some(ctx.render("ami_description", d)?),
            None => None,
        };
        let mut started = Vec::new();
        for region in &targets {
            env.ui.message(&format!("Copying to: {region}"));
            let tags = ctx.id_tags(&cfg.ami.ami_name);
            let mut req = ctx
                .aws
                .ec2(region)
                .copy_image()
                .source_image_id(&source.id)
                .source_region(&ctx.region)
                .name(&cfg.ami.ami_name)
                .client_token(format!("rpack-{}-{region}", ctx.build_id))
                .tag_specifications(BuildCtx::tag_spec(ResourceType::Image, &tags))
                .set_snapshot_copy_completion_duration_minutes(
                    cfg.ami_options.snapshot_copy_duration_minutes,
                );
            if let Some(d) = &description {
                req = req.description(d);
            }
            if encrypt {
                req = req.encrypted(true);
                let key = if *region == ctx.region {
                    cfg.ami.kms_key_id.clone()
                } else {
                    cfg.ami
                        .region_kms_key(region)
                        .map(str::to_string)
                        .or(cfg.ami.kms_key_id.clone())
                };
                if let Some(k) = key.filter(|k| !k.is_empty()) {
                    req = req.kms_key_id(k);
                }
            }
            let out = req.send().await.aws_context(|| {
                format!("copying AMI {} from {} to {region}", source.id, ctx.region)
            })?;
            let id = out
                .image_id()
                .context("CopyImage returned no image id")?
                .to_string();
            env.ledger.created(ResourceKind::Image, &id, region);
            ctx.images.push(Image {
                region: region.clone(),
                id: id.clone(),
                snapshots: Vec::new(),
                intermediary: false,
                protected: false,
                fast_launch: false,
            });
            started.push((region.clone(), id));
        }

        let _wait = env.ui.wait("Waiting for all copies to complete...");
        let sem = Arc::new(tokio::sync::Semaphore::new(MAX_PARALLEL_WAITS));
        let mut set = JoinSet::new();
        for (region, id) in started {
            let ec2 = ctx.aws.ec2(&region);
            let policy = ctx.polling.transition(timeouts::IMAGE_AVAILABLE);
            let cancel = env.cancel.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let r = wait_image_owned(ec2, policy, region.clone(), id.clone(), cancel).await;
                (region, id, r)
            });
        }
        let mut first_err = None;
        while let Some(res) = set.join_next().await {
            let (region, id, r) = res.context("a copy wait task failed")?;
            match r {
                Ok(snaps) => {
                    for s in &snaps {
                        env.ledger.created(ResourceKind::Snapshot, s, &region);
                    }
                    if let Some(img) = ctx
                        .images
                        .iter_mut()
                        .find(|i| i.id == id && i.region == region)
                    {
                        img.snapshots = snaps;
                    }
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err =
                            Some(anyhow::Error::new(e).context(format!(
                                "Error waiting for AMI ({id}) in region ({region})"
                            )));
                    }
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        if outcome == Outcome::Success {
            return Ok(());
        }
        let copies: Vec<Image> = ctx.images.iter().skip(1).cloned().collect();
        if copies.is_empty() {
            return Ok(());
        }
        env.ui.say("Deregistering the AMI copies and deleting their snapshots because of cancellation, or error...");
        let mut errors = Vec::new();
        for img in &copies {
            match delete_image(ctx, env, img).await {
                Ok(()) => ctx
                    .images
                    .retain(|i| !(i.id == img.id && i.region == img.region)),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}
