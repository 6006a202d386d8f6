//! One JSON string with Go-template actions → an HCL2 expression.
//!
//! The string is parsed with the template engine's own parser (`interp::parse_actions`). Each
//! action that is a call with an HCL2 equivalent becomes `${…}`; an action without one stays
//! Go-template text (which rpack and Packer still render in plugin configuration), its
//! translatable arguments substituted, and a note says why it stayed.

use std::collections::BTreeSet;

use super::hclwrite::{escape_literal, is_ident, quote};
use crate::template::interp::parse::{Arg, ArgKind, Cmd, Node, Pipe};

/// Where the string is used: HCL2 allows different things in each place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A variable's default: only literals and `env()`.
    Default,
    /// A local's value: no `env()`, no `source.*`.
    Local,
    /// A source, provisioner or post-processor body.
    Body,
}

/// What translating strings found, gathered over the whole template.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    /// `{{user `x`}}` names.
    pub users: BTreeSet<String>,
    /// `{{env `X`}}` names used outside variable defaults (each becomes a variable).
    pub envs: BTreeSet<String>,
    /// Set when a variable default uses something only a local may use.
    pub needs_local: bool,
    /// Annotations for the attribute being translated (taken by the caller).
    pub notes: Vec<String>,
}

/// The translation environment.
pub(crate) struct Scope<'a> {
    pub mode: Mode,
    /// User variables that became locals.
    pub locals: &'a BTreeSet<String>,
    /// What `{{build_name}}` becomes in a body (`source.name`, or the JSON name where the
    /// source label had to differ from it).
    pub build_name: String,
    /// In a source block: the builder's JSON name and type, which `{{build_name}}` and
    /// `{{build_type}}` rendered to there (written as text: no contextual variable needed).
    pub source: Option<(String, String)>,
}

/// Packer's `isotime` without a layout: RFC 3339.
const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// The name of the variable generated for `{{env `X`}}` outside a variable default.
pub(crate) fn env_var_name(env: &str) -> String {
    let clean: String = env
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("env_{clean}")
}

enum Part {
    Text(String),
    Expr(String),
    /// An HCL2 template directive (`if …`, `else`, `endif`).
    Directive(String),
}

/// `s` as an HCL expression: a bare expression when the whole string is one translated
/// call, else a quoted template.
pub(crate) fn string_expr(s: &str, sc: &Scope, refs: &mut Refs) -> String {
    if !s.contains("{{") {
        return quote(s);
    }
    let parts = match parts(s, sc, refs) {
        Ok(p) => p,
        Err(why) => {
            refs.notes.push(why);
            return quote(s);
        }
    };
    if let [Part::Expr(e)] = parts.as_slice() {
        if !e.starts_with('"') {
            return e.clone();
        }
    }
    let mut out = String::from("\"");
    for p in &parts {
        match p {
            Part::Text(t) => out.push_str(&escape_literal(t)),
            Part::Expr(e) => {
                out.push_str("${");
                out.push_str(e);
                out.push('}');
            }
            Part::Directive(d) => {
                out.push_str("%{ ");
                out.push_str(d);
                out.push_str(" }");
            }
        }
    }
    out.push('"');
    out
}

