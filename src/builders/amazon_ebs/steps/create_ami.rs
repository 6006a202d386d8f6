//! stepCreateAMI: CreateImage from the stopped instance (tagged with the build id and, unless
//! `skip_ami_run_tags`, `run_tags` at creation, its snapshots too; see [`tag_specs`]), recorded
//! the instant the call returns, then waits until it is available. With `encrypt_boot` on the
//! launch path (`encrypt_boot.rs`) the instance's volumes are encrypted and this is the final
//! AMI; on the copy path it is the unencrypted intermediary the copy step re-encrypts.
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
use crate::builders::amazon_ebs::context::{BootEncryption, BuildCtx};
use crate::builders::amazon_ebs::steps::{
    delete_image, image_ready, record_image, run_instance::mapping,
};
use crate::engine::{Outcome, Step, StepEnv};

/// `mappings`: CreateImage's block device mappings; `None` = `ami_block_device_mappings`
/// (amazon-ebs). amazon-ebssurrogate's `use_create_image` passes its combined devices.
#[derive(Default)]
pub struct CreateAmi {
    pub mappings: Option<Vec<crate::builders::amazon_ebs::config::BlockDevice>>,
}

/// CreateImage's TagSpecifications: the image gets `id_tags` (Name, build id) with `run_tags`
/// over them; with `snapshots` (the template has `run_tags` and no `skip_ami_run_tags`) its
/// snapshots get the same tags in the same call, as the current plugin does. Without run_tags
/// the snapshots get the build-id tag from StepCreateTags (the snapshot resource type in
/// CreateImage is what some EC2 stand-ins, moto among them, do not implement).
pub(crate) fn tag_specs(
    id_tags: Vec<(String, String)>,
    run_tags: &[(String, String)],
    snapshots: bool,
) -> Vec<aws_sdk_ec2::types::TagSpecification> {
    let tags = image_tags(id_tags, run_tags);
    let mut specs = vec![BuildCtx::tag_spec(ResourceType::Image, &tags)];
    if snapshots {
        specs.push(BuildCtx::tag_spec(ResourceType::Snapshot, &tags));
    }
    specs
}

/// The AMI's tags: `id_tags` with `run_tags` over them.
fn image_tags(
    id_tags: Vec<(String, String)>,
    run_tags: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = id_tags;
    for (k, v) in run_tags {
        tags.retain(|(x, _)| x != k);
        tags.push((k.clone(), v.clone()));
    }
    tags
}

