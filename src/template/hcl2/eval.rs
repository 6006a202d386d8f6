//! Evaluating one HCL expression: unknown functions are reported at the call, `try()`/`can()`
//! are resolved by a pre-pass (hcl-rs evaluates arguments eagerly, so they could not catch
//! errors as ordinary functions), which also reads `convert()`'s type argument (a type
//! expression, not a value), then hcl-rs evaluates the rest in the given context.

use std::collections::BTreeSet;

use hcl::eval::{Context, Evaluate};
use hcl::Value;
use hcl_edit::expr::Expression;
use hcl_edit::visit::{self, Visit};
use hcl_edit::visit_mut::{self, VisitMut};
use hcl_edit::Span;

use super::diag::{Diag, SourceFile};
use super::funcs;

/// Reports every call to a function rpack does not have.
pub(crate) fn check_functions(
    f: &SourceFile,
    expr: &Expression,
    env_ok: bool,
    diags: &mut Vec<Diag>,
) {
    struct V<'a> {
        f: &'a SourceFile,
        env_ok: bool,
        diags: &'a mut Vec<Diag>,
    }
    impl Visit for V<'_> {
        fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr(&node.collection_expr);
            visit::visit_for_template_expr(self, node);
        }
        fn visit_func_call(&mut self, node: &hcl_edit::expr::FuncCall) {
            let name = node.name.name.as_str();
            let known = funcs::is_known(name) && (self.env_ok || name != "env");
            if !node.name.namespace.is_empty() || !known {
                let full: Vec<&str> = node
                    .name
                    .namespace
                    .iter()
                    .map(|n| n.as_str())
                    .chain([name])
                    .collect();
                let full = full.join("::");
                let detail = if name == "env" {
                    "The env() function is only available in variable default values.".to_string()
                } else {
                    format!("There is no function named \"{}\".", full.trim())
                };
                self.diags.push(Diag::error(
                    self.f.span_loc(node.span()),
                    "Call to unknown function",
                    detail,
                ));
            }
            if name == "convert" && node.name.namespace.is_empty() {
                // The second argument is a type (`list(string)`), not calls.
                if let Some(value) = node.args.iter().next() {
                    self.visit_expr(value);
                }
                return;
            }
            visit::visit_func_call(self, node);
        }
    }
    V { f, env_ok, diags }.visit_expr(expr);
}

/// Whether `expr` reads an attribute of root variable `root` (`source.name` for "source").
pub(crate) fn reads_root(expr: &Expression, root: &str) -> bool {
    struct V<'r> {
        root: &'r str,
        found: bool,
    }
    impl Visit for V<'_> {
        fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr(&node.collection_expr);
            visit::visit_for_template_expr(self, node);
        }
        fn visit_traversal(&mut self, node: &hcl_edit::expr::Traversal) {
            if let Expression::Variable(r) = &node.expr {
                let attr = node.operators.first().is_some_and(|op| {
                    matches!(op.value(), hcl_edit::expr::TraversalOperator::GetAttr(_))
                });
                if attr && r.as_str() == self.root {
                    self.found = true;
                    return;
                }
            }
            visit::visit_traversal(self, node);
        }
    }
    let mut v = V { root, found: false };
    v.visit_expr(expr);
    v.found
}

/// The attributes of `var` and of `local` that `exprs` read as `var.x` / `local.y`, or `None`
/// when one of them uses either object another way (`var["x"]`, `var` alone, a `for` variable
/// of that name), which needs the whole object. Evaluating with only what is read keeps each
/// evaluation proportional to its references: the evaluator copies a variable's whole value
/// on every reference to it.
pub(crate) fn var_local_reads<'e>(
    exprs: impl IntoIterator<Item = &'e Expression>,
) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    #[derive(Default)]
    struct R {
        vars: BTreeSet<String>,
        locals: BTreeSet<String>,
        whole: bool,
    }
    impl Visit for R {
        fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr(&node.collection_expr);
            visit::visit_for_template_expr(self, node);
        }
        fn visit_expr(&mut self, node: &Expression) {
            if let Expression::Variable(v) = node {
                if matches!(v.as_str(), "var" | "local") {
                    self.whole = true;
                }
            }
            visit::visit_expr(self, node);
        }
        fn visit_traversal(&mut self, node: &hcl_edit::expr::Traversal) {
            if let (Expression::Variable(root), Some(first)) = (&node.expr, node.operators.first())
            {
                if let hcl_edit::expr::TraversalOperator::GetAttr(a) = first.value() {
                    let set = match root.as_str() {
                        "var" => Some(&mut self.vars),
                        "local" => Some(&mut self.locals),
                        _ => None,
                    };
                    if let Some(set) = set {
                        set.insert(a.as_str().to_string());
                        for op in &node.operators {
                            self.visit_traversal_operator(op);
                        }
                        return;
                    }
                }
            }
            visit::visit_traversal(self, node);
        }
    }
    let mut r = R::default();
    for e in exprs {
        r.visit_expr(e);
    }
    (!r.whole).then_some((r.vars, r.locals))
}

