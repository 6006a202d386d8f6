//! The top-level block structure of a Packer HCL2 template: which blocks exist, their labels and
//! attributes, checked against Packer's schema (hcl2template/parser.go), across all files.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span;

use super::diag::{Diag, Loc, SourceFile};

/// An expression with the file it came from.
#[derive(Debug, Clone)]
pub(crate) struct At<T> {
    pub file: usize,
    pub node: T,
}

#[derive(Debug, Clone)]
pub(crate) struct VarDecl<'a> {
    pub name: String,
    pub file: usize,
    pub loc: Option<Loc>,
    pub type_expr: Option<&'a Expression>,
    pub default: Option<&'a Expression>,
    pub sensitive: Option<&'a Expression>,
    pub nullable: Option<&'a Expression>,
    /// (condition, error_message, where the `validation` block is)
    pub validations: Vec<(&'a Expression, &'a Expression, Option<Loc>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct LocalDecl<'a> {
    pub name: String,
    pub file: usize,
    pub loc: Option<Loc>,
    pub expr: &'a Expression,
    pub sensitive: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SourceDecl<'a> {
    pub kind: String,
    pub name: String,
    pub file: usize,
    pub loc: Option<Loc>,
    pub body: &'a Body,
}

#[derive(Debug, Clone)]
pub(crate) struct BuildDecl<'a> {
    pub file: usize,
    pub loc: Option<Loc>,
    pub body: &'a Body,
}

/// Everything declared in the template's files, borrowing the parsed bodies' expressions.
#[derive(Debug, Default)]
pub(crate) struct Decls<'a> {
    pub required_version: Vec<At<&'a Expression>>,
    pub required_plugins: Vec<At<&'a Block>>,
    pub variables: Vec<VarDecl<'a>>,
    pub locals: Vec<LocalDecl<'a>>,
    pub sources: Vec<SourceDecl<'a>>,
    pub builds: Vec<BuildDecl<'a>>,
    pub data: Vec<super::data::DataDecl<'a>>,
}

pub(crate) fn unsupported_argument(loc: Option<Loc>, name: &str) -> Diag {
    Diag::error(
        loc,
        "Unsupported argument",
        format!("An argument named \"{name}\" is not expected here."),
    )
}

pub(crate) fn unsupported_block(loc: Option<Loc>, name: &str) -> Diag {
    Diag::error(
        loc,
        "Unsupported block type",
        format!("Blocks of type \"{name}\" are not expected here."),
    )
}

fn labels(b: &Block) -> Vec<String> {
    b.labels.iter().map(|l| l.as_str().to_string()).collect()
}

/// Checks a block has exactly `n` labels named `what`.
fn want_labels(
    f: &SourceFile,
    b: &Block,
    what: &[&str],
    diags: &mut Vec<Diag>,
) -> Option<Vec<String>> {
    let l = labels(b);
    if l.len() == what.len() {
        return Some(l);
    }
    let kind = b.ident.as_str();
    let (summary, detail) = if l.len() < what.len() {
        (
            format!("Missing {} for {kind}", what[l.len()]),
            format!(
                "All {kind} blocks must have {} labels ({}).",
                what.len(),
                what.join(", ")
            ),
        )
    } else {
        (
            format!("Extraneous label for {kind}"),
            format!(
                "Only {} labels ({}) are expected for {kind} blocks.",
                what.len(),
                what.join(", ")
            ),
        )
    };
    diags.push(Diag::error(f.span_loc(b.span()), summary, detail));
    None
}

/// Splits a body into attributes and blocks.
pub(crate) fn parts(body: &Body) -> (Vec<&Attribute>, Vec<&Block>) {
    let mut attrs = Vec::new();
    let mut blocks = Vec::new();
    for s in body {
        match s {
            Structure::Attribute(a) => attrs.push(a),
            Structure::Block(b) => blocks.push(b),
        }
    }
    (attrs, blocks)
}

/// Collects the declarations of every file, reporting structure errors and duplicates.
pub(crate) fn collect<'a>(
    files: &[SourceFile],
    bodies: &'a [Body],
    diags: &mut Vec<Diag>,
) -> Decls<'a> {
    let mut d = Decls::default();
    // Room for every variable and local up front: a template may declare thousands, and each
    // declaration is large (its expressions).
    let (mut variables, mut locals) = (0, 0);
    for s in bodies.iter().flatten() {
        if let Structure::Block(b) = s {
            match b.ident.as_str() {
                "variable" => variables += 1,
                "locals" => locals += b.body.len(),
                "local" => locals += 1,
                _ => {}
            }
        }
    }
    d.variables.reserve(variables);
    d.locals.reserve(locals);
    for (fi, (f, body)) in files.iter().zip(bodies).enumerate() {
        for s in body {
            match s {
                Structure::Attribute(a) => diags.push(unsupported_argument(
                    f.span_loc(a.key.span()),
                    a.key.as_str(),
                )),
                Structure::Block(b) => block(fi, f, b, &mut d, diags),
            }
        }
    }
    duplicates(&d, diags);
    d
}

