//! User variables: template defaults, `-var-file` files (later files win), `-var` (wins over
//! everything), variables that refer to other variables (resolved to a fixpoint), and the
//! functions only allowed in variable defaults (`env`, `aws_secretsmanager`).
//!
//! Unlike Packer 1.6.6, which silently renders a reference to an undefined variable as "",
//! rpack reports it, naming the variable; a cycle between variables is reported as one.

use std::collections::BTreeMap;

use crate::template::interp::{self, BuildData, Context};
use crate::template::json::{self, JsonError, Value};
use crate::template::parse::{io_error_text, Template};

/// Values given on the command line, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub var_files: Vec<String>,
    pub vars: Vec<(String, String)>,
}

/// Reads one `-var-file`: a flat JSON object of strings.
pub fn read_var_file(path: &str) -> Result<Vec<(String, String)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("open {path}: {}", io_error_text(&e)))?;
    let src = String::from_utf8_lossy(&bytes);
    let wrap = |e: String| format!("Error reading variables in '{path}': {e}");
    let node = json::parse_allowing_duplicates(&src).map_err(|e| match e {
        JsonError::Syntax { message, .. } => wrap(message),
        other => wrap(other.to_string()),
    })?;
    let Value::Object(obj) = node.value else {
        let what = match node.value {
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            _ => "null",
        };
        if what == "null" {
            return Ok(Vec::new());
        }
        return Err(wrap(format!(
            "json: cannot unmarshal {what} into Go value of type map[string]string"
        )));
    };
    let mut out = Vec::new();
    for (k, _, v) in obj.entries {
        match v.value {
            Value::String(s) => out.push((k, s)),
            Value::Null => out.push((k, String::new())),
            other => {
                let what = match other {
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                    Value::Number(_) => "number",
                    _ => "bool",
                };
                return Err(wrap(format!(
                    "json: cannot unmarshal {what} into Go value of type string"
                )));
            }
        }
    }
    Ok(out)
}

/// Parses one `-var` argument (`key=value`).
pub fn parse_var_arg(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => Err(format!("No '=' value in arg: {raw}")),
    }
}

