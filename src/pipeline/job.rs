//! One build at run time: its ledger, its builder, then its post-processor chains.

use std::sync::Arc;

use super::prompts::runner_options;
use super::{provision, OnErrorFlag, Options, Shared};
use crate::artifact::Artifact;
use crate::aws::access::AccessConfig;
use crate::builders::{amazon_ebs, amazon_ebssurrogate, amazon_ebsvolume};
use crate::ledger::{Ledger, ResourceKind, COMPLETE_TAG};
use crate::plan::{Build, BuilderConfig};
use crate::post_processors::chain;
use crate::shell_local::{GeneratedData, RunData};
use crate::template::interp::Context;
use crate::ui::build::BuildUi;
use crate::ui::Ui as _;

/// One build: builder, then post-processor chains. Returns the artifacts to report.
pub(super) async fn run_build(
    build: &Build,
    base: &Context,
    opts: &Options,
    ui: Arc<BuildUi>,
    shared: &Shared,
    run_uuid: &str,
) -> Result<Vec<Artifact>, String> {
    let build_id = uuid::Uuid::new_v4().to_string();
    tracing::debug!(build = %build.name, builder = %build.builder_kind, %build_id, "starting build");
    let mut error_cleanup = build.error_cleanup.clone();
    if opts.on_error == OnErrorFlag::Abort {
        // `abort` skips the error-cleanup-provisioner too; `run-cleanup-provisioner` keeps it.
        error_cleanup = None;
    }
    let hook = Arc::new(provision::Provisioners {
        build_name: build.plugin_name.clone(),
        builder_type: build.builder_kind.clone(),
        list: build.provisioners.clone(),
        error_cleanup,
        ctx: base.clone(),
        run_uuid: run_uuid.to_string(),
        // amazon-ebs builds have a ledger, so `rpack cleanup` finds this directory after a kill.
        work_dir: match &build.builder {
            BuilderConfig::AmazonEbs(_)
            | BuilderConfig::AmazonEbsVolume(_)
            | BuilderConfig::AmazonEbsSurrogate(_) => crate::ledger::work_dir::path(&build_id),
            _ => None,
        },
    });
    let builder_artifact = match &build.builder {
        BuilderConfig::AmazonEbs(cfg) => {
            let mut cfg = (**cfg).clone();
            if opts.force {
                cfg.ami.force_deregister = true;
            }
            let (ledger, args) = ebs_run_args(&cfg.access, &build_id, &ui, &hook, opts, shared)?;
            match amazon_ebs::run(Arc::new(cfg), args).await {
                Ok(Some(a)) => {
                    mark_kept(&a, &ledger).await;
                    Artifact::Ami(Arc::new(a))
                }
                Ok(None) => return Ok(Vec::new()),
                Err(e) => return Err(format!("{e:#}")),
            }
        }
        BuilderConfig::AmazonEbsVolume(cfg) => {
            let (ledger, args) =
                ebs_run_args(&cfg.base.access, &build_id, &ui, &hook, opts, shared)?;
            match amazon_ebsvolume::run(Arc::new((**cfg).clone()), args).await {
                Ok(a) => {
                    mark_volumes_kept(&a, &ledger).await;
                    Artifact::Volumes(Arc::new(a))
                }
                Err(e) => return Err(format!("{e:#}")),
            }
        }
        BuilderConfig::AmazonEbsSurrogate(cfg) => {
            let mut cfg = (**cfg).clone();
            if opts.force {
                cfg.base.ami.force_deregister = true;
            }
            let (ledger, args) =
                ebs_run_args(&cfg.base.access, &build_id, &ui, &hook, opts, shared)?;
            match amazon_ebssurrogate::run(Arc::new(cfg), args).await {
                Ok(a) => {
                    mark_kept(&a, &ledger).await;
                    Artifact::Ami(Arc::new(a))
                }
                Err(e) => return Err(format!("{e:#}")),
            }
        }
        BuilderConfig::Null(cfg) => {
            crate::builders::null::run(
                Arc::new((**cfg).clone()),
                hook.clone(),
                ui.clone(),
                shared.cancel.clone(),
                shared.hard_cancel.clone(),
                runner_options(opts, &ui),
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
            Artifact::Null
        }
        BuilderConfig::File(cfg) => Artifact::File(crate::builders::file::run(cfg, &*ui)?),
    };
    if shared.cancel.is_cancelled() {
        let _ = builder_artifact.destroy().await;
        return Err("Build was cancelled.".into());
    }
    let data = RunData {
        build_name: build.plugin_name.clone(),
        builder_type: build.builder_kind.clone(),
        // Post-processors see the run's id and nothing of the builder, as in Packer.
        values: GeneratedData {
            packer_run_uuid: Some(run_uuid.to_string()),
            ..Default::default()
        }
        .to_map(),
        ctx: base.clone(),
        work_dir: None,
    };
    let env = chain::PostEnv {
        ui: &ui,
        data: &data,
        run_uuid,
        force: opts.force,
        build_time: chrono::Utc::now().timestamp(),
        cancel: &shared.cancel,
    };
    let outcome = chain::run_chains(&build.post_processors, builder_artifact, &env).await;
    if !outcome.errors.is_empty() {
        for e in &outcome.errors {
            ui.error(e);
        }
        return Err(outcome.errors.join("\n"));
    }
    Ok(outcome.artifacts)
}

/// The ledger (registered for the interrupt handler, with the endpoint `rpack cleanup` needs)
/// and the run arguments of an amazon-ebs, amazon-ebsvolume or amazon-ebssurrogate build.
fn ebs_run_args(
    access: &AccessConfig,
    build_id: &str,
    ui: &Arc<BuildUi>,
    hook: &Arc<provision::Provisioners>,
    opts: &Options,
    shared: &Shared,
) -> Result<(Arc<Ledger>, amazon_ebs::RunArgs), String> {
    let ledger = Arc::new(Ledger::open_default(build_id).map_err(|e| format!("{e:#}"))?);
    // `rpack cleanup` reads these back to reach the same API the build used.
    let region = access.region.clone().unwrap_or_default();
    if let Some(url) = access.custom_endpoint_ec2.clone().filter(|u| !u.is_empty()) {
        ledger.meta("endpoint_ec2", &url, &region);
    }
    shared
        .ledgers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(ledger.clone());
    let args = amazon_ebs::RunArgs {
        ui: ui.clone(),
        hook: hook.clone(),
        cancel: shared.cancel.clone(),
        hard_cancel: shared.hard_cancel.clone(),
        options: runner_options(opts, ui),
        build_id: Some(build_id.to_string()),
        ledger: Some(ledger.clone()),
    };
    Ok((ledger, args))
}

/// Records the finished amazon-ebsvolume build's volumes and snapshots as kept, in the ledger
/// and with the tag `rpack:complete=true`, as [`mark_kept`] does for AMIs.
async fn mark_volumes_kept(a: &amazon_ebsvolume::Artifact, ledger: &Ledger) {
    for (kind, map) in [
        (ResourceKind::Volume, &a.volumes),
        (ResourceKind::Snapshot, &a.snapshots),
    ] {
        for (region, ids) in map {
            for id in ids {
                ledger.kept(kind, id, region);
            }
            let Some(aws) = &a.aws else { continue };
            let tag = aws_sdk_ec2::types::Tag::builder()
                .key(COMPLETE_TAG)
                .value("true")
                .build();
            let res = aws
                .ec2(region)
                .create_tags()
                .set_resources(Some(ids.clone()))
                .tags(tag)
                .send()
                .await;
            if let Err(e) = res {
                tracing::warn!(
                    "tagging {} in {region} as complete: {}",
                    ids.join(", "),
                    aws_sdk_ec2::error::DisplayErrorContext(&e)
                );
            }
        }
    }
}

/// Records the finished build's AMIs and snapshots as kept, in the ledger and with the tag
/// `rpack:complete=true`, so `rpack cleanup` never deletes the result of a successful build.
async fn mark_kept(a: &amazon_ebs::Artifact, ledger: &Ledger) {
    for (region, ami) in &a.amis {
        ledger.kept(ResourceKind::Image, ami, region);
        let snaps = a.snapshots.get(region).cloned().unwrap_or_default();
        for s in &snaps {
            ledger.kept(ResourceKind::Snapshot, s, region);
        }
        if let Some(aws) = &a.aws {
            let tag = aws_sdk_ec2::types::Tag::builder()
                .key(COMPLETE_TAG)
                .value("true")
                .build();
            let res = aws
                .ec2(region)
                .create_tags()
                .resources(ami)
                .set_resources(Some(std::iter::once(ami.clone()).chain(snaps).collect()))
                .tags(tag)
                .send()
                .await;
            if let Err(e) = res {
                tracing::warn!(
                    "tagging {ami} in {region} as complete: {}",
                    aws_sdk_ec2::error::DisplayErrorContext(&e)
                );
            }
        }
    }
}