fn block<'a>(fi: usize, f: &SourceFile, b: &'a Block, d: &mut Decls<'a>, diags: &mut Vec<Diag>) {
    let loc = f.span_loc(b.ident.span());
    match b.ident.as_str() {
        "packer" => {
            if want_labels(f, b, &[], diags).is_none() {
                return;
            }
            let (attrs, blocks) = parts(&b.body);
            for a in attrs {
                match a.key.as_str() {
                    "required_version" => d.required_version.push(At {
                        file: fi,
                        node: &a.value,
                    }),
                    k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
                }
            }
            for nb in blocks {
                match nb.ident.as_str() {
                    "required_plugins" => d.required_plugins.push(At { file: fi, node: nb }),
                    k => diags.push(unsupported_block(f.span_loc(nb.ident.span()), k)),
                }
            }
        }
        "variable" => {
            if let Some(l) = want_labels(f, b, &["name"], diags) {
                let name = l.into_iter().next().unwrap_or_default();
                variable(fi, f, name, loc, &b.body, d, diags);
            }
        }
        "variables" => {
            if want_labels(f, b, &[], diags).is_none() {
                return;
            }
            let (attrs, blocks) = parts(&b.body);
            for nb in blocks {
                diags.push(unsupported_block(
                    f.span_loc(nb.ident.span()),
                    nb.ident.as_str(),
                ));
            }
            for a in attrs {
                // `variables { x = "default" }` or `variables { x = { default = ... } }`.
                d.variables.push(VarDecl {
                    name: a.key.as_str().to_string(),
                    file: fi,
                    loc: f.span_loc(a.key.span()),
                    type_expr: None,
                    default: Some(&a.value),
                    sensitive: None,
                    nullable: None,
                    validations: Vec::new(),
                });
            }
        }
        "locals" => {
            if want_labels(f, b, &[], diags).is_none() {
                return;
            }
            // One pass (a `locals` block may hold hundreds): only blocks are reported.
            for s in &b.body {
                match s {
                    Structure::Attribute(a) => d.locals.push(LocalDecl {
                        name: a.key.as_str().to_string(),
                        file: fi,
                        loc: f.span_loc(a.key.span()),
                        expr: &a.value,
                        sensitive: false,
                    }),
                    Structure::Block(nb) => diags.push(unsupported_block(
                        f.span_loc(nb.ident.span()),
                        nb.ident.as_str(),
                    )),
                }
            }
        }
        "local" => {
            let Some(l) = want_labels(f, b, &["name"], diags) else {
                return;
            };
            let (attrs, blocks) = parts(&b.body);
            for nb in blocks {
                diags.push(unsupported_block(
                    f.span_loc(nb.ident.span()),
                    nb.ident.as_str(),
                ));
            }
            let mut expr = None;
            let mut sensitive = false;
            for a in attrs {
                match a.key.as_str() {
                    "expression" => expr = Some(&a.value),
                    "sensitive" => {
                        sensitive = matches!(&a.value, Expression::Bool(v) if *v.value());
                    }
                    k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
                }
            }
            match expr {
                Some(expr) => d.locals.push(LocalDecl {
                    name: l[0].clone(),
                    file: fi,
                    loc,
                    expr,
                    sensitive,
                }),
                None => diags.push(Diag::error(
                    loc,
                    "Missing required argument",
                    "The argument \"expression\" is required, but no definition was found.",
                )),
            }
        }
        "source" => {
            if let Some(l) = want_labels(f, b, &["type", "name"], diags) {
                d.sources.push(SourceDecl {
                    kind: l[0].clone(),
                    name: l[1].clone(),
                    file: fi,
                    loc,
                    body: &b.body,
                });
            }
        }
        "build" => {
            if want_labels(f, b, &[], diags).is_some() {
                d.builds.push(BuildDecl {
                    file: fi,
                    loc,
                    body: &b.body,
                });
            }
        }
        "data" => {
            if let Some(l) = want_labels(f, b, &["type", "name"], diags) {
                d.data.push(super::data::DataDecl {
                    kind: l[0].clone(),
                    name: l[1].clone(),
                    file: fi,
                    loc,
                    kind_loc: b.labels.first().and_then(|x| f.span_loc(x.span())),
                    body: &b.body,
                });
            }
        }
        k => diags.push(unsupported_block(loc, k)),
    }
}

