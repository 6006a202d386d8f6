//! What `inspect` shows of an HCL2 template (Packer's `PackerConfig.InspectConfig`): the input
//! variables and locals with their values, and each build block's sources, provisioners and
//! post-processor chains, as written (sources are not evaluated, nothing is checked against the
//! plugins).
//!
//! Like Packer's `inspect`, a template whose variables are not all set is shown: an unset
//! variable, and every local or data source that depends on one, is unknown (`<unknown>`).
//! Validation rules are not checked. Other problems (syntax, types, a failing local or data
//! source, a malformed build block) are errors, where Packer's `inspect` would skip the
//! offending block silently.

use std::collections::BTreeSet;

use hcl::Value;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::visit::{self, Visit};
use hcl_edit::Span;

use super::blocks::{self, parts, unsupported_argument, unsupported_block, BuildDecl, Decls};
use super::data::{self, DataOptions};
use super::diag::{self, Diag, Severity, SourceFile};
use super::eval::eval;
use super::to_model::Scope;
use super::{load, packer_block, prereqs, vars};
use crate::gocompat::strconv::quote;

/// The inspection of an HCL2 template.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// `(name, printable value)`, sorted by name.
    pub variables: Vec<(String, String)>,
    /// `(name, printable value)`, sorted by name.
    pub locals: Vec<(String, String)>,
    pub builds: Vec<BuildView>,
    /// The strings of the sensitive variables' and locals' values (every string they contain).
    pub secrets: Vec<String>,
    /// Warnings, rendered (empty when none).
    pub warnings: String,
}

/// One `build` block.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct BuildView {
    /// Empty when the block has no `name`.
    pub name: String,
    pub description: String,
    /// `type.name` of each source, in the order written (`sources` first, then `source` blocks).
    pub sources: Vec<String>,
    /// `type` or `type.name` of each provisioner (error-cleanup-provisioner aside).
    pub provisioners: Vec<String>,
    /// Each `post-processor` block is a chain of one, each `post-processors` block a chain.
    pub post_processors: Vec<Vec<String>>,
}

/// Inspects the template at `path` (file or directory) with its variable inputs (and the
/// `PKR_VAR_*` environment). On failure the error is every diagnostic, rendered.
pub(crate) fn inspect(
    path: &str,
    var_files: &[String],
    vars: &[(String, String)],
    data: DataOptions<'_>,
) -> Result<View, String> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PKR_VAR_"))
        .collect();
    inspect_with_env(path, var_files, vars, env, data)
}

fn fail(diags: &[Diag]) -> Result<(), String> {
    if diag::has_errors(diags) {
        Err(diag::render(diags))
    } else {
        Ok(())
    }
}

