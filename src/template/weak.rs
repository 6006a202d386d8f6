//! mapstructure's weak typing, as Packer decodes JSON into Go structs: which scalars convert to
//! a string and how, and the texts of its errors (Go kind names, `%v` of the value). One
//! implementation for the template's own keys (`parse`) and every plugin's (the decoder), with
//! the field readers the template's own keys use (`weak_string`, `string_slice`, …).

use std::time::Duration;

use super::json::{Object, Value};
use crate::gocompat::strconv::{format_float_g, format_number};

/// Go's `reflect.Kind` name for a decoded JSON value (mapstructure's "got '<kind>'").
pub(crate) fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Go's `%v` of a decoded JSON value (`[a b]`, `map[k:v]`).
pub(crate) fn go_fmt_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_float_g(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|n| go_fmt_value(&n.value)).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(o) => {
            let mut entries: Vec<(&str, String)> = o
                .entries
                .iter()
                .map(|(k, _, v)| (k.as_str(), go_fmt_value(&v.value)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// The weak string of a number or bool (`5`, `1.5`, `1`/`0`); `None` for anything else.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(format_number(n)),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        _ => None,
    }
}

/// mapstructure's `'<field>' expected type '<go type>', got unconvertible type …` message.
pub(crate) fn unconvertible(field: &str, expected: &str, v: &Value) -> String {
    unconvertible_typed(field, expected, v.go_type(), v)
}

/// [`unconvertible`] for a plugin's config: it reaches the plugin through Packer's RPC, which
/// turns nested JSON objects into `map[interface {}]interface {}` (recorded from Packer 1.6.6).
pub(crate) fn plugin_unconvertible(field: &str, expected: &str, v: &Value) -> String {
    let got = match v {
        Value::Object(_) => "map[interface {}]interface {}",
        other => other.go_type(),
    };
    unconvertible_typed(field, expected, got, v)
}

fn unconvertible_typed(field: &str, expected: &str, got: &str, v: &Value) -> String {
    format!(
        "'{field}' expected type '{expected}', got unconvertible type '{got}', value: '{}'",
        go_fmt_value(v)
    )
}

/// A string field, weakly decoded (numbers and booleans become strings). `field` is the name
/// mapstructure shows in its message.
pub(crate) fn weak_string(
    obj: &Object,
    key: &str,
    field: &str,
    errs: &mut Vec<String>,
) -> Option<String> {
    match obj.get(key).map(|n| &n.value) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => scalar_string(v),
        Some(other) => {
            errs.push(unconvertible(field, "string", other));
            None
        }
    }
}

/// A list of strings where a single scalar stands for a one-element list.
pub(crate) fn weak_slice(obj: &Object, key: &str) -> Vec<String> {
    match obj.get(key).map(|n| &n.value) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|n| match &n.value {
                Value::String(s) => Some(s.clone()),
                v => scalar_string(v),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) => scalar_string(v).into_iter().collect(),
    }
}

pub(crate) fn string_slice(
    obj: &Object,
    key: &str,
    field: &str,
    errs: &mut Vec<String>,
) -> Vec<String> {
    match obj.get(key).map(|n| &n.value) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match &item.value {
                    Value::String(s) => out.push(s.clone()),
                    other => errs.push(unconvertible(&format!("{field}[{i}]"), "string", other)),
                }
            }
            out
        }
        Some(other) => {
            errs.push(format!(
                "'{field}': source data must be an array or slice, got {}",
                go_kind(other)
            ));
            Vec::new()
        }
    }
}

/// A provisioner's `pause_before`/`timeout` (Go `time.Duration`), decoded as Packer 1.6.6's
/// template parser does: a string through `time.ParseDuration` (so `""` is `time: invalid
/// duration ""`, not unset), a number as nanoseconds, a bool weakly as 1 or 0.
pub(crate) fn duration_field(obj: &Object, key: &str, errs: &mut Vec<String>) -> Option<Duration> {
    match obj.get(key).map(|n| &n.value) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match crate::gocompat::time::parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                errs.push(format!("error decoding '{key}': {e}"));
                None
            }
        },
        Some(Value::Number(n)) => Some(Duration::from_nanos(
            n.parse::<f64>().unwrap_or(0.0).max(0.0) as u64,
        )),
        Some(Value::Bool(b)) => Some(Duration::from_nanos(u64::from(*b))),
        Some(other) => {
            errs.push(unconvertible(key, "time.Duration", other));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_like_go() {
        assert_eq!(go_fmt_value(&Value::Number("1e21".into())), "1e+21");
        assert_eq!(
            scalar_string(&Value::Number("5.0".into())).as_deref(),
            Some("5")
        );
        assert_eq!(scalar_string(&Value::Bool(true)).as_deref(), Some("1"));
        assert_eq!(scalar_string(&Value::Null), None);
    }

    fn obj(src: &str) -> Object {
        match crate::template::json::parse(src).unwrap().value {
            Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn provisioner_durations_decode_like_packer_1_6_6() {
        let mut errs = Vec::new();
        let o = obj(
            r#"{"a":"1m","b":90,"c":true,"d":false,"e":null,"f":"","g":"5","h":["1s"],"i":{}}"#,
        );
        let got: Vec<Option<Duration>> = ["a", "b", "c", "d", "e", "z"]
            .iter()
            .map(|k| duration_field(&o, k, &mut errs))
            .collect();
        assert_eq!(
            got,
            [
                Some(Duration::from_secs(60)),
                Some(Duration::from_nanos(90)),
                Some(Duration::from_nanos(1)),
                Some(Duration::ZERO),
                None,
                None
            ]
        );
        assert!(errs.is_empty(), "{errs:?}");
        for k in ["f", "g", "h", "i"] {
            assert_eq!(duration_field(&o, k, &mut errs), None);
        }
        assert_eq!(
            errs,
            [
                "error decoding 'f': time: invalid duration \"\"",
                "error decoding 'g': time: missing unit in duration \"5\"",
                "'h' expected type 'time.Duration', got unconvertible type '[]interface {}', value: '[1s]'",
                "'i' expected type 'time.Duration', got unconvertible type 'map[string]interface {}', value: 'map[]'",
            ]
        );
    }
}
