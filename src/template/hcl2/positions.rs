//! Positions inside an attribute's value: when the expression is a literal list or object, each
//! element and entry of the evaluated value gets the position where it is written, so an error
//! about one element (an `environment_vars` entry, a tag) points at it and not at the attribute.

use hcl::Value;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::Span;

use super::diag::SourceFile;
use super::to_model::to_node;
use crate::template::json::{Node, Object, Pos, Value as J};

/// `v`, the value of `e`, as a node at `p` whose literal elements and entries carry their own
/// positions (anything else, such as a `for` expression or a function's result, inherits `p`).
pub(crate) fn node_at(f: &SourceFile, e: &Expression, v: &Value, p: Pos) -> Node {
    let at = |x: &dyn Span| f.span_pos(x.span());
    match (e, v) {
        (Expression::Array(a), Value::Array(items)) if a.len() == items.len() => Node {
            value: J::Array(
                a.iter()
                    .zip(items)
                    .map(|(x, item)| node_at(f, x, item, at(x)))
                    .collect(),
            ),
            pos: p,
        },
        (Expression::Object(o), Value::Object(m)) => {
            let written = |name: &str| {
                o.iter()
                    .find(|(k, _)| literal_key(k) == Some(name))
                    .map(|(k, x)| (at(k), x.expr()))
            };
            let entries = m
                .iter()
                .map(|(k, x)| match written(k) {
                    Some((kp, xe)) => (k.clone(), kp, node_at(f, xe, x, at(xe))),
                    None => (k.clone(), p, to_node(x, p)),
                })
                .collect();
            Node {
                value: J::Object(Object { entries }),
                pos: p,
            }
        }
        _ => to_node(v, p),
    }
}

/// The name a key is written as: an identifier or a quoted string without interpolation.
fn literal_key(k: &ObjectKey) -> Option<&str> {
    match k {
        ObjectKey::Ident(id) => Some(id.value().as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().as_str()),
        ObjectKey::Expression(_) => None,
    }
}
