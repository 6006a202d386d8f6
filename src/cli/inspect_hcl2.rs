//! `inspect` of an HCL2 template: Packer's "HCL2 mode" view (`PackerConfig.InspectConfig`,
//! unchanged from 1.6.6 to 1.16): the input variables and locals with their values, then each
//! build block's sources, provisioners and post-processor chains. Three `say` messages, so
//! `-machine-readable` gives three `ui,say` records, as Packer's.
//!
//! Sensitive values are masked in both outputs (Packer masks only the human one).

use super::{args, help, usage_error, validate, Output};
use crate::template::hcl2::inspect::{self, View};
use crate::template::hcl2::{self, DataOptions};
use crate::ui::{Secrets, Ui};

/// Runs `inspect` on the HCL2 template `targs` names.
pub(super) fn run(out: &Output, targs: &args::TemplateArgs) -> i32 {
    let plain = out.ui(Secrets::default());
    let vars = match validate::parse_vars(targs) {
        Ok(v) => v,
        Err(msg) => return usage_error(&*plain, help::INSPECT, &args::UsageError(Some(msg))),
    };
    let data = DataOptions {
        provider: Some(&crate::plan::datasources::Provider),
        execute: true,
        plugins: None,
    };
    let secrets = Some(crate::aws::secrets::secrets_lookup());
    let view = hcl2::with_secrets(secrets, || {
        inspect::inspect(&targs.template, &targs.var_files, &vars, data)
    });
    let view = match view {
        Ok(v) => v,
        Err(e) => {
            plain.error(&e);
            return 1;
        }
    };
    if !view.warnings.is_empty() {
        plain.error(&view.warnings);
    }
    let ui = out.ui(Secrets::new(view.secrets.iter().cloned()));
    say(&*ui, &view);
    0
}

/// Prints `view` as Packer does.
pub(super) fn say(ui: &dyn Ui, view: &View) {
    ui.say("Packer Inspect: HCL2 mode\n");
    ui.say(&variables(view));
    ui.say(&builds(view));
}

fn variables(view: &View) -> String {
    let mut out = String::from("> input-variables:\n\n");
    for (name, value) in &view.variables {
        out.push_str(&format!("var.{name}: {}\n", go_q(value)));
    }
    out.push_str("\n> local-variables:\n\n");
    for (name, value) in &view.locals {
        out.push_str(&format!("local.{name}: {}\n", go_q(value)));
    }
    out
}

fn builds(view: &View) -> String {
    let mut out = String::from("> builds:\n");
    for (i, b) in view.builds.iter().enumerate() {
        let name = if b.name.is_empty() {
            format!("<unnamed build {i}>")
        } else {
            b.name.clone()
        };
        out.push_str(&format!("\n  > {name}:\n"));
        if !b.description.is_empty() {
            out.push_str(&format!("\n  > Description: {}\n", b.description));
        }
        out.push_str("\n    sources:\n");
        if b.sources.is_empty() {
            out.push_str("\n      <no source>\n");
        }
        for s in &b.sources {
            out.push_str(&format!("\n      {s}\n"));
        }
        out.push_str("\n    provisioners:\n\n");
        if b.provisioners.is_empty() {
            out.push_str("      <no provisioner>\n");
        }
        for p in &b.provisioners {
            out.push_str(&format!("      {p}\n"));
        }
        out.push_str("\n    post-processors:\n");
        if b.post_processors.is_empty() {
            out.push_str("\n      <no post-processor>\n");
        }
        for (j, chain) in b.post_processors.iter().enumerate() {
            out.push_str(&format!("\n      {j}:\n"));
            for p in chain {
                out.push_str(&format!("        {p}\n"));
            }
        }
    }
    out
}

/// Go's `%q`.
fn go_q(s: &str) -> String {
    crate::gocompat::strconv::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::hcl2::inspect::BuildView;

    #[test]
    fn the_view_is_laid_out_as_packers() {
        let v = View {
            variables: vec![("n".into(), "x\"y".into())],
            locals: Vec::new(),
            builds: vec![
                BuildView {
                    sources: vec!["null.a".into()],
                    post_processors: vec![vec!["manifest".into(), "checksum.c".into()]],
                    ..BuildView::default()
                },
                BuildView {
                    name: "b".into(),
                    description: "d".into(),
                    provisioners: vec!["shell".into()],
                    ..BuildView::default()
                },
            ],
            ..View::default()
        };
        assert_eq!(
            variables(&v),
            "> input-variables:\n\nvar.n: \"x\\\"y\"\n\n> local-variables:\n\n"
        );
        assert_eq!(
            builds(&v),
            "> builds:\n\n  > <unnamed build 0>:\n\n    sources:\n\n      null.a\n\n    \
             provisioners:\n\n      <no provisioner>\n\n    post-processors:\n\n      0:\n        \
             manifest\n        checksum.c\n\n  > b:\n\n  > Description: d\n\n    sources:\n\n      \
             <no source>\n\n    provisioners:\n\n      shell\n\n    post-processors:\n\n      \
             <no post-processor>\n"
        );
    }
}
