//! `rpack platform publish`: a saved configuration (on a managed platform) that runs a custom
//! platform's AMI with the definition's option settings, the path AWS still supports since it
//! retired custom platforms; optionally applied to an environment.

use anyhow::{bail, Context, Result};

use super::api::setting;
use super::resolve::{version_arg_or_workspace, version_arn};
use super::workspace::open_platform;
use super::{yaml, Global};
use crate::ui::Ui;

/// `publish [VERSION] --application APP [--template-name NAME] [--ami AMI]
/// (--solution-stack STACK | --platform-arn ARN) [--environment ENV]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PublishOptions {
    pub version: Option<String>,
    pub application: String,
    pub template_name: Option<String>,
    pub ami: Option<String>,
    pub solution_stack: Option<String>,
    pub platform_arn: Option<String>,
    pub environment: Option<String>,
}

/// `publish`: a saved configuration of `application` that runs the AMI.
pub(crate) async fn publish(ui: &dyn Ui, global: &Global, opts: &PublishOptions) -> Result<i32> {
    let (mut ws, api, name) = open_platform(global).await?;
    let yaml_text =
        crate::limits::read_text(&ws.root.join("platform.yaml"), "platform definition")?;
    let def = yaml::parse_definition(&yaml_text)
        .map_err(|p| anyhow::anyhow!("platform.yaml is not valid:\n{p}"))?;
    let (ami, ver) = if let Some(a) = &opts.ami {
        (
            a.clone(),
            opts.version
                .clone()
                .or_else(|| ws.config.global("platform_version"))
                .unwrap_or_else(|| "0.0.0".into()),
        )
    } else {
        let arg =
            version_arg_or_workspace(&api, &mut ws, &name, opts.version.as_deref(), false).await?;
        let (arn, d) = version_arn(&api, &name, &arg).await?;
        let d = match d {
            Some(d) => d,
            None => api.describe(&arn).await?,
        };
        let ami = d
            .custom_ami_list()
            .iter()
            .find(|a| a.virtualization_type() == Some("hvm"))
            .and_then(|a| a.image_id())
            .map(str::to_string);
        (
            ami.with_context(|| format!("{arn} has no AMI yet: pass --ami"))?,
            d.platform_version().unwrap_or_default().to_string(),
        )
    };
    let stack = opts.solution_stack.as_deref();
    let platform_arn = opts.platform_arn.as_deref();
    if stack.is_none() == platform_arn.is_none() {
        bail!(
            "pass exactly one of --solution-stack (a managed platform's stack) or --platform-arn"
        );
    }
    let app = &opts.application;
    let template = opts
        .template_name
        .clone()
        .unwrap_or_else(|| format!("{name}-{}", ver.replace('.', "-")));
    let mut settings = vec![setting(
        "aws:autoscaling:launchconfiguration",
        "ImageId",
        &ami,
    )];
    for d in &def.option_definitions {
        settings.push(setting(
            "aws:elasticbeanstalk:application:environment",
            &d.option_name,
            d.default_value.as_deref().unwrap_or(""),
        ));
    }
    for s in &def.option_settings {
        settings.push(setting(&s.namespace, &s.option_name, &s.value));
    }
    let description = format!("{name} {ver}: custom AMI {ami} (rpack platform publish)");
    api.create_configuration_template(app, &template, platform_arn, stack, &description, settings)
        .await?;
    ui.say(&format!(
        "Created saved configuration '{template}' of application '{app}' with AMI {ami}."
    ));
    if let Some(env) = &opts.environment {
        api.update_environment(env, &template).await?;
        ui.say(&format!(
            "Updating environment '{env}' to saved configuration '{template}'."
        ));
    }
    Ok(0)
}
