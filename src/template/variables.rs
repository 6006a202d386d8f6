//! User variables: template defaults, `-var-file` files (later files win), `-var` (wins over
//! everything), variables that refer to other variables (resolved to a fixpoint), and the
//! functions only allowed in variable defaults (`env`, `aws_secretsmanager`).
//!
//! Like Packer 1.6.6, a variable's value that refers to an undefined variable is an error (every
//! variable used in another one is required); rpack names the variable, quotes only an excerpt
//! of the value, and reports a cycle between variables as one.

use std::collections::{BTreeMap, HashSet};

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
    read_var_file_checked(path).map(|f| f.values)
}

/// A var-file's values and what is worth a warning in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarFile {
    /// In file order; a repeated name appears twice (the later wins, as in Packer).
    pub values: Vec<(String, String)>,
    /// Where each of `values` is written (`vf.json:3:8`), in the same order.
    pub places: Vec<String>,
    /// A name set twice (`"a" is set twice in vf.json: 1:2 and 2:2; the value at 2:2 is used`).
    pub warnings: Vec<String>,
}

/// `line:col` of byte `offset` in `src` (column in characters, both 1-based).
fn line_col(src: &str, offset: usize) -> String {
    let mut start = offset.min(src.len());
    while !src.is_char_boundary(start) {
        start -= 1;
    }
    let before = &src[..start];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{line}:{col}")
}

/// `path:line:col` of byte `offset` in `src`.
fn place(path: &str, src: &str, offset: usize) -> String {
    format!("{path}:{}", line_col(src, offset))
}

/// [`read_var_file`] with repeated names reported. Packer's messages, with the file position
/// of the problem added (`… into Go value of type string (vars.json:3:8)`).
pub fn read_var_file_checked(path: &str) -> Result<VarFile, String> {
    let bytes = crate::limits::read_file(
        std::path::Path::new(path),
        "var file",
        crate::limits::max_input(),
        |e| format!("open {path}: {}", io_error_text(e)),
    )
    .map_err(|e| e.to_string())?;
    let src = String::from_utf8_lossy(&bytes);
    let wrap = |e: String| format!("Error reading variables in '{path}': {e}");
    let node = json::parse_allowing_duplicates(&src).map_err(|e| match e {
        // Go's offset counts the offending byte: the problem is the byte before it.
        JsonError::Syntax {
            message, offset, ..
        } => wrap(format!(
            "{message} ({})",
            place(path, &src, offset.saturating_sub(1))
        )),
        other @ JsonError::DuplicateField { .. } => wrap(other.to_string()),
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
            return Ok(VarFile::default());
        }
        return Err(wrap(format!(
            "json: cannot unmarshal {what} into Go value of type map[string]string ({})",
            place(path, &src, node.pos.offset)
        )));
    };
    let mut out = VarFile::default();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (k, key_pos, v) in obj.entries {
        let at = |o: usize| place(path, &src, o);
        if let Some(first) = seen.insert(k.clone(), key_pos.offset) {
            let (a, b) = (line_col(&src, first), line_col(&src, key_pos.offset));
            out.warnings.push(format!(
                "variable {} is set twice in {path}: at {a} and at {b}; the value at {b} is used, as in Packer",
                crate::gocompat::strconv::quote(&k),
            ));
        }
        let value_at = at(v.pos.offset);
        match v.value {
            Value::String(s) => {
                out.values.push((k, s));
                out.places.push(value_at);
            }
            Value::Null => {
                out.values.push((k, String::new()));
                out.places.push(value_at);
            }
            other => {
                let what = match other {
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                    Value::Number(_) => "number",
                    _ => "bool",
                };
                return Err(wrap(format!(
                    "json: cannot unmarshal {what} into Go value of type string ({}: the value of {} must be a string)",
                    at(v.pos.offset),
                    crate::gocompat::strconv::quote(&k)
                )));
            }
        }
    }
    Ok(out)
}

/// Where the value a variable ends up with comes from, when not from the template (whose
/// defaults carry their own position): a `-var-file` position (`vf.json:3:8`) or `set by -var`.
pub type Origins = BTreeMap<String, String>;