/// The entries of `all` named in `names` (those that exist).
pub(crate) fn pick(
    all: &hcl::Map<String, Value>,
    names: &BTreeSet<String>,
) -> hcl::Map<String, Value> {
    names
        .iter()
        .filter_map(|n| all.get(n).map(|v| (n.clone(), v.clone())))
        .collect()
}

/// Evaluates `expr` (from file `f`) in `ctx`.
pub(crate) fn eval(f: &SourceFile, expr: &Expression, ctx: &Context) -> Result<Value, Diag> {
    let mut e = expr.clone();
    super::operands::wrap(&mut e);
    let mut pre = TryCan { ctx, err: None };
    pre.visit_expr_mut(&mut e);
    if let Some((span, summary, detail)) = pre.err {
        return Err(Diag::error(
            f.span_loc(span.or_else(|| expr.span())),
            summary,
            detail,
        ));
    }
    let h: hcl::Expression = e.into();
    h.evaluate(ctx).map_err(|err| eval_diag(f, expr, err))
}

fn eval_diag(f: &SourceFile, expr: &Expression, err: hcl::eval::Error) -> Diag {
    use hcl::eval::ErrorKind as K;
    let summary = match err.kind() {
        K::UndefinedVar(_) => "Unknown variable",
        K::NoSuchKey(_) => "Unsupported attribute",
        K::UndefinedFunc(_) => "Call to unknown function",
        K::FuncCall(..) => "Error in function call",
        K::Index(_) => "Invalid index",
        K::Unexpected(..) | K::UnaryOp(..) | K::BinaryOp(..) => "Invalid operand",
        _ => "Invalid expression",
    };
    if let K::FuncCall(name, msg) = err.kind() {
        if name.name.as_str() == super::operands::OPERAND {
            if let Some(d) = super::operands::diag(f, msg) {
                return d;
            }
        }
        if name.name.as_str() == "convert" {
            // The value did not convert: at the first convert call's value, in cty's words
            // (the expression hcl-rs would quote shows the type argument as the pre-pass wrote it).
            let at = first_convert_value(expr).or_else(|| expr.span());
            return Diag::error(f.span_loc(at), "Invalid function argument", msg.clone());
        }
    }
    // A reference that does not resolve: at the reference, in HCL's words.
    match err.kind() {
        K::UndefinedVar(name) => {
            let at = reference_at(expr, name.as_str(), None).or_else(|| expr.span());
            return Diag::error(
                f.span_loc(at),
                summary,
                format!("There is no variable named \"{}\".", name.as_str()),
            );
        }
        K::NoSuchKey(key) => {
            if let Some(at) = reference_at(expr, "", Some(key)) {
                return Diag::error(
                    f.span_loc(Some(at)),
                    summary,
                    format!("This object does not have an attribute named \"{key}\"."),
                );
            }
        }
        _ => {}
    }
    Diag::error(f.span_loc(expr.span()), summary, err.to_string())
}

/// Where the first reference to variable `root` (or, with `attr`, the first traversal reading
/// attribute `attr`) starts in `expr`.
fn reference_at(
    expr: &Expression,
    root: &str,
    attr: Option<&str>,
) -> Option<std::ops::Range<usize>> {
    struct V<'a> {
        root: &'a str,
        attr: Option<&'a str>,
        found: Option<std::ops::Range<usize>>,
    }
    impl Visit for V<'_> {
        fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr(&node.collection_expr);
            visit::visit_for_template_expr(self, node);
        }
        fn visit_expr(&mut self, node: &Expression) {
            if self.found.is_some() {
                return;
            }
            match (node, self.attr) {
                (Expression::Variable(v), None) if v.as_str() == self.root => {
                    self.found = node.span();
                }
                (Expression::Traversal(t), Some(a)) => {
                    let reads = t.operators.iter().any(|op| {
                        matches!(op.value(), hcl_edit::expr::TraversalOperator::GetAttr(k) if k.as_str() == a)
                    });
                    if reads {
                        self.found = node.span();
                        return;
                    }
                    visit::visit_expr(self, node);
                }
                _ => visit::visit_expr(self, node),
            }
        }
    }
    let mut v = V {
        root,
        attr,
        found: None,
    };
    v.visit_expr(expr);
    v.found
}

