//! Input variables and locals: declared types and defaults, values from the environment
//! (`PKR_VAR_name`), automatic and explicit var files and `-var`, in Packer's precedence
//! (each later source wins) and validation blocks. Locals are evaluated with the data sources
//! (`prereqs`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use hcl::eval::Context;
use hcl::{Map, Value};
use hcl_edit::structure::Structure;
use hcl_edit::Span;

use super::blocks::{Decls, VarDecl};
use super::diag::{Diag, Loc, SourceFile};
use super::eval::{base_context, check_functions, eval};
use super::load;
use super::simple_eval::simple;
use super::types::{self, Type};

/// Where variable values come from, besides declarations.
pub(crate) struct Inputs<'a> {
    pub env: Vec<(String, String)>,
    pub auto_files: Vec<PathBuf>,
    pub var_files: &'a [String],
    pub vars: &'a [(String, String)],
}

/// The resolved variables and locals.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub vars: Map<String, Value>,
    pub locals: Map<String, Value>,
    /// Names of sensitive variables and locals.
    pub sensitive: BTreeSet<String>,
}

struct Var<'d> {
    decl: &'d VarDecl<'d>,
    ty: Type,
    value: Option<Value>,
    /// Where the value came from, in Packer's words for a failed validation ("Invalid value
    /// for cmd variable"): `default`, `env`, `varfile` or `cmd`.
    from: &'static str,
    /// The default, or a value given for it, does not have the declared type (reported once,
    /// not again as unset).
    bad_default: bool,
    /// The declared default (after conversion), for `nullable = false`.
    default: Option<Value>,
    /// `nullable` (true unless `nullable = false`): whether a given null stays null.
    nullable: bool,
    /// Where a var file set the value (for errors about it).
    at: Option<Loc>,
}

