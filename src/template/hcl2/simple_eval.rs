//! A direct evaluator for the expressions most of a template is made of: literals, lists and
//! objects of them, references (`var.x`, `local.y["k"]`, `path.root`) and quoted strings that
//! interpolate such references. It reads the variables in place, where the general path
//! ([`super::eval::eval`]) copies the expression, rewrites it for `try`/`can` and operand
//! conversions, turns it into hcl-rs's tree (re-parsing every string template) and evaluates it
//! in a context holding copies of the variables it reads.
//!
//! It answers only when it can give the general path's value: anything else (function calls,
//! operators, conditionals, `for`, splats, heredocs, template directives and strip markers, and
//! every failure, such as a missing attribute) is `None`, and the caller evaluates the general
//! way, which also words the error.

use hcl::{Map, Value};
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::template::{Element, StringTemplate, Strip};

/// A root variable as the evaluation finds it: a value, or an object kept as its map
/// (`var`, `local`, `data` while they are being resolved).
#[derive(Clone, Copy)]
pub(crate) enum Root<'a> {
    Value(&'a Value),
    Object(&'a Map<String, Value>),
}

/// The value of `expr` with root variables from `roots`, when the expression is one this
/// evaluator covers and evaluates without error.
pub(crate) fn simple<'a>(
    expr: &Expression,
    roots: &dyn Fn(&str) -> Option<Root<'a>>,
) -> Option<Value> {
    match expr {
        Expression::Null(_) => Some(Value::Null),
        Expression::Bool(b) => Some(Value::Bool(*b.value())),
        Expression::Number(n) => Some(Value::Number(*n.value())),
        Expression::String(s) => Some(Value::String(s.value().clone())),
        Expression::Array(items) => items
            .iter()
            .map(|e| simple(e, roots))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Expression::Object(obj) => {
            let mut out = Map::with_capacity(obj.len());
            for (k, v) in obj {
                let key = match k {
                    ObjectKey::Ident(i) => i.as_str().to_string(),
                    ObjectKey::Expression(e) => match simple(e, roots)? {
                        Value::String(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    },
                };
                out.insert(key, simple(v.expr(), roots)?);
            }
            Some(Value::Object(out))
        }
        Expression::StringTemplate(t) => template(t, roots),
        Expression::Parenthesis(p) => simple(p.inner(), roots),
        Expression::Variable(v) => Some(owned(roots(v.as_str())?)),
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else {
                return None;
            };
            let mut at = roots(root.as_str())?;
            for op in &t.operators {
                at = step(at, op.value(), roots)?;
            }
            Some(owned(at))
        }
        _ => None,
    }
}

fn owned(r: Root<'_>) -> Value {
    match r {
        Root::Value(v) => v.clone(),
        Root::Object(m) => Value::Object(m.clone()),
    }
}

/// One traversal step, as hcl-rs takes it: an attribute or a string index of an object, an
/// unsigned index of a list.
fn step<'a>(
    at: Root<'a>,
    op: &TraversalOperator,
    roots: &dyn Fn(&str) -> Option<Root<'a>>,
) -> Option<Root<'a>> {
    let object = |key: &str| match at {
        Root::Object(m) | Root::Value(Value::Object(m)) => m.get(key).map(Root::Value),
        Root::Value(_) => None,
    };
    let list = |i: u64| match at {
        Root::Value(Value::Array(items)) => usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .map(Root::Value),
        _ => None,
    };
    match op {
        TraversalOperator::GetAttr(name) => object(name.as_str()),
        TraversalOperator::LegacyIndex(i) => list(*i.value()),
        TraversalOperator::Index(e) => match simple(e, roots)? {
            Value::String(key) => object(&key),
            Value::Number(n) => list(n.as_u64()?),
            _ => None,
        },
        TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => None,
    }
}