fn parts(s: &str, sc: &Scope, refs: &mut Refs) -> Result<Vec<Part>, String> {
    let (tree, spans) = crate::template::interp::parse_actions(s)
        .map_err(|e| format!("not a valid Go template ({e}); kept as it is"))?;
    let actions = tree
        .root
        .iter()
        .filter(|n| !matches!(n, Node::Text(_)))
        .count();
    if tree
        .root
        .iter()
        .any(|n| !matches!(n, Node::Text(_) | Node::Action(_)))
    {
        let mut out = Vec::new();
        nodes_parts(&tree.root, sc, refs, &mut out)?;
        return Ok(out);
    }
    if actions != spans.len() {
        return Err("a Go-template comment or construct rpack cannot place; kept as it is".into());
    }
    let mut out = Vec::new();
    let mut next_span = spans.iter();
    for n in &tree.root {
        match n {
            Node::Text(t) => out.push(Part::Text((*t).to_string())),
            Node::Action(p) => {
                let (a, b) = next_span.next().copied().unwrap_or((0, 0));
                let original = &s[a..b];
                if let Some(t) = source_text(p, sc) {
                    out.push(Part::Text(t));
                } else if let Some(e) = pipe_expr(p, sc, refs) {
                    out.push(Part::Expr(e));
                } else {
                    note_kept(p, original, refs);
                    match go_text(p, sc, refs) {
                        Some(parts) if parts.iter().any(|p| matches!(p, Part::Expr(_))) => {
                            out.push(Part::Text("{{ ".into()));
                            out.extend(parts);
                            out.push(Part::Text(" }}".into()));
                        }
                        _ => out.push(Part::Text(original.to_string())),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Template nodes with `if`/`else` → HCL2 `%{ if }` directives (Go's `if` is true for a
/// non-empty string, which is what every translated call returns); kept actions are spelled
/// back from the tree.
fn nodes_parts(
    nodes: &[Node],
    sc: &Scope,
    refs: &mut Refs,
    out: &mut Vec<Part>,
) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push(Part::Text((*t).to_string())),
            Node::Action(p) => {
                if let Some(t) = source_text(p, sc) {
                    out.push(Part::Text(t));
                } else if let Some(e) = pipe_expr(p, sc, refs) {
                    out.push(Part::Expr(e));
                } else {
                    let parts = go_text(p, sc, refs).ok_or_else(control_kept)?;
                    let shown: String = parts
                        .iter()
                        .map(|x| match x {
                            Part::Text(t) => t.clone(),
                            Part::Expr(e) => format!("${{{e}}}"),
                            Part::Directive(d) => format!("%{{ {d} }}"),
                        })
                        .collect();
                    note_kept(p, &format!("{{{{ {shown} }}}}"), refs);
                    out.push(Part::Text("{{ ".into()));
                    out.extend(parts);
                    out.push(Part::Text(" }}".into()));
                }
            }
            Node::If(b) => {
                let cond = pipe_expr(&b.pipe, sc, refs).ok_or_else(control_kept)?;
                out.push(Part::Directive(format!("if {cond} != \"\"")));
                nodes_parts(&b.list, sc, refs, out)?;
                if let Some(e) = &b.else_list {
                    out.push(Part::Directive("else".into()));
                    nodes_parts(e, sc, refs, out)?;
                }
                out.push(Part::Directive("endif".into()));
            }
            _ => return Err(control_kept()),
        }
    }
    Ok(())
}

/// `{{build_name}}`/`{{build_type}}` alone in a source block: the text they rendered to.
fn source_text(p: &Pipe, sc: &Scope) -> Option<String> {
    let (name, kind) = sc.source.as_ref()?;
    match p.cmds.as_slice() {
        [c] if p.decl.is_empty() => match c.args.as_slice() {
            [a] => match &a.kind {
                ArgKind::Ident(_, "build_name") => Some(name.clone()),
                ArgKind::Ident(_, "build_type") => Some(kind.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn control_kept() -> String {
    "this Go-template control structure (range, with, or an if on something HCL2 cannot \
     express) has no HCL2 translation; kept as a Go template"
        .into()
}

/// Says why an action stays a Go template, unless it only reads the dot (`{{ .Vars }}` and
/// the like are meant for the plugin and stay as they are in HCL2 too).
fn note_kept(p: &Pipe, original: &str, refs: &mut Refs) {
    let mut names = Vec::new();
    pipe_funcs(p, &mut names);
    let why = if names.contains(&"timestamp") {
        "Unix seconds have no HCL2 function (HCL2's timestamp() is RFC 3339; Packer's upgrader \
         writes regex_replace(timestamp(), \"[- TZ:]\", \"\"), a different value)"
            .to_string()
    } else if names
        .iter()
        .any(|n| matches!(*n, "clean_resource_name" | "clean_ami_name"))
    {
        "HCL2 has no clean_resource_name; a validation rule or regex_replace() can replace it"
            .to_string()
    } else if names.is_empty() {
        return;
    } else {
        format!("no HCL2 translation for {}", names.join(", "))
    };
    let note = format!("{original} stays a Go template: {why}");
    if !refs.notes.contains(&note) {
        refs.notes.push(note);
    }
}

fn pipe_funcs<'s>(p: &Pipe<'s>, out: &mut Vec<&'s str>) {
    for c in &p.cmds {
        for a in &c.args {
            match &a.kind {
                ArgKind::Ident(_, n) if !out.contains(n) => out.push(n),
                ArgKind::Pipe(inner) => pipe_funcs(inner, out),
                _ => {}
            }
        }
    }
}

/// A pipeline as one HCL expression, if every command has a translation.
fn pipe_expr(p: &Pipe, sc: &Scope, refs: &mut Refs) -> Option<String> {
    if !p.decl.is_empty() {
        return None;
    }
    let mut prev: Option<(String, Option<String>)> = None;
    for c in &p.cmds {
        prev = Some(cmd_expr(c, prev.take(), sc, refs)?);
    }
    prev.map(|(e, _)| e)
}

/// One command (with the previous command's value as its last argument) → (expression, the
/// literal string it is, if it is one).
fn cmd_expr(
    c: &Cmd,
    piped: Option<(String, Option<String>)>,
    sc: &Scope,
    refs: &mut Refs,
) -> Option<(String, Option<String>)> {
    let first = c.args.first()?;
    if let ArgKind::Ident(_, name) = &first.kind {
        let mut args = Vec::new();
        for a in &c.args[1..] {
            args.push(arg_expr(a, sc, refs)?);
        }
        args.extend(piped);
        return call(name, &args, sc, refs).map(|e| (e, None));
    }
    if c.args.len() == 1 && piped.is_none() {
        return arg_expr(first, sc, refs);
    }
    None
}

fn arg_expr(a: &Arg, sc: &Scope, refs: &mut Refs) -> Option<(String, Option<String>)> {
    match &a.kind {
        ArgKind::Str(v, _) => Some((quote(v), Some(v.to_string()))),
        ArgKind::Number(n) if !n.is_char => n.int.map(|i| (i.to_string(), Some(i.to_string()))),
        ArgKind::Bool(b) => Some((b.to_string(), None)),
        // Every translation is a call, a traversal or an index: no parentheses needed.
        ArgKind::Pipe(p) => pipe_expr(p, sc, refs).map(|e| (e, None)),
        ArgKind::Ident(_, name) => call(name, &[], sc, refs).map(|e| (e, None)),
        _ => None,
    }
}

/// A Packer template function call → its HCL2 equivalent.
fn call(
    name: &str,
    args: &[(String, Option<String>)],
    sc: &Scope,
    refs: &mut Refs,
) -> Option<String> {
    let lit = |i: usize| args.get(i).and_then(|a| a.1.clone());
    let e = |i: usize| args[i].0.clone();
    let body_only = sc.mode == Mode::Body;
    let expr = match (name, args.len()) {
        ("user", 1) => {
            let v = lit(0).filter(|v| is_ident(v))?;
            refs.users.insert(v.clone());
            if sc.locals.contains(&v) {
                format!("local.{v}")
            } else {
                format!("var.{v}")
            }
        }
        ("env", 1) => {
            let v = lit(0)?;
            if sc.mode == Mode::Default {
                return Some(format!("env({})", quote(&v)));
            }
            refs.envs.insert(v.clone());
            return Some(format!("var.{}", env_var_name(&v)));
        }
        ("build", 1) => format!("build.{}", lit(0).filter(|v| is_ident(v))?),
        ("build_name", 0) if body_only => match &sc.source {
            Some((n, _)) => quote(n),
            None => sc.build_name.clone(),
        },
        ("build_type", 0) if body_only => match &sc.source {
            Some((_, t)) => quote(t),
            None => "source.type".into(),
        },
        ("template_dir", 0) => "abspath(path.root)".into(),
        ("pwd", 0) => "path.cwd".into(),
        ("packer_version", 0) => "packer.version".into(),
        ("uuid", 0) => "uuidv4()".into(),
        ("isotime", 0) => format!("legacy_isotime({})", quote(RFC3339)),
        ("isotime", 1) => format!("legacy_isotime({})", e(0)),
        ("strftime", 1) => format!("legacy_strftime({})", e(0)),
        ("lower" | "upper", 1) => format!("{name}({})", e(0)),
        ("split", 3) => format!("split({}, {})[{}]", e(1), e(0), e(2)),
        // HCL2's replace() reads a /…/ search string as a regular expression; Go's does not.
        ("replace_all", 3) if lit(0).is_some_and(|o| !o.starts_with('/')) => {
            format!("replace({}, {}, {})", e(2), e(0), e(1))
        }
        ("replace", 4)
            if lit(2).as_deref() == Some("-1") && lit(0).is_some_and(|o| !o.starts_with('/')) =>
        {
            format!("replace({}, {}, {})", e(3), e(0), e(1))
        }
        ("aws_secretsmanager", 1) => format!("aws_secretsmanager_raw({})", e(0)),
        ("aws_secretsmanager", 2) => format!("aws_secretsmanager({}, {})", e(0), e(1)),
        _ => return None,
    };
    if sc.mode == Mode::Default {
        refs.needs_local = true;
    }
    Some(expr)
}

/// An action that stays Go text, rebuilt with its translatable arguments as `${…}` raw
/// strings; `None` when a piece cannot be spelled back.
fn go_text(p: &Pipe, sc: &Scope, refs: &mut Refs) -> Option<Vec<Part>> {
    if !p.decl.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, c) in p.cmds.iter().enumerate() {
        if i > 0 {
            out.push(Part::Text(" | ".into()));
        }
        // A first command that translates on its own (`user `x` | clean_resource_name`).
        if i == 0 && p.cmds.len() > 1 {
            if let Some((e, _)) = cmd_expr(c, None, sc, refs) {
                out.push(Part::Text("`".into()));
                out.push(Part::Expr(e));
                out.push(Part::Text("`".into()));
                continue;
            }
        }
        for (j, a) in c.args.iter().enumerate() {
            if j > 0 {
                out.push(Part::Text(" ".into()));
            }
            out.extend(go_arg(a, sc, refs)?);
        }
    }
    Some(out)
}

fn go_arg(a: &Arg, sc: &Scope, refs: &mut Refs) -> Option<Vec<Part>> {
    let text = |t: String| Some(vec![Part::Text(t)]);
    match &a.kind {
        ArgKind::Dot => text(".".into()),
        ArgKind::Nil => text("nil".into()),
        ArgKind::Bool(b) => text(b.to_string()),
        ArgKind::Number(n) => text(n.text.to_string()),
        ArgKind::Str(_, src) => text((*src).to_string()),
        ArgKind::Field(f) => text(f.iter().map(|x| format!(".{x}")).collect()),
        ArgKind::Variable(v, f) => text(format!(
            "{v}{}",
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        )),
        ArgKind::Ident(_, n) => text((*n).to_string()),
        ArgKind::Pipe(inner) => {
            if let Some(e) = pipe_expr(inner, sc, refs) {
                return Some(vec![
                    Part::Text("`".into()),
                    Part::Expr(e),
                    Part::Text("`".into()),
                ]);
            }
            let mut v = vec![Part::Text("(".into())];
            v.extend(go_text(inner, sc, refs)?);
            v.push(Part::Text(")".into()));
            Some(v)
        }
        ArgKind::Chain(..) => None,
    }
}
