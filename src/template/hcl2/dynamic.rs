//! `dynamic` blocks: one generated nested block per element of `for_each`, its `content`
//! evaluated with the iterator (`<name>.key`, `<name>.value`) in scope, like Packer's
//! `dynblock.Expand`.

use hcl::Value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;
use hcl_edit::Span;

use super::blocks::{parts, unsupported_argument, unsupported_block};
use super::diag::{Diag, SourceFile};
use super::schema::nested;
use super::to_model::{add_nested, body_object, pos, value, Scope};
use crate::template::json::Object;

/// `dynamic "name" { for_each = ...; iterator = it; content { ... } }`: one `name` block per
/// element, its content evaluated with `it.key`/`it.value` (the iterator defaults to `name`).
pub(super) fn expand(
    f: &SourceFile,
    b: &Block,
    scope: &Scope,
    kind: &str,
    obj: &mut Object,
    diags: &mut Vec<Diag>,
) {
    let loc = f.span_loc(b.ident.span());
    let Some(label) = b.labels.first().map(|l| l.as_str().to_string()) else {
        diags.push(Diag::error(
            loc,
            "Missing name for dynamic",
            "A dynamic block needs one label: the type of the blocks it generates.",
        ));
        return;
    };
    let Some(shape) = nested(kind, &label) else {
        diags.push(unsupported_block(loc, &label));
        return;
    };
    let (attrs, blocks) = parts(&b.body);
    let mut for_each = None;
    let mut iterator = label.clone();
    for a in attrs {
        match a.key.as_str() {
            "for_each" => for_each = Some(&a.value),
            "iterator" => match &a.value {
                Expression::Variable(v) => iterator = v.as_str().to_string(),
                e => diags.push(Diag::error(
                    f.span_loc(e.span()),
                    "Invalid dynamic iterator name",
                    "The iterator must be a bare name.",
                )),
            },
            "labels" => {}
            k => diags.push(unsupported_argument(f.span_loc(a.key.span()), k)),
        }
    }
    let content: Vec<&Block> = blocks
        .into_iter()
        .filter(|x| {
            if x.ident.as_str() == "content" {
                true
            } else {
                diags.push(unsupported_block(
                    f.span_loc(x.ident.span()),
                    x.ident.as_str(),
                ));
                false
            }
        })
        .collect();
    let (Some(fe), [content]) = (for_each, content.as_slice()) else {
        diags.push(Diag::error(
            loc,
            "Invalid dynamic block",
            "A dynamic block needs a for_each argument and exactly one content block.",
        ));
        return;
    };
    let Some(coll) = value(f, fe, &scope.lazy_context(), diags) else {
        return;
    };
    let items: Vec<(Value, Value)> = match coll {
        Value::Array(a) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (super::funcs::num(i as f64), v))
            .collect(),
        Value::Object(o) => o.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        Value::Null => Vec::new(),
        other => {
            diags.push(Diag::error(
                f.span_loc(fe.span()),
                "Invalid dynamic for_each value",
                format!(
                    "Cannot use a {} value in for_each. An iterable collection is required.",
                    super::funcs::type_name(&other)
                ),
            ));
            return;
        }
    };
    let p = pos(loc.as_ref());
    for (k, v) in items {
        let mut it = hcl::Map::new();
        it.insert("key".to_string(), k);
        it.insert("value".to_string(), v);
        let s = scope.with(&iterator, Value::Object(it));
        let inner = body_object(f, &content.body, &s, kind, &[], diags);
        add_nested(obj, &label, shape, p, inner, loc.clone(), diags);
    }
}
