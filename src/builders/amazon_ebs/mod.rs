//! The `amazon-ebs` builder: a source instance is launched from an AMI, provisioned over SSH,
//! stopped and imaged; the AMI is copied, shared and tagged; everything temporary is removed
//! again, and on failure or cancel the AMIs too.
//!
//! Public surface for the build orchestration:
//! * [`config::decode`] (+ `Decoder::finish`) → [`config::Config`], with [`config::NO_RENDER`];
//! * [`run`] with a [`ProvisionHook`] → [`Artifact`];
//! * [`Artifact`]: Packer's id/string/destroy.

pub mod artifact;
pub mod config;
pub mod context;
mod login_user;
pub mod steps;

use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

pub use crate::builders::{ProvisionHook, TrueHook};
pub use artifact::Artifact;
pub use config::Config;
pub use context::BuildCtx;

use crate::aws::access::Clients;
use crate::engine::{RunError, Runner, RunnerOptions, Step, StepEnv};
use crate::ledger::Ledger;
use crate::ui::Ui;

/// Packer's builder id for amazon-ebs artifacts.
pub const BUILDER_ID: &str = "mitchellh.amazonebs";

/// Everything a run needs besides the configuration.
pub struct RunArgs {
    pub ui: Arc<dyn Ui>,
    pub hook: Arc<dyn ProvisionHook>,
    /// First Ctrl-C: stop at the next wait point, clean up.
    pub cancel: CancellationToken,
    /// Second Ctrl-C: stop waiting in cleanups too.
    pub hard_cancel: CancellationToken,
    pub options: RunnerOptions,
    /// The build id (`rpack:build-id` tag, ledger file name); a v4 UUID when `None`.
    pub build_id: Option<String>,
    /// Ledger to write; `None` = `Ledger::open_default(build_id)`.
    pub ledger: Option<Arc<Ledger>>,
}

/// Packer's step list, in order; spot builds launch through a fleet instead of RunInstances.
pub fn steps(cfg: &Config) -> Vec<Box<dyn Step<BuildCtx>>> {
    use steps::{
        ami_attributes, cleanup_volumes, copy_ami, create_ami, create_tags, deregister_ami,
        deregistration_protection, fast_launch, iam_instance_profile, key_pair, modify_instance,
        network, pre_validate, provision, run_instance, run_spot_instance, security_group,
        source_ami, stop_instance,
    };
    let launch: Box<dyn Step<BuildCtx>> = if cfg.run.is_spot() {
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
        Box::new(cleanup_volumes::CleanupVolumes),
        launch,
        Box::new(crate::builders::common::connect::Connect::default()),
        Box::new(provision::Provision),
        Box::new(stop_instance::StopInstance),
        Box::new(modify_instance::ModifyInstance),
        Box::new(deregister_ami::DeregisterAmi),
        Box::new(create_ami::CreateAmi::default()),
        Box::new(copy_ami::CopyAmi),
        Box::new(fast_launch::FastLaunch),
        Box::new(ami_attributes::AmiAttributes),
        Box::new(create_tags::CreateTags),
        Box::new(deregistration_protection::DeregistrationProtection),
    ]
}

/// `decode_authorization_messages`: an access-denied failure that carries an encoded
/// authorization message gets the message STS decodes from it (Packer's wording:
/// `Authorization failure message: '…'`); when STS cannot be asked or fails, the error says so.
async fn decode_authorization(aws: &Clients, error: anyhow::Error) -> anyhow::Error {
    let Some(encoded) = crate::aws::error::find(&error).and_then(|e| e.encoded.clone()) else {
        return error;
    };
    if !aws.sts_reachable() {
        return anyhow::anyhow!(
            "{error:#}; decode_authorization_messages: not decoded, because EC2 is at a custom endpoint and STS is not (set AWS_ENDPOINT_URL_STS)"
        );
    }
    match aws.decode_authorization_message(&encoded).await {
        Ok(decoded) => anyhow::anyhow!("{error:#}. Authorization failure message: '{decoded}'"),
        Err(e) => anyhow::anyhow!("{error:#}; decode_authorization_messages: {e:#}"),
    }
}

/// Runs one amazon-ebs build. On success returns the artifact (`None` with `skip_create_ami`).
/// Failures and cancellation come back as [`RunError`] inside the anyhow error after cleanup.
pub async fn run(cfg: Arc<Config>, args: RunArgs) -> anyhow::Result<Option<Artifact>> {
    let (ctx, aws) = execute(cfg.clone(), args, steps(&cfg)).await?;
    let amis = ctx.final_images();
    if amis.is_empty() {
        return Ok(None);
    }
    let snapshots = ctx
        .finals()
        .map(|i| (i.region.clone(), i.snapshots.clone()))
        .collect();
    Ok(Some(Artifact {
        amis,
        snapshots,
        aws: Some(aws),
        protected: cfg.ami_options.deregistration_protection,
        builder_id: BUILDER_ID,
    }))
}

/// Runs `steps` over a fresh build context (ledger, clients, work directory) and returns the
/// context of a successful run with the clients. Shared by amazon-ebs, amazon-ebsvolume and
/// amazon-ebssurrogate.
pub(crate) async fn execute(
    cfg: Arc<Config>,
    args: RunArgs,
    steps: Vec<Box<dyn Step<BuildCtx>>>,
) -> anyhow::Result<(BuildCtx, Arc<Clients>)> {
    let build_id = args
        .build_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let ledger = match &args.ledger {
        Some(l) => l.clone(),
        None => Arc::new(Ledger::open_default(&build_id)?),
    };
    let aws = Clients::load(&cfg.access).await?;
    // The build's private directory, made only by what must write a key file there (the
    // `ansible` provisioner's copy of the temporary key); removed when the build ends.
    let work_dir = crate::ledger::work_dir::path(&build_id)
        .with_context(|| format!("build id {build_id:?} is not a plain identifier"))?;
    let mut ctx = BuildCtx {
        cfg: cfg.clone(),
        build_id: build_id.clone(),
        region: aws.region.clone(),
        polling: cfg.access.polling.resolve(),
        aws: aws.clone(),
        hook: args.hook.clone(),
        debug: args.options.debug.is_some(),
        source: None,
        vpc_id: None,
        subnet_id: None,
        availability_zone: None,
        key_pair: None,
        security_group_ids: Vec::new(),
        temp_security_group: None,
        instance_profile: None,
        temp_iam: Default::default(),
        launch_template: None,
        instance: None,
        comm: None,
        ssm_forward_port: None,
        images: Vec::new(),
        boot_encryption: context::BootEncryption::Off,
        injected_host_key: None,
        kept: Default::default(),
    };
    let env = StepEnv {
        ui: args.ui.clone(),
        ledger,
        cancel: args.cancel.clone(),
        hard_cancel: args.hard_cancel.clone(),
    };
    let runner = Runner::new(steps, args.options.clone());
    let result = runner.run(&mut ctx, &env).await;
    let _ = std::fs::remove_dir_all(&work_dir);
    match result {
        Ok(_) => Ok((ctx, aws)),
        Err(RunError::StepFailed {
            step,
            error,
            cleanup_errors,
        }) => {
            let error = if cfg.access.decode_authorization_messages {
                decode_authorization(&aws, error).await
            } else {
                error
            };
            Err(anyhow::Error::new(RunError::StepFailed {
                step,
                error,
                cleanup_errors,
            }))
        }
        Err(e @ RunError::Cancelled { .. }) => Err(anyhow::Error::new(e)),
    }
}
