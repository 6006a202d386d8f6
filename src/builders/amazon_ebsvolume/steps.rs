//! The two amazon-ebsvolume steps around the shared amazon-ebs ones:
//! * [`TagVolumes`] (Packer's stepTagEBSVolumes), right after the launch: finds the instance's
//!   volumes, records those the build keeps in the ledger, replaces the `run_volume_tags` with
//!   each entry's `tags` (the `rpack:build-id` tag stays);
//! * [`SnapshotVolumes`] (the current plugin's stepSnapshotEBSVolumes), after the stop:
//!   snapshots the entries with `snapshot_volume`, tagged in the CreateSnapshot call, shares
//!   them, and deletes them again when the build does not succeed.

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_ec2::types::{
    CreateVolumePermission, CreateVolumePermissionModifications, PermissionGroup, ResourceType,
};

use super::config::EbsVolume;
use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::{ec2_tags, BuildCtx, BUILD_ID_TAG};
use crate::builders::amazon_ebs::steps::wait_snapshot;
use crate::engine::{Outcome, Step, StepEnv};

pub struct TagVolumes {
    pub volumes: Arc<Vec<EbsVolume>>,
}

#[async_trait::async_trait]
impl Step<BuildCtx> for TagVolumes {
    fn name(&self) -> &'static str {
        "stepTagEBSVolumes"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let id = ctx.instance_id().context("no instance")?.to_string();
        let ec2 = ctx.ec2();
        let region = ctx.region.clone();
        let attached = crate::builders::amazon_ebs::steps::attached_volumes(ctx).await?;
        ctx.kept.attached.clone_from(&attached);
        let volume_of = |device: &str| {
            attached
                .iter()
                .find(|(d, _)| d == device)
                .map(|(_, v)| v.clone())
        };
        for v in self.volumes.iter().filter(|v| v.kept()) {
            let Some(vol) = volume_of(&v.device.device_name) else {
                continue;
            };
            env.ledger.created(ResourceKind::Volume, &vol, &region);
            ctx.kept.volumes.push(vol);
        }
        if self.volumes.is_empty() {
            return Ok(());
        }
        let run_volume_tags = &ctx.cfg.block_devices.run_volume_tags;
        if !run_volume_tags.is_empty() {
            env.ui.say(
                "Removing any tags applied to EBS volumes when the source instance was created...",
            );
            env.ui
                .message("Compiling list of existing tags to remove...");
            let mut remove = ctx.render_tags("run_volume_tags", run_volume_tags, None)?;
            remove.retain(|(k, _)| k != BUILD_ID_TAG);
            let ids: Vec<String> = self
                .volumes
                .iter()
                .filter_map(|v| volume_of(&v.device.device_name))
                .collect();
            if !ids.is_empty() {
                env.ui.message(&format!(
                    "Deleting 'run_volume_tags' on EBS Volumes: {}",
                    ids.join(", ")
                ));
                ec2.delete_tags()
                    .set_resources(Some(ids.clone()))
                    .set_tags(Some(ec2_tags(&remove)))
                    .send()
                    .await
                    .aws_context(|| {
                        format!("Error deleting tags on EBS Volumes {}", ids.join(", "))
                    })?;
            }
        }
        env.ui.say("Tagging EBS volumes...");
        for v in self.volumes.iter() {
            let device = &v.device.device_name;
            if v.tags.is_empty() {
                env.ui
                    .say(&format!("No tags specified for volume on {device}..."));
                continue;
            }
            env.ui.message(&format!(
                "Compiling list of tags to apply to volume on {device}..."
            ));
            let tags = ctx
                .render_tags("tags", &v.tags, None)
                .with_context(|| format!("Error generating tags for device {device}"))?;
            let Some(vol) = volume_of(device) else {
                continue;
            };
            env.ui
                .message(&format!("Applying tags to EBS Volume: {vol}"));
            ec2.create_tags()
                .resources(&vol)
                .set_tags(Some(ec2_tags(&tags)))
                .send()
                .await
                .aws_context(|| format!("Error tagging EBS Volume {vol} on {id}"))?;
        }
        Ok(())
    }
}