/// A quoted string of literals and interpolations; a lone interpolation is its value unchanged
/// (HCL's interpolation unwrapping).
fn template<'a>(t: &StringTemplate, roots: &dyn Fn(&str) -> Option<Root<'a>>) -> Option<Value> {
    let elements: Vec<&Element> = t.iter().collect();
    if let [Element::Interpolation(i)] = elements.as_slice() {
        return (i.strip == Strip::None)
            .then(|| simple(&i.expr, roots))
            .flatten();
    }
    let mut out = String::new();
    for e in elements {
        match e {
            // An empty literal could disappear when hcl-rs re-reads the template, and with it
            // the difference between a string and an unwrapped interpolation.
            Element::Literal(l) if !l.value().is_empty() => out.push_str(l.value()),
            Element::Interpolation(i) if i.strip == Strip::None => match simple(&i.expr, roots)? {
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            },
            _ => return None,
        }
    }
    Some(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::hcl2::diag::SourceFile;
    use crate::template::hcl2::scope::Ctx;
    use std::borrow::Cow;

    fn vars() -> Vec<(&'static str, Value)> {
        let mut var = Map::new();
        var.insert("x".to_string(), Value::from("X"));
        var.insert("n".to_string(), Value::from(3));
        var.insert("f".to_string(), Value::from(2.5));
        var.insert("b".to_string(), Value::Bool(true));
        var.insert("nul".to_string(), Value::Null);
        var.insert(
            "list".to_string(),
            Value::Array(vec![Value::from("a"), Value::from("b")]),
        );
        let mut inner = Map::new();
        inner.insert("k".to_string(), Value::from("v"));
        inner.insert("k2".to_string(), Value::Array(vec![Value::from(1)]));
        var.insert("obj".to_string(), Value::Object(inner));
        let mut path = Map::new();
        path.insert("root".to_string(), Value::from("/r"));
        vec![
            ("var", Value::Object(var)),
            ("path", Value::Object(path)),
            ("s", Value::from("plain")),
        ]
    }

    /// The general path's answer for `src`.
    fn general(src: &str) -> Result<Value, String> {
        let vars = vars();
        let ctx = Ctx::with_vars(vars.iter().map(|(k, v)| (*k, Cow::Borrowed(v))));
        let e = hcl_edit::parser::parse_expr(src).map_err(|e| e.to_string())?;
        super::super::eval::eval(&SourceFile::new("t", src), &e, &ctx).map_err(|d| d.summary)
    }

    fn fast(src: &str) -> Option<Value> {
        let vars = vars();
        let e = hcl_edit::parser::parse_expr(src).expect("parses");
        let roots = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| Root::Value(v))
        };
        simple(&e, &roots)
    }

    /// Every expression the direct evaluator answers gets the general path's value; the ones
    /// it leaves to the general path are the ones it should.
    #[test]
    fn agrees_with_the_general_path() {
        let answered = [
            "null",
            "true",
            "42",
            "-1",
            "1.5e3",
            r#""plain""#,
            r#""q\"b\n\\t\u00e9 $${lit} %%{lit}""#,
            r#""q\"b${var.x}\n\\t\u00e9 $${lit} %%{lit}""#,
            r#""${var.x}""#,
            r#""${var.n}""#,
            r#""${var.list}""#,
            r#""n=${var.n} f=${var.f} b=${var.b}""#,
            r#""${var.x}-${var.n}-${path.root}""#,
            r#""nul=${var.nul}""#,
            "var.x",
            "var",
            "s",
            "var.list[1]",
            "var.list.0",
            "var.obj.k",
            r#"var.obj["k"]"#,
            "var.obj.k2[0]",
            "(var.x)",
            r#"[var.x, "y", 1, [true]]"#,
            r#"{ a = var.x, "b" = 2, (var.x) = 3, 4 = "four", true = false }"#,
            r#"{ a = 1, "a" = 3 }"#,
            r#"["echo ${var.obj.k}", "STEP=${var.n}"]"#,
        ];
        for src in answered {
            let want = general(src);
            assert!(want.is_ok(), "{src}: {want:?}");
            assert_eq!(
                fast(src).ok_or("left to the general path"),
                want.map_err(|_| ""),
                "{src}"
            );
        }
        let left = [
            "var.list[var.n - 3]",
            "var.missing",
            "var.list[2]",
            r#"var.list["a"]"#,
            "var.obj[0]",
            "var.x.y",
            "nope",
            "upper(var.x)",
            r#""${upper(var.x)}""#,
            "var.n + 1",
            "var.b ? 1 : 2",
            "[for x in var.list : x]",
            "var.list[*]",
            r#""a ${~var.x} b""#,
            r#""%{if var.b}y%{endif}""#,
            "{ (var.list) = 1 }",
        ];
        for src in left {
            assert_eq!(fast(src), None, "{src}");
        }
    }
}