/// Resolves every variable.
pub(crate) fn resolve(
    files: &[SourceFile],
    decls: &Decls,
    inputs: &Inputs,
    diags: &mut Vec<Diag>,
) -> Resolved {
    let mut out = Resolved::default();
    let mut vars: Vec<Var> = Vec::new();
    let defaults_ctx = base_context(true);
    for d in &decls.variables {
        let f = &files[d.file];
        let ty = match &d.type_expr {
            Some(t) => match types::parse(t) {
                Ok(t) => t,
                Err(e) => {
                    diags.push(Diag::error(
                        f.span_loc(t.span()),
                        "Invalid type specification",
                        e,
                    ));
                    Type::Any
                }
            },
            None => Type::Any,
        };
        let mut value = None;
        let mut bad_default = false;
        if let Some(def) = &d.default {
            // Most defaults are literals, which need no context.
            let evaluated = simple(def, &|_| None).map(Ok).or_else(|| {
                let before = diags.len();
                check_functions(f, def, true, diags);
                (diags.len() == before).then(|| eval(f, def, &defaults_ctx))
            });
            if let Some(evaluated) = evaluated {
                match evaluated {
                    Ok(v) => match types::convert(&v, &ty) {
                        Ok(v) => value = Some(v),
                        Err(e) => {
                            bad_default = true;
                            diags.push(Diag::error(
                                f.span_loc(def.span()),
                                "Invalid default value for variable",
                                format!("This default value is not compatible with the variable's type constraint: {e}."),
                            ));
                        }
                    },
                    Err(e) => diags.push(e),
                }
            } else {
                bad_default = true;
            }
        }
        let nullable = nullable(f, d, &defaults_ctx, diags);
        if !nullable && value == Some(Value::Null) {
            value = None;
            bad_default = true;
            diags.push(Diag::error(
                d.default.as_ref().and_then(|e| f.span_loc(e.span())),
                "Invalid default value for variable",
                "A null default value is not valid when nullable=false.",
            ));
        }
        if let Some(s) = &d.sensitive {
            if matches!(s, hcl_edit::expr::Expression::Bool(b) if *b.value()) {
                out.sensitive.insert(d.name.clone());
            }
        }
        vars.push(Var {
            decl: d,
            ty,
            default: value.clone(),
            value,
            from: "default",
            bad_default,
            nullable,
            at: None,
        });
    }
    let find = |vars: &mut Vec<Var<'_>>, name: &str| vars.iter().position(|v| v.decl.name == name);

    // PKR_VAR_name, declared variables only.
    for (k, raw) in &inputs.env {
        if let Some(name) = k.strip_prefix("PKR_VAR_") {
            if let Some(i) = find(&mut vars, name) {
                let loc = None;
                match from_string(loc, &format!("environment variable {k}"), raw, &vars[i].ty) {
                    Ok(v) => (vars[i].value, vars[i].from) = (Some(v), "env"),
                    Err(e) => {
                        diags.push(e);
                        vars[i].bad_default = true;
                    }
                }
            }
        }
    }
    // Automatic var files, then -var-file, in order.
    let explicit: Vec<PathBuf> = inputs.var_files.iter().map(PathBuf::from).collect();
    for path in inputs.auto_files.iter().chain(&explicit) {
        for (name, loc, v) in var_file(path, diags) {
            match find(&mut vars, &name) {
                Some(i) => match typed(loc.clone(), &name, v, &vars[i].ty) {
                    Ok(v) => (vars[i].value, vars[i].from, vars[i].at) = (Some(v), "varfile", loc),
                    Err(e) => {
                        diags.push(e);
                        vars[i].bad_default = true;
                    }
                },
                None => diags.push(Diag::warning(
                    loc,
                    "Undefined variable",
                    format!("A \"{name}\" variable was set but was not declared. It will be ignored. To declare variable \"{name}\", place this block in one of your .pkr.hcl files, such as variables.pkr.hcl\n\nvariable \"{name}\" {{\n  type = string\n}}"),
                )),
            }
        }
    }
    for (name, raw) in inputs.vars {
        match find(&mut vars, name) {
            Some(i) => match from_string(None, &format!("-var {name}"), raw, &vars[i].ty) {
                Ok(v) => (vars[i].value, vars[i].from) = (Some(v), "cmd"),
                Err(e) => {
                    diags.push(e);
                    vars[i].bad_default = true;
                }
            },
            None => diags.push(Diag::error(
                None,
                "Undefined -var variable",
                format!("A \"{name}\" variable was passed in but was not found in known variables. To declare variable \"{name}\", place this block in one of your .pkr.hcl files, such as variables.pkr.hcl"),
            )),
        }
    }
    for v in &mut vars {
        if v.value == Some(Value::Null) && !v.nullable {
            // Terraform's rule for `nullable = false`: a null given value takes the default.
            if let Some(d) = &v.default {
                (v.value, v.from) = (Some(d.clone()), "default");
            } else {
                diags.push(not_null(v));
                v.value = None;
                v.bad_default = true;
            }
        }
    }
    for v in &vars {
        match &v.value {
            Some(x) => {
                out.vars.insert(v.decl.name.clone(), x.clone());
            }
            None if v.bad_default => {}
            None => diags.push(Diag::error(
                v.decl.loc.clone(),
                format!("Unset variable \"{}\"", v.decl.name),
                "A used variable must be set or have a default value; see https://packer.io/docs/templates/hcl_templates/syntax for details.",
            )),
        }
    }
    // Validation rules, with every variable known.
    let mut ctx = base_context(false);
    ctx.declare_var("var", Value::Object(out.vars.clone()));
    for v in &vars {
        if v.value.is_none() {
            continue;
        }
        let f = &files[v.decl.file];
        for (cond, msg, rule_at) in &v.decl.validations {
            let before = diags.len();
            check_functions(f, cond, false, diags);
            if diags.len() > before {
                continue;
            }
            match eval(f, cond, &ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let m = eval(f, msg, &ctx)
                        .ok()
                        .and_then(|m| m.as_str().map(str::to_string))
                        .unwrap_or_default();
                    // Packer's subject is where the value is written (a default, a var-file
                    // assignment); it has none for -var and the environment, where rpack
                    // points at the condition.
                    let written = match v.from {
                        "default" => v.decl.default.as_ref().and_then(|e| f.span_loc(e.span())),
                        "varfile" => v.at.clone(),
                        _ => None,
                    };
                    let rule = rule_at.clone().or_else(|| f.span_loc(cond.span()));
                    diags.push(Diag::error(
                        written.or_else(|| f.span_loc(cond.span())),
                        format!("Invalid value for {} variable", v.from),
                        format!(
                            "{m}\n\nThis was checked by the validation rule at {}.",
                            loc_text(rule.as_ref())
                        ),
                    ));
                }
                Ok(other) => diags.push(Diag::error(
                    f.span_loc(cond.span()),
                    "Invalid validation condition",
                    format!(
                        "The condition must return a bool, not {}.",
                        super::funcs::type_name(&other)
                    ),
                )),
                Err(e) => diags.push(e),
            }
        }
    }
    out
}

