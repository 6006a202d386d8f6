//! Locals and data sources, evaluated in dependency order as Packer's build prerequisites
//! (`evaluateBuildPrereqs`): one graph over both kinds, so a local can use a data source and a
//! data source a local. A cycle is an error naming both ends with their positions; a node whose
//! dependency failed is skipped silently (the dependency's own error says why).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use hcl::{Map, Value};
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::Body;
use hcl_edit::visit::{self, Visit};

use super::blocks::Decls;
use super::data::{self, DataOptions};
use super::diag::{Diag, Loc, SourceFile};
use super::eval::{check_functions, eval, pick, var_local_reads};
use super::scope::Ctx;
use super::simple_eval::{simple, Root};
use super::to_model::Scope;
use super::vars::Resolved;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Node {
    Local(usize),
    Data(usize),
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Visiting,
    Done,
}

/// `local.x` and `data.type.name` references (root, first and second attribute).
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

fn expr_refs(e: &Expression) -> Refs {
    let mut r = Refs(Vec::new());
    r.visit_expr(e);
    r
}

fn body_refs(b: &Body) -> Refs {
    let mut r = Refs(Vec::new());
    r.visit_body(b);
    r
}

fn loc_text(l: Option<&Loc>) -> String {
    l.map_or_else(
        || "?".into(),
        |l| format!("{}:{}:{}", l.file, l.line, l.col),
    )
}

/// Evaluates every local and data block into `out.locals` / the returned `data` object.
pub(crate) fn evaluate(
    files: &[SourceFile],
    decls: &Decls,
    root: &BTreeMap<String, Value>,
    opts: DataOptions<'_>,
    out: &mut Resolved,
    diags: &mut Vec<Diag>,
) -> Map<String, Value> {
    let locals: BTreeMap<&str, usize> = decls
        .locals
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let datas: BTreeMap<(&str, &str), usize> = decls
        .data
        .iter()
        .enumerate()
        .map(|(i, d)| ((d.kind.as_str(), d.name.as_str()), i))
        .collect();
    for l in &decls.locals {
        if l.sensitive {
            out.sensitive.insert(l.name.clone());
        }
    }
    let label = |n: Node| match n {
        Node::Local(i) => format!("local.{}", decls.locals[i].name),
        Node::Data(i) => format!("data.{}.{}", decls.data[i].kind, decls.data[i].name),
    };
    let loc = |n: Node| match n {
        Node::Local(i) => decls.locals[i].loc.clone(),
        Node::Data(i) => decls.data[i].loc.clone(),
    };
    let find_deps = |n: Node| -> Vec<Node> {
        let refs = match n {
            Node::Local(i) => expr_refs(decls.locals[i].expr),
            Node::Data(i) => body_refs(decls.data[i].body),
        };
        let mut v = Vec::new();
        for (r, a, b) in refs.0 {
            let dep = match (r.as_str(), b) {
                ("local", _) => locals.get(a.as_str()).map(|i| Node::Local(*i)),
                ("data", Some(b)) => datas.get(&(a.as_str(), b.as_str())).map(|i| Node::Data(*i)),
                _ => None,
            };
            if let Some(d) = dep {
                if !v.contains(&d) {
                    v.push(d);
                }
            }
        }
        v
    };
    // Each node's dependencies, found once (the walk asks for them up to three times).
    let local_deps: Vec<Vec<Node>> = (0..decls.locals.len())
        .map(|i| find_deps(Node::Local(i)))
        .collect();
    let data_deps: Vec<Vec<Node>> = (0..decls.data.len())
        .map(|i| find_deps(Node::Data(i)))
        .collect();
    let deps = |n: Node| -> &[Node] {
        match n {
            Node::Local(i) => &local_deps[i],
            Node::Data(i) => &data_deps[i],
        }
    };
    let mut data_vals: Map<String, Value> = Map::new();
    let mut state: BTreeMap<Node, State> = BTreeMap::new();
    let mut failed: BTreeSet<Node> = BTreeSet::new();
    let starts: Vec<Node> = (0..decls.data.len())
        .map(Node::Data)
        .chain((0..decls.locals.len()).map(Node::Local))
        .collect();
    // Iterative DFS so a long chain cannot overflow the stack.
    for start in starts {
        let mut stack: Vec<(Node, bool)> = vec![(start, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                state.insert(n, State::Done);
                if failed.contains(&n) || deps(n).iter().any(|d| failed.contains(d)) {
                    failed.insert(n);
                    continue;
                }
                let unknown_ok =
                    !opts.execute && deps(n).iter().any(|d| matches!(d, Node::Data(_)));
                let ok = match n {
                    Node::Local(i) => local(
                        files,
                        &decls.locals[i],
                        root,
                        &data_vals,
                        unknown_ok,
                        out,
                        diags,
                    ),
                    Node::Data(i) => {
                        let d = &decls.data[i];
                        let scope = scope_for(root, out, &data_vals);
                        match data::evaluate(&files[d.file], d, &scope, opts, unknown_ok, diags) {
                            Some(v) => {
                                if let Value::Object(kinds) = data_vals
                                    .entry(d.kind.clone())
                                    .or_insert_with(|| Value::Object(Map::new()))
                                {
                                    kinds.insert(d.name.clone(), v);
                                }
                                true
                            }
                            None => false,
                        }
                    }
                };
                if !ok {
                    failed.insert(n);
                }
                continue;
            }
            if state.contains_key(&n) {
                continue;
            }
            state.insert(n, State::Visiting);
            stack.push((n, true));
            for &dep in deps(n) {
                match state.get(&dep) {
                    Some(State::Visiting) => {
                        if failed.insert(n) {
                            let what = if matches!((n, dep), (Node::Local(_), Node::Local(_))) {
                                "Cycle among locals"
                            } else {
                                "Cycle among locals and data sources"
                            };
                            diags.push(Diag::error(
                                loc(n),
                                what,
                                format!(
                                    "{} (at {}) refers to {} (at {}), which depends on {} again.",
                                    label(n),
                                    loc_text(loc(n).as_ref()),
                                    label(dep),
                                    loc_text(loc(dep).as_ref()),
                                    label(n)
                                ),
                            ));
                        }
                    }
                    Some(State::Done) => {}
                    None => stack.push((dep, false)),
                }
            }
        }
    }
    data_vals
}

