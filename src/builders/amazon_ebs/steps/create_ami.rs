//! stepCreateAMI: CreateImage from the stopped instance (tagged with the build id at creation),
//! recorded the instant the call returns, then waits until it is available. With
//! `encrypt_boot` this image is the unencrypted intermediary the copy step re-encrypts.
//! Cleanup: on failure or cancel the AMI and its snapshots are removed, also when the wait
//! never finished (Packer leaks those); an intermediary is removed in every case.

use anyhow::Context as _;
use aws_sdk_ec2::types::ResourceType;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::aws::error::AwsResultExt;
use crate::aws::wait;
use crate::aws::ResourceKind;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::{BuildCtx, Image};
use crate::builders::amazon_ebs::steps::{delete_image, run_instance::mapping, wait_image};
use crate::engine::{Outcome, Step, StepEnv};

pub struct CreateAmi;

#[async_trait::async_trait]
impl Step<BuildCtx> for CreateAmi {
    fn name(&self) -> &'static str {
        "StepCreateAMI"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        if cfg.ami.skip_create_ami {
            env.ui.say("Skipping AMI creation...");
            return Ok(());
        }
        let instance = ctx
            .instance_id()
            .context("no instance to image")?
            .to_string();
        let intermediary = cfg.ami.encrypt_boot == Some(true) || cfg.ami.skip_save_build_region;
        let name = if intermediary {
            let r: String = rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(7)
                .map(char::from)
                .collect();
            format!("packer-intermediary-{}", r.to_lowercase())
        } else {
            cfg.ami.ami_name.clone()
        };
        env.ui
            .say(&format!("Creating AMI {name} from instance {instance}"));
        let mut tags = ctx.id_tags(&name);
        // The current plugin puts run_tags on the AMI too, unless skip_ami_run_tags.
        if !cfg.ami_options.skip_ami_run_tags {
            for (k, v) in ctx.render_tags("run_tags", &cfg.run.run_tags, None)? {
                tags.retain(|(x, _)| *x != k);
                tags.push((k, v));
            }
        }
        let mut req = ctx
            .ec2()
            .create_image()
            .instance_id(&instance)
            .name(&name)
            // Snapshots get their tags in StepCreateTags (moto rejects snapshot tag specs here).
            .tag_specifications(BuildCtx::tag_spec(ResourceType::Image, &tags));
        if let Some(d) = &cfg.ami.ami_description {
            req = req.description(ctx.render("ami_description", d)?);
        }
        for b in &cfg.block_devices.ami_block_device_mappings {
            req = req.block_device_mappings(mapping(b));
        }
        let region = ctx.region.clone();
        // EC2 may still report the instance as stopping for a moment after the stop wait.
        let out = wait::retry_codes(
            &["IncorrectInstanceState"],
            timeouts::CREATE_IMAGE_RETRY,
            || {
                let req = req.clone();
                let (name, instance, region) = (&name, &instance, &region);
                async move {
                    req.send().await.aws_context(|| {
                        format!("creating AMI '{name}' from {instance} in {region}")
                    })
                }
            },
        )
        .await?;
        let id = out
            .image_id()
            .context("CreateImage returned no image id")?
            .to_string();
        env.ledger.created(ResourceKind::Image, &id, &region);
        ctx.images.push(Image {
            region: region.clone(),
            id: id.clone(),
            snapshots: Vec::new(),
            intermediary,
        });
        env.ui.message(&format!("AMI: {id}"));
        let wait = env.ui.wait("Waiting for AMI to become ready...");
        let snaps = wait_image(ctx, &region, &id, &env.cancel)
            .await
            .context("Error waiting for AMI")?;
        drop(wait);
        for s in &snaps {
            env.ledger.created(ResourceKind::Snapshot, s, &region);
        }
        if let Some(img) = ctx.images.iter_mut().find(|i| i.id == id) {
            img.snapshots = snaps;
        }
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        let Some(img) = ctx.images.first().cloned() else {
            return Ok(());
        };
        if outcome == Outcome::Success && !img.intermediary {
            return Ok(());
        }
        if img.intermediary && outcome == Outcome::Success {
            env.ui
                .say("Deregistering the intermediary AMI and deleting its snapshots...");
        } else {
            env.ui.say("Deregistering the AMI and deleting associated snapshots because of cancellation, or error...");
        }
        delete_image(ctx, env, &img).await?;
        ctx.images
            .retain(|i| i.id != img.id || i.region != img.region);
        Ok(())
    }
}