fn variable<'a>(
    fi: usize,
    f: &SourceFile,
    name: String,
    loc: Option<Loc>,
    body: &'a Body,
    d: &mut Decls<'a>,
    diags: &mut Vec<Diag>,
) {
    let mut v = VarDecl {
        name,
        file: fi,
        loc,
        type_expr: None,
        default: None,
        sensitive: None,
        nullable: None,
        validations: Vec::new(),
    };
    // One pass over the attributes; the (rare) blocks after them, as their diagnostics come
    // after the attributes'.
    let mut blocks = Vec::new();
    for s in body {
        let a = match s {
            Structure::Attribute(a) => a,
            Structure::Block(b) => {
                blocks.push(b);
                continue;
            }
        };
        match a.key.as_str() {
            "type" => v.type_expr = Some(&a.value),
            "default" => v.default = Some(&a.value),
            "sensitive" => v.sensitive = Some(&a.value),
            "nullable" => v.nullable = Some(&a.value),
            "description" => {}
            k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
        }
    }
    for b in blocks {
        if b.ident.as_str() != "validation" {
            diags.push(unsupported_block(
                f.span_loc(b.ident.span()),
                b.ident.as_str(),
            ));
            continue;
        }
        let (va, vb) = parts(&b.body);
        for x in vb {
            diags.push(unsupported_block(
                f.span_loc(x.ident.span()),
                x.ident.as_str(),
            ));
        }
        let mut cond = None;
        let mut msg = None;
        for a in va {
            match a.key.as_str() {
                "condition" => cond = Some(&a.value),
                "error_message" => msg = Some(&a.value),
                k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
            }
        }
        match (cond, msg) {
            (Some(c), Some(m)) => v.validations.push((c, m, f.span_loc(b.ident.span()))),
            (c, _) => diags.push(Diag::error(
                f.span_loc(b.ident.span()),
                "Missing required argument",
                format!(
                    "The argument \"{}\" is required, but no definition was found.",
                    if c.is_none() {
                        "condition"
                    } else {
                        "error_message"
                    }
                ),
            )),
        }
    }
    d.variables.push(v);
}

/// A declaration's kind and name (`type`, `name` for two-label blocks), and where it is.
type Named<'d> = ((&'static str, &'d str, Option<&'d str>), &'d Option<Loc>);

/// Reports every declaration whose kind and name were declared before, in declaration order.
/// Sorted, not hashed: a template declares thousands, almost never twice.
fn duplicates(d: &Decls<'_>, diags: &mut Vec<Diag>) {
    let mut all: Vec<Named<'_>> =
        Vec::with_capacity(d.variables.len() + d.locals.len() + d.data.len() + d.sources.len());
    all.extend(
        d.variables
            .iter()
            .map(|v| (("variable", v.name.as_str(), None), &v.loc)),
    );
    all.extend(
        d.locals
            .iter()
            .map(|l| (("local", l.name.as_str(), None), &l.loc)),
    );
    all.extend(
        d.data
            .iter()
            .map(|x| (("data", x.kind.as_str(), Some(x.name.as_str())), &x.loc)),
    );
    all.extend(
        d.sources
            .iter()
            .map(|s| (("source", s.kind.as_str(), Some(s.name.as_str())), &s.loc)),
    );
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_unstable_by(|&a, &b| all[a].0.cmp(&all[b].0).then(a.cmp(&b)));
    let mut again: Vec<(usize, usize)> = Vec::new();
    for same in order.chunk_by(|&a, &b| all[a].0 == all[b].0) {
        again.extend(same[1..].iter().map(|&i| (i, same[0])));
    }
    again.sort_unstable();
    for (i, first) in again {
        let ((what, a, b), loc) = all[i];
        let name = match b {
            Some(b) => format!("{a}.{b}"),
            None => a.to_string(),
        };
        let at = all[first]
            .1
            .as_ref()
            .map(|l| format!(" at {}:{}:{}", l.file, l.line, l.col))
            .unwrap_or_default();
        diags.push(Diag::error(
            loc.clone(),
            format!("Duplicate {what} \"{name}\""),
            format!("The {what} \"{name}\" was already declared{at}."),
        ));
    }
}