pub(super) fn inspect_with_env(
    path: &str,
    var_files: &[String],
    var_args: &[(String, String)],
    env: Vec<(String, String)>,
    data: DataOptions<'_>,
) -> Result<View, String> {
    let mut diags = Vec::new();
    let (templates, auto) = load::discover(path).map_err(|d| diag::render(&[d]))?;
    let parsed = load::parse_all(&templates, &mut diags);
    fail(&diags)?;
    let files = &parsed.files;
    let decls = blocks::collect(files, &parsed.bodies, &mut diags);
    packer_block::check(files, &decls, &mut diags);
    fail(&diags)?;

    // Variables, validation rules left out (Packer's inspect ignores their verdict).
    let var_decls = Decls {
        variables: decls
            .variables
            .iter()
            .cloned()
            .map(|mut v| {
                v.validations.clear();
                v
            })
            .collect(),
        ..Decls::default()
    };
    let inputs = vars::Inputs {
        env,
        auto_files: auto,
        var_files,
        vars: var_args,
    };
    let mut resolved = vars::resolve(files, &var_decls, &inputs, &mut diags);
    let unset: BTreeSet<String> = decls
        .variables
        .iter()
        .filter(|v| !resolved.vars.contains_key(&v.name))
        .map(|v| v.name.clone())
        .collect();
    diags.retain(|d| {
        !(d.severity == Severity::Error
            && unset
                .iter()
                .any(|n| d.summary == format!("Unset variable \"{n}\"")))
    });
    fail(&diags)?;

    // Locals and data sources that do not depend on an unset variable.
    let (unknown_locals, unknown_data) = unknowns(&decls, &unset);
    let known = Decls {
        locals: decls
            .locals
            .iter()
            .filter(|l| !unknown_locals.contains(&l.name))
            .cloned()
            .collect(),
        data: decls
            .data
            .iter()
            .filter(|d| !unknown_data.contains(&(d.kind.clone(), d.name.clone())))
            .cloned()
            .collect(),
        ..Decls::default()
    };
    let root_vars = super::root_variables(path);
    let data_vals = prereqs::evaluate(files, &known, &root_vars, data, &mut resolved, &mut diags);
    fail(&diags)?;

    let mut view = View {
        variables: printed(
            &decls.variables.iter().map(|v| &v.name).collect::<Vec<_>>(),
            &resolved.vars,
        ),
        locals: printed(
            &decls.locals.iter().map(|l| &l.name).collect::<Vec<_>>(),
            &resolved.locals,
        ),
        ..View::default()
    };
    for name in &decls.locals {
        if name.sensitive {
            resolved.sensitive.insert(name.name.clone());
        }
    }
    for name in &resolved.sensitive {
        if let Some(v) = resolved
            .vars
            .get(name)
            .or_else(|| resolved.locals.get(name))
        {
            strings_of(v, &mut view.secrets);
        }
    }

    let mut scope = Scope::new(root_vars);
    scope.insert("var", Value::Object(resolved.vars.clone()));
    scope.insert("local", Value::Object(resolved.locals.clone()));
    scope.insert("data", Value::Object(data_vals));
    for b in &decls.builds {
        if let Some(v) = build(&files[b.file], b, &scope, &mut diags) {
            view.builds.push(v);
        }
    }
    fail(&diags)?;
    view.warnings = diag::render(&diags);
    Ok(view)
}

/// Each name with its printable value (`<unknown>` when it has none), sorted by name.
fn printed(names: &[&String], values: &hcl::Map<String, Value>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = names
        .iter()
        .map(|n| ((*n).clone(), printable(values.get(n.as_str()))))
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Every non-empty string in `v` (Packer masks each string a sensitive value holds).
fn strings_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings_of(x, out)),
        _ => {}
    }
}

/// `var.x`, `local.x` and `data.type.name` references: (root, first, second attribute).
struct Refs(Vec<(String, String, Option<String>)>);

impl Visit for Refs {
    fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
        // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
        self.visit_expr(&node.collection_expr);
        visit::visit_for_template_expr(self, node);
    }
    fn visit_traversal(&mut self, node: &hcl_edit::expr::Traversal) {
        if let Expression::Variable(root) = &node.expr {
            let attr = |i: usize| {
                node.operators.get(i).and_then(|op| match op.value() {
                    TraversalOperator::GetAttr(a) => Some(a.as_str().to_string()),
                    _ => None,
                })
            };
            if let Some(a) = attr(0) {
                self.0.push((root.as_str().to_string(), a, attr(1)));
            }
        }
        visit::visit_traversal(self, node);
    }
}

type DataKey = (String, String);

