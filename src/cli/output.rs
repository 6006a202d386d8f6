//! Loading a template for a command (Packer's `GetConfig`) and printing diagnostics the way
//! Packer's HCL diagnostics writer does (`Error: <summary>\n\n<detail wrapped at 80>\n\n`).

use std::collections::BTreeMap;

use super::args::TemplateArgs;
use super::Output;
use crate::template::interp::Context;
use crate::template::parse::{self, Template};
use crate::template::plan::{self, Checked, Diag, Options, Severity};
use crate::template::variables;
use crate::ui::{wrap_string, Ui};

/// Width Packer's diagnostics writer wraps details at.
const DIAG_WIDTH: usize = 80;

/// Renders diagnostics as one block, exactly like Packer's `writeDiags`.
pub fn render_diags(diags: &[Diag]) -> String {
    let mut s = String::new();
    for d in diags {
        let label = match d.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        s.push_str(&format!("{label}: {}\n\n", d.summary));
        if !d.detail.is_empty() {
            s.push_str(&wrap_string(&d.detail, DIAG_WIDTH));
            s.push_str("\n\n");
        }
    }
    s
}

/// Prints diagnostics (if any); returns 1 when one of them is an error.
pub fn write_diags(ui: &dyn Ui, diags: &[Diag]) -> i32 {
    if diags.is_empty() {
        return 0;
    }
    // Masked before `render_diags` wraps details at 80 columns (a secret with spaces would be
    // split across lines and escape the mask).
    let masked: Vec<Diag> = diags
        .iter()
        .map(|d| Diag {
            severity: d.severity,
            summary: ui.mask(&d.summary),
            detail: ui.mask(&d.detail),
        })
        .collect();
    ui.error(&render_diags(&masked));
    if diags.iter().any(|d| d.severity == Severity::Error) {
        1
    } else {
        0
    }
}

/// Checks the builds `targs` selects in `loaded` (Packer's `GetBuilds`), with AWS Secrets
/// Manager lookups on. Returns the result, the context it was checked in, and a UI that masks
/// the sensitive variables' resolved values. Like Packer, values are only masked once variables
/// were resolved (a template that fails earlier prints its messages unmasked, so a secret "1"
/// does not turn "1 error" into noise).
pub fn check_builds(
    out: &Output,
    loaded: &Loaded,
    targs: &TemplateArgs,
) -> (Checked, Context, Box<dyn Ui>) {
    let mut base = plan::base_context(&loaded.template);
    base.secrets = Some(variables::secrets_lookup());
    let options = Options {
        only: targs.only.clone(),
        except: targs.except.clone(),
    };
    let checked = plan::check(&loaded.template, &loaded.values, &base, &options);
    let sensitive = sensitive_values(&loaded.template, &checked.user_vars);
    super::sensitive::register_build_secrets(&checked, &sensitive);
    let ui = out.ui(crate::ui::Secrets::new(sensitive));
    (checked, base, ui)
}

/// A template with the variable values given for it.
pub struct Loaded {
    pub template: Template,
    /// Defaults < var files < `-var`, unrendered.
    pub values: BTreeMap<String, String>,
}

/// Reads the template and the variable inputs, printing Packer's messages on failure.
pub fn load(
    ui: &dyn Ui,
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
) -> Result<Loaded, i32> {
    if path != "-" {
        if let Err(e) = std::fs::metadata(path) {
            ui.error(&format!(
                "{}: stat {path}: {}",
                crate::template::json::go_quote(path),
                parse::io_error_text(&e)
            ));
            return Err(1);
        }
    }
    let template = match parse::parse_file(path) {
        Ok(t) => t,
        Err(e) => {
            ui.error(&format!("Failed to parse template: {e}"));
            return Err(1);
        }
    };
    let mut files = Vec::new();
    for f in var_files {
        match variables::read_var_file(f) {
            Ok(v) => files.push(v),
            Err(e) => {
                ui.error(&e);
                return Err(1);
            }
        }
    }
    let values = variables::merge(&template, &files, vars);
    Ok(Loaded { template, values })
}

/// The values of the template's sensitive variables (to mask them in output).
pub fn sensitive_values(tpl: &Template, values: &BTreeMap<String, String>) -> Vec<String> {
    tpl.sensitive_variables
        .iter()
        .filter_map(|n| values.get(n).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diags_are_laid_out_like_packer() {
        let d = vec![
            Diag {
                severity: Severity::Error,
                summary: "Failed to prepare build: \"file\"".into(),
                detail: "1 error(s) occurred:\n\n* target required".into(),
            },
            Diag {
                severity: Severity::Warning,
                summary: "Warning when preparing build: \"y\"".into(),
                detail: "careful".into(),
            },
        ];
        assert_eq!(
            render_diags(&d),
            "Error: Failed to prepare build: \"file\"\n\n1 error(s) occurred:\n\n* target required\n\nWarning: Warning when preparing build: \"y\"\n\ncareful\n\n"
        );
    }
}
