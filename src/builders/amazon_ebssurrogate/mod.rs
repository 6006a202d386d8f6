//! The `amazon-ebssurrogate` builder: a source instance is launched with extra EBS volumes
//! (`launch_block_device_mappings`), provisioned over SSH (typically writing a whole operating
//! system onto a volume) and stopped; the volumes are snapshotted and an AMI is registered from
//! the snapshots, the `ami_root_device.source_device_name` one as its root device. The AMI is
//! then copied, shared and tagged as amazon-ebs does. Everything else (launch, connection,
//! provisioning, stop, copies, attributes, tags, every cleanup) is the amazon-ebs steps; on
//! failure or cancel the snapshots and the AMI are removed too.

pub mod config;
pub mod steps;
pub mod swap_volumes;

use std::sync::Arc;

pub use config::SurrogateConfig;

use crate::builders::amazon_ebs::{self, context::BuildCtx, Artifact, RunArgs};
use crate::engine::Step;

/// Packer's builder id for amazon-ebssurrogate artifacts.
pub const BUILDER_ID: &str = "mitchellh.amazon.ebssurrogate";

/// Packer 1.6.6's step order, with the amazon-ebs steps it shares: source AMI, network, key
/// pair, security group, instance profile, launch (spot through a fleet), connect, provision,
/// stop, enhanced networking, then the snapshots, `force_deregister`, the registration, the
/// region copies, the attributes and the tags (and the current plugin's deregistration
/// protection). With `use_create_image` (the current plugin's), the root volume swap and
/// CreateImage take the place of the snapshots and the registration.
pub fn steps(cfg: &SurrogateConfig) -> Vec<Box<dyn Step<BuildCtx>>> {
    use amazon_ebs::steps::{
        ami_attributes, cleanup_volumes, copy_ami, create_ami, create_tags, deregister_ami,
        deregistration_protection, iam_instance_profile, key_pair, modify_instance, network,
        pre_validate, provision, run_instance, run_spot_instance, security_group, source_ami,
        stop_instance,
    };
    let launch_devices = Arc::new(cfg.launch_devices.clone());
    let launch: Box<dyn Step<BuildCtx>> = if cfg.base.run.is_spot() {
        Box::new(run_spot_instance::RunSpotInstance)
    } else {
        Box::new(run_instance::RunInstance)
    };
    let mut list: Vec<Box<dyn Step<BuildCtx>>> = vec![
        Box::new(pre_validate::PreValidate),
        Box::new(source_ami::SourceAmi),
        Box::new(network::Network),
        Box::new(key_pair::KeyPair),
        Box::new(security_group::SecurityGroup),
        Box::new(iam_instance_profile::IamInstanceProfile),
        Box::new(cleanup_volumes::CleanupVolumes),
        launch,
        Box::new(crate::builders::common::connect::Connect::default()),
        Box::new(provision::Provision),
        Box::new(stop_instance::StopInstance),
        Box::new(modify_instance::ModifyInstance),
    ];
    if cfg.use_create_image {
        list.push(Box::new(swap_volumes::SwapVolumes {
            launch_devices: launch_devices.clone(),
            root_device: cfg.root_device.clone(),
            volumes: Arc::default(),
        }));
        list.push(Box::new(deregister_ami::DeregisterAmi));
        list.push(Box::new(create_ami::CreateAmi {
            mappings: Some(swap_volumes::create_image_devices(
                &cfg.base.block_devices.ami_block_device_mappings,
                &launch_devices,
                &cfg.root_device,
            )),
        }));
    } else {
        let snapshots: steps::Snapshots = Arc::default();
        list.push(Box::new(steps::SnapshotVolumes {
            launch_devices: launch_devices.clone(),
            description: cfg.snapshot_description.clone(),
            snapshots: snapshots.clone(),
        }));
        list.push(Box::new(deregister_ami::DeregisterAmi));
        list.push(Box::new(steps::RegisterAmi {
            launch_devices,
            root_device: cfg.root_device.clone(),
            architecture: cfg.architecture.clone(),
            boot: cfg.boot.clone(),
            snapshots,
        }));
    }
    list.push(Box::new(copy_ami::CopyAmi));
    list.push(Box::new(ami_attributes::AmiAttributes));
    list.push(Box::new(create_tags::CreateTags));
    list.push(Box::new(
        deregistration_protection::DeregistrationProtection,
    ));
    list
}

/// Runs one amazon-ebssurrogate build; on success the AMIs, as amazon-ebs reports them (with
/// this builder's id). Failures and cancellation come back as amazon-ebs's do, after cleanup.
pub async fn run(cfg: Arc<SurrogateConfig>, args: RunArgs) -> anyhow::Result<Artifact> {
    let steps = steps(&cfg);
    let (ctx, aws) = amazon_ebs::execute(Arc::new(cfg.base.clone()), args, steps).await?;
    let snapshots = ctx
        .finals()
        .map(|i| (i.region.clone(), i.snapshots.clone()))
        .collect();
    Ok(Artifact {
        amis: ctx.final_images(),
        snapshots,
        aws: Some(aws),
        protected: cfg.base.ami_options.deregistration_protection,
        builder_id: BUILDER_ID,
    })
}