/// The locals and data sources whose value depends, directly or through others, on a variable
/// in `unset`.
fn unknowns(decls: &Decls, unset: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<DataKey>) {
    let local_refs: Vec<Refs> = decls
        .locals
        .iter()
        .map(|l| {
            let mut r = Refs(Vec::new());
            r.visit_expr(l.expr);
            r
        })
        .collect();
    let data_refs: Vec<Refs> = decls
        .data
        .iter()
        .map(|d| {
            let mut r = Refs(Vec::new());
            r.visit_body(d.body);
            r
        })
        .collect();
    let mut locals = BTreeSet::new();
    let mut datas = BTreeSet::new();
    let hit = |r: &Refs, locals: &BTreeSet<String>, datas: &BTreeSet<DataKey>| {
        r.0.iter().any(|(root, a, b)| match root.as_str() {
            "var" => unset.contains(a),
            "local" => locals.contains(a),
            "data" => b
                .as_ref()
                .is_some_and(|b| datas.contains(&(a.clone(), b.clone()))),
            _ => false,
        })
    };
    loop {
        let before = locals.len() + datas.len();
        for (l, r) in decls.locals.iter().zip(&local_refs) {
            if !locals.contains(&l.name) && hit(r, &locals, &datas) {
                locals.insert(l.name.clone());
            }
        }
        for (d, r) in decls.data.iter().zip(&data_refs) {
            let key = (d.kind.clone(), d.name.clone());
            if !datas.contains(&key) && hit(r, &locals, &datas) {
                datas.insert(key);
            }
        }
        if locals.len() + datas.len() == before {
            return (locals, datas);
        }
    }
}

