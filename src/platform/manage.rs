//! `rpack platform status|list|events|logs|delete`: reading and removing platform versions.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_elasticbeanstalk::types::PlatformDescription;

use super::api::Api;
use super::prompt::Prompter;
use super::resolve::{parse_version_arg, version_arg_or_workspace, version_arn};
use super::watch::{self, Outcome};
use super::workspace::{open_platform, Workspace};
use super::{version, Global};
use crate::ui::Ui;

/// `list [-a] [-s STATUS]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListOptions {
    /// `-a`: every platform, not only the workspace's.
    pub all: bool,
    pub status: Option<String>,
}

/// `delete [VERSION] [--force] | --cleanup [--all-platforms] [--force]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub version: Option<String>,
    /// Delete the Failed versions (of the workspace's platform, or all with `all`).
    pub cleanup: bool,
    pub all: bool,
    /// No confirmation prompt.
    pub force: bool,
}

/// `status [VERSION]`.
pub(crate) async fn status(ui: &dyn Ui, global: &Global, version: Option<&str>) -> Result<i32> {
    let (mut ws, api, name) = open_platform(global).await?;
    let arg = version_arg_or_workspace(&api, &mut ws, &name, version, true).await?;
    let (arn, d) = version_arn(&api, &name, &arg).await?;
    print_status(ui, &api, &arn, d).await?;
    Ok(0)
}

/// DescribePlatformVersion of `arn` (unless `d` is its answer already), printed like ebp.
pub(crate) async fn print_status(
    ui: &dyn Ui,
    api: &Api,
    arn: &str,
    d: Option<PlatformDescription>,
) -> Result<()> {
    let d = match d {
        Some(d) => d,
        None => api.describe(arn).await?,
    };
    let pair = |n: Option<&str>, v: Option<&str>| {
        format!("{} {}", n.unwrap_or(""), v.unwrap_or(""))
            .trim()
            .to_string()
    };
    let lang = d.programming_languages().first();
    let fw = d.frameworks().first();
    let date = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default()
    };
    ui.say(&format!("Platform: {arn}"));
    ui.say(&format!("Name: {}", d.platform_name().unwrap_or_default()));
    ui.say(&format!(
        "Version: {}",
        d.platform_version().unwrap_or_default()
    ));
    ui.say(&format!(
        "Maintainer: {}",
        d.maintainer().unwrap_or_default()
    ));
    ui.say(&format!(
        "Description: {}",
        d.description().unwrap_or_default()
    ));
    ui.say(&format!(
        "Framework: {}",
        pair(fw.and_then(|f| f.name()), fw.and_then(|f| f.version()))
    ));
    ui.say(&format!(
        "Operating System: {}",
        pair(d.operating_system_name(), d.operating_system_version())
    ));
    ui.say(&format!(
        "Programming Language: {}",
        pair(lang.and_then(|l| l.name()), lang.and_then(|l| l.version()))
    ));
    ui.say(&format!(
        "Supported Tiers: {}",
        d.supported_tier_list().join(", ")
    ));
    ui.say(&format!(
        "Status: {}",
        d.platform_status()
            .map(aws_sdk_elasticbeanstalk::types::PlatformStatus::as_str)
            .unwrap_or_default()
    ));
    if let Some(ami) = d
        .custom_ami_list()
        .iter()
        .find(|a| a.virtualization_type() == Some("hvm"))
        .and_then(|a| a.image_id())
    {
        ui.say(&format!("AMI: {ami}"));
    }
    ui.say(&format!("Created: {}", date(d.date_created())));
    ui.say(&format!("Updated: {}", date(d.date_updated())));
    Ok(())
}

/// `list [-a] [-s STATUS]`.
pub(crate) async fn list(ui: &dyn Ui, global: &Global, opts: &ListOptions) -> Result<i32> {
    let region = global.region.clone();
    let ws = Workspace::find().ok();
    let region = ws
        .as_ref()
        .and_then(|w| w.region(region.clone()))
        .or(region);
    let api = Api::load(region.as_deref(), global).await?;
    let name = match (&ws, opts.all) {
        (Some(w), false) => w.config.global("platform_name"),
        _ => None,
    };
    let mut all = api
        .list(name.as_deref(), None, opts.status.as_deref())
        .await?;
    // ebp's order: by name, then by semantic version, newest first.
    all.sort_by_key(|p| {
        let arn = p.platform_arn().unwrap_or_default();
        let (n, v) = version::parse_arn(arn).unwrap_or_default();
        std::cmp::Reverse((n, version::parse(&v)))
    });
    for p in all {
        ui.say(&format!(
            "{}  Status: {}",
            p.platform_arn().unwrap_or_default(),
            p.platform_status()
                .map(aws_sdk_elasticbeanstalk::types::PlatformStatus::as_str)
                .unwrap_or_default()
        ));
    }
    Ok(0)
}