pub struct SnapshotVolumes {
    pub volumes: Arc<Vec<EbsVolume>>,
}

#[async_trait::async_trait]
impl Step<BuildCtx> for SnapshotVolumes {
    fn name(&self) -> &'static str {
        "stepSnapshotEBSVolumes"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let ec2 = ctx.ec2();
        let region = ctx.region.clone();
        let mut made: Vec<(String, &EbsVolume)> = Vec::new();
        for v in self.volumes.iter().filter(|v| v.snapshot_volume) {
            let device = &v.device.device_name;
            let Some(vol) = ctx
                .kept
                .attached
                .iter()
                .find(|(d, _)| d == device)
                .map(|(_, id)| id.clone())
            else {
                continue;
            };
            env.ui.message(&format!(
                "Compiling list of tags to apply to snapshot from Volume {device}..."
            ));
            let tags = ctx
                .render_tags("snapshot_tags", &v.snapshot_tags, None)
                .with_context(|| format!("Error generating tags for snapshot {device}"))?;
            let description = match &v.snapshot_description {
                Some(d) => ctx.render("snapshot_description", d)?,
                None => format!("Packer: {}", chrono::Utc::now()),
            };
            env.ui
                .say(&format!("Requesting snapshot of volume: {vol}..."));
            let out = ec2
                .create_snapshot()
                .volume_id(&vol)
                .description(description)
                .tag_specifications(BuildCtx::tag_spec(ResourceType::Snapshot, &tags))
                .send()
                .await
                .aws_context(|| format!("Error generating snapshot for volume {vol}"))?;
            let snap = out
                .snapshot_id()
                .context("CreateSnapshot returned no snapshot id")?
                .to_string();
            // Recorded before any wait: a kill from here on still finds it.
            env.ledger.created(ResourceKind::Snapshot, &snap, &region);
            ctx.kept.snapshots.push(snap.clone());
            env.ui
                .say(&format!("Requested Snapshot of Volume {vol}: {snap}"));
            made.push((snap, v));
        }
        if made.is_empty() {
            return Ok(());
        }
        env.ui.say("Waiting for Snapshots to become ready...");
        for (snap, _) in &made {
            env.ui.say(&format!("Waiting for {snap} to be ready."));
            wait_snapshot(ctx, env, snap)
                .await
                .context("Error waiting for snapshot to become ready")?;
            env.ui.say(&format!("Snapshot Ready: {snap}"));
        }
        env.ui
            .say("Setting User/Group Permissions for Snapshots...");
        for (snap, v) in &made {
            let mut adds: Vec<CreateVolumePermission> = Vec::new();
            for g in &v.snapshot_groups {
                adds.push(
                    CreateVolumePermission::builder()
                        .group(PermissionGroup::from(g.as_str()))
                        .build(),
                );
            }
            for u in &v.snapshot_users {
                adds.push(CreateVolumePermission::builder().user_id(u).build());
            }
            if adds.is_empty() {
                continue;
            }
            ec2.modify_snapshot_attribute()
                .snapshot_id(snap)
                .create_volume_permission(
                    CreateVolumePermissionModifications::builder()
                        .set_add(Some(adds))
                        .build(),
                )
                .send()
                .await
                .aws_context(|| format!("sharing snapshot {snap} in {region}"))?;
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
        let ec2 = ctx.ec2();
        for snap in std::mem::take(&mut ctx.kept.snapshots) {
            env.ui.say(&format!("Deleting snapshot {snap}..."));
            delete::delete_snapshot(&ec2, &ctx.region, &snap).await?;
            env.ledger
                .deleted(ResourceKind::Snapshot, &snap, &ctx.region);
        }
        Ok(())
    }
}
