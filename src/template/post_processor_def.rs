//! One entry of the template's `post-processors` decoded into a chain of [`PostProcessorDef`]s:
//! a type name, an object, or a sequence of those (Packer 1.6.6's three forms), with its
//! mapstructure messages and their positions.

use super::json::{Node, Object, Value};
use super::parse::{mapstructure_errors, PostProcessorDef, Stage, TemplateError};
use super::weak::{go_fmt_value, string_slice, weak_string};

/// Decodes the `i`th entry of `post-processors`; every problem goes to `errs` (a chain with
/// a malformed shape is `None`, an entry that does not decode is left out).
pub(super) fn chain(
    i: usize,
    node: &Node,
    errs: &mut Vec<TemplateError>,
) -> Option<Vec<PostProcessorDef>> {
    let mut err = |stage, pos, message| {
        errs.push(TemplateError {
            stage,
            message,
            pos,
        });
    };
    let items: Vec<&Node> = match &node.value {
        Value::String(_) | Value::Object(_) => vec![node],
        Value::Array(items) => {
            let mut bad = false;
            for (j, item) in items.iter().enumerate() {
                match &item.value {
                    Value::String(_) | Value::Object(_) => {}
                    Value::Array(_) => {
                        bad = true;
                        err(Stage::Structure, Some(item.pos), format!("post-processor {i}.{}: sequence not allowed to be nested in a sequence", j + 1));
                    }
                    _ => {
                        bad = true;
                        err(
                            Stage::Structure,
                            Some(item.pos),
                            format!("post-processor {i}.{}: unknown format", j + 1),
                        );
                    }
                }
            }
            if bad {
                return None;
            }
            items.iter().collect()
        }
        _ => {
            err(
                Stage::Structure,
                Some(node.pos),
                format!("post-processor {i}: bad format"),
            );
            return None;
        }
    };
    let mut chain = Vec::new();
    for (j, item) in items.into_iter().enumerate() {
        let j = j + 1;
        let obj = match &item.value {
            Value::String(s) => Object {
                entries: vec![(
                    "type".to_string(),
                    item.pos,
                    Node {
                        value: Value::String(s.clone()),
                        pos: item.pos,
                    },
                )],
            },
            Value::Object(o) => o.clone(),
            _ => unreachable!("checked above"),
        };
        let mut field_errs = Vec::new();
        // mapstructure names untagged struct fields by their Go name in its messages.
        let kind = weak_string(&obj, "type", "Type", &mut field_errs).unwrap_or_default();
        let name = weak_string(&obj, "name", "Name", &mut field_errs).unwrap_or_default();
        let only = string_slice(&obj, "only", "Only", &mut field_errs);
        let except = string_slice(&obj, "except", "Except", &mut field_errs);
        let keep = match obj.get("keep_input_artifact").map(|n| &n.value) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                field_errs.push(format!(
                    "'keep_input_artifact' expected type 'bool', got unconvertible type '{}', value: '{}'",
                    other.go_type(),
                    go_fmt_value(other)
                ));
                None
            }
        };
        if !field_errs.is_empty() {
            err(
                Stage::Structure,
                Some(item.pos),
                format!(
                    "post-processor {i}.{j}: {}",
                    mapstructure_errors(&field_errs)
                ),
            );
            continue;
        }
        if kind.is_empty() {
            err(
                Stage::Structure,
                Some(item.pos),
                format!("post-processor {i}.{j}: type is required"),
            );
            continue;
        }
        let name = if name.is_empty() { kind.clone() } else { name };
        chain.push(PostProcessorDef {
            kind,
            name,
            only,
            except,
            keep_input_artifact: keep,
            config: obj,
            pos: item.pos,
        });
    }
    Some(chain)
}