// --- events / logs --------------------------------------------------------------------------

/// `events [VERSION] [-f]`.
pub(crate) async fn events(
    ui: &dyn Ui,
    global: &Global,
    version: Option<&str>,
    follow: bool,
) -> Result<i32> {
    let (mut ws, api, name) = open_platform(global).await?;
    // ebp needs a version here; rpack falls back to the newest usable one.
    let arg = version_arg_or_workspace(&api, &mut ws, &name, version, false).await?;
    let (arn, _) = version_arn(&api, &name, &arg).await?;
    watch::events(ui, &api, &arn, follow).await?;
    Ok(0)
}

/// `logs [VERSION] [--stream]`.
pub(crate) async fn logs(
    ui: &dyn Ui,
    global: &Global,
    version: Option<&str>,
    stream: bool,
) -> Result<i32> {
    let (mut ws, api, name) = open_platform(global).await?;
    // Like ebp, the log is found from the name and version alone; following it also needs the
    // version's status, so its ARN.
    let arg = version_arg_or_workspace(&api, &mut ws, &name, version, false).await?;
    let (n, v) = parse_version_arg(&name, &arg)?;
    if stream {
        let (arn, _) = version_arn(&api, &name, &arg).await?;
        ui.say(&format!("Streaming the builder log of {n}/{v} until the version is ready, failed or deleted (Ctrl-C stops)."));
        watch::logs(ui, &api, &n, &v, Some(&arn)).await?;
    } else {
        watch::logs(ui, &api, &n, &v, None).await?;
    }
    Ok(0)
}

// --- delete ---------------------------------------------------------------------------------

/// `delete [VERSION] [--force] | --cleanup [--all-platforms] [--force]`.
pub(crate) async fn delete(ui: &dyn Ui, global: &Global, opts: &DeleteOptions) -> Result<i32> {
    let (_, api, name) = open_platform(global).await?;
    let force = opts.force;
    let arns: Vec<String> = if opts.cleanup {
        let all = opts.all;
        let scope = if all { None } else { Some(name.as_str()) };
        let mut failed: Vec<String> = api
            .list(scope, None, Some("Failed"))
            .await?
            .iter()
            .filter_map(|p| p.platform_arn().map(str::to_string))
            .collect();
        failed.sort();
        if !failed.is_empty() && !force {
            let mut prompt = Prompter::stdio();
            if all {
                prompt.echo("Failed platform versions for \"All Platforms\" will be removed.");
                for a in &failed {
                    prompt.echo(a);
                }
                prompt.confirm("To confirm, type \"all\"", "all")?;
            } else {
                prompt.echo(&format!(
                    "Failed platform versions for \"{name}\" will be removed."
                ));
                prompt.confirm("To confirm, type the platform name", &name)?;
            }
        }
        failed
    } else {
        let Some(v) = &opts.version else {
            bail!("pass the version to delete (or --cleanup to delete failed versions)")
        };
        let (arn, _) = version_arn(&api, &name, v).await?;
        if !force {
            let mut prompt = Prompter::stdio();
            prompt.echo(&format!(
                "The platform \"{arn}\" and all associated resources will be deleted."
            ));
            prompt.confirm("To confirm, type the platform arn", &arn)?;
        }
        vec![arn]
    };
    for arn in arns {
        let users = api.environments_using(&arn).await?;
        if !users.is_empty() {
            bail!(
                "platform version {arn} is in use by environment(s) {}; it cannot be deleted",
                users.join(", ")
            );
        }
        let rid = api.delete(&arn).await?;
        match watch::wait_for(
            ui,
            &api,
            &arn,
            rid.as_deref(),
            Duration::from_secs(600),
            None,
            &watch::DELETED,
        )
        .await?
        {
            Outcome::Success => {}
            Outcome::Failure(msg) => bail!("deleting {arn}: {msg}"),
            Outcome::TimedOut => bail!("{}", timeout_message("10")),
        }
    }
    Ok(0)
}

/// ebcli's `timeout.error`, with rpack's command.
pub(crate) fn timeout_message(minutes: &str) -> String {
    format!("rpack timed out after {minutes} minute(s). The operation might still be running. To keep viewing events, run 'rpack platform events -f'.")
}
