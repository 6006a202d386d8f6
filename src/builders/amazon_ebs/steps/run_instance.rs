//! StepRunSourceInstance: RunInstances with tags on the instance and its volumes
//! (TagSpecifications), user data, block devices, IMDSv2 required by default, tenancy,
//! shutdown behaviour; then waits until running. Owns the instance: cleanup terminates it and
//! waits for termination (the security group cleanup depends on it). Spot builds use
//! `run_spot_instance` instead, which shares the termination and the wait defined here.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceMetadataTagsState,
    InstanceStateName, InstanceType, ResourceType, ShutdownBehavior, VolumeType,
};
use base64::Engine as _;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::aws::wait;
use crate::builders::amazon_ebs::config::{timeouts, BlockDevice, BlockDevices};
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::builders::amazon_ebs::steps::{encrypt_boot, wait_instance};
use crate::builders::common::host_key::plan_user_data;
use crate::communicator::config::CommType;
use crate::engine::{Outcome, Step, StepEnv};
use crate::ui::Ui;

pub struct RunInstance;

/// A template block device as the EC2 API wants it.
pub fn mapping(b: &BlockDevice) -> BlockDeviceMapping {
    let mut m = BlockDeviceMapping::builder().device_name(&b.device_name);
    if b.no_device {
        return m.no_device("").build();
    }
    if let Some(v) = &b.virtual_name {
        if v.starts_with("ephemeral") {
            return m.virtual_name(v).build();
        }
    }
    let mut e = EbsBlockDevice::builder().delete_on_termination(b.delete_on_termination);
    if let Some(t) = &b.volume_type {
        e = e.volume_type(VolumeType::from(t.as_str()));
    }
    if let Some(s) = b.volume_size {
        e = e.volume_size(s as i32);
    }
    if let Some(i) = b.iops {
        e = e.iops(i as i32);
    }
    if let Some(t) = b.throughput {
        e = e.throughput(t as i32);
    }
    if let Some(s) = &b.snapshot_id {
        e = e.snapshot_id(s);
    }
    if let Some(enc) = b.encrypted {
        e = e.encrypted(enc);
    }
    if let Some(k) = &b.kms_key_id {
        e = e.kms_key_id(k);
    }
    m = m.ebs(e.build());
    m.build()
}

/// With `no_ephemeral`, the instance-store device names (`/dev/xvdb`…`/dev/xvdy`) to map to no
/// device, except those the template maps itself.
pub(crate) fn suppressed_ephemeral_devices(bd: &BlockDevices) -> Vec<String> {
    if !bd.no_ephemeral {
        return Vec::new();
    }
    (0..24u8)
        .map(|i| format!("/dev/xvd{}", (b'b' + i) as char))
        .filter(|dev| {
            !bd.launch_block_device_mappings
                .iter()
                .any(|b| &b.device_name == dev)
        })
        .collect()
}

fn user_data(ctx: &BuildCtx) -> anyhow::Result<Option<String>> {
    let cfg = &ctx.cfg;
    let raw = match (&cfg.run.user_data, &cfg.run.user_data_file) {
        (Some(s), _) => s.clone().into_bytes(),
        (None, Some(f)) => {
            std::fs::read(f).with_context(|| format!("reading user_data_file {}", f.display()))?
        }
        _ => return Ok(None),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    // Packer passes already-encoded user data through unchanged.
    if let Ok(s) = std::str::from_utf8(&raw) {
        if b64.decode(s.trim()).is_ok() {
            return Ok(Some(s.trim().to_string()));
        }
    }
    Ok(Some(b64.encode(raw)))
}

#[async_trait::async_trait]
impl Step<BuildCtx> for RunInstance {
    fn name(&self) -> &'static str {
        "StepRunSourceInstance"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        env.ui.say("Launching a source AWS instance...");
        let user_data = launch_user_data(ctx, env.ui.as_ref())?;
        let devices = encrypt_boot::prepare(ctx, env.ui.as_ref())?;
        let token = format!("rpack-{}", ctx.build_id);
        let first = launch(ctx, env, &devices, user_data.clone(), &token).await;
        let Err(error) = first else { return Ok(()) };
        if !encrypt_boot::falls_back(ctx, &env.cancel, &error) {
            return Err(error);
        }
        // EC2 stopped the instance at launch (or refused it) over the volumes' key: remove what
        // was launched, then launch as Packer does and encrypt with the copy.
        if ctx.instance.is_some() {
            terminate(ctx, env).await?;
            ctx.instance = None;
        }
        let devices = encrypt_boot::fall_back(ctx, env.ui.as_ref(), &error);
        // Another client token: the first one belongs to the encrypted request.
        launch(ctx, env, &devices, user_data, &format!("{token}-copy")).await
    }

    fn cleanup_timeout(&self) -> Duration {
        // Room for the whole termination wait plus the terminate call itself.
        timeouts::INSTANCE_TERMINATED + timeouts::TERMINATE_CALLS
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        terminate(ctx, env).await
    }
}

