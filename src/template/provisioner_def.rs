//! One entry of the template's `provisioners` (or `error-cleanup-provisioner`) decoded into a
//! [`ProvisionerDef`]: its type and the keys every provisioner shares (`only`, `except`,
//! `override`, `pause_before`, `max_retries`, `timeout`), with mapstructure's messages.

use super::json::{Node, Object, Pos, Value};
use super::parse::{mapstructure_errors, ProvisionerDef};
use super::weak::{self, duration_field, go_kind, weak_slice, weak_string};
use crate::gocompat::strconv::format_number as go_format_number;

/// Decodes one provisioner entry; an error comes with where it is: the value of the first key
/// that failed to decode, else the entry.
pub(crate) fn provisioner(node: &Node) -> Result<ProvisionerDef, (String, Pos)> {
    let Some(obj) = node.as_object() else {
        return Err((
            format!(
                "Error decoding provisioner: '' expected a map, got '{}'",
                go_kind(&node.value)
            ),
            node.pos,
        ));
    };
    let mut errs = Vec::new();
    // The position of the first key whose value did not decode.
    let mut first_at: Option<Pos> = None;
    let mut note = |errs: &Vec<String>, before: usize, key: &str| {
        if errs.len() > before && first_at.is_none() {
            first_at = obj.get(key).map(|n| n.pos);
        }
    };
    let kind = weak_string(obj, "type", "type", &mut errs).unwrap_or_default();
    note(&errs, 0, "type");
    // Packer 1.6.6 accepts a single value for a provisioner's `only`/`except`.
    let only = weak_slice(obj, "only");
    let except = weak_slice(obj, "except");
    let mut overrides = Vec::new();
    let before = errs.len();
    match obj.get("override").map(|n| &n.value) {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (name, _, v) in &o.entries {
                match &v.value {
                    Value::Object(ov) => overrides.push((name.clone(), ov.clone())),
                    Value::Null => overrides.push((name.clone(), Object::default())),
                    other => errs.push(format!(
                        "'override[{name}]' expected a map, got '{}'",
                        go_kind(other)
                    )),
                }
            }
        }
        Some(other) => errs.push(format!(
            "'override' expected a map, got '{}'",
            go_kind(other)
        )),
    }
    note(&errs, before, "override");
    let before = errs.len();
    let pause_before = duration_field(obj, "pause_before", &mut errs);
    note(&errs, before, "pause_before");
    let before = errs.len();
    let timeout = duration_field(obj, "timeout", &mut errs);
    note(&errs, before, "timeout");
    let before = errs.len();
    let max_retries = match obj.get("max_retries").map(|n| &n.value) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(go_format_number(n)),
        Some(other) => {
            errs.push(weak::unconvertible("max_retries", "string", other));
            None
        }
    };
    note(&errs, before, "max_retries");
    if !errs.is_empty() {
        return Err((
            format!("Error decoding provisioner: {}", mapstructure_errors(&errs)),
            first_at.unwrap_or(node.pos),
        ));
    }
    if kind.is_empty() {
        return Err(("Provisioner missing 'type'".into(), node.pos));
    }
    Ok(ProvisionerDef {
        kind,
        only,
        except,
        overrides,
        pause_before,
        max_retries,
        timeout,
        config: obj.clone(),
        pos: node.pos,
    })
}
