//! Loading a template for a command (Packer's `GetConfig`): the template file and the variable
//! inputs, then the check of the selected builds (Packer's `GetBuilds`).

use std::collections::BTreeMap;

use super::{Checked, Options};
use crate::template::hcl2;
use crate::template::interp::Context;
use crate::template::parse::{self, Template};
use crate::template::variables;

use crate::ui::Ui;

/// Checks the builds `options` selects in `loaded`, with AWS Secrets Manager lookups on, and
/// registers the checked plan's secrets process-wide (see [`super::sensitive`]).
/// Returns the result and the context it was checked in.
/// An HCL2 template's `-only`/`-except` are glob patterns over `source.type.name` build names;
/// they are resolved to the matching names first.
pub fn check_builds(loaded: &Loaded, options: &Options) -> (Checked, Context) {
    check_builds_in(loaded, options, super::base_context(&loaded.template))
}

/// [`check_builds`] starting from `base` (a [`super::base_context`] with more set, such as an
/// environment overlay).
pub fn check_builds_in(
    loaded: &Loaded,
    options: &Options,
    mut base: Context,
) -> (Checked, Context) {
    base.secrets = Some(crate::aws::secrets::secrets_lookup());
    let hcl2_options;
    let options = if is_hcl2(&loaded.template) {
        let names: Vec<String> = loaded
            .template
            .builders
            .iter()
            .map(|b| b.name.clone())
            .collect();
        hcl2_options = Options {
            only: hcl2::select_builds(&options.only, &names, true),
            except: hcl2::select_builds(&options.except, &names, false),
            ..options.clone()
        };
        &hcl2_options
    } else {
        options
    };
    let checked = super::check::check_from(
        &loaded.template,
        &loaded.values,
        &loaded.origins,
        &base,
        options,
    );
    super::sensitive::register_raw_passwords(&loaded.template, &checked.user_vars, &base);
    let sensitive = sensitive_values(&loaded.template, &checked.user_vars);
    super::sensitive::register_build_secrets(&checked, &sensitive);
    (checked, base)
}

/// Whether the template came from an HCL2 file or directory.
fn is_hcl2(tpl: &Template) -> bool {
    tpl.path
        .as_ref()
        .is_some_and(|p| hcl2::is_hcl2_path(&p.to_string_lossy()))
}

/// A template with the variable values given for it.
pub struct Loaded {
    pub template: Template,
    /// Defaults < var files < `-var`, unrendered.
    pub values: BTreeMap<String, String>,
    /// Where the values that came from a var-file are written (for error positions).
    pub origins: variables::Origins,
}

/// Reads the template and the variable inputs, printing Packer's messages on failure. An HCL2
/// template's data sources are evaluated (`build`, `inspect`, `console`).
pub fn load(
    ui: &dyn Ui,
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
) -> Result<Loaded, i32> {
    load_with(ui, path, var_files, vars, true)
}

/// [`load`], executing an HCL2 template's data sources only when `evaluate_data` (`validate`
/// without `-evaluate-datasources` configures them and uses placeholders, as Packer does).
pub fn load_with(
    ui: &dyn Ui,
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
    evaluate_data: bool,
) -> Result<Loaded, i32> {
    if path != "-" {
        if let Err(e) = std::fs::metadata(path) {
            ui.error(&format!(
                "{}: stat {path}: {}",
                crate::gocompat::strconv::quote(path),
                parse::io_error_text(&e)
            ));
            return Err(1);
        }
    }
    if hcl2::is_hcl2_path(path) {
        let secrets = Some(crate::aws::secrets::secrets_lookup());
        let data = hcl2::DataOptions {
            provider: Some(&super::datasources::Provider),
            execute: evaluate_data,
            plugins: Some(&super::registry::Keys),
        };
        return match hcl2::with_secrets(secrets, || {
            hcl2::load_template_with(path, var_files, vars, data)
        }) {
            Ok(l) => {
                l.secret_parts
                    .iter()
                    .for_each(|s| crate::ui::secrets::register(s));
                if !l.warnings.is_empty() {
                    crate::ui::diagnostics(ui, &l.warnings);
                }
                crate::template::release(l.console);
                Ok(Loaded {
                    template: l.template,
                    values: l.sensitive,
                    origins: variables::Origins::new(),
                })
            }
            Err(e) => {
                crate::ui::diagnostics(ui, &e);
                Err(1)
            }
        };
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
        match variables::read_var_file_checked(f) {
            Ok(v) => {
                // Packer takes the later value silently; rpack says where (not as `packer`).
                if !crate::ui::voice::as_packer() {
                    for w in &v.warnings {
                        ui.error(&format!("Warning: {w}"));
                    }
                }
                files.push(v);
            }
            Err(e) => {
                ui.error(&e);
                return Err(1);
            }
        }
    }
    let origins = variables::origins(&files, vars);
    let values: Vec<Vec<(String, String)>> = files.into_iter().map(|f| f.values).collect();
    let values = variables::merge(&template, &values, vars);
    Ok(Loaded {
        template,
        values,
        origins,
    })
}

/// The values of the template's sensitive variables (to mask them in output).
pub fn sensitive_values(tpl: &Template, values: &BTreeMap<String, String>) -> Vec<String> {
    tpl.sensitive_variables
        .iter()
        .filter_map(|n| values.get(n).cloned())
        .collect()
}
