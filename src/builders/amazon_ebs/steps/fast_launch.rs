//! stepPrepareFastLaunchTemplate + stepEnableFastLaunch (`fast_launch`): Windows fast launch on
//! every final AMI, as packer-plugin-amazon v1.8 does it. The launch templates named per region
//! are looked up first (exactly one must match; version 0 means its latest, a higher version than
//! the latest is an error); a region whose entry says `enable_fast_launch = false` is skipped.
//! Then every region at once: EnableFastLaunch (retried for a minute while EC2 does not know
//! the AMI yet), and a wait until DescribeFastLaunchImages says `enabled`. Every failing region
//! is reported before the step fails.
//!
//! Cleanup, better than the plugin (which has none): when the build fails or is cancelled after
//! fast launch was enabled on an AMI, DisableFastLaunch (forced) runs before the AMI is
//! deregistered, so EC2's pre-provisioned snapshots do not outlive the build.

use std::collections::BTreeMap;

use anyhow::bail;
use aws_sdk_ec2::types::{
    FastLaunchLaunchTemplateSpecificationRequest, FastLaunchSnapshotConfigurationRequest,
    FastLaunchStateCode,
};

use crate::aws::error::AwsResultExt;
use crate::aws::wait::{self, Check};
use crate::builders::amazon_ebs::config::{timeouts, FastLaunch as Config, RegionTemplate};
use crate::builders::amazon_ebs::context::{BuildCtx, Image};
use crate::engine::{Outcome, Step, StepEnv};

pub struct FastLaunch;

/// What one region's entry in `region_launch_templates` decided.
#[derive(Debug, Clone, PartialEq)]
enum Template {
    /// `enable_fast_launch = false` for this region.
    Off,
    /// This launch template, at this version.
    Use { id: String, version: i64 },
}

