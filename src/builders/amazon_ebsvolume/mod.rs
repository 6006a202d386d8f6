//! The `amazon-ebsvolume` builder: a source instance is launched with the `ebs_volumes`
//! attached, provisioned over SSH and stopped; the volumes (tagged with their `tags`, and
//! snapshotted with `snapshot_volume`) are kept when the instance is terminated and are the
//! artifact. No AMI is made. The launch, connection, provisioning, stop and every cleanup are
//! the amazon-ebs steps; on failure or cancel the volumes are deleted too.

pub mod artifact;
pub mod config;
pub mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use artifact::Artifact;
pub use config::VolumeConfig;

use crate::builders::amazon_ebs::{self, context::BuildCtx, RunArgs};
use crate::engine::Step;

/// Packer's builder id for amazon-ebsvolume artifacts.
pub const BUILDER_ID: &str = "mitchellh.amazon.ebsvolume";

/// Packer 1.6.6's step order, with the amazon-ebs steps it shares: source AMI, network, key
/// pair, security group, instance profile, launch (spot through a fleet), tag the volumes,
/// connect, provision, stop, enhanced networking; then the snapshots (current plugin).
pub fn steps(cfg: &VolumeConfig) -> Vec<Box<dyn Step<BuildCtx>>> {
    use amazon_ebs::steps::{
        cleanup_volumes, iam_instance_profile, key_pair, modify_instance, network, pre_validate,
        provision, run_instance, run_spot_instance, security_group, source_ami, stop_instance,
    };
    let volumes = Arc::new(cfg.volumes.clone());
    let launch: Box<dyn Step<BuildCtx>> = if cfg.base.run.is_spot() {
        Box::new(run_spot_instance::RunSpotInstance)
    } else {
        Box::new(run_instance::RunInstance)
    };
    vec![
        Box::new(pre_validate::PreValidate),
        Box::new(source_ami::SourceAmi),
        Box::new(network::Network),
        Box::new(key_pair::KeyPair),
        Box::new(security_group::SecurityGroup),
        Box::new(iam_instance_profile::IamInstanceProfile),
        // Its cleanup runs after the instance is gone: it deletes the build's volumes unless
        // the build succeeded and keeps them.
        Box::new(cleanup_volumes::CleanupVolumes),
        launch,
        Box::new(steps::TagVolumes {
            volumes: volumes.clone(),
        }),
        Box::new(crate::builders::common::connect::Connect::default()),
        Box::new(provision::Provision),
        Box::new(stop_instance::StopInstance),
        Box::new(modify_instance::ModifyInstance),
        Box::new(steps::SnapshotVolumes { volumes }),
    ]
}

/// Runs one amazon-ebsvolume build; on success the kept volumes and snapshots. Failures and
/// cancellation come back as amazon-ebs's do, after cleanup.
pub async fn run(cfg: Arc<VolumeConfig>, args: RunArgs) -> anyhow::Result<Artifact> {
    let steps = steps(&cfg);
    let ui = args.ui.clone();
    let (ctx, aws) = amazon_ebs::execute(Arc::new(cfg.base.clone()), args, steps).await?;
    let in_region = |ids: &[String]| -> BTreeMap<String, Vec<String>> {
        if ids.is_empty() {
            BTreeMap::new()
        } else {
            BTreeMap::from([(ctx.region.clone(), ids.to_vec())])
        }
    };
    let artifact = Artifact {
        volumes: in_region(&ctx.kept.volumes),
        snapshots: in_region(&ctx.kept.snapshots),
        aws: Some(aws),
    };
    ui.say(&format!("Created Volumes: {}", artifact.string()));
    Ok(artifact)
}
