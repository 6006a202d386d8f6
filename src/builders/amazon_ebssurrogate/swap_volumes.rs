//! StepSwapVolumes (`use_create_image`, the current plugin's): on the stopped instance, the
//! volumes omitted from the artifact and the original root are detached (each detach waited
//! for), the `ami_root_device.source_device_name` volume is attached as
//! `ami_root_device.device_name` with its delete-on-termination setting restored (a detach and
//! re-attach loses it), and the step waits until it is attached. amazon-ebs's CreateImage step
//! then images the instance with [`create_image_devices`].
//!
//! Cleanup, in every case as in the plugin: the volumes that were to be deleted with the
//! instance and are no longer attached to it are deleted (detached, the termination would not
//! take them).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_ec2::types::{
    EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification,
    VolumeAttachmentState, VolumeState,
};

use super::config::{LaunchDevice, RootDevice};
use super::steps::combine;
use crate::aws::delete;
use crate::aws::error::AwsResultExt;
use crate::aws::wait::{self, Check};
use crate::builders::amazon_ebs::config::BlockDevice;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::builders::amazon_ebs::steps::instance_volumes;
use crate::engine::{Outcome, Step, StepEnv};

/// How long a detach or an attach may take (EC2's volume waiters give up after 10 minutes).
const VOLUME_ATTACHMENT: Duration = Duration::from_secs(10 * 60);

/// CreateImage's block device mappings for `use_create_image`, as the plugin's
/// `combineDevices`: the AMI mappings, then the launch devices not omitted from the artifact
/// (without `kms_key_id`, which CreateImage does not take; the volume keeps its encryption),
/// the root source device renamed to the root's `device_name`.
pub fn create_image_devices(
    ami: &[BlockDevice],
    launch: &[LaunchDevice],
    root: &RootDevice,
) -> Vec<BlockDevice> {
    let launch: Vec<LaunchDevice> = launch
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.device.kms_key_id = None;
            l
        })
        .collect();
    combine(ami, &launch, root, &[])
}

pub struct SwapVolumes {
    pub launch_devices: Arc<Vec<LaunchDevice>>,
    pub root_device: RootDevice,
    /// The instance's volumes before the swap with their delete-on-termination flags (for the
    /// cleanup).
    pub volumes: Arc<Mutex<Vec<(String, bool)>>>,
}