/// The [`Origins`] of the merged values: the last var-file that sets a name wins, `-var` after.
pub fn origins(files: &[VarFile], vars: &[(String, String)]) -> Origins {
    let mut out = Origins::new();
    for f in files {
        for ((k, _), at) in f.values.iter().zip(&f.places) {
            out.insert(k.clone(), at.clone());
        }
    }
    for (k, _) in vars {
        out.insert(k.clone(), "set by -var".into());
    }
    out
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

/// Renders every value (they may refer to each other). `base` carries the template path,
/// version and start time; `env`/`aws_secretsmanager` are allowed here.
///
/// Each value is rendered once its dependencies are: a depth-first walk (on an explicit stack,
/// so a chain of any length cannot exhaust the call stack) follows the first unresolved
/// reference a render reports, which visits the variables in a topological order. Every value
/// and the total of all values are bounded by [`crate::limits::max_value`].
pub fn resolve(
    tpl: &Template,
    values: &BTreeMap<String, String>,
    base: &Context,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    resolve_from(tpl, values, &Origins::new(), base)
}

/// [`resolve`], with where var-file values are written (`origins`) so an error about one
/// names its file, line and column.
pub fn resolve_from(
    tpl: &Template,
    values: &BTreeMap<String, String>,
    origins: &Origins,
    base: &Context,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let in_template: HashSet<&str> = tpl.variables.iter().map(|v| v.name.as_str()).collect();
    let limit = crate::limits::max_value();
    let mut ctx = base.clone();
    ctx.variables_pass = true;
    ctx.strict_user_vars = true;
    ctx.build_data = BuildData::Unavailable;
    ctx.user_vars = BTreeMap::new();
    let sensitive = |k: &str| tpl.sensitive_variables.iter().any(|s| s == k);
    let mut errors = Vec::new();
    let mut total = 0usize;
    // Values without `{{` need no rendering.
    let mut pending: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in values {
        if v.contains("{{") {
            pending.insert(k, v);
            continue;
        }
        total += v.len();
        if total > limit {
            return Err(vec![crate::limits::value_too_large(k, total, true)]);
        }
        ctx.user_vars.insert(k.clone(), v.clone());
    }
    // Variables that failed, are blocked on one that failed or has no value, or are in a cycle.
    let mut failed: HashSet<&str> = HashSet::new();
    let mut cycles: Vec<String> = Vec::new();
    let names: Vec<&str> = pending.keys().copied().collect();
    for first in names {
        if ctx.user_vars.contains_key(first) || failed.contains(first) {
            continue;
        }
        let mut stack: Vec<&str> = vec![first];
        let mut on_stack: HashSet<&str> = HashSet::from([first]);
        while let Some(&k) = stack.last() {
            let v = pending[k];
            let (protected, saved) = protect_dot_fields(v);
            let blocked_on = match interp::render(&protected, &ctx) {
                Ok(out) => {
                    let out = restore_dot_fields(&out, &saved);
                    total += out.len();
                    if out.len() > limit {
                        errors.push(crate::limits::value_too_large(k, out.len(), false));
                        return Err(errors);
                    }
                    if total > limit {
                        errors.push(crate::limits::value_too_large(k, total, true));
                        return Err(errors);
                    }
                    ctx.user_vars.insert(k.to_string(), out);
                    None
                }
                Err(e) => match not_set_name(&e.message) {
                    Some(name)
                        if pending.contains_key(name.as_str())
                            && !failed.contains(name.as_str())
                            && !ctx.user_vars.contains_key(&name) =>
                    {
                        Some(name)
                    }
                    Some(name) => {
                        // Every variable this value uses that is defined nowhere (Go stops at
                        // the first; all of them are named at once).
                        let defined = |n: &str| values.contains_key(n) || in_template.contains(n);
                        let mut undefined: Vec<String> = Vec::new();
                        if !defined(&name) {
                            undefined.push(name.clone());
                        }
                        for n in crate::template::undefined::user_names(v) {
                            if !defined(&n) && !undefined.contains(&n) {
                                undefined.push(n);
                            }
                        }
                        // Otherwise it is blocked on a variable that failed or that has no
                        // value (a required variable without one is reported on its own).
                        if let Some(first) = undefined.first() {
                            let at = match origins.get(k) {
                                Some(place) => format!(" ({place})"),
                                // Where the value is written, when it is the template's default.
                                None => tpl
                                    .variables
                                    .iter()
                                    .find(|tv| tv.name == k && tv.default.as_deref() == Some(v))
                                    .map(|tv| {
                                        format!(
                                            " ({}:{}:{})",
                                            tpl.display_path(),
                                            tv.pos.line,
                                            tv.pos.col
                                        )
                                    })
                                    .unwrap_or_default(),
                            };
                            errors.push(format!(
                                "Failed to interpolate \"{k}\"{at}: \"{}\": it refers to {}; \
                                 Packer treats every variable used in another variable's value as required: \
                                 define {} in \"variables\" or set {} with -var/-var-file",
                                if sensitive(k) {
                                    "<sensitive>".to_string()
                                } else {
                                    crate::template::undefined::excerpt(v, first)
                                },
                                not_defined_list(&undefined),
                                if undefined.len() == 1 { "it" } else { "them" },
                                if undefined.len() == 1 { "it" } else { "them" },
                            ));
                        }
                        failed.insert(k);
                        None
                    }
                    None => {
                        let e = e.to_string();
                        let e = if sensitive(k) {
                            mask_literals(&e, v)
                        } else {
                            e
                        };
                        errors.push(format!("error interpolating default value for '{k}': {e}"));
                        failed.insert(k);
                        None
                    }
                },
            };
            let Some(name) = blocked_on else {
                stack.pop();
                on_stack.remove(k);
                continue;
            };
            let Some((&name, _)) = pending.get_key_value(name.as_str()) else {
                failed.insert(k);
                stack.pop();
                on_stack.remove(k);
                continue;
            };
            if on_stack.contains(name) {
                let start = stack.iter().position(|s| *s == name).unwrap_or(0);
                let mut cycle: Vec<&str> = stack[start..].to_vec();
                // Report each cycle once, starting from its smallest name.
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.cmp(b.1))
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(min);
                let text = format!("{} -> {}", cycle.join(" -> "), cycle[0]);
                if !cycles.contains(&text) {
                    cycles.push(text);
                }
                // Everything on the stack is in the cycle or waits for it.
                failed.extend(stack.drain(..));
                on_stack.clear();
            } else {
                stack.push(name);
                on_stack.insert(name);
            }
        }
    }
    errors.extend(cycles.into_iter().map(|text| {
        format!("Failed to interpolate user variables: they refer to each other in a cycle: {text}")
    }));
    if errors.is_empty() {
        Ok(ctx.user_vars)
    } else {
        Err(errors)
    }
}