/// A value as text: a string bare, anything else in HCL's display.
fn text(f: &SourceFile, expr: &Expression, scope: &Scope, diags: &mut Vec<Diag>) -> Option<String> {
    match eval(f, expr, &scope.context()) {
        Ok(Value::String(s)) => Some(s),
        Ok(Value::Bool(b)) => Some(b.to_string()),
        Ok(Value::Number(n)) => Some(super::funcs::number_text(&n)),
        Ok(other) => {
            diags.push(Diag::error(
                f.span_loc(expr.span()),
                "Incorrect attribute value type",
                format!(
                    "Inappropriate value for attribute: string required, not {}.",
                    super::funcs::type_name(&other)
                ),
            ));
            None
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// Packer's `sourceRefFromString`: `type.name` or `source.type.name`, as `type.name`.
fn source_ref(s: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = s.split('.').collect();
    match parts.as_slice() {
        [_] | [] => None,
        [t, n] | [_, t, n, ..] => Some(((*t).to_string(), (*n).to_string())),
    }
}

fn build(f: &SourceFile, b: &BuildDecl, scope: &Scope, diags: &mut Vec<Diag>) -> Option<BuildView> {
    let before = diags.len();
    let (attrs, blocks) = parts(b.body);
    let mut view = BuildView::default();
    for a in &attrs {
        match a.key.as_str() {
            "name" => view.name = text(f, &a.value, scope, diags).unwrap_or_default(),
            "description" => view.description = text(f, &a.value, scope, diags).unwrap_or_default(),
            "sources" => match eval(f, &a.value, &scope.context()) {
                Ok(Value::Array(items)) => {
                    for it in items {
                        let r = it.as_str().and_then(source_ref);
                        // Packer also wants each part an HCL identifier; rpack's builds take any
                        // source name (the shipped template's "HVM AMI builder"), so does this.
                        match r {
                            Some((t, n)) if !t.is_empty() && !n.is_empty() => {
                                view.sources.push(format!("{t}.{n}"));
                            }
                            _ => diags.push(Diag::error(
                                f.span_loc(a.value.span()),
                                "Invalid source reference",
                                "A source type is made of three parts that aresplit by a dot `.`; each part must start with a letter and may contain only letters, digits, underscores, and dashes.A valid source reference looks like: `source.type.name`",
                            )),
                        }
                    }
                }
                Ok(other) => diags.push(Diag::error(
                    f.span_loc(a.value.span()),
                    "Incorrect attribute value type",
                    format!(
                        "Inappropriate value for attribute \"sources\": list of string required, not {}.",
                        super::funcs::type_name(&other)
                    ),
                )),
                Err(d) => diags.push(d),
            },
            k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
        }
    }
    // `build.name` is known to provisioners and post-processors (Packer ≥1.7).
    let mut build_obj = match scope.get("build") {
        Some(Value::Object(o)) => o.clone(),
        _ => hcl::Map::new(),
    };
    build_obj.insert("name".into(), Value::String(view.name.clone()));
    let inner = scope.with("build", Value::Object(build_obj));
    for blk in &blocks {
        match blk.ident.as_str() {
            "source" => match blk.labels.first().map(|l| source_ref(l.as_str())) {
                Some(Some((t, n))) if blk.labels.len() == 1 => view.sources.push(format!("{t}.{n}")),
                _ => diags.push(Diag::error(
                    f.span_loc(blk.ident.span()),
                    "Invalid source block",
                    "A source block inside build takes one label: the source reference (\"type.name\").",
                )),
            },
            "provisioner" => {
                if let Some(p) = plugin(f, blk, &inner, diags) {
                    view.provisioners.push(p);
                }
            }
            "error-cleanup-provisioner" => {}
            "post-processor" => {
                if let Some(p) = plugin(f, blk, &inner, diags) {
                    view.post_processors.push(vec![p]);
                }
            }
            "post-processors" => {
                let (pa, pb) = parts(&blk.body);
                for a in pa {
                    diags.push(unsupported_argument(f.span_loc(a.key.span()), a.key.as_str()));
                }
                let mut chain = Vec::new();
                for x in pb {
                    if x.ident.as_str() == "post-processor" {
                        chain.extend(plugin(f, x, &inner, diags));
                    } else {
                        diags.push(unsupported_block(f.span_loc(x.ident.span()), x.ident.as_str()));
                    }
                }
                view.post_processors.push(chain);
            }
            k => diags.push(unsupported_block(f.span_loc(blk.ident.span()), k)),
        }
    }
    (diags.len() == before).then_some(view)
}

/// A provisioner or post-processor block as `type` or `type.name`.
fn plugin(f: &SourceFile, blk: &Block, scope: &Scope, diags: &mut Vec<Diag>) -> Option<String> {
    let Some(kind) = blk.labels.first().map(|l| l.as_str().to_string()) else {
        diags.push(Diag::error(
            f.span_loc(blk.ident.span()),
            format!("Missing type for {}", blk.ident.as_str()),
            format!("A {} block needs one label: its type.", blk.ident.as_str()),
        ));
        return None;
    };
    let name = name_of(f, &blk.body, scope, diags)?;
    Some(if name.is_empty() {
        kind
    } else {
        format!("{kind}.{name}")
    })
}

fn name_of(f: &SourceFile, body: &Body, scope: &Scope, diags: &mut Vec<Diag>) -> Option<String> {
    match body.get_attribute("name") {
        Some(a) => text(f, &a.value, scope, diags),
        None => Some(String::new()),
    }
}

/// Packer's `PrintableCtyValue`: `<unknown>` for a value not (wholly) known, else the value as
/// its console prints it (`repl.FormatResult` of `hcl2shim.ConfigValueFromHCL2`).
pub(crate) fn printable(v: Option<&Value>) -> String {
    match v {
        Some(v) if !has_unknown(v) => format_result(v, false),
        _ => "<unknown>".into(),
    }
}

fn has_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s == data::UNKNOWN,
        Value::Array(a) => a.iter().any(has_unknown),
        Value::Object(o) => o.values().any(has_unknown),
        _ => false,
    }
}

/// Packer's `repl.FormatResult`, which its console prints with too: a top-level string bare,
/// nested strings quoted, lists and maps one element per line, empty ones as `[]` and `{}`.
pub(crate) fn format_result(v: &Value, nested: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) if s == data::UNKNOWN => "<unknown>".into(),
        Value::String(s) if nested => quote(s),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let mut out = String::from("[");
            if !a.is_empty() {
                out.push('\n');
            }
            for x in a {
                out.push_str(&indent(&format_result(x, true)));
                out.push_str(",\n");
            }
            out.push(']');
            out
        }
        Value::Object(o) => {
            // Null attributes are dropped on the way to Go values.
            let mut keys: Vec<&String> = o
                .iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            let mut out = String::from("{");
            if !keys.is_empty() {
                out.push('\n');
            }
            for k in keys {
                out.push_str(&indent(&format!(
                    "{} = {}",
                    quote(k),
                    format_result(&o[k.as_str()], true)
                )));
                out.push('\n');
            }
            out.push('}');
            out
        }
    }
}