/// Waits until volume `id` is detached (`available`) or, with `attached`, attached.
async fn wait_volume(
    ctx: &BuildCtx,
    env: &StepEnv,
    id: &str,
    attached: bool,
) -> anyhow::Result<()> {
    let (ec2, region) = (ctx.ec2(), ctx.region.clone());
    let policy = ctx.polling.transition(VOLUME_ATTACHMENT);
    let what = format!(
        "volume {id} to become {} in {region}",
        if attached { "attached" } else { "detached" }
    );
    wait::wait_for(&what, &policy, &env.cancel, || {
        let (ec2, region) = (ec2.clone(), region.clone());
        async move {
            let out = ec2
                .describe_volumes()
                .volume_ids(id)
                .send()
                .await
                .aws_context(|| format!("describing volume {id} in {region}"))?;
            let Some(v) = out.volumes().first() else {
                return Ok(Check::Pending("not visible".into()));
            };
            let attachment = v
                .attachments()
                .first()
                .and_then(|a| a.state())
                .map(VolumeAttachmentState::as_str);
            let done = if attached {
                attachment == Some("attached")
            } else {
                v.state() == Some(&VolumeState::Available)
            };
            Ok(if done {
                Check::Done(())
            } else {
                Check::Pending(attachment.unwrap_or("detached").to_string())
            })
        }
    })
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Step<BuildCtx> for SwapVolumes {
    fn name(&self) -> &'static str {
        "StepSwapVolumes"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let instance = ctx
            .instance_id()
            .context("no instance to swap volumes on")?
            .to_string();
        let volumes = instance_volumes(ctx).await?;
        *self.volumes.lock().unwrap_or_else(PoisonError::into_inner) = volumes
            .iter()
            .map(|(_, v, del)| (v.clone(), *del))
            .collect();
        let root = &self.root_device;
        let omitted = |device: &str| {
            self.launch_devices
                .iter()
                .any(|l| l.omit_from_artifact && l.device.device_name == device)
        };
        for (device, volume, _) in &volumes {
            let what = if omitted(device) {
                "Omitted"
            } else if *device == root.device_name
                || *device == root.source_device_name
                || device == "/dev/sda1"
            {
                "Root"
            } else {
                env.ui.say(&format!(
                    "Skip Detach of EBS Device Name: {device}, Volume ID: {volume}"
                ));
                continue;
            };
            env.ui.say(&format!(
                "Detaching {what} EBS Device Name: {device}, Volume ID: {volume}"
            ));
            ctx.ec2()
                .detach_volume()
                .volume_id(volume)
                .instance_id(&instance)
                .device(device)
                .send()
                .await
                .aws_context(|| format!("error detaching volume {volume} ({device})"))?;
            wait_volume(ctx, env, volume, false)
                .await
                .with_context(|| format!("error detaching volume {volume}"))?;
        }
        let (new_root, delete_on_termination) = volumes
            .iter()
            .find(|(d, _, _)| *d == root.source_device_name)
            .map(|(_, v, del)| (v.clone(), *del))
            .with_context(|| {
                format!(
                    "the instance has no volume at {} (ami_root_device.source_device_name)",
                    root.source_device_name
                )
            })?;
        env.ui.say(&format!(
            "Attaching Root EBS Device Name {}, Volume ID: {new_root}",
            root.device_name
        ));
        ctx.ec2()
            .attach_volume()
            .instance_id(&instance)
            .volume_id(&new_root)
            .device(&root.device_name)
            .send()
            .await
            .aws_context(|| format!("error attaching volume {new_root}"))?;
        // A detach and re-attach loses the mapping's DeleteOnTermination: restore it.
        ctx.ec2()
            .modify_instance_attribute()
            .instance_id(&instance)
            .block_device_mappings(
                InstanceBlockDeviceMappingSpecification::builder()
                    .device_name(&root.device_name)
                    .ebs(
                        EbsInstanceBlockDeviceSpecification::builder()
                            .delete_on_termination(delete_on_termination)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .aws_context(|| {
                "error setting the delete_on_termination attribute block device mapping".to_string()
            })?;
        wait_volume(ctx, env, &new_root, true)
            .await
            .with_context(|| format!("error waiting for volume {new_root}"))?;
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        let before =
            std::mem::take(&mut *self.volumes.lock().unwrap_or_else(PoisonError::into_inner));
        if ctx.instance_id().is_none() || before.iter().all(|(_, del)| !del) {
            return Ok(());
        }
        env.ui
            .say("Cleaning up any detached volumes with delete_on_termination set to true...");
        let attached: Vec<String> = instance_volumes(ctx)
            .await?
            .into_iter()
            .map(|(_, v, _)| v)
            .collect();
        let ec2 = ctx.ec2();
        for (volume, _) in before
            .iter()
            .filter(|(v, del)| *del && !attached.contains(v))
        {
            env.ui.say(&format!("Deleting EBS Volume ID: {volume}"));
            delete::delete_volume(&ec2, &ctx.region, volume).await?;
            env.ui.say(&format!("Deleted EBS Volume ID: {volume}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_image_devices_rename_the_root_drop_kms_keys_and_omitted_devices() {
        let dev = |name: &str, omit: bool| LaunchDevice {
            device: BlockDevice {
                device_name: name.into(),
                encrypted: Some(true),
                kms_key_id: Some("alias/k".into()),
                ..Default::default()
            },
            omit_from_artifact: omit,
        };
        let ami = [BlockDevice {
            device_name: "/dev/sdb".into(),
            virtual_name: Some("ephemeral0".into()),
            ..Default::default()
        }];
        let root = RootDevice {
            source_device_name: "/dev/xvdf".into(),
            device_name: "/dev/xvda".into(),
            ..Default::default()
        };
        let out = create_image_devices(
            &ami,
            &[
                dev("/dev/xvdf", false),
                dev("/dev/xvdg", false),
                dev("/dev/xvdh", true),
            ],
            &root,
        );
        let names: Vec<&str> = out.iter().map(|b| b.device_name.as_str()).collect();
        assert_eq!(names, ["/dev/sdb", "/dev/xvda", "/dev/xvdg"]);
        for b in &out[1..] {
            assert_eq!(b.encrypted, Some(true), "{b:?}");
            assert_eq!(b.kms_key_id, None, "{b:?}");
        }
    }
}