/// The span of the value argument of the first `convert` call in `expr`.
fn first_convert_value(expr: &Expression) -> Option<std::ops::Range<usize>> {
    struct V(Option<std::ops::Range<usize>>);
    impl Visit for V {
        fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
            // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
            self.visit_expr(&node.collection_expr);
            visit::visit_for_template_expr(self, node);
        }
        fn visit_func_call(&mut self, node: &hcl_edit::expr::FuncCall) {
            if self.0.is_none() && node.name.name.as_str() == "convert" {
                self.0 = node.args.iter().next().and_then(Span::span);
            }
            visit::visit_func_call(self, node);
        }
    }
    let mut v = V(None);
    v.visit_expr(expr);
    v.0
}

struct TryCan<'a, 'c> {
    ctx: &'a Context<'c>,
    /// The first failure: where, summary, detail.
    err: Option<(Option<std::ops::Range<usize>>, &'static str, String)>,
}

impl VisitMut for TryCan<'_, '_> {
    fn visit_for_template_expr_mut(&mut self, node: &mut hcl_edit::template::ForTemplateExpr) {
        // hcl-edit's walk skips the collection of `%{ for x in COLLECTION }`.
        self.visit_expr_mut(&mut node.collection_expr);
        visit_mut::visit_for_template_expr_mut(self, node);
    }
    fn visit_expr_mut(&mut self, node: &mut Expression) {
        visit_mut::visit_expr_mut(self, node);
        let Expression::FuncCall(fc) = node else {
            return;
        };
        if !fc.name.namespace.is_empty() {
            return;
        }
        let name = fc.name.name.as_str().to_string();
        if name == "convert" {
            if let Err(e) = convert_call(fc) {
                self.err.get_or_insert(e);
            }
            return;
        }
        if name != "try" && name != "can" {
            return;
        }
        let args: Vec<hcl::Expression> = fc.args.iter().map(|a| a.clone().into()).collect();
        let span = fc.span();
        let result = if name == "can" {
            if args.len() != 1 {
                self.err = Some((
                    span,
                    "Error in function call",
                    "can() takes exactly one argument.".into(),
                ));
                return;
            }
            Value::Bool(args[0].evaluate(self.ctx).is_ok())
        } else {
            if args.is_empty() {
                self.err = Some((
                    span,
                    "Error in function call",
                    "try() needs at least one argument.".into(),
                ));
                return;
            }
            let mut last = String::new();
            let mut found = None;
            for a in &args {
                match a.evaluate(self.ctx) {
                    Ok(v) => {
                        found = Some(v);
                        break;
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            if let Some(v) = found {
                v
            } else {
                self.err = Some((
                    span,
                    "Error in function call",
                    format!(
                        "Call to function \"try\" failed: no expression succeeded; the last error was: {last}"
                    ),
                ));
                return;
            }
        };
        *node = hcl::Expression::from(result).into();
    }
}

type PreErr = (Option<std::ops::Range<usize>>, &'static str, String);

/// `convert(value, type)` before evaluation: the type expression (`list(string)`) is read
/// here, where its position is known, and handed to the `convert` function as text
/// ([`funcs::TYPE_MARK`]), which converts with the variable type system (cty's
/// `typeexpr.ConvertFunc`) wherever the call is evaluated (a `for` body included).
fn convert_call(fc: &mut hcl_edit::expr::FuncCall) -> Result<(), PreErr> {
    let n = fc.args.len();
    if n != 2 {
        let detail = if n < 2 {
            format!(
                "Function \"convert\" expects 2 argument(s). Missing value for \"{}\".",
                if n == 0 { "value" } else { "type" }
            )
        } else {
            "Function \"convert\" expects only 2 argument(s).".to_string()
        };
        let at = fc
            .args
            .iter()
            .nth(2)
            .and_then(Span::span)
            .or_else(|| fc.span());
        let summary = if n < 2 {
            "Not enough function arguments"
        } else {
            "Too many function arguments"
        };
        return Err((at, summary, detail));
    }
    let Some(ty) = fc.args.iter_mut().nth(1) else {
        return Ok(());
    };
    let t = super::types::parse(ty).map_err(|e| (ty.span(), "Invalid type specification", e))?;
    *ty = Expression::from(format!("{}{t}", funcs::TYPE_MARK));
    Ok(())
}

/// A context with rpack's functions (`env()` only when `env_ok`): a copy of one function table
/// built once per process (declaring ~130 functions one by one searches the table each time,
/// which cost more than most evaluations; a template evaluates thousands of expressions).
pub(crate) fn base_context(env_ok: bool) -> Context<'static> {
    static WITH_ENV: std::sync::LazyLock<Context<'static>> = std::sync::LazyLock::new(|| {
        let mut ctx = Context::new();
        funcs::declare(&mut ctx, true);
        ctx
    });
    static WITHOUT_ENV: std::sync::LazyLock<Context<'static>> = std::sync::LazyLock::new(|| {
        let mut ctx = Context::new();
        funcs::declare(&mut ctx, false);
        ctx
    });
    if env_ok {
        WITH_ENV.clone()
    } else {
        WITHOUT_ENV.clone()
    }
}
