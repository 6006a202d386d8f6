//! The two amazon-ebssurrogate steps after the shared amazon-ebs ones:
//! * [`SnapshotVolumes`] (Packer's StepSnapshotVolumes), after the stop: snapshots every launch
//!   volume that goes into the AMI, tagged in the CreateSnapshot call (`snapshot_tags` and the
//!   build id), each recorded before any wait; on failure or cancel they are deleted again;
//! * [`RegisterAmi`] (StepRegisterAMI): RegisterImage with the root device made from the
//!   `ami_root_device.source_device_name` snapshot and the other mappings ([`combine`]),
//!   recorded the instant the call returns, then waits until it is available. Cleanup as
//!   amazon-ebs's CreateImage step: on failure or cancel the AMI and its snapshots go, and an
//!   intermediary (encrypt_boot's copy path, `skip_save_build_region`) goes in every case.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use aws_sdk_ec2::types::{ArchitectureValues, BootModeValues, ResourceType, TpmSupportValues};
use rand::distributions::Alphanumeric;
use rand::Rng;

use super::config::{BootOptions, LaunchDevice, RootDevice};
use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::config::BlockDevice;
use crate::builders::amazon_ebs::context::{BootEncryption, BuildCtx};
use crate::builders::amazon_ebs::steps::run_instance::mapping;
use crate::builders::amazon_ebs::steps::{delete_image, image_ready, record_image, wait_snapshot};
use crate::engine::{Outcome, Step, StepEnv};

/// The snapshots of the launch volumes: (launch device name, snapshot id), shared by the two
/// steps (the snapshot step's cleanup deletes them, the register step maps them).
pub type Snapshots = Arc<Mutex<Vec<(String, String)>>>;