/// The values before rendering: defaults, then var files, then `-var`. Returns the merged
/// values in name order and the names given on the command line or in files.
pub fn merge(
    tpl: &Template,
    files: &[Vec<(String, String)>],
    vars: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for v in &tpl.variables {
        if let Some(d) = &v.default {
            m.insert(v.name.clone(), d.clone());
        }
    }
    for file in files {
        for (k, v) in file {
            m.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in vars {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// Required variables that have no value.
pub fn missing_required(tpl: &Template, values: &BTreeMap<String, String>) -> Vec<String> {
    tpl.variables
        .iter()
        .filter(|v| v.default.is_none() && !values.contains_key(&v.name))
        .map(|v| v.name.clone())
        .collect()
}

/// The text Packer's `user` function reports for an unset variable.
const NOT_SET: &str = "variable not set: ";

/// Renders every value (they may refer to each other) until nothing changes. `base` carries the
/// template path, version and start time; `env`/`aws_secretsmanager` are allowed here.
pub fn resolve(
    tpl: &Template,
    values: &BTreeMap<String, String>,
    base: &Context,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let declared: Vec<&str> = tpl
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .chain(values.keys().map(String::as_str))
        .collect();
    let sensitive = |k: &str| tpl.sensitive_variables.iter().any(|s| s == k);
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: Vec<(String, String)> =
        values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut errors = Vec::new();
    // Values without `{{` need no rendering.
    pending.retain(|(k, v)| {
        if v.contains("{{") {
            true
        } else {
            done.insert(k.clone(), v.clone());
            false
        }
    });
    let mut last_errors: BTreeMap<String, String> = BTreeMap::new();
    while !pending.is_empty() {
        let mut ctx = base.clone();
        ctx.variables_pass = true;
        ctx.strict_user_vars = true;
        ctx.build_data = BuildData::Unavailable;
        ctx.user_vars = done.clone();
        let mut progressed = false;
        let mut still = Vec::new();
        for (k, v) in pending {
            let (protected, saved) = protect_dot_fields(&v);
            match interp::render(&protected, &ctx) {
                Ok(out) => {
                    done.insert(k, restore_dot_fields(&out, &saved));
                    progressed = true;
                }
                Err(e) => match not_set_name(&e.message) {
                    // A variable that exists but is not resolved yet: try again next pass.
                    Some(name) if declared.contains(&name.as_str()) => {
                        last_errors.insert(k.clone(), name);
                        still.push((k, v));
                    }
                    Some(name) if tpl.variables.iter().any(|tv| tv.name == name) => {
                        // A required variable without a value; that is reported on its own.
                        last_errors.insert(k.clone(), name);
                        still.push((k, v));
                    }
                    Some(name) => {
                        let shown = if sensitive(&k) {
                            "<sensitive>".to_string()
                        } else {
                            format!("\"{v}\"")
                        };
                        errors.push(format!(
                            "Failed to interpolate \"{k}\": {shown}: it refers to variable \"{name}\", which is not defined; \
                             define it in \"variables\" or set it with -var (Packer 1.6.6 would silently use \"\")"
                        ))
                    }
                    None if sensitive(&k) => errors.push(format!(
                        "error interpolating default value for '{k}': {}",
                        mask_literals(&e.to_string(), &v)
                    )),
                    None => {
                        errors.push(format!("error interpolating default value for '{k}': {e}"))
                    }
                },
            }
        }
        pending = still;
        if !progressed {
            break;
        }
    }
    // What is left depends on a cycle, on a missing required variable, or on a failed variable.
    let required_missing: Vec<String> = missing_required(tpl, values);
    let pending_names: Vec<&String> = pending.iter().map(|(k, _)| k).collect();
    let mut reported: Vec<String> = Vec::new();
    for (k, _) in &pending {
        let mut chain = vec![k.clone()];
        let mut cur = k.clone();
        while let Some(next) = last_errors.get(&cur) {
            if required_missing.contains(next) || !pending_names.contains(&next) {
                break;
            }
            if let Some(start) = chain.iter().position(|c| c == next) {
                let mut cycle: Vec<String> = chain[start..].to_vec();
                // Report each cycle once, starting from its smallest name.
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.cmp(b.1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                cycle.rotate_left(min);
                let text = format!("{} -> {}", cycle.join(" -> "), cycle[0]);
                if !reported.contains(&text) {
                    errors.push(format!("Failed to interpolate user variables: they refer to each other in a cycle: {text}"));
                    reported.push(text);
                }
                break;
            }
            chain.push(next.clone());
            cur = next.clone();
        }
    }
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(errors)
    }
}

/// `text` with the literal parts of the sensitive template `raw` (the text outside `{{ }}`)
/// masked: a sensitive variable that fails to render is not printed even in part.
fn mask_literals(text: &str, raw: &str) -> String {
    let mut literals = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let (lit, after) = match rest.find("{{") {
            Some(i) => (&rest[..i], rest[i..].find("}}").map(|j| &rest[i + j + 2..])),
            None => (rest, None),
        };
        literals.push(lit.to_string());
        rest = after.unwrap_or("");
    }
    // The literal itself and its Go-quoted body (errors quote the template); longest first so a
    // literal containing another is masked whole. (The template layer sits below `ui`, so this
    // does not use `ui::Secrets`.)
    let mut forms: Vec<String> = literals
        .iter()
        .filter(|l| l.trim().len() >= 4)
        .flat_map(|l| {
            let q = json::go_quote(l);
            [l.clone(), q[1..q.len() - 1].to_string()]
        })
        .collect();
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms.iter().fold(text.to_string(), |out, f| {
        out.replace(f.as_str(), "<sensitive>")
    })
}

fn not_set_name(message: &str) -> Option<String> {
    let i = message.rfind(NOT_SET)?;
    let rest = &message[i + NOT_SET.len()..];
    let end = rest
        .find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// Packer leaves `{{ .Field }}` alone while rendering variables (they are rendered later with
/// build data). They are swapped for inert placeholders and put back after rendering.
fn protect_dot_fields(s: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len());
    let mut saved = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let mut body = after;
        if let Some(c) = body.chars().next().filter(|c| c.is_whitespace()) {
            body = &body[c.len_utf8()..];
        }
        match (body.starts_with('.'), after.find("}}")) {
            (true, Some(end)) => {
                let span = &rest[i..i + 2 + end + 2];
                out.push_str(&format!("\u{1}RPACKDOT{}\u{1}", saved.len()));
                saved.push(span.to_string());
                rest = &rest[i + 2 + end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, saved)
}

fn restore_dot_fields(s: &str, saved: &[String]) -> String {
    let mut out = s.to_string();
    for (i, span) in saved.iter().enumerate() {
        out = out.replace(&format!("\u{1}RPACKDOT{i}\u{1}"), span);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse::parse_str;

    #[test]
    fn precedence_defaults_files_then_vars() {
        let tpl =
            parse_str(r#"{"variables":{"a":"default","b":"default","c":"default","r":null}}"#)
                .unwrap();
        let files = vec![
            vec![
                ("b".to_string(), "file1".to_string()),
                ("c".to_string(), "file1".to_string()),
            ],
            vec![("c".to_string(), "file2".to_string())],
        ];
        let m = merge(
            &tpl,
            &files,
            &[("a".into(), "cli".into()), ("extra".into(), "x".into())],
        );
        assert_eq!(m["a"], "cli");
        assert_eq!(m["b"], "file1");
        assert_eq!(m["c"], "file2");
        assert_eq!(m["extra"], "x");
        assert_eq!(missing_required(&tpl, &m), ["r"]);
    }

    #[test]
    fn var_files_must_be_flat_string_objects() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vf.json");
        std::fs::write(&p, r#"{"a":"1","n":5}"#).unwrap();
        let path = p.to_str().unwrap();
        assert_eq!(read_var_file(path).unwrap_err(), format!("Error reading variables in '{path}': json: cannot unmarshal number into Go value of type string"));
        std::fs::write(&p, r#"{"a":"1","a":"2"}"#).unwrap();
        assert_eq!(
            read_var_file(path).unwrap(),
            vec![
                ("a".to_string(), "1".to_string()),
                ("a".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            read_var_file("/nonexistent/vf.json").unwrap_err(),
            "open /nonexistent/vf.json: no such file or directory"
        );
        assert_eq!(
            parse_var_arg("k=v=w").unwrap(),
            ("k".to_string(), "v=w".to_string())
        );
        assert_eq!(parse_var_arg("k").unwrap_err(), "No '=' value in arg: k");
    }

    #[test]
    fn dot_fields_survive_the_variables_pass() {
        let (p, saved) = protect_dot_fields("a {{ .HTTPIP }} b {{.Path}} {{user `x`}}");
        assert!(!p.contains(".HTTPIP") && p.contains("{{user `x`}}"));
        assert_eq!(
            restore_dot_fields(&p, &saved),
            "a {{ .HTTPIP }} b {{.Path}} {{user `x`}}"
        );
    }

    #[test]
    fn not_set_names_are_extracted() {
        assert_eq!(
            not_set_name("template: root:1:2: executing \"root\" at <user `bar`>: error calling user: Error: variable not set: bar").as_deref(),
            Some("bar")
        );
        assert_eq!(not_set_name("something else"), None);
    }
}
