//! `rpack platform create`: check the definition, bundle it, upload it and create the version
//! (ebp's `create`), or with `--local-build` build the AMI in-process first and register a thin
//! definition that starts from it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_elasticbeanstalk::types::{ConfigurationOptionSetting, Tag};

use super::api::{setting, Api, BUILDER_PROFILE};
use super::check::{self, TemplateVars};
use super::manage::timeout_message;
use super::watch::{self, LogTail, Outcome};
use super::workspace::{current_branch, Workspace};
use super::{bundle, local_build, version, yaml, Global};
use crate::ui::Ui;

/// The builder environment name EB uses (ebp hard-codes it too).
const BUILDER_ENV: &str = "eb-custom-platform-builder-packer";

/// `create [VERSION] [-M|-m|-p] [-i TYPE] [-ip PROFILE] [--vpc.id ID] [--vpc.subnets IDS]
/// [--vpc.publicip] [--timeout MIN] [--tags k=v,...] [--local-build [-var k=v] [-var-file F]]`.
///
/// `tags` and `vars` are kept as typed and checked by [`create`] in ebp's order (after the
/// workspace and the version), so the first problem reported stays the same.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateOptions {
    pub version: Option<String>,
    pub major: bool,
    pub minor: bool,
    pub patch: bool,
    pub instance_type: Option<String>,
    pub instance_profile: Option<String>,
    pub vpc_id: Option<String>,
    pub vpc_subnets: Option<String>,
    pub vpc_publicip: bool,
    /// `--timeout` in minutes as given (checked by [`parse_minutes`]); 30 when unset.
    pub timeout: Option<String>,
    pub tags: Option<String>,
    pub local_build: bool,
    /// `-var k=v`, as given.
    pub vars: Vec<String>,
    pub var_files: Vec<String>,
}

/// `k=v,k2=v2` with ebcli's limits (keys ≤127, values ≤255, `[\w\s.:/+=@-]`).
pub(crate) fn parse_tags(s: &str) -> Result<Vec<Tag>> {
    let ok = |t: &str| {
        t.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:\\/+=@-".contains(c))
    };
    let mut out = Vec::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--tags: {pair:?} is not key=value")
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.chars().count() > 127 || !ok(k) {
            bail!("--tags: key {k:?} must be 1-127 characters of letters, digits, spaces and _.:/+=@-");
        }
        if v.chars().count() > 255 || !ok(v) {
            bail!("--tags: value {v:?} of {k} must be at most 255 characters of letters, digits, spaces and _.:/+=@-");
        }
        out.push(Tag::builder().key(k).value(v).build());
    }
    Ok(out)
}

/// The template's `-var`s (`KEY=VALUE` each) and `-var-file`s.
pub(crate) fn template_vars(vars: &[String], files: &[String]) -> Result<TemplateVars> {
    let mut out = Vec::new();
    for v in vars {
        let Some((k, val)) = v.split_once('=') else {
            bail!("-var {v:?}: expected KEY=VALUE")
        };
        out.push((k.to_string(), val.to_string()));
    }
    Ok(TemplateVars {
        files: files.to_vec(),
        vars: out,
        ..TemplateVars::default()
    })
}

/// `--timeout MIN`: whole minutes like ebp, or a fraction of one.
pub(crate) fn parse_minutes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
        _ => Err(format!("{s:?} is not a number of minutes")),
    }
}