#[async_trait::async_trait]
impl Step<BuildCtx> for FastLaunch {
    fn name(&self) -> &'static str {
        "StepEnableFastLaunch"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.fast_launch.clone();
        if !cfg.enable {
            return Ok(());
        }
        if ctx.cfg.ami.skip_create_ami {
            env.ui.say("Skipping fast-launch setup...");
            return Ok(());
        }
        let finals: Vec<Image> = ctx.finals().cloned().collect();
        if finals.is_empty() {
            env.ui
                .say("No AMI found in state, skipping fast-launch setup...");
            return Ok(());
        }
        let templates = templates(ctx, env, &cfg).await?;
        let (ctx_ref, cfg) = (&*ctx, &cfg);
        let runs = finals.iter().filter_map(|img| {
            let template = match templates.get(&img.region) {
                Some(Template::Off) => return None,
                Some(Template::Use { id, version }) => Some((id.clone(), *version)),
                None => None,
            };
            Some(async move {
                let r = enable(ctx_ref, env, cfg, img, template).await;
                (img.clone(), r)
            })
        });
        let results = futures_util::future::join_all(runs).await;
        let mut failed = false;
        for (img, r) in results {
            let enabled = match r {
                Ok(()) => true,
                Err((enabled, e)) => {
                    env.ui.error(&format!("{e:#}"));
                    failed = true;
                    enabled
                }
            };
            if enabled {
                if let Some(i) = ctx
                    .images
                    .iter_mut()
                    .find(|i| i.id == img.id && i.region == img.region)
                {
                    i.fast_launch = true;
                }
            }
        }
        if failed {
            bail!("Failed to enable fast-launch because of errors");
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
        let mut errors = Vec::new();
        for img in ctx.images.iter().filter(|i| i.fast_launch) {
            let (id, region) = (&img.id, &img.region);
            env.ui.say(&format!(
                "Disabling fast launch on AMI {id} in {region} before it is removed..."
            ));
            let r = ctx
                .aws
                .ec2(region)
                .disable_fast_launch()
                .image_id(id)
                .force(true)
                .send()
                .await
                .aws_context(|| format!("disabling fast launch on AMI {id} in {region}"));
            if let Err(e) = r {
                errors.push(e.to_string());
            }
        }
        for i in &mut ctx.images {
            i.fast_launch = false;
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}

/// stepPrepareFastLaunchTemplate: the launch template (or `Off`) per region that names one.
async fn templates(
    ctx: &BuildCtx,
    env: &StepEnv,
    cfg: &Config,
) -> anyhow::Result<BTreeMap<String, Template>> {
    let mut out = BTreeMap::new();
    for t in &cfg.region_templates {
        if t.enable == Some(false) {
            out.insert(t.region.clone(), Template::Off);
            continue;
        }
        if t.template_id.is_none() && t.template_name.is_none() {
            continue; // EC2's default launch settings in this region
        }
        match lookup(ctx, t).await {
            Ok(tpl) => {
                out.insert(t.region.clone(), tpl);
            }
            Err(e) => {
                let e = format!(
                    "Failed to get launch template from region {:?}: {e:#}",
                    t.region
                );
                env.ui.error(&e);
                bail!(e);
            }
        }
    }
    Ok(out)
}

/// DescribeLaunchTemplates for one region's entry: exactly one template, at a version it has.
async fn lookup(ctx: &BuildCtx, t: &RegionTemplate) -> anyhow::Result<Template> {
    let region = &t.region;
    let mut req = ctx.aws.ec2(region).describe_launch_templates();
    if let Some(id) = &t.template_id {
        req = req.launch_template_ids(id);
    }
    if let Some(name) = &t.template_name {
        req = req.launch_template_names(name);
    }
    let out = req
        .send()
        .await
        .aws_context(|| format!("describing launch templates in {region}"))?;
    let named = t.template_id.as_deref().or(t.template_name.as_deref());
    let [tpl] = out.launch_templates() else {
        bail!(
            "failed to get launch template {:?}; received {} responses, expected only one to match",
            named.unwrap_or_default(),
            out.launch_templates().len()
        );
    };
    let latest = tpl.latest_version_number().unwrap_or(1);
    if latest < t.template_version {
        bail!(
            "specified version ({}) is higher than the latest launch template version ({latest}) for region {region:?}",
            t.template_version
        );
    }
    let version = if t.template_version == 0 {
        latest
    } else {
        t.template_version
    };
    Ok(Template::Use {
        id: tpl.launch_template_id().unwrap_or_default().to_string(),
        version,
    })
}

/// EnableFastLaunch on one AMI and the wait until it is enabled. The error says whether the
/// enable call went through (then the cleanup has something to disable).
async fn enable(
    ctx: &BuildCtx,
    env: &StepEnv,
    cfg: &Config,
    img: &Image,
    template: Option<(String, i64)>,
) -> Result<(), (bool, anyhow::Error)> {
    let (ami, region) = (&img.id, &img.region);
    let ec2 = ctx.aws.ec2(region);
    env.ui.say(&format!(
        "Enabling fast boot for AMI {ami} in region {region}"
    ));
    let mut req = ec2.enable_fast_launch().image_id(ami);
    if cfg.max_parallel_launches > 0 {
        req = req.max_parallel_launches(cfg.max_parallel_launches as i32);
    }
    if cfg.target_resource_count > 0 {
        req = req.snapshot_configuration(
            FastLaunchSnapshotConfigurationRequest::builder()
                .target_resource_count(cfg.target_resource_count as i32)
                .build(),
        );
    }
    if let Some((id, version)) = template {
        req = req.launch_template(
            FastLaunchLaunchTemplateSpecificationRequest::builder()
                .launch_template_id(id)
                .version(version.to_string())
                .build(),
        );
    }
    wait::retry_codes(
        &["InvalidAMIID.NotFound", "IncorrectState"],
        timeouts::ENABLE_FAST_LAUNCH_RETRY,
        || {
            let req = req.clone();
            async move {
                req.send()
                    .await
                    .aws_context(|| format!("enabling fast launch on AMI {ami} in {region}"))
            }
        },
    )
    .await
    .map_err(|e| {
        (
            false,
            anyhow::anyhow!("Error enabling fast boot for AMI in region {region}: {e}"),
        )
    })?;
    env.ui.say(&format!(
        "Waiting for fast launch to become ready on AMI {ami:?} in region {region}..."
    ));
    let policy = ctx.polling.transition(timeouts::FAST_LAUNCH_ENABLED);
    let what = format!("fast launch to be enabled on AMI {ami} in {region}");
    wait::wait_for(&what, &policy, &env.cancel, || {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_fast_launch_images()
                .image_ids(ami)
                .send()
                .await
                .aws_context(|| format!("describing fast launch of AMI {ami} in {region}"))?;
            let Some(item) = out.fast_launch_images().first() else {
                return Ok(Check::Failed("no fast launch images found".into()));
            };
            let reason = item.state_transition_reason().unwrap_or("no reason given");
            Ok(match item.state() {
                Some(FastLaunchStateCode::Enabled) => Check::Done(()),
                Some(FastLaunchStateCode::EnablingFailed | FastLaunchStateCode::EnabledFailed) => {
                    Check::Failed(format!(
                        "Failed to enable fast-launch for AMI {ami:?}: {reason}"
                    ))
                }
                Some(s) => Check::Pending(s.as_str().to_string()),
                None => Check::Pending("no state yet".into()),
            })
        }
    })
    .await
    .map_err(|e| (true, anyhow::anyhow!("Failed to enable fast launch: {e}")))
}