/// Whether a failed CreateImage that carried snapshot TagSpecifications looks like an EC2
/// stand-in that does not implement them (moto answers a bare 500): a server failure, never a
/// refusal of the request (access denied, invalid parameters), which is reported as it is.
fn lacks_snapshot_tags(e: &crate::aws::error::AwsError) -> bool {
    match e.code() {
        None => true,
        Some(c) => matches!(c, "InternalError" | "InternalFailure" | "NotImplemented"),
    }
}

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
        // encrypt_boot's copy path images into an intermediary; its launch path does not.
        let copy_encrypts = cfg.ami.encrypt_boot == Some(true)
            && !matches!(ctx.boot_encryption, BootEncryption::Launch { .. });
        let intermediary = copy_encrypts || cfg.ami.skip_save_build_region;
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
        let run_tags = if cfg.ami_options.skip_ami_run_tags {
            env.ui.say("Skipping attaching run tags to AMI...");
            Vec::new()
        } else {
            if !cfg.run.run_tags.is_empty() {
                env.ui.say("Attaching run tags to AMI...");
            }
            ctx.render_tags("run_tags", &cfg.run.run_tags, None)?
        };
        let has_run_tags = !cfg.ami_options.skip_ami_run_tags && !cfg.run.run_tags.is_empty();
        let mut req = ctx.ec2().create_image().instance_id(&instance).name(&name);
        if let Some(d) = &cfg.ami.ami_description {
            req = req.description(ctx.render("ami_description", d)?);
        }
        let mappings = self
            .mappings
            .as_ref()
            .unwrap_or(&cfg.block_devices.ami_block_device_mappings);
        for b in mappings {
            req = req.block_device_mappings(mapping(b));
        }
        let specs = tag_specs(ctx.id_tags(&name), &run_tags, has_run_tags);
        let region = ctx.region.clone();
        let what = format!("creating AMI '{name}' from {instance} in {region}");
        let send = |specs: &[aws_sdk_ec2::types::TagSpecification]| {
            let req = req.clone().set_tag_specifications(Some(specs.to_vec()));
            let what = &what;
            // EC2 may still report the instance as stopping for a moment after the stop wait.
            wait::retry_codes(
                &["IncorrectInstanceState"],
                timeouts::CREATE_IMAGE_RETRY,
                move || {
                    let req = req.clone();
                    async move { req.send().await.aws_context(|| what.clone()) }
                },
            )
        };
        // With snapshot tags the first call goes out once, without the SDK's retries: an
        // endpoint that cannot take them (moto answers HTTP 500) would otherwise be retried
        // with backoff for half a minute before the fallback below. Any other failure is sent
        // again through the normal, retried path.
        let first = if specs.len() > 1 {
            let once = req
                .clone()
                .set_tag_specifications(Some(specs.clone()))
                .customize()
                .config_override(
                    aws_sdk_ec2::config::Builder::default()
                        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled()),
                );
            once.send().await.aws_context(|| what.clone())
        } else {
            send(&specs).await
        };
        // The snapshots' run tags, when the endpoint took them only afterwards.
        let mut snapshot_tags_later = None;
        let out = match first {
            Ok(out) => out,
            Err(e) if specs.len() > 1 && !lacks_snapshot_tags(&e) => send(&specs).await?,
            Err(e) if specs.len() > 1 => {
                env.ui.say(&format!(
                    "The EC2 endpoint failed CreateImage with snapshot tags ({e}); creating the AMI without them and tagging its snapshots once it is ready"
                ));
                snapshot_tags_later = Some(image_tags(ctx.id_tags(&name), &run_tags));
                send(&specs[..1]).await?
            }
            Err(e) => return Err(e.into()),
        };
        let id = out
            .image_id()
            .context("CreateImage returned no image id")?
            .to_string();
        record_image(ctx, env, &region, &id, intermediary);
        env.ui.message(&format!("AMI: {id}"));
        let snaps = image_ready(ctx, env, &region, &id).await?;
        for s in &snaps {
            env.ledger.created(ResourceKind::Snapshot, s, &region);
        }
        if let Some(tags) = snapshot_tags_later.filter(|_| !snaps.is_empty()) {
            ctx.ec2()
                .create_tags()
                .set_resources(Some(snaps.clone()))
                .set_tags(Some(crate::builders::amazon_ebs::context::ec2_tags(&tags)))
                .send()
                .await
                .aws_context(|| format!("tagging the snapshots of AMI {id} in {region}"))?;
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

#[cfg(test)]
mod tests {
    use super::tag_specs;

    fn pairs(s: &aws_sdk_ec2::types::TagSpecification) -> Vec<(&str, &str)> {
        s.tags()
            .iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect()
    }

    #[test]
    fn run_tags_go_on_the_image_and_its_snapshots_in_the_create_call() {
        let id = vec![
            ("Name".into(), "ami-x".into()),
            ("rpack:build-id".into(), "b1".into()),
        ];
        let run = vec![
            ("Team".into(), "t".into()),
            ("rpack:build-id".into(), "b1".into()),
        ];
        let specs = tag_specs(id.clone(), &run, true);
        let types: Vec<&str> = specs
            .iter()
            .map(|s| s.resource_type().map_or("", |r| r.as_str()))
            .collect();
        assert_eq!(types, ["image", "snapshot"]);
        for s in &specs {
            assert_eq!(
                pairs(s),
                [("Name", "ami-x"), ("Team", "t"), ("rpack:build-id", "b1")]
            );
        }
        // skip_ami_run_tags / no run_tags: the image alone, with Name and the build id.
        let specs = tag_specs(id, &[], false);
        assert_eq!(specs.len(), 1);
        assert_eq!(
            pairs(&specs[0]),
            [("Name", "ami-x"), ("rpack:build-id", "b1")]
        );
    }
}