fn snapshots_of(s: &Snapshots) -> Vec<(String, String)> {
    s.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// The AMI's block device mappings, as Packer's `combineDevices` makes them: the
/// `ami_block_device_mappings`, then each launch device not omitted from the artifact (a device
/// of the same name replaces the AMI mapping) with its snapshot (and without its encryption
/// settings, which the snapshot carries); the `ami_root_device.source_device_name` device takes
/// the root's `device_name`. Packer's order is a Go map's; here it is the templates'.
pub fn combine(
    ami: &[BlockDevice],
    launch: &[LaunchDevice],
    root: &RootDevice,
    snapshots: &[(String, String)],
) -> Vec<BlockDevice> {
    let mut out: Vec<BlockDevice> = ami.to_vec();
    for l in launch.iter().filter(|l| !l.omit_from_artifact) {
        let mut b = l.device.clone();
        if let Some((_, snap)) = snapshots.iter().find(|(d, _)| *d == b.device_name) {
            b.snapshot_id = Some(snap.clone());
            b.encrypted = None;
            b.kms_key_id = None;
        }
        if b.device_name == root.source_device_name {
            b.device_name.clone_from(&root.device_name);
        }
        match out.iter_mut().find(|x| x.device_name == b.device_name) {
            Some(x) => *x = b,
            None => out.push(b),
        }
    }
    out
}

pub struct SnapshotVolumes {
    pub launch_devices: Arc<Vec<LaunchDevice>>,
    /// `snapshot_description`; `Packer: <time>` when unset, as in Packer.
    pub description: Option<String>,
    pub snapshots: Snapshots,
}

#[async_trait::async_trait]
impl Step<BuildCtx> for SnapshotVolumes {
    fn name(&self) -> &'static str {
        "StepSnapshotVolumes"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let ec2 = ctx.ec2();
        let region = ctx.region.clone();
        let attached = crate::builders::amazon_ebs::steps::attached_volumes(ctx).await?;
        let cfg = ctx.cfg.clone();
        env.ui.say("Creating snapshot tags");
        let tags = ctx.render_tags("snapshot_tags", &cfg.ami.snapshot_tags, None)?;
        for (k, v) in tags
            .iter()
            .filter(|(k, _)| k != crate::ledger::BUILD_ID_TAG)
        {
            env.ui.message(&format!("Adding tag: \"{k}\": \"{v}\""));
        }
        let mut made = Vec::new();
        for l in self.launch_devices.iter().filter(|l| l.snapshotted()) {
            let device = &l.device.device_name;
            let vol = attached
                .iter()
                .find(|(d, _)| d == device)
                .map(|(_, v)| v.clone())
                .with_context(|| format!("Volume ID for device {device} not found"))?;
            env.ui
                .say(&format!("Creating snapshot of EBS Volume {vol}..."));
            let out = ec2
                .create_snapshot()
                .volume_id(&vol)
                .description(match &self.description {
                    Some(d) => d.clone(),
                    None => format!("Packer: {}", chrono::Utc::now()),
                })
                .tag_specifications(BuildCtx::tag_spec(ResourceType::Snapshot, &tags))
                .send()
                .await
                .aws_context(|| format!("creating a snapshot of volume {vol} ({device})"))?;
            let snap = out
                .snapshot_id()
                .context("CreateSnapshot returned no snapshot id")?
                .to_string();
            // Recorded before any wait: a kill from here on still finds it.
            env.ledger.created(ResourceKind::Snapshot, &snap, &region);
            self.snapshots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((device.clone(), snap.clone()));
            made.push(snap);
        }
        // The snapshots progress in parallel on EC2's side; waiting on them in turn costs
        // nothing more than the slowest.
        for snap in &made {
            let _wait = env.ui.wait(&format!("Waiting for snapshot {snap}..."));
            wait_snapshot(ctx, env, snap)
                .await
                .with_context(|| format!("Error waiting for snapshot {snap} to complete"))?;
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
        let snaps = std::mem::take(
            &mut *self
                .snapshots
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if snaps.is_empty() {
            return Ok(());
        }
        env.ui
            .say("Removing snapshots since we cancelled or halted...");
        let ec2 = ctx.ec2();
        let mut errors = Vec::new();
        for (_, snap) in snaps {
            match delete::delete_snapshot(&ec2, &ctx.region, &snap).await {
                Ok(()) => env
                    .ledger
                    .deleted(ResourceKind::Snapshot, &snap, &ctx.region),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}

pub struct RegisterAmi {
    pub launch_devices: Arc<Vec<LaunchDevice>>,
    pub root_device: RootDevice,
    pub architecture: String,
    /// Sent when set.
    pub boot: BootOptions,
    pub snapshots: Snapshots,
}

#[async_trait::async_trait]
impl Step<BuildCtx> for RegisterAmi {
    fn name(&self) -> &'static str {
        "StepRegisterAMI"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        env.ui.say("Registering the AMI...");
        let ours = snapshots_of(&self.snapshots);
        let devices = combine(
            &cfg.block_devices.ami_block_device_mappings,
            &self.launch_devices,
            &self.root_device,
            &ours,
        );
        // encrypt_boot's copy path registers an intermediary the copy step encrypts; on the
        // launch path the snapshots are encrypted already and this is the final AMI.
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
        let virtualization = cfg
            .ami
            .ami_virtualization_type
            .clone()
            .context("ami_virtualization_type is required.")?;
        let mut req = ctx
            .ec2()
            .register_image()
            .name(&name)
            .architecture(ArchitectureValues::from(self.architecture.as_str()))
            .root_device_name(&self.root_device.device_name)
            .virtualization_type(virtualization)
            .set_block_device_mappings(Some(devices.iter().map(mapping).collect()))
            .tag_specifications(BuildCtx::tag_spec(ResourceType::Image, &ctx.id_tags(&name)));
        // The description goes with the registration, as amazon-ebs's CreateImage does.
        if let Some(d) = &cfg.ami.ami_description {
            req = req.description(ctx.render("ami_description", d)?);
        }
        if cfg.ami.sriov_support {
            req = req.sriov_net_support("simple");
        }
        if cfg.ami.ena_support == Some(true) {
            req = req.ena_support(true);
        }
        let BootOptions {
            boot_mode,
            uefi_data,
            tpm_support,
        } = &self.boot;
        if let Some(m) = boot_mode {
            req = req.boot_mode(BootModeValues::from(m.as_str()));
        }
        if let Some(u) = uefi_data {
            req = req.uefi_data(u);
        }
        if let Some(t) = tpm_support {
            req = req.tpm_support(TpmSupportValues::from(t.as_str()));
        }
        let region = ctx.region.clone();
        let out = req
            .send()
            .await
            .aws_context(|| format!("Error registering AMI '{name}' in {region}"))?;
        let id = out
            .image_id()
            .context("RegisterImage returned no image id")?
            .to_string();
        record_image(ctx, env, &region, &id, intermediary);
        env.ui.say(&format!("AMI: {id}"));
        let described = image_ready(ctx, env, &region, &id).await?;
        let snaps = image_snapshots(
            &ours,
            &described,
            &cfg.block_devices.ami_block_device_mappings,
        );
        // The build's own snapshots are in the ledger already; an EC2 stand-in may list more.
        for s in snaps.iter().filter(|s| !ours.iter().any(|(_, o)| o == *s)) {
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
        if outcome == Outcome::Success {
            env.ui
                .say("Deregistering the intermediary AMI and deleting its snapshots...");
        } else {
            env.ui
                .say("Deregistering the AMI because cancellation or error...");
        }
        delete_image(ctx, env, &img).await?;
        ctx.images
            .retain(|i| i.id != img.id || i.region != img.region);
        Ok(())
    }
}

/// The snapshots that belong to the registered AMI: the build's own (also when an EC2 stand-in
/// does not report them) and those DescribeImages lists, except a `snapshot_id` the template's
/// `ami_block_device_mappings` names (the user's, never deleted with the AMI).
fn image_snapshots(
    ours: &[(String, String)],
    described: &[String],
    ami_mappings: &[BlockDevice],
) -> Vec<String> {
    let mut out: Vec<String> = ours.iter().map(|(_, s)| s.clone()).collect();
    for s in described {
        let users = ami_mappings
            .iter()
            .any(|b| b.snapshot_id.as_deref() == Some(s.as_str()));
        if !users && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str) -> BlockDevice {
        BlockDevice {
            device_name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_root_comes_from_the_source_devices_snapshot() {
        let ami = vec![
            BlockDevice {
                virtual_name: Some("ephemeral0".into()),
                ..dev("/dev/sdb")
            },
            BlockDevice {
                volume_size: Some(99),
                ..dev("/dev/xvdg")
            },
        ];
        let launch = vec![
            LaunchDevice {
                device: BlockDevice {
                    volume_size: Some(8),
                    volume_type: Some("gp3".into()),
                    encrypted: Some(true),
                    kms_key_id: Some("alias/k".into()),
                    delete_on_termination: true,
                    ..dev("/dev/xvdf")
                },
                omit_from_artifact: false,
            },
            LaunchDevice {
                device: BlockDevice {
                    volume_size: Some(2),
                    ..dev("/dev/xvdg")
                },
                omit_from_artifact: false,
            },
            LaunchDevice {
                device: dev("/dev/xvdh"),
                omit_from_artifact: true,
            },
        ];
        let root = RootDevice {
            source_device_name: "/dev/xvdf".into(),
            device_name: "/dev/xvda".into(),
            volume_size: 16,
            ..Default::default()
        };
        let snaps = vec![
            ("/dev/xvdg".to_string(), "snap-g".to_string()),
            ("/dev/xvdf".to_string(), "snap-f".to_string()),
        ];
        let got = combine(&ami, &launch, &root, &snaps);
        let want = vec![
            ami[0].clone(),
            BlockDevice {
                volume_size: Some(2),
                snapshot_id: Some("snap-g".into()),
                ..dev("/dev/xvdg")
            },
            // The launch device's settings under the root's name (Packer 1.6.6 takes nothing
            // else from ami_root_device), encryption left to the snapshot.
            BlockDevice {
                volume_size: Some(8),
                volume_type: Some("gp3".into()),
                delete_on_termination: true,
                snapshot_id: Some("snap-f".into()),
                ..dev("/dev/xvda")
            },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_amis_snapshots_are_ours_and_the_described_ones_but_never_the_users() {
        let ours = vec![("/dev/xvdf".to_string(), "snap-1".to_string())];
        let described = vec![
            "snap-1".to_string(),
            "snap-user".to_string(),
            "snap-2".to_string(),
        ];
        let ami = vec![BlockDevice {
            snapshot_id: Some("snap-user".into()),
            ..dev("/dev/xvdz")
        }];
        assert_eq!(
            image_snapshots(&ours, &described, &ami),
            ["snap-1", "snap-2"]
        );
    }
}