/// `variable "a", which is not defined` / `variables "a" and "b", which are not defined`.
fn not_defined_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| json::go_quote(n)).collect();
    match quoted.as_slice() {
        [one] => format!("variable {one}, which is not defined"),
        [init @ .., last] => format!(
            "variables {} and {last}, which are not defined",
            init.join(", ")
        ),
        [] => String::new(),
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
        if let (true, Some(end)) = (body.starts_with('.'), after.find("}}")) {
            let span = &rest[i..i + 2 + end + 2];
            out.push_str(&format!("\u{1}RPACKDOT{}\u{1}", saved.len()));
            saved.push(span.to_string());
            rest = &rest[i + 2 + end + 2..];
        } else {
            out.push_str("{{");
            rest = after;
        }
    }
    out.push_str(rest);
    (out, saved)
}

fn restore_dot_fields(s: &str, saved: &[String]) -> String {
    if saved.is_empty() {
        return s.to_string();
    }
    // One pass over the text (a replace per field would be quadratic in their number).
    const MARK: &str = "\u{1}RPACKDOT";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let span = after[..digits]
            .parse::<usize>()
            .ok()
            .filter(|_| after[digits..].starts_with('\u{1}'))
            .and_then(|n| saved.get(n));
        if let Some(span) = span {
            out.push_str(span);
            rest = &after[digits + 1..];
        } else {
            out.push_str(MARK);
            rest = after;
        }
    }
    out.push_str(rest);
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
        assert_eq!(read_var_file(path).unwrap_err(), format!("Error reading variables in '{path}': json: cannot unmarshal number into Go value of type string ({path}:1:14: the value of \"n\" must be a string)"));
        std::fs::write(&p, "{\"a\":\"1\",\n \"b\": }").unwrap();
        assert_eq!(read_var_file(path).unwrap_err(), format!("Error reading variables in '{path}': invalid character '}}' looking for beginning of value ({path}:2:7)"));
        std::fs::write(&p, "{\"a\":\"1\",\n \"a\":\"2\"}").unwrap();
        assert_eq!(
            read_var_file_checked(path).unwrap().warnings,
            [format!("variable \"a\" is set twice in {path}: at 1:2 and at 2:2; the value at 2:2 is used, as in Packer")]
        );
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

    #[test]
    fn every_undefined_variable_of_a_value_is_named_with_where_it_is_written() {
        let tpl = parse_str(
            "{\"variables\": {\"t\": \"{{user `m2`}}-{{user `a`}}-{{user `m3`}}\", \"a\": \"x\", \"c\": \"\"}}",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vf = dir.path().join("vf.json");
        std::fs::write(&vf, "{\n  \"c\": \"{{user `m4`}}\"\n}").unwrap();
        let vf = vf.to_str().unwrap();
        let file = read_var_file_checked(vf).unwrap();
        assert_eq!(file.places, [format!("{vf}:2:8")]);
        let files = [file];
        let origins = origins(&files, &[]);
        let values = merge(&tpl, &[files[0].values.clone()], &[]);
        let errs = resolve_from(&tpl, &values, &origins, &Context::default()).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with(&format!("Failed to interpolate \"c\" ({vf}:2:8): \"{{{{user `m4`}}}}\": it refers to variable \"m4\", which is not defined;")),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].contains("it refers to variables \"m2\" and \"m3\", which are not defined;")
                && errs[1]
                    .ends_with("define them in \"variables\" or set them with -var/-var-file"),
            "{}",
            errs[1]
        );
        // A -var that overrides the var-file's value is named instead.
        let over = self::origins(&files, &[("c".into(), "{{user `m5`}}".into())]);
        let values = merge(
            &tpl,
            &[files[0].values.clone()],
            &[("c".into(), "{{user `m5`}}".into())],
        );
        let errs = resolve_from(&tpl, &values, &over, &Context::default()).unwrap_err();
        assert!(
            errs[0].starts_with("Failed to interpolate \"c\" (set by -var): \"{{user `m5`}}\""),
            "{}",
            errs[0]
        );
        assert_eq!(
            not_defined_list(&["a".into(), "b".into(), "c".into()]),
            "variables \"a\", \"b\" and \"c\", which are not defined"
        );
    }
}