/// The scope data blocks are evaluated in: the root variables, `var`, `local` and `data` so far.
fn scope_for(root: &BTreeMap<String, Value>, out: &Resolved, data: &Map<String, Value>) -> Scope {
    let mut vars: BTreeMap<String, Value> = root
        .iter()
        .filter(|(k, _)| k.as_str() != "build")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.insert("var".into(), Value::Object(out.vars.clone()));
    vars.insert("local".into(), Value::Object(out.locals.clone()));
    vars.insert("data".into(), Value::Object(data.clone()));
    Scope::new(vars)
}

fn local(
    files: &[SourceFile],
    l: &super::blocks::LocalDecl,
    root: &BTreeMap<String, Value>,
    data: &Map<String, Value>,
    unknown_ok: bool,
    out: &mut Resolved,
    diags: &mut Vec<Diag>,
) -> bool {
    let f = &files[l.file];
    let direct = simple(l.expr, &|n| match n {
        "var" => Some(Root::Object(&out.vars)),
        "local" => Some(Root::Object(&out.locals)),
        "data" => Some(Root::Object(data)),
        other => root.get(other).map(Root::Value),
    });
    if let Some(v) = direct {
        out.locals.insert(l.name.clone(), v);
        return true;
    }
    let before = diags.len();
    check_functions(f, l.expr, false, diags);
    if diags.len() > before {
        return false;
    }
    // Only what the expression reads: copying every variable and local for each local made
    // resolving n locals quadratic.
    let (var, local) = match var_local_reads([l.expr]) {
        Some((vars, locals)) => (pick(&out.vars, &vars), pick(&out.locals, &locals)),
        None => (out.vars.clone(), out.locals.clone()),
    };
    let ctx = Ctx::with_vars(
        root.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "var" | "local" | "data"))
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v)))
            .chain([
                ("var", Cow::Owned(Value::Object(var))),
                ("local", Cow::Owned(Value::Object(local))),
                ("data", Cow::Owned(Value::Object(data.clone()))),
            ]),
    );
    match eval(f, l.expr, &ctx) {
        Ok(v) => {
            out.locals.insert(l.name.clone(), v);
            true
        }
        // An expression over data sources that were not executed: unknown, as in Packer.
        Err(_) if unknown_ok => {
            out.locals
                .insert(l.name.clone(), Value::String(data::UNKNOWN.into()));
            true
        }
        Err(e) => {
            diags.push(e);
            false
        }
    }
}