/// A variable's `nullable` (true when not written). Like Terraform, it must be a bool.
fn nullable(f: &SourceFile, d: &VarDecl, ctx: &Context, diags: &mut Vec<Diag>) -> bool {
    let Some(e) = &d.nullable else {
        return true;
    };
    match eval(f, e, ctx) {
        Ok(Value::Bool(b)) => b,
        Ok(other) => {
            diags.push(Diag::error(
                f.span_loc(e.span()),
                "Incorrect attribute value type",
                format!(
                    "Inappropriate value for attribute \"nullable\": bool required, not {}.",
                    super::funcs::type_name(&other)
                ),
            ));
            true
        }
        Err(err) => {
            diags.push(err);
            true
        }
    }
}

/// Terraform's "Required variable not set" for a `nullable = false` variable without a default
/// given null: at the var-file assignment, or at the declaration for `-var` and the
/// environment.
fn not_null(v: &Var) -> Diag {
    let name = &v.decl.name;
    let tail = "required variable may not be set to null.";
    let (loc, detail) = match v.from {
        "cmd" => (
            v.decl.loc.clone(),
            format!("Unsuitable value for var.{name} set using -var=\"{name}=...\": {tail}"),
        ),
        "env" => (
            v.decl.loc.clone(),
            format!(
                "Unsuitable value for var.{name} set using the PKR_VAR_{name} environment variable: {tail}"
            ),
        ),
        _ => (
            v.at.clone().or_else(|| v.decl.loc.clone()),
            format!(
                "The given value is not suitable for var.{name} defined at {}: {tail}",
                loc_text(v.decl.loc.as_ref())
            ),
        ),
    };
    Diag::error(loc, "Required variable not set", detail)
}

fn loc_text(l: Option<&Loc>) -> String {
    l.map(|l| format!("{}:{}:{}", l.file, l.line, l.col))
        .unwrap_or_default()
}

fn typed(loc: Option<Loc>, name: &str, v: Value, ty: &Type) -> Result<Value, Diag> {
    types::convert(&v, ty).map_err(|e| {
        Diag::error(
            loc,
            "Invalid value for variable",
            format!("The value for variable \"{name}\" is not compatible with its type {ty}: {e}."),
        )
    })
}

/// A value given as a string (`-var`, environment): taken literally for string and untyped
/// variables, parsed as an HCL expression for the others.
fn from_string(loc: Option<Loc>, what: &str, raw: &str, ty: &Type) -> Result<Value, Diag> {
    if types::literal_string(ty) {
        return Ok(Value::String(raw.to_string()));
    }
    let f = SourceFile::new(what, raw);
    let e = hcl_edit::parser::parse_expr(raw).map_err(|e| {
        Diag::error(
            loc.clone(),
            "Invalid expression for variable",
            format!("{what}: {}", e.message()),
        )
    })?;
    let v = eval(&f, &e, &Context::new())?;
    typed(loc, what, v, ty)
}

/// The assignments of a var file (`.pkrvars.hcl` or `.json`).
fn var_file(path: &std::path::Path, diags: &mut Vec<Diag>) -> Vec<(String, Option<Loc>, Value)> {
    let mut f = match load::read(path) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let body = match load::parse(&mut f, true) {
        Ok(b) => b,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let ctx = base_context(false);
    let mut out = Vec::new();
    for s in &body {
        match s {
            Structure::Attribute(a) => {
                let before = diags.len();
                check_functions(&f, &a.value, false, diags);
                if diags.len() > before {
                    continue;
                }
                match eval(&f, &a.value, &ctx) {
                    Ok(v) => out.push((a.key.as_str().to_string(), f.span_loc(a.key.span()), v)),
                    Err(e) => diags.push(e),
                }
            }
            Structure::Block(b) => diags.push(super::blocks::unsupported_block(
                f.span_loc(b.ident.span()),
                b.ident.as_str(),
            )),
        }
    }
    out
}
