//! mapstructure's weak typing, as Packer decodes JSON into Go structs: which scalars convert to
//! a string and how, and the texts of its errors (Go kind names, `%v` of the value). One
//! implementation for the template's own keys (`parse`) and every plugin's (the decoder).

use super::json::Value;
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
    format!(
        "'{field}' expected type '{expected}', got unconvertible type '{}', value: '{}'",
        v.go_type(),
        go_fmt_value(v)
    )
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
}
