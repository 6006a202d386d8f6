//! The amazon-ebs steps, one file per step in Packer's order (see `../mod.rs` for the list),
//! plus the waits and deletions several of them share.

pub mod ami_attributes;
pub mod cleanup_volumes;
pub mod connect;
pub(crate) mod console;
pub mod copy_ami;
pub mod create_ami;
pub mod create_tags;
pub mod deregister_ami;
pub mod deregistration_protection;
pub(crate) mod encrypt_boot;
pub mod fast_launch;
pub mod iam_instance_profile;
pub mod key_pair;
pub mod launch_options;
pub mod modify_instance;
pub mod network;
pub mod pre_validate;
pub mod provision;
pub mod run_instance;
pub mod run_spot_instance;
pub mod security_group;
pub mod source_ami;
pub mod stop_instance;

use std::time::Duration;

use anyhow::Context as _;

use aws_sdk_ec2::types::{InstanceStateName, SnapshotState};

use crate::aws::delete;
use crate::aws::error::AwsResultExt;
use crate::aws::wait::{self, Check, WaitError};
use crate::aws::ResourceKind;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::{BuildCtx, Image, Instance};
use crate::engine::StepEnv;

/// Waits until instance `id` is in `target`; returns its description.
pub(crate) async fn wait_instance(
    ctx: &BuildCtx,
    env: &StepEnv,
    id: &str,
    target: InstanceStateName,
    timeout: Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Instance, WaitError> {
    let ec2 = ctx.ec2();
    let region = ctx.region.clone();
    let policy = ctx.polling.transition(timeout);
    let what = format!("instance {id} to become {} in {region}", target.as_str());
    let _ = env;
    wait::wait_for(&what, &policy, cancel, || {
        let ec2 = ec2.clone();
        let region = region.clone();
        let target = target.clone();
        async move {
            let out = ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .aws_context(|| format!("describing instance {id} in {region}"))?;
            let Some(inst) = out
                .reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .next()
            else {
                return Ok(Check::Pending("not visible yet".into()));
            };
            let state = inst
                .state()
                .and_then(|s| s.name())
                .cloned()
                .unwrap_or(InstanceStateName::Pending);
            if state == target {
                return Ok(Check::Done(Instance {
                    id: id.to_string(),
                    public_ip: inst.public_ip_address().map(str::to_string),
                    private_ip: inst.private_ip_address().map(str::to_string),
                    public_dns: inst
                        .public_dns_name()
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    private_dns: inst
                        .private_dns_name()
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    ipv6: inst.ipv6_address().map(str::to_string),
                    terminated: target == InstanceStateName::Terminated,
                }));
            }
            let dead = matches!(
                state,
                InstanceStateName::Terminated | InstanceStateName::ShuttingDown
            );
            if dead && target != InstanceStateName::Terminated {
                let reason = inst
                    .state_reason()
                    .and_then(|r| r.message())
                    .unwrap_or("")
                    .to_string();
                return Ok(Check::Failed(format!(
                    "the instance is {} ({reason})",
                    state.as_str()
                )));
            }
            Ok(Check::Pending(state.as_str().to_string()))
        }
    })
    .await
}

/// Takes a just-made AMI into the build: into the ledger first (a crash from here on leaves
/// it to `rpack cleanup`), then into the build's images (a failure from here on removes it).
pub(crate) fn record_image(
    ctx: &mut BuildCtx,
    env: &StepEnv,
    region: &str,
    id: &str,
    intermediary: bool,
) {
    env.ledger.created(ResourceKind::Image, id, region);
    ctx.images.push(Image {
        region: region.to_string(),
        id: id.to_string(),
        snapshots: Vec::new(),
        intermediary,
        protected: false,
        fast_launch: false,
    });
}

/// [`wait_image`] behind the "Waiting for AMI to become ready..." spinner.
pub(crate) async fn image_ready(
    ctx: &BuildCtx,
    env: &StepEnv,
    region: &str,
    id: &str,
) -> anyhow::Result<Vec<String>> {
    let wait = env.ui.wait("Waiting for AMI to become ready...");
    let snaps = wait_image(ctx, region, id, &env.cancel)
        .await
        .context("Error waiting for AMI")?;
    drop(wait);
    Ok(snaps)
}

/// Waits until an AMI is `available`; returns its snapshot ids.
pub(crate) async fn wait_image(
    ctx: &BuildCtx,
    region: &str,
    image_id: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Vec<String>, WaitError> {
    let policy = ctx.polling.transition(timeouts::IMAGE_AVAILABLE);
    wait_image_owned(
        ctx.aws.ec2(region),
        policy,
        region.to_string(),
        image_id.to_string(),
        cancel.clone(),
    )
    .await
}

/// [`wait_image`] with owned arguments, for parallel waits on spawned tasks.
pub(crate) async fn wait_image_owned(
    ec2: aws_sdk_ec2::Client,
    policy: wait::PollPolicy,
    region: String,
    image_id: String,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Vec<String>, WaitError> {
    let what = format!("AMI {image_id} to become available in {region}");
    let (region, image_id) = (&region, &image_id);
    wait::wait_for(&what, &policy, &cancel, || {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_images()
                .image_ids(image_id)
                .send()
                .await
                .aws_context(|| format!("describing AMI {image_id} in {region}"))?;
            let Some(img) = out.images().first() else {
                return Ok(Check::Pending("not visible yet".into()));
            };
            let state = img
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            match state.as_str() {
                "available" => Ok(Check::Done(snapshots_of(img))),
                "failed" | "invalid" | "deregistered" | "error" => {
                    let reason = img
                        .state_reason()
                        .and_then(|r| r.message())
                        .unwrap_or("")
                        .to_string();
                    Ok(Check::Failed(format!("the AMI is {state}: {reason}")))
                }
                _ => Ok(Check::Pending(state)),
            }
        }
    })
    .await
}

pub(crate) fn snapshots_of(img: &aws_sdk_ec2::types::Image) -> Vec<String> {
    img.block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
        .map(str::to_string)
        .collect()
}

/// Deregisters `image` and deletes its snapshots (looking them up if not known yet), recording
/// each deletion in the ledger as it happens.
pub(crate) async fn delete_image(
    ctx: &BuildCtx,
    env: &StepEnv,
    image: &Image,
) -> anyhow::Result<()> {
    let ec2 = ctx.aws.ec2(&image.region);
    let region = &image.region;
    delete::delete_image(
        &ec2,
        region,
        &image.id,
        &image.snapshots,
        image.protected,
        |kind, id| {
            env.ledger.deleted(kind, id, region);
        },
    )
    .await?;
    Ok(())
}

/// The build instance's attached EBS volumes, as (device name, volume id), from one
/// DescribeInstances (amazon-ebsvolume tags them, amazon-ebssurrogate snapshots them).
pub(crate) async fn attached_volumes(ctx: &BuildCtx) -> anyhow::Result<Vec<(String, String)>> {
    Ok(instance_volumes(ctx)
        .await?
        .into_iter()
        .map(|(device, volume, _)| (device, volume))
        .collect())
}

/// [`attached_volumes`] with each mapping's DeleteOnTermination, as (device name, volume id,
/// delete on termination) (amazon-ebssurrogate's volume swap restores and cleans up by it).
pub(crate) async fn instance_volumes(
    ctx: &BuildCtx,
) -> anyhow::Result<Vec<(String, String, bool)>> {
    use anyhow::Context as _;
    let id = ctx.instance_id().context("no instance")?.to_string();
    let region = ctx.region.clone();
    let out = ctx
        .ec2()
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .aws_context(|| format!("describing instance {id} in {region}"))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .flat_map(aws_sdk_ec2::types::Instance::block_device_mappings)
        .filter_map(|m| {
            let ebs = m.ebs()?;
            Some((
                m.device_name()?.to_string(),
                ebs.volume_id()?.to_string(),
                ebs.delete_on_termination().unwrap_or(false),
            ))
        })
        .collect())
}

/// Waits until snapshot `id` is completed (a snapshot in `error` fails the wait).
pub(crate) async fn wait_snapshot(ctx: &BuildCtx, env: &StepEnv, id: &str) -> anyhow::Result<()> {
    let ec2 = ctx.ec2();
    let region = ctx.region.clone();
    let policy = ctx.polling.transition(timeouts::SNAPSHOT_COMPLETED);
    let what = format!("snapshot {id} to complete in {region}");
    wait::wait_for(&what, &policy, &env.cancel, || {
        let ec2 = ec2.clone();
        let region = region.clone();
        async move {
            let out = ec2
                .describe_snapshots()
                .snapshot_ids(id)
                .send()
                .await
                .aws_context(|| format!("describing snapshot {id} in {region}"))?;
            let Some(s) = out.snapshots().first() else {
                return Ok(Check::Pending("not visible yet".into()));
            };
            Ok(match s.state() {
                Some(SnapshotState::Completed) => Check::Done(()),
                Some(SnapshotState::Error) => Check::Failed(format!(
                    "snapshot {id} failed: {}",
                    s.state_message().unwrap_or("no reason given")
                )),
                other => Check::Pending(other.map_or("unknown", |s| s.as_str()).to_string()),
            })
        }
    })
    .await?;
    Ok(())
}
