//! HCL2 templates (`.pkr.hcl` files and directories): a second front end that evaluates the
//! template and produces the same positioned JSON shape the legacy JSON path parses, so the
//! template model, plugin decoders, checks and defaults are shared.
//!
//! Flow: [`load`] finds and parses the files (hcl-edit, spans kept) → [`blocks`] collects the
//! declarations → [`packer_block`] checks versions and plugins → [`vars`] resolves variables
//! and locals → [`to_model`] evaluates sources and builds into the JSON shape →
//! [`plugin_keys`] checks every plugin body against its plugin's keys → `parse::parse_node`.
//! Problems are gathered into one list of [`diag::Diag`]s; positions carry their file's index
//! (`json::Pos::file`, named by `Template::files`) into the plan.
//!
//! `build.*` contextual variables are unknown until the instance exists: they evaluate to the
//! Go-template call `{{ build `X` }}`, which the existing run-time rendering of provisioner and
//! post-processor configuration resolves.

// A `Diag` carries its summary, detail and source excerpt; it is returned at most once per failed
// load, never in a loop, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod blocks;
pub(crate) mod console;
pub(crate) mod data;
pub(crate) mod diag;
mod dynamic;
mod eval;
pub(crate) mod fmt;
pub(crate) mod funcs;
pub(crate) mod inspect;
mod json_syntax;
mod limits;
mod load;
mod operands;
mod packer_block;
pub(crate) mod plugin_keys;
mod positions;
mod prereqs;
mod schema;
mod scope;
mod simple_eval;
mod to_model;
mod types;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::Value;

pub(crate) use funcs::with_secrets;
pub(crate) use load::{halves_agree, is_hcl2_path};
pub(crate) use schema::{nested, Nested};

pub(crate) use data::{DataError, DataOptions, DataSources};

use crate::template::interp::DEFERRED_BUILD_KEYS;
use crate::template::parse::{self, Template, Variable};
use diag::Diag;

/// A loaded HCL2 template.
pub(crate) struct Loaded {
    pub template: Template,
    /// Sensitive variables' and locals' values rendered as strings (for masking).
    pub sensitive: BTreeMap<String, String>,
    /// The strings and numbers inside sensitive lists, maps and objects, each masked on its own:
    /// `var.keys[0]` prints one element, which the whole value's JSON text does not cover.
    pub secret_parts: Vec<String>,
    /// Warnings, already rendered (empty when none).
    pub warnings: String,
    /// The evaluation scope, for `rpack console`.
    pub console: console::Console,
}

/// Loads the template at `path` (file or directory) with its variable inputs. On failure the
/// error is every diagnostic, rendered.
/// Data sources are only schema-checked: see [`load_template_with`].
pub(crate) fn load_template(
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
) -> Result<Loaded, String> {
    load_template_with(path, var_files, vars, DataOptions::default())
}

/// [`load_template`] with data sources configured (and executed) as `data` says.
pub(crate) fn load_template_with(
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
    data: DataOptions<'_>,
) -> Result<Loaded, String> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PKR_VAR_"))
        .collect();
    load_with_env(path, var_files, vars, env, data)
}