/// Each line of `s` prefixed with two spaces (Go's line scanner: no empty last line, `\r`
/// before a line end dropped).
fn indent(s: &str) -> String {
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() {
        return String::new();
    }
    s.split('\n')
        .map(|l| format!("  {}", l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A number as Go prints `hcl2shim`'s conversion of it: an `int` when it is a whole number that
/// fits, else a float64 with `%g`.
fn go_number(n: &hcl::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        #[allow(clippy::cast_possible_truncation)]
        return (f as i64).to_string();
    }
    go_g(f)
}

/// Go's `%g` of a float64 (shortest digits; exponent form below 1e-4 and from 1e6 up).
fn go_g(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_packers_printable_cty_value() {
        let v: Value = hcl::value!({ b = ["x", 1.5, null], a = {}, c = null, d = [] });
        assert_eq!(
            printable(Some(&v)),
            "{\n  \"a\" = {}\n  \"b\" = [\n    \"x\",\n    1.5,\n    null,\n  ]\n  \"d\" = []\n}"
        );
        assert_eq!(printable(None), "<unknown>");
        let u = Value::Array(vec![Value::String(data::UNKNOWN.into())]);
        assert_eq!(printable(Some(&u)), "<unknown>");
        assert_eq!(printable(Some(&Value::String("a\"b".into()))), "a\"b");
    }

    #[test]
    fn numbers_print_as_go_ints_and_g_floats() {
        let n = |f: f64| go_number(&hcl::Number::from_f64(f).unwrap());
        assert_eq!(n(3.0), "3");
        assert_eq!(n(2.5), "2.5");
        assert_eq!(n(1_234_567.5), "1.2345675e+06");
        assert_eq!(n(123_456.5), "123456.5");
        assert_eq!(n(0.000_01), "1e-05");
        assert_eq!(n(0.0001), "0.0001");
        assert_eq!(n(1e300), "1e+300");
    }

    #[test]
    fn source_references_read_as_packer_reads_them() {
        assert_eq!(
            source_ref("source.null.a"),
            Some(("null".into(), "a".into()))
        );
        assert_eq!(source_ref("null.a"), Some(("null".into(), "a".into())));
        assert_eq!(source_ref("a.b.c.d"), Some(("b".into(), "c".into())));
        assert_eq!(source_ref("nope"), None);
    }

    #[test]
    fn unset_variables_make_their_dependents_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.pkr.hcl"),
            "variable \"u\" {\n  type = string\n}\nvariable \"k\" {\n  default = \"k\"\n  sensitive = true\n}\nlocals {\n  a = \"${var.u}-x\"\n  b = local.a\n  c = \"${var.k}-c\"\n}\nsource \"null\" \"s\" {\n  communicator = \"none\"\n}\nbuild {\n  name = \"n\"\n  sources = [\"source.null.s\"]\n  provisioner \"shell-local\" {\n    name = \"p-${build.name}\"\n  }\n  post-processors {\n  }\n}\n",
        )
        .unwrap();
        let v = inspect_with_env(
            dir.path().to_str().unwrap(),
            &[],
            &[],
            Vec::new(),
            DataOptions::default(),
        )
        .unwrap();
        let get = |l: &[(String, String)], n: &str| {
            l.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&v.variables, "u").as_deref(), Some("<unknown>"));
        assert_eq!(get(&v.locals, "a").as_deref(), Some("<unknown>"));
        assert_eq!(get(&v.locals, "b").as_deref(), Some("<unknown>"));
        assert_eq!(get(&v.locals, "c").as_deref(), Some("k-c"));
        assert_eq!(v.secrets, vec!["k".to_string()]);
        assert_eq!(
            v.builds,
            vec![BuildView {
                name: "n".into(),
                description: String::new(),
                sources: vec!["null.s".into()],
                provisioners: vec!["shell-local.p-n".into()],
                post_processors: vec![Vec::new()],
            }]
        );
    }
}
