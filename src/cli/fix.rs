//! `fix`: Packer 1.6.6's fixers over a JSON template, the result on stdout in Go's encoding
//! (keys sorted, two-space indent), then (unless `-validate=false`) the fixed template parsed
//! and validated, with Packer's messages.

use super::{args, usage_error, Output};
use crate::gocompat::json::fix_output;
use crate::plan::fix::{decode, fix, FIXERS};
use crate::template::parse::{parse_str, render_template_errors, ParseError, TemplateError};
use crate::ui::{Secrets, Ui};

/// `packer fix -h`, the fixer list built from the fixers themselves.
pub(super) fn help() -> String {
    let mut text = String::from(
        "Usage: packer fix [options] TEMPLATE

  Reads the JSON template and attempts to fix known backwards
  incompatibilities. The fixed template will be outputted to standard out.

  If the template cannot be fixed due to an error, the command will exit
  with a non-zero exit status. Error messages will appear on standard error.

Fixes that are run (in order):

",
    );
    for (name, synopsis, _) in FIXERS {
        text.push_str(&format!("  {name:<27}{synopsis}\n"));
    }
    text.push_str(
        "\nOptions:\n\n  -validate=true      If true (default), validates the fixed template.",
    );
    text
}

pub(super) fn run(out: &Output, rest: &[String]) -> i32 {
    let ui = out.ui(Secrets::default());
    let help = help();
    let m = match args::parse(args::fix_command(), rest) {
        Ok(m) => m,
        Err(e) => return usage_error(&*ui, &help, &e),
    };
    let templates: Vec<String> = m
        .get_many::<String>("template")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let [path] = templates.as_slice() else {
        ui.say(&help);
        return 1;
    };
    let validate = !m.contains_id("validate") || args::flag(&m, "validate");
    fix_file(&*ui, path, validate)
}

fn fix_file(ui: &dyn Ui, path: &str, validate: bool) -> i32 {
    let bytes = match crate::limits::read_file(
        std::path::Path::new(path),
        "template",
        crate::limits::max_input(),
        |e| format!("open {path}: {}", crate::template::parse::io_error_text(e)),
    ) {
        Ok(b) => b,
        Err(e) => {
            ui.error(&format!("Error opening template: {e}"));
            return 1;
        }
    };
    let src = String::from_utf8_lossy(&bytes);
    let parsed = match crate::template::json::parse_allowing_duplicates(&src) {
        Ok(root) => decode(&root),
        Err(crate::template::json::JsonError::Syntax { message, .. }) => Err(message),
        Err(e) => Err(e.to_string()),
    };
    let input = match parsed {
        Ok(m) => m,
        Err(e) => {
            ui.error(&format!("Error parsing template: {e}"));
            return 1;
        }
    };
    let fixed = match fix(input) {
        Ok(v) => v,
        Err(e) => {
            ui.error(&format!("Error fixing: {e}"));
            return 1;
        }
    };
    let text = fix_output(&fixed);
    ui.say(&text);
    if !validate {
        return 0;
    }
    let after = "\n\nThis is usually caused by an error in the input template.\nPlease fix the error and try again.";
    match parse_str(&text) {
        Err(ParseError::Template(errs)) => {
            ui.error(&format!(
                "Error! Fixed template fails to parse: {}{after}",
                first_stage(&errs)
            ));
            1
        }
        // `template.Parse` (not `ParseFile`): Go's bare syntax message, no position.
        Err(ParseError::Json(crate::template::json::JsonError::Syntax { message, .. })) => {
            ui.error(&format!(
                "Error! Fixed template fails to parse: {message}{after}"
            ));
            1
        }
        Err(e) => {
            ui.error(&format!("Error! Fixed template fails to parse: {e}{after}"));
            1
        }
        Ok(t) => {
            let errs = t.validate();
            if errs.is_empty() {
                return 0;
            }
            ui.error(&format!(
                "Error! Fixed template failed to validate: {}{after}",
                render_template_errors(&errs)
            ));
            1
        }
    }
}

/// Packer's parser stops at the first stage that fails; rpack's reports them all.
fn first_stage(errs: &[TemplateError]) -> String {
    let first: Vec<TemplateError> = errs
        .iter()
        .filter(|e| Some(e.stage) == errs.first().map(|f| f.stage))
        .cloned()
        .collect();
    render_template_errors(&first)
}