/// `create`: checks the definition, bundles it (or builds the AMI first with `local_build`),
/// uploads the bundle and creates the version, then follows it for `timeout` minutes.
pub(crate) async fn create(ui: Arc<dyn Ui>, global: &Global, opts: &CreateOptions) -> Result<i32> {
    let ui_ref: &dyn Ui = &*ui;
    let mut ws = Workspace::find()?;
    let name = ws.platform_name()?;
    let cwd = std::env::current_dir()?;
    let has_entries = std::fs::read_dir(&ws.root)?
        .flatten()
        .any(|e| !e.file_name().to_string_lossy().starts_with('.'));
    if !has_entries {
        bail!("the platform workspace {} is empty", ws.root.display());
    }
    if !cwd.join("platform.yaml").is_file() {
        bail!("Your workspace does not have a Platform Definition File, 'platform.yaml', in the root directory.");
    }
    let explicit = opts.version.clone();
    if let Some(v) = &explicit {
        if version::parse(v).is_none() {
            bail!("Invalid version format {v:?}: only ^\\d+\\.\\d+\\.\\d+$ is allowed");
        }
    }
    let tags = opts
        .tags
        .as_deref()
        .map(parse_tags)
        .transpose()?
        .unwrap_or_default();
    // platform.yaml alone first: no AWS call for a definition that cannot work.
    let yaml_text = crate::limits::read_text(&cwd.join("platform.yaml"), "platform definition")?;
    yaml::parse_definition(&yaml_text)
        .map_err(|p| anyhow::anyhow!("platform.yaml is not valid:\n{p}"))?;

    let api = Api::load(ws.region(global.region.clone()).as_deref(), global).await?;
    let account = api.account_id().await?;
    let ver = if let Some(v) = explicit {
        v
    } else {
        // Failed and Deleting versions count (ebcli passes ignored_states=[]).
        let latest = api.list(Some(&name), Some("latest"), None).await?;
        let latest = latest
            .first()
            .and_then(|p| p.platform_version())
            .and_then(version::parse);
        let bump = version::Bump {
            major: opts.major,
            minor: opts.minor,
            patch: opts.patch,
        };
        version::show(version::next(latest, bump))
    };
    let arn = version::arn(&api.region, &account, &name, &ver);
    let mut vars = template_vars(&opts.vars, &opts.var_files)?;
    vars.env = check::platform_env(&name, &ver, &arn)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let checked = check::definition(&cwd, &api.region, &vars)
        .map_err(|p| anyhow::anyhow!("the platform definition is not valid:\n{}", p.join("\n")))?;
    let missing = check::source_ami_problems(&checked, &api).await?;
    if !missing.is_empty() {
        bail!(
            "the platform definition is not valid:\n{}",
            missing.join("\n")
        );
    }

    // The bundle: the workspace itself, or with --local-build a thin one starting from the AMI.
    let label = version::label(
        if bundle::source(&ws.root) == bundle::Source::Git {
            bundle::git_describe(&ws.root)
        } else {
            None
        }
        .as_deref(),
        chrono::Utc::now(),
    );
    let staging = ws.root.join(".elasticbeanstalk/app_versions");
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let zip_path = staging.join(format!("{label}.zip"));
    let healthd = yaml::with_healthd_settings(&checked.yaml_text, &checked.definition);
    let bundle_opts = bundle::Options {
        git_submodules: ws
            .config
            .global("include_git_submodules")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        ..Default::default()
    };
    let built_ami = if opts.local_build {
        let ami = local_build::run(&ui, &checked, &vars, &api.region, global).await?;
        let dir = staging.join(format!("{label}-thin"));
        thin_bundle(&checked, &ami, &api.region, &dir, healthd.as_deref())?;
        bundle::write(&dir, &zip_path, None, &bundle_opts)?;
        let _ = std::fs::remove_dir_all(&dir);
        Some(ami)
    } else {
        if bundle::source(&ws.root) == bundle::Source::Git && bundle::git_dirty(&ws.root) {
            ui_ref.say(
                "WARNING: You have uncommitted changes; only files committed at HEAD are bundled.",
            );
        }
        let names = bundle::write(&ws.root, &zip_path, healthd.as_deref(), &bundle_opts)?;
        if let Some(w) = crate::platform::secret_files::warning(&names) {
            ui_ref.say(&w);
        }
        None
    };

    let profile = opts
        .instance_profile
        .clone()
        .or_else(|| ws.config.global("instance_profile"));
    let profile = match profile {
        Some(p) if p != BUILDER_PROFILE => p,
        _ => {
            if let Some(w) = api.ensure_instance_profile(BUILDER_PROFILE).await? {
                ui_ref.say(&format!(
                    "WARNING: could not create instance profile {BUILDER_PROFILE}: {w}"
                ));
            }
            BUILDER_PROFILE.to_string()
        }
    };
    ws.config.set_global("instance_profile", Some(&profile));
    ws.save()?;

    let bucket = api.storage_location().await?;
    let key = format!("{name}/{label}.zip");
    ui_ref.say(&format!(
        "Uploading {name}/{label}.zip to S3. This may take a while."
    ));
    let uploaded = api.upload(&bucket, &key, &zip_path).await;
    let _ = std::fs::remove_file(&zip_path);
    if uploaded? {
        ui_ref.say("Upload Complete.");
    }

    let key_name = ws.config.global("default_ec2_keyname");
    let mut settings: Vec<ConfigurationOptionSetting> = vec![setting(
        "aws:autoscaling:launchconfiguration",
        "IamInstanceProfile",
        &profile,
    )];
    if let Some(k) = &key_name {
        settings.push(setting(
            "aws:autoscaling:launchconfiguration",
            "EC2KeyName",
            k,
        ));
    }
    if let Some(t) = &opts.instance_type {
        settings.push(setting(
            "aws:autoscaling:launchconfiguration",
            "InstanceType",
            t,
        ));
    }
    if let Some(v) = &opts.vpc_id {
        settings.push(setting("aws:ec2:vpc", "VPCId", v));
    }
    if let Some(v) = &opts.vpc_subnets {
        settings.push(setting("aws:ec2:vpc", "Subnets", v));
    }
    if opts.vpc_publicip {
        settings.push(setting("aws:ec2:vpc", "AssociatePublicIpAddress", "true"));
    }
    for (ns, n, v) in yaml::HEALTHD_SETTINGS {
        settings.push(setting(ns, n, v));
    }
    let (arn, request_id) = match api.create(&name, &ver, &bucket, &key, settings, tags).await {
        Ok(r) => r,
        Err(e) => {
            ui_ref.error(&format!("ERROR: {e:#}"));
            ui_ref.error("Elastic Beanstalk rejected CreatePlatformVersion. AWS retired custom platforms in 2022; build the AMI with `rpack platform create --local-build` or `rpack build`, then run it on a managed platform with `rpack platform publish --ami AMI --application APP --solution-stack STACK`.");
            if let Some(ami) = built_ami {
                ui_ref.error(&format!("The locally built AMI is {ami}."));
            }
            return Ok(1);
        }
    };
    ui_ref.say(&format!("Note: An environment called '{BUILDER_ENV}' has been created in order to build your platform before it can be used. You can terminate it when no platform build is running."));
    ws.config.set_global("platform_version", Some(&ver));
    ws.config
        .set_branch_environment(&current_branch(&ws.root), BUILDER_ENV);
    ws.save()?;
    // ebp waits 30 minutes unless told otherwise, and not at all with --timeout 0.
    let minutes = opts.timeout.clone().unwrap_or_else(|| "30".into());
    let timeout = parse_minutes(&minutes).map_err(anyhow::Error::msg)?;
    if timeout == 0.0 {
        return Ok(0);
    }
    let mut log = LogTail::new(&name, &ver);
    match watch::wait_for(
        ui_ref,
        &api,
        &arn,
        request_id.as_deref(),
        Duration::from_secs_f64(timeout * 60.0),
        Some(&mut log),
        &watch::CREATED,
    )
    .await?
    {
        Outcome::Success => Ok(0),
        Outcome::Failure(msg) => {
            ui_ref.error(&format!("ERROR: {msg}"));
            Ok(1)
        }
        Outcome::TimedOut => {
            ui_ref.error(&format!("ERROR: {}", timeout_message(&minutes)));
            Ok(1)
        }
    }
}

