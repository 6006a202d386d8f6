//! `rpack platform create --local-build`: the definition's template built in this process, as
//! `rpack build` builds it (plan, then pipeline), with the AWS_EB_PLATFORM_* values EB's builder
//! would set given to `{{env}}` through the context's environment overlay ([`TemplateVars::env`]);
//! the process environment is never written. The build's artifacts come back as values.

use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::check::{Checked, TemplateVars};
use super::Global;
use crate::pipeline::{self, Shared};
use crate::plan::{self, BuilderConfig, Severity};
use crate::ui::Ui;

/// Builds `checked`'s template with `vars` and returns the AMI built in `region`. The build's
/// messages are shown as they come, like `rpack build` shows them. `global.profile` (`--profile`)
/// is the builders' profile where the template sets none, as `AWS_PROFILE` would be.
pub(crate) async fn run(
    ui: &Arc<dyn Ui>,
    checked: &Checked,
    vars: &TemplateVars,
    region: &str,
    global: &Global,
) -> Result<String> {
    let shown = checked.template_path.display().to_string();
    ui.say(&format!("Building the platform AMI locally from {shown}"));
    let failed = || anyhow!("the local build of {shown} failed");
    let path = checked.template_path.to_string_lossy();
    let loaded = plan::load(&**ui, &path, &vars.files, &vars.vars).map_err(|_| failed())?;
    let options = plan::Options {
        report_undefined: true,
        strict: crate::template::undefined::strict_from_env(),
        ..plan::Options::default()
    };
    let (plan, base) =
        plan::load::check_builds_in(&loaded, &options, vars.base_context(&loaded.template));
    if plan.has_errors() {
        for d in plan.diags.iter().filter(|d| d.severity == Severity::Error) {
            ui.error(&format!("Error: {}\n\n{}", d.summary, d.detail.trim_end()));
        }
        return Err(failed());
    }
    let mut builds = plan.builds;
    if let Some(profile) = &global.profile {
        for b in &mut builds {
            if let BuilderConfig::AmazonEbs(c) = &mut b.builder {
                c.access.profile.get_or_insert_with(|| profile.clone());
            }
        }
    }
    let mut ctx = base;
    ctx.user_vars = plan.user_vars;
    // As `rpack build`: undefined variables render "" and were reported by the check.
    ctx.strict_user_vars = false;
    let (code, artifacts) = with_signals(ui, |shared| {
        pipeline::run_collect(
            builds,
            ctx,
            pipeline::Options::default(),
            ui.clone(),
            shared,
        )
    })
    .await?;
    if code != 0 {
        return Err(failed());
    }
    let amis: Vec<String> = artifacts
        .iter()
        .flat_map(|a| a.id().split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    ami_in(&amis, region).with_context(|| {
        format!(
            "the local build produced no AMI in {region} (artifacts: {})",
            amis.join(", ")
        )
    })
}

/// The AMI of `region` among amazon artifact ids (`region:ami-…`).
fn ami_in(ids: &[String], region: &str) -> Option<String> {
    ids.iter().find_map(|a| {
        a.split_once(':')
            .filter(|(r, _)| *r == region)
            .map(|(_, ami)| ami.to_string())
    })
}

/// Runs the build `f` starts with `rpack build`'s signal handling: the first SIGINT/SIGTERM
/// cancels it (its steps clean up), the second exits at once. Once the build is over a signal
/// ends the process, as it did before the handlers were installed (a handler, once installed,
/// stays for the whole process).
async fn with_signals<F, Fut, T>(ui: &Arc<dyn Ui>, f: F) -> Result<T>
where
    F: FnOnce(Shared) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let shared = Shared::default();
    let build = f(shared.clone());
    tokio::pin!(build);
    let mut count = 0;
    let out = loop {
        tokio::select! {
            out = &mut build => break out,
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        count += 1;
        if count == 1 {
            ui.error("Cancelling build after receiving interrupt");
            shared.cancel.cancel();
        } else {
            shared.hard_cancel.cancel();
            ui.error(&pipeline::signals::second_interrupt(&shared));
            std::process::exit(1);
        }
    };
    tokio::spawn(exit_on_signal(int, term));
    Ok(out)
}

/// The default action of SIGINT (exit 130) and SIGTERM (exit 143), for after the build.
async fn exit_on_signal(mut int: Signal, mut term: Signal) {
    let code = tokio::select! {
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ami_of_the_region_is_picked() {
        let ids = vec!["us-east-1:ami-1".to_string(), "eu-west-1:ami-2".to_string()];
        assert_eq!(ami_in(&ids, "eu-west-1").as_deref(), Some("ami-2"));
        assert_eq!(ami_in(&ids, "ap-south-1"), None);
    }
}
