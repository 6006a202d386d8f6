//! `build`: load and check the template exactly like `validate`, then run the selected builds.
//! A `-only`/`-except` name that matches no build is an error (Packer silently builds nothing).

use std::sync::Arc;

use super::args::{self, TemplateArgs};
use super::check_builds;
use super::diags::write_diags;
use super::validate::parse_vars;
use super::{help, usage_error, Output};
use crate::pipeline::{self, OnErrorFlag};
use crate::plan::load;
use crate::ui::Secrets;

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    let parsed = args::parse(args::build_command(), rest)
        .and_then(|m| args::template_args(&m).map(|t| (m, t)));
    let (m, targs) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(&*ui, help::build(), &e),
    };
    let on_error: OnErrorFlag = match m
        .get_one::<String>("on-error")
        .map_or("", String::as_str)
        .parse()
    {
        Ok(v) => v,
        Err(msg) => return usage_error(&*ui, help::build(), &args::UsageError(Some(msg))),
    };
    let parallel = m.get_one::<i64>("parallel-builds").copied().unwrap_or(0);
    if parallel < 0 {
        return usage_error(
            &*ui,
            help::build(),
            &args::UsageError(Some(format!(
                "-parallel-builds must be 0 (no limit) or more, got {parallel}"
            ))),
        );
    }
    let color_flag = !m.contains_id("color") || args::flag(&m, "color");
    let live = !out.machine && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let color = live && color_flag && std::env::var_os("PACKER_NO_COLOR").is_none();
    let ui = out.ui_coloured(Secrets::default(), color_flag);
    let opts = pipeline::Options {
        parallel_builds: parallel as usize,
        on_error,
        debug: args::flag(&m, "debug"),
        force: args::flag(&m, "force"),
        timestamp_ui: args::flag(&m, "timestamp-ui"),
        color,
        live,
    };
    let vars = match parse_vars(&targs) {
        Ok(v) => v,
        Err(msg) => return usage_error(&*ui, help::build(), &args::UsageError(Some(msg))),
    };
    let loaded = match load(&*ui, &targs.template, &targs.var_files, &vars) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Some(code) = unknown_selection(&*ui, &loaded.template, &targs) {
        return code;
    }
    let (checked, base, ui) = check_builds(out, &loaded, &targs);
    // What `validate` would say, warnings included (like Packer's build, which prints its
    // preparation warnings before building); undefined user variables are among them, or
    // errors with `-strict`/`RPACK_STRICT=1`.
    let code = write_diags(&*ui, &checked.diags);
    if checked.has_errors() {
        return code;
    }
    let mut ctx = base.clone();
    ctx.user_vars = checked.user_vars.clone();
    // Undefined variables render "" (like Packer) and were reported just above.
    ctx.strict_user_vars = false;
    let ui: Arc<dyn crate::ui::Ui> = Arc::from(ui);
    pipeline::run_blocking(checked.builds, ctx, opts, ui)
}

/// `-only`/`-except` must name builds (or, for `-except`, post-processors) that exist.
fn unknown_selection(
    ui: &dyn crate::ui::Ui,
    tpl: &crate::template::parse::Template,
    t: &TemplateArgs,
) -> Option<i32> {
    let builds: Vec<&str> = tpl.builders.iter().map(|b| b.name.as_str()).collect();
    let pps: Vec<String> = tpl
        .post_processors
        .iter()
        .flatten()
        .map(|p| p.name.clone())
        .collect();
    let mut unknown = Vec::new();
    for n in &t.only {
        if !builds.contains(&n.as_str()) {
            unknown.push(format!(
                "-only={n}: no build is named {n:?} (builds: {})",
                builds.join(", ")
            ));
        }
    }
    for n in &t.except {
        if !builds.contains(&n.as_str()) && !pps.contains(n) {
            unknown.push(format!(
                "-except={n}: no build or post-processor is named {n:?} (builds: {})",
                builds.join(", ")
            ));
        }
    }
    if unknown.is_empty() {
        return None;
    }
    ui.error(&format!("Error: {}", unknown.join("\n")));
    Some(1)
}