/// The definition EB's builder gets after a local build: platform.yaml as is, and a template
/// whose amazon-ebs builder starts from `ami` with no provisioners of the user's, so EB's
/// builder only adds its bootstrap.
fn thin_bundle(
    checked: &check::Checked,
    ami: &str,
    region: &str,
    dir: &Path,
    yaml_text: Option<&str>,
) -> Result<()> {
    let raw = crate::limits::read_text(&checked.template_path, "template")?;
    let tpl: serde_json::Value = serde_json::from_str(&raw)
        .with_context(|| format!("reading {}", checked.template_path.display()))?;
    let builder = tpl["builders"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "amazon-ebs"))
        .context("the template has no amazon-ebs builder")?;
    let mut thin = serde_json::Map::new();
    for k in [
        "type",
        "name",
        "instance_type",
        "ssh_username",
        "ssh_pty",
        "ssh_timeout",
        "ami_description",
    ] {
        if let Some(v) = builder.get(k) {
            thin.insert(k.into(), v.clone());
        }
    }
    thin.insert("region".into(), region.into());
    thin.insert("source_ami".into(), ami.into());
    thin.insert(
        "ami_name".into(),
        "{{user `platform_name`}}-{{user `platform_version`}}-{{timestamp}}".into(),
    );
    thin.insert(
        "tags".into(),
        serde_json::json!({"eb_platform_name": "{{user `platform_name`}}", "eb_platform_version": "{{user `platform_version`}}", "eb_platform_arn": "{{user `platform_arn`}}", "rpack_base_ami": ami}),
    );
    let mut variables = tpl["variables"].as_object().cloned().unwrap_or_default();
    variables.insert(
        "platform_name".into(),
        "{{env `AWS_EB_PLATFORM_NAME`}}".into(),
    );
    variables.insert(
        "platform_version".into(),
        "{{env `AWS_EB_PLATFORM_VERSION`}}".into(),
    );
    variables.insert(
        "platform_arn".into(),
        "{{env `AWS_EB_PLATFORM_ARN`}}".into(),
    );
    let doc = serde_json::json!({
        "description": format!("Thin Elastic Beanstalk platform template: starts from {ami}, built locally by rpack"),
        "variables": variables,
        "builders": [thin],
        "provisioners": [{"type": "shell", "inline": [format!("echo 'platform AMI built by rpack from {}'", checked.definition.template)]}]
    });
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("platform.yaml"),
        yaml_text.unwrap_or(&checked.yaml_text),
    )?;
    std::fs::write(
        dir.join(&checked.definition.template),
        serde_json::to_string_pretty(&doc)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_ebcli_rules() {
        let t = parse_tags("a=1, team = web ops,x/y=z:w").unwrap();
        let pairs: Vec<_> = t
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("team".into(), "web ops".into()),
                ("x/y".into(), "z:w".into())
            ]
        );
        assert!(parse_tags("novalue").is_err());
        assert!(parse_tags("a=b;c").is_err());
        assert!(parse_tags(&format!("{}=v", "k".repeat(128))).is_err());
    }

    #[test]
    fn vars_are_key_value() {
        let v = template_vars(&["a=b=c".into()], &["f.json".into()]).unwrap();
        assert_eq!(v.vars, vec![("a".to_string(), "b=c".to_string())]);
        assert_eq!(v.files, vec!["f.json".to_string()]);
        assert!(template_vars(&["novalue".into()], &[]).is_err());
    }
}
