//! `inspect`: the template's description, variables, builders and provisioners, printed
//! exactly as Packer 1.6.6 prints them (human and machine-readable). Sensitive variables show
//! as `<sensitive>` in both. An HCL2 template gets Packer's HCL2 view ([`super::inspect_hcl2`]).

use super::args;
use super::{help, usage_error, Output};
use crate::plan::load;
use crate::template::hcl2;
use crate::template::parse::Template;
use crate::ui::{Secrets, Ui};

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    // The process exits once the template is checked: its trees need not be freed.
    crate::template::keep_trees_until_exit();
    let ui = out.ui(Secrets::default());
    let targs =
        match args::parse(args::inspect_command(), rest).and_then(|m| args::template_args(&m)) {
            Ok(t) => t,
            Err(e) => return usage_error(&*ui, help::INSPECT, &e),
        };
    if hcl2::is_hcl2_path(&targs.template) && std::fs::metadata(&targs.template).is_ok() {
        return super::inspect_hcl2::run(out, &targs);
    }
    // Packer's JSON mode takes -var, -var-file, -only and -except and ignores them.
    let loaded = match load(&*ui, &targs.template, &[], &[]) {
        Ok(l) => l,
        Err(code) => return code,
    };
    inspect(&*ui, &loaded.template);
    0
}

/// Prints the inspection of `tpl`.
pub(super) fn inspect(ui: &dyn Ui, tpl: &Template) {
    ui.say("Packer Inspect: JSON mode");
    if let Some(d) = tpl.description.as_deref().filter(|d| !d.is_empty()) {
        ui.say("Description:\n");
        ui.say(&format!("{d}\n"));
    }
    if tpl.variables.is_empty() {
        ui.say("Variables:\n");
        ui.say("  <No variables>");
    } else {
        let mut vars: Vec<_> = tpl.variables.iter().collect();
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        let shown = |name: &str, default: &str| -> String {
            if tpl.sensitive_variables.iter().any(|s| s == name) {
                "<sensitive>".to_string()
            } else {
                default.to_string()
            }
        };
        let required: Vec<_> = vars.iter().filter(|v| v.default.is_none()).collect();
        if !required.is_empty() {
            ui.say("Required variables:\n");
            for v in &required {
                ui.machine(
                    "",
                    "template-variable",
                    &[&v.name, &shown(&v.name, ""), "1"],
                );
                ui.say(&format!("  {}", v.name));
            }
            ui.say("");
        }
        ui.say("Optional variables and their defaults:\n");
        let width = vars.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in vars.iter().filter(|v| v.default.is_some()) {
            let value = shown(&v.name, v.default.as_deref().unwrap_or(""));
            ui.machine("", "template-variable", &[&v.name, &value, "0"]);
            ui.say(&format!(
                "  {}{} = {}",
                v.name,
                " ".repeat(width - v.name.len()),
                value
            ));
        }
    }
    ui.say("");
    ui.say("Builders:\n");
    if tpl.builders.is_empty() {
        ui.say("  <No builders>");
    } else {
        let mut builders: Vec<_> = tpl.builders.iter().collect();
        builders.sort_by(|a, b| a.name.cmp(&b.name));
        let width = builders.iter().map(|b| b.name.len()).max().unwrap_or(0);
        for b in builders {
            let mut line = format!("  {}{}", b.name, " ".repeat(width - b.name.len()));
            if b.name != b.kind {
                line = format!("{line} ({})", b.kind);
            }
            ui.machine("", "template-builder", &[&b.name, &b.kind]);
            ui.say(&line);
        }
    }
    ui.say("");
    ui.say("Provisioners:\n");
    if tpl.provisioners.is_empty() {
        ui.say("  <No provisioners>");
    } else {
        for p in &tpl.provisioners {
            ui.machine("", "template-provisioner", &[&p.kind]);
            ui.say(&format!("  {}", p.kind));
        }
    }
    ui.say(
        "\nNote: If your build names contain user variables or template\n\
         functions such as 'timestamp', these are processed at build time,\n\
         and therefore only show in their raw form here.",
    );
}