/// One RunInstances with `devices` and `token`, recorded, then the wait until it runs.
async fn launch(
    ctx: &mut BuildCtx,
    env: &StepEnv,
    devices: &[BlockDevice],
    user_data: Option<String>,
    token: &str,
) -> anyhow::Result<()> {
    let cfg = ctx.cfg.clone();
    let source = ctx.source.clone().context("no source AMI resolved")?;
    let instance_type = cfg.run.instance_type.clone().unwrap_or_default();
    let run_tags = ctx.render_tags("run_tags", &cfg.run.run_tags, Some("Packer Builder"))?;
    let volume_tags =
        ctx.render_tags("run_volume_tags", &cfg.block_devices.run_volume_tags, None)?;
    let md = &cfg.run.metadata_options;
    let mut metadata = InstanceMetadataOptionsRequest::builder()
        // IMDSv2 only, unless the template says otherwise.
        .http_tokens(HttpTokensState::from(
            md.http_tokens.as_deref().unwrap_or("required"),
        ))
        .http_endpoint(InstanceMetadataEndpointState::from(
            md.http_endpoint.as_deref().unwrap_or("enabled"),
        ));
    if let Some(h) = md.http_put_response_hop_limit {
        metadata = metadata.http_put_response_hop_limit(h as i32);
    }
    if let Some(t) = &md.instance_metadata_tags {
        metadata = metadata.instance_metadata_tags(InstanceMetadataTagsState::from(t.as_str()));
    }
    let mut req = ctx
        .ec2()
        .run_instances()
        .image_id(&source.id)
        .instance_type(InstanceType::from(instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        // Idempotent against SDK retries after a lost answer: at most one instance per build.
        .client_token(token)
        .metadata_options(metadata.build())
        .instance_initiated_shutdown_behavior(ShutdownBehavior::from(
            cfg.run.shutdown_behavior.as_str(),
        ))
        .tag_specifications(BuildCtx::tag_spec(ResourceType::Instance, &run_tags))
        // As the current plugin: the instance's network interfaces carry run_tags too.
        .tag_specifications(BuildCtx::tag_spec(
            ResourceType::NetworkInterface,
            &run_tags,
        ))
        .tag_specifications(BuildCtx::tag_spec(ResourceType::Volume, &volume_tags));
    if cfg.run.ebs_optimized {
        req = req.ebs_optimized(true);
    }
    if let Some(kp) = &ctx.key_pair {
        req = req.key_name(&kp.name);
    }
    if let Some(ud) = user_data {
        req = req.user_data(ud);
    }
    for b in devices {
        req = req.block_device_mappings(mapping(b));
    }
    for dev in suppressed_ephemeral_devices(&cfg.block_devices) {
        req = req.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(dev)
                .no_device("")
                .build(),
        );
    }
    req = super::launch_options::run_instances(ctx, req);
    if let Some(p) = &ctx.instance_profile {
        req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
    }
    if let Some(public) = cfg.run.associate_public_ip_address {
        let mut ni = aws_sdk_ec2::types::InstanceNetworkInterfaceSpecification::builder()
            .device_index(0)
            .associate_public_ip_address(public)
            .delete_on_termination(true)
            .set_groups(Some(ctx.security_group_ids.clone()));
        if let Some(s) = &ctx.subnet_id {
            ni = ni.subnet_id(s);
        }
        req = req.network_interfaces(ni.build());
    } else {
        req = req.set_security_group_ids(Some(ctx.security_group_ids.clone()));
        if let Some(s) = &ctx.subnet_id {
            req = req.subnet_id(s);
        }
    }
    if cfg.run.enable_t2_unlimited {
        req = req.credit_specification(
            aws_sdk_ec2::types::CreditSpecificationRequest::builder()
                .cpu_credits("unlimited")
                .build(),
        );
    }
    let req = req;
    let (it, src, region) = (&instance_type, &source.id, &ctx.region);
    // A freshly created instance profile takes a few seconds to be usable by EC2.
    let out = wait::retry_codes(&[PROFILE_NOT_YET], new_profile_window(ctx), || {
        let req = req.clone();
        async move {
            req.send()
                .await
                .aws_context(|| format!("launching an instance of {it} from {src} in {region}"))
        }
    })
    .await?;
    let id = out
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .context("RunInstances returned no instance")?
        .to_string();
    record_and_wait_running(ctx, env, &id).await
}

/// The error code EC2 answers a launch with while it does not know the build's freshly created
/// instance profile yet (RunInstances' error; a fleet's per-instance error, whose message then
/// says "Invalid IAM Instance Profile name").
pub(crate) const PROFILE_NOT_YET: &str = "InvalidParameterValue";

/// How long a launch (RunInstances, a spot build's CreateFleet) is retried on
/// [`PROFILE_NOT_YET`]: [`timeouts::NEW_INSTANCE_PROFILE_RETRY`] when this build created the
/// instance profile, not at all otherwise (the answer then means what it says).
pub(crate) fn new_profile_window(ctx: &BuildCtx) -> Duration {
    if ctx.temp_iam.profile.is_some() {
        timeouts::NEW_INSTANCE_PROFILE_RETRY
    } else {
        Duration::ZERO
    }
}

/// Terminates the build instance (if any, and not yet done) and waits until it is gone; the
/// security group cleanup after it depends on that.
pub(crate) async fn terminate(ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
    let Some(inst) = ctx.instance.clone() else {
        return Ok(());
    };
    if inst.terminated {
        return Ok(());
    }
    env.ui.say("Terminating the source AWS instance...");
    let ec2 = ctx.ec2();
    delete::terminate_instance(&ec2, &ctx.region, &inst.id).await?;
    let policy = ctx.polling.transition(timeouts::INSTANCE_TERMINATED);
    delete::wait_terminated(&ec2, &ctx.region, &inst.id, &policy, &env.hard_cancel)
        .await
        .with_context(|| format!("Error waiting for instance ({}) to terminate", inst.id))?;
    env.ledger
        .deleted(ResourceKind::Instance, &inst.id, &ctx.region);
    if let Some(i) = ctx.instance.as_mut() {
        i.terminated = true;
    }
    Ok(())
}

/// Records a just-launched instance (before any wait, so a cancel from here on still
/// terminates it) and waits until it is running.
pub(crate) async fn record_and_wait_running(
    ctx: &mut BuildCtx,
    env: &StepEnv,
    id: &str,
) -> anyhow::Result<()> {
    env.ledger.created(ResourceKind::Instance, id, &ctx.region);
    ctx.instance = Some(crate::builders::amazon_ebs::context::Instance {
        id: id.to_string(),
        ..Default::default()
    });
    env.ui.message(&format!("Instance ID: {id}"));
    let _wait = env
        .ui
        .wait(&format!("Waiting for instance ({id}) to become ready..."));
    let inst = wait_instance(
        ctx,
        env,
        id,
        InstanceStateName::Running,
        timeouts::INSTANCE_RUNNING,
        &env.cancel,
    )
    .await
    .with_context(|| format!("Error waiting for instance ({id}) to become ready"))?;
    ctx.instance = Some(inst);
    Ok(())
}

/// The user data to launch with, as EC2 wants it (base64): `user_data` or `user_data_file`,
/// merged with the SSH host key rpack injects (`ssh_host_key_check` inject/auto), which is
/// recorded in the context for the connect step and the removal before imaging.
pub(crate) fn launch_user_data(ctx: &mut BuildCtx, ui: &dyn Ui) -> anyhow::Result<Option<String>> {
    let template = user_data(ctx)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = match &template {
        Some(t) => Some(b64.decode(t).context("decoding the user data")?),
        None => None,
    };
    let comm = &ctx.cfg.comm;
    let plan = plan_user_data(comm.host_key_check, comm.comm_type == CommType::Ssh, raw)?;
    if let Some(note) = &plan.note {
        ui.message(note);
    }
    ctx.injected_host_key = plan.injected;
    if ctx.injected_host_key.is_none() {
        // Exactly what the template gave (already-encoded text is passed through).
        return Ok(template);
    }
    Ok(plan.user_data.map(|u| b64.encode(u)))
}

#[cfg(test)]
mod tests {
    use crate::builders::amazon_ebs::config::{BlockDevice, BlockDevices};

    #[test]
    fn no_ephemeral_suppresses_every_instance_store_name_the_template_does_not_map() {
        let mut bd = BlockDevices::default();
        assert!(super::suppressed_ephemeral_devices(&bd).is_empty());
        bd.no_ephemeral = true;
        bd.launch_block_device_mappings = vec![BlockDevice {
            device_name: "/dev/xvdc".into(),
            ..Default::default()
        }];
        let devs = super::suppressed_ephemeral_devices(&bd);
        assert_eq!(devs.len(), 23);
        assert_eq!(devs.first().map(String::as_str), Some("/dev/xvdb"));
        assert_eq!(devs.last().map(String::as_str), Some("/dev/xvdy"));
        assert!(!devs.iter().any(|d| d == "/dev/xvdc"));
    }
}
