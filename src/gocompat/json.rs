//! A JSON document as Go's `encoding/json` holds it in an `interface{}` (numbers are float64,
//! objects are maps whose keys `Marshal` writes sorted) and Go's encoder output for it, as
//! `packer fix` prints a template: `json.Encoder` (HTML-safe escapes), `json.Indent` with two
//! spaces, then `\u003c`/`\u003e` turned back into `<`/`>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A decoded JSON value (`map[string]interface{}` and friends).
#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<GoValue>),
    /// Keys sorted by bytes, as Go's encoder writes a map.
    Object(BTreeMap<String, GoValue>),
}

impl GoValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GoValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// mapstructure's name for the value's kind (`'Builders[0]' expected a map, got 'string'`).
    pub fn kind(&self) -> &'static str {
        match self {
            GoValue::Null => "invalid",
            GoValue::Bool(_) => "bool",
            GoValue::Number(_) => "float64",
            GoValue::String(_) => "string",
            GoValue::Array(_) => "slice",
            GoValue::Object(_) => "map",
        }
    }
}

/// What `packer fix` prints for `v` (without the `Ui.Say` newline): the encoder's line, indented.
pub(crate) fn fix_output(v: &GoValue) -> String {
    let mut out = String::new();
    indent(v, 0, &mut out);
    out.push('\n');
    out.replace("\\u003c", "<").replace("\\u003e", ">")
}

fn indent(v: &GoValue, depth: usize, out: &mut String) {
    let pad = |out: &mut String, d: usize| {
        out.push('\n');
        for _ in 0..d {
            out.push_str("  ");
        }
    };
    match v {
        GoValue::Null => out.push_str("null"),
        GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        GoValue::Number(f) => out.push_str(&number(*f)),
        GoValue::String(s) => string(s, out),
        GoValue::Array(items) if items.is_empty() => out.push_str("[]"),
        GoValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                indent(item, depth + 1, out);
            }
            pad(out, depth);
            out.push(']');
        }
        GoValue::Object(map) if map.is_empty() => out.push_str("{}"),
        GoValue::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                string(k, out);
                out.push_str(": ");
                indent(item, depth + 1, out);
            }
            pad(out, depth);
            out.push('}');
        }
    }
}

/// Go's float64 encoding: `%f`-style shortest digits between 1e-6 and 1e21, else exponent form
/// with `e+21` / `e-7`.
pub(crate) fn number(f: f64) -> String {
    let a = f.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        return format!("{f}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) => match e.strip_prefix('-') {
            Some(neg) => format!("{m}e-{neg}"),
            None => format!("{m}e+{e:0>2}"),
        },
        None => s,
    }
}

/// Go's `encodeState.string` with HTML escaping on.
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(entries: &[(&str, GoValue)]) -> GoValue {
        GoValue::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn prints_like_packer_fix() {
        let v = obj(&[
            ("z", GoValue::Array(vec![])),
            ("a", obj(&[])),
            (
                "m",
                GoValue::Array(vec![
                    GoValue::String("<a&b>\u{8}\u{2028}é\\u003c".into()),
                    GoValue::Number(1e21),
                    GoValue::Number(1.5e-7),
                    GoValue::Number(1e20),
                    GoValue::Number(-0.25),
                    GoValue::Null,
                    GoValue::Bool(true),
                ]),
            ),
        ]);
        assert_eq!(
            fix_output(&v),
            "{\n  \"a\": {},\n  \"m\": [\n    \"<a\\u0026b>\\u0008\\u2028é\\<\",\n    1e+21,\n    1.5e-7,\n    100000000000000000000,\n    -0.25,\n    null,\n    true\n  ],\n  \"z\": []\n}\n"
        );
    }
}