fn load_with_env(
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
    env: Vec<(String, String)>,
    data: DataOptions<'_>,
) -> Result<Loaded, String> {
    let mut diags = Vec::new();
    // How long each step took, in the debug log (`RPACK_LOG=rpack::template::hcl2=debug`).
    let started = std::time::Instant::now();
    let ph = |step: &str| {
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::debug!(step, us, "HCL2 load");
    };
    let (templates, auto) = load::discover(path).map_err(|d| diag::render(&[d]))?;
    ph("discover");
    let parsed = load::parse_all(&templates, &mut diags);
    ph("parse");
    if diag::has_errors(&diags) {
        return Err(diag::render(&diags));
    }
    let decls = blocks::collect(&parsed.files, &parsed.bodies, &mut diags);
    ph("collect");
    packer_block::check(&parsed.files, &decls, &mut diags);
    let root_vars = root_variables(path);
    let inputs = vars::Inputs {
        env,
        auto_files: auto,
        var_files,
        vars,
    };
    let mut resolved = vars::resolve(&parsed.files, &decls, &inputs, &mut diags);
    ph("vars");
    if diag::has_errors(&diags) {
        return Err(diag::render(&diags));
    }
    let data_vals = prereqs::evaluate(
        &parsed.files,
        &decls,
        &root_vars,
        data,
        &mut resolved,
        &mut diags,
    );
    if diag::has_errors(&diags) {
        return Err(diag::render(&diags));
    }
    ph("prereqs");
    let vars::Resolved {
        vars: var_values,
        locals: local_values,
        sensitive: sensitive_names,
    } = resolved;
    let mut scope = to_model::Scope::new(root_vars);
    scope.insert("var", Value::Object(var_values));
    scope.insert("local", Value::Object(local_values));
    scope.insert("data", Value::Object(data_vals));
    let (root, source_names) =
        data::with_execution(data.execute && data.provider.is_some(), || {
            to_model::root(&parsed.files, &decls, &scope, &mut diags)
        });
    ph("to_model");
    // Done with the declarations and syntax trees: freed here, so the checks below reuse their
    // memory (or left to the exit, see `release`).
    crate::template::release(decls);
    crate::template::release(parsed.bodies);
    if let Some(keys) = data.plugins {
        plugin_keys::check(&parsed.files, &root, keys, &mut diags);
    }
    if diag::has_errors(&diags) {
        return Err(diag::render(&diags));
    }
    ph("keys");
    let mut template = parse::parse_node(&root)
        .map_err(|e| diag::render(&[Diag::error(None, "Invalid template", e.to_string())]))?;
    crate::template::release(root);
    template.path = Some(std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path)));
    template.source_names = source_names;
    template.files = parsed.files.iter().map(|f| f.name.clone()).collect();
    let mut sensitive = BTreeMap::new();
    let mut secret_parts = Vec::new();
    let object = |name: &str| match scope.get(name) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    };
    let (var_values, local_values) = (object("var"), object("local"));
    for name in &sensitive_names {
        let v = var_values
            .and_then(|m| m.get(name))
            .or_else(|| local_values.and_then(|m| m.get(name)));
        if let Some(v) = v {
            scalar_leaves(v, &mut secret_parts);
            let s = match v {
                Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            if !s.is_empty() {
                sensitive.insert(name.clone(), s);
            }
        }
    }
    // Sensitive values ride along as template variables so the shared masking sees them.
    for (name, value) in &sensitive {
        template.variables.push(Variable {
            name: name.clone(),
            default: Some(value.clone()),
            pos: Default::default(),
        });
        template.sensitive_variables.push(name.clone());
    }
    ph("node");
    Ok(Loaded {
        template,
        sensitive,
        secret_parts,
        warnings: diag::render(&diags),
        console: console::Console { scope },
    })
}

/// Appends the strings and numbers nested in a structured `v` (not `v` itself when it is one).
fn scalar_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| leaf(i, out)),
        Value::Object(map) => map.values().for_each(|i| leaf(i, out)),
        _ => {}
    }
    fn leaf(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            _ => scalar_leaves(v, out),
        }
    }
}

/// `path.*`, `packer.*` and `build.*` (deferred to run time).
fn root_variables(path: &str) -> BTreeMap<String, Value> {
    let p = Path::new(path);
    let dir = if p.is_dir() {
        p.to_path_buf()
    } else {
        p.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut m = BTreeMap::new();
    let mut pathv = hcl::Map::new();
    pathv.insert("root".into(), Value::String(dir.display().to_string()));
    pathv.insert("cwd".into(), Value::String(cwd.display().to_string()));
    m.insert("path".into(), Value::Object(pathv));
    let mut packer = hcl::Map::new();
    packer.insert(
        "version".into(),
        Value::String(packer_block::HCL2_PACKER_VERSION.into()),
    );
    m.insert("packer".into(), Value::Object(packer));
    let mut build = hcl::Map::new();
    for k in DEFERRED_BUILD_KEYS {
        build.insert(
            (*k).to_string(),
            Value::String(format!("{{{{ build `{k}` }}}}")),
        );
    }
    m.insert("build".into(), Value::Object(build));
    m
}

/// Translates `-only`/`-except` patterns (`source.type.name`, `type.name`, `build.type.name`,
/// globs) into the build names they select. An `-only` that selects nothing is returned as given
/// (so the plan reports that no build matched instead of running everything); `-except` keeps
/// its patterns too, as they may name post-processors.
pub(crate) fn select_builds(patterns: &[String], names: &[String], is_only: bool) -> Vec<String> {
    if patterns.is_empty() {
        return Vec::new();
    }
    let globs: Vec<globset::GlobMatcher> = patterns
        .iter()
        .filter_map(|p| {
            let p = p.strip_prefix("source.").unwrap_or(p);
            globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        })
        .collect();
    let picked: Vec<String> = names
        .iter()
        .filter(|n| {
            let tail: Vec<&str> = n.rsplitn(3, '.').collect();
            let short = if tail.len() == 3 {
                format!("{}.{}", tail[1], tail[0])
            } else {
                (*n).clone()
            };
            globs
                .iter()
                .any(|g| g.is_match(n.as_str()) || g.is_match(short.as_str()))
        })
        .cloned()
        .collect();
    if picked.is_empty() && is_only {
        return patterns.to_vec();
    }
    let mut picked = picked;
    if !is_only {
        picked.extend(patterns.iter().cloned());
    }
    picked
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_data;
#[cfg(test)]
mod tests_json;
#[cfg(test)]
mod tests_lang;
