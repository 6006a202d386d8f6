//! Go `text/template` semantics as Packer templates use them, with Packer's function set.
//!
//! Public surface (other modules rely on exactly this):
//! * [`Context`]: what a render may see (user variables, build name/type, dot data, …);
//! * [`render`]: render one string, repeating until the output stops changing like Packer's
//!   `interpolate.Render` does;
//! * [`check`]: parse only (syntax errors, unknown functions), for values rendered later;
//! * also [`render_once`] (one pass, Packer's `RenderOnce`) and [`functions_called`].
//!
//! Go semantics are those of the release the reference Packer 1.6.6 binary was built with
//! (Go 1.19): actions may span lines, `and`/`or` short-circuit, `eq` accepts nil, and
//! `break`/`continue` work inside `range`. `tests.rs` checks 336 recorded `packer console`
//! outputs. Not supported: `define`/`template`/`block` (a clear parse error), `call` (no
//! function values exist), complex constants, strings holding invalid UTF-8.
//!
//! Layout: `lexer` → `parse` (tree, Go's parse errors) → `exec` (Go's execution rules)
//! with the function table in `funcs` and Go's formatting in `gofmt`, `golayout`
//! (`isotime`) and `strftime`.
//!
//! Positions: [`RenderError::line`] and [`RenderError::col`] are 1-based, `col` counting
//! characters; the message keeps Go's form (`root:LINE:COL` with a 0-based byte column).

mod bounds;
mod escape;
mod exec;
mod funcs;
mod gobuiltins;
mod gofloat;
pub(crate) mod gofmt;
mod golayout;
mod lexer;
mod literal;
pub(crate) mod parse;
mod show;
mod strftime;
mod value;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

pub use funcs::DEFERRED_BUILD_KEYS;

/// A value the template can see through `.` (dot) or that functions return.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

/// How the `build` function behaves.
#[derive(Debug, Clone, Default)]
pub enum BuildData {
    /// Prepare time: `{{ build `X` }}` renders to a placeholder that a later render with
    /// [`BuildData::Values`] expands (Packer renders `{{.X}}` placeholders the same way).
    #[default]
    Deferred,
    /// Run time: the builder's generated data (`ID`, `Host`, `SourceAMI`, …).
    Values(BTreeMap<String, String>),
    /// Not available here (variables pass, console): calling `build` is an error.
    Unavailable,
}

/// Looks up `{{aws_secretsmanager `name` `key`}}`; returns the secret string or an error text.
pub type SecretsLookup = Arc<dyn Fn(&str, Option<&str>) -> Result<String, String> + Send + Sync>;

/// Everything a render may see. Build with `Context::default()` and set what applies.
#[derive(Clone, Default)]
pub struct Context {
    /// `{{user `name`}}` values.
    pub user_vars: BTreeMap<String, String>,
    /// `true` only while rendering variable defaults: `env`, `aws_secretsmanager`, `consul_key`
    /// and `vault` are allowed there and nowhere else.
    pub variables_pass: bool,
    /// When set, `{{user `x`}}` of an undefined variable is an error naming it (rpack's
    /// deliberate difference from Packer, which renders "").
    pub strict_user_vars: bool,
    /// Outside strict mode, where `{{user `x`}}` of an undefined variable is recorded (it still
    /// renders "", like Packer), so it can be reported as a warning.
    pub undefined: Option<crate::template::undefined::Sink>,
    pub build_name: Option<String>,
    pub build_type: Option<String>,
    /// Absolute template path; `template_dir` errors when `None` (stdin).
    pub template_path: Option<PathBuf>,
    pub packer_version: Option<String>,
    /// Dot data (`{{ .BuildRegion }}`, `{{ .Path }}`, …). `Value::Nil` renders missing fields as
    /// `<no value>` like Go.
    pub data: Option<Value>,
    /// Set when Packer passes a Go struct as dot data: its Go type (the amazon builders' tag
    /// data is `*common.BuildInfoTemplate`). A missing top-level field is then Go's error
    /// `can't evaluate field X in type T` instead of `<no value>`, so typos are caught.
    pub data_type: Option<String>,
    pub build_data: BuildData,
    /// Amazon builders provide `clean_resource_name` (and the legacy `clean_ami_name`).
    pub amazon_funcs: bool,
    /// Unix seconds used by `timestamp`/`isotime`/`strftime` (process start, like Packer).
    pub init_time: Option<i64>,
    pub secrets: Option<SecretsLookup>,
    /// Values `{{env `NAME`}}` sees before the process environment (the AWS_EB_PLATFORM_*
    /// variables of `rpack platform create --local-build`), so no caller writes the process
    /// environment.
    pub env: Option<Arc<BTreeMap<String, String>>>,
    /// When set, the bytes every render with this context (and its clones) produced so far;
    /// more than [`crate::limits::max_value`] in total is an error. `plan::check` sets it.
    pub rendered: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

/// A template that failed to parse or execute. `message` is Go-like
/// (`template: root:1:7: executing "root" at <env `HOME`>: error calling env: …`); `line` and `col`
/// (1-based, `col` in characters) point at the offending token of the string passed to
/// [`render`]/[`check`] — for an error inside text a variable expanded to, at the action that
/// produced that text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

/// How many times [`render`] re-renders its own output before giving up (Packer loops forever).
const MAX_PASSES: usize = 100;

/// Renders `input` with `ctx`, repeating until the output stops changing.
pub fn render(input: &str, ctx: &Context) -> Result<String, RenderError> {
    if !has_action(input) {
        return Ok(input.to_string());
    }
    spent(ctx)?;
    charged(render_passes(input, ctx)?, ctx)
}

/// Counts `out` against the context's [`Context::rendered`] total, if it has one: every value
/// is bounded on its own, but a template that refers to one large variable in thousands of
/// places would otherwise hold thousands of copies.
fn charged(out: String, ctx: &Context) -> Result<String, RenderError> {
    if let Some(total) = &ctx.rendered {
        let now = total
            .fetch_add(out.len(), std::sync::atomic::Ordering::Relaxed)
            .saturating_add(out.len());
        if now > crate::limits::max_value() {
            return Err(over_total());
        }
    }
    Ok(out)
}

/// Once the total is spent, every later render fails at once (rendering first would cost the
/// time of producing each large value).
fn spent(ctx: &Context) -> Result<(), RenderError> {
    match &ctx.rendered {
        Some(t) if t.load(std::sync::atomic::Ordering::Relaxed) > crate::limits::max_value() => {
            Err(over_total())
        }
        _ => Ok(()),
    }
}

fn over_total() -> RenderError {
    RenderError {
        message: format!(
            "template: root: the rendered values of this template grew past the {} MiB \
             limit together (set RPACK_MAX_VALUE_MIB to raise it)",
            crate::limits::max_value() >> 20
        ),
        line: 1,
        col: 1,
    }
}

fn render_passes(input: &str, ctx: &Context) -> Result<String, RenderError> {
    let mut cur = render_pass(input, ctx)?;
    let mut pass = 1;
    loop {
        if !has_action(&cur) || cur == input && pass == 1 {
            return Ok(cur);
        }
        // Every pass stops at the limit (`exec`); this catches a value that keeps expanding.
        if cur.len() > crate::limits::max_value() {
            return Err(RenderError {
                message: format!(
                    "template: root: output grew past {} MiB after {pass} rendering passes",
                    crate::limits::max_value() >> 20
                ),
                line: 1,
                col: 1,
            });
        }
        if pass >= MAX_PASSES {
            return Err(RenderError {
                message: format!(
                    "template: root: still changing after {MAX_PASSES} rendering passes (a value keeps \
                     expanding to new {{{{ }}}} actions)"
                ),
                line: 1,
                col: 1,
            });
        }
        let next = render_pass(&cur, ctx).map_err(|e| relocate(e, input, pass, ctx))?;
        pass += 1;
        if next == cur {
            return Ok(next);
        }
        cur = next;
    }
}

/// Renders `input` once, without re-rendering the output (Packer's `RenderOnce`, which plugin
/// configuration decoding uses).
pub fn render_once(input: &str, ctx: &Context) -> Result<String, RenderError> {
    if !has_action(input) {
        return Ok(input.to_string());
    }
    spent(ctx)?;
    charged(render_pass(input, ctx)?, ctx)
}

/// The names of the functions `input` calls (syntax errors as for [`check`]), e.g. to tell
/// whether a value uses `build` or `env`.
pub fn functions_called(input: &str, ctx: &Context) -> Result<BTreeSet<String>, RenderError> {
    if !has_action(input) {
        return Ok(BTreeSet::new());
    }
    let lookup = |name: &str| funcs::lookup(name, ctx.amazon_funcs);
    let tree = parse::parse(input, &lookup).map_err(|e| parse_error(input, e))?;
    Ok(tree.functions().into_iter().map(String::from).collect())
}

impl RenderError {
    /// The byte offset in `input` (the string that was rendered) that `line`/`col` point at,
    /// e.g. to map the error onto the JSON source the string came from.
    pub fn byte_offset_in(&self, input: &str) -> usize {
        offset_of(input, self.line, self.col)
    }
}

/// Parses `input` with every function a JSON template may call (for `hcl2_upgrade`), and the
/// byte span of each action (`{{` to `}}`, trim markers included) in source order.
pub(crate) fn parse_actions(input: &str) -> Result<(parse::Tree<'_>, Vec<(usize, usize)>), String> {
    let lookup = |name: &str| funcs::lookup(name, true);
    let tree = parse::parse(input, &lookup).map_err(|e| parse_error(input, e).message)?;
    let mut spans = Vec::new();
    let mut open = None;
    for t in lexer::lex(input) {
        match t.kind {
            lexer::Kind::LeftDelim => open = Some(t.pos),
            lexer::Kind::RightDelim => {
                if let Some(start) = open.take() {
                    spans.push((start, t.pos + 2));
                }
            }
            _ => {}
        }
    }
    Ok((tree, spans))
}

/// Parses `input` (syntax, known function names) without executing it.
pub fn check(input: &str, ctx: &Context) -> Result<(), RenderError> {
    if !has_action(input) {
        return Ok(());
    }
    let lookup = |name: &str| funcs::lookup(name, ctx.amazon_funcs);
    parse::parse(input, &lookup)
        .map(|_| ())
        .map_err(|e| parse_error(input, e))
}

fn has_action(s: &str) -> bool {
    lexer::find(s.as_bytes(), b"{{", 0).is_some()
}

/// One rendering pass.
fn render_pass(input: &str, ctx: &Context) -> Result<String, RenderError> {
    let lookup = |name: &str| funcs::lookup(name, ctx.amazon_funcs);
    let tree = parse::parse(input, &lookup).map_err(|e| parse_error(input, e))?;
    let mut out = String::with_capacity(input.len() + 32);
    exec::execute(&tree, ctx, &mut out, None).map_err(|e| exec_error(input, e))?;
    Ok(out)
}

/// 1-based line, 0-based byte column (Go's) and 1-based character column of `pos` in `src`.
fn locate(src: &str, pos: usize) -> (u32, usize, u32) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col_chars = src[line_start..pos].chars().count() + 1;
    (line as u32, pos - line_start, col_chars as u32)
}

fn parse_error(src: &str, e: parse::ParseError) -> RenderError {
    let (line, _, col) = locate(src, e.pos);
    let (go_line, _, _) = locate(src, e.go_pos);
    RenderError {
        message: format!("template: root:{go_line}: {}", e.msg),
        line,
        col,
    }
}

fn exec_error(src: &str, e: exec::ExecError) -> RenderError {
    let (line, byte_col, col) = locate(src, e.pos);
    let context = e.context;
    RenderError {
        message: format!(
            "template: root:{line}:{byte_col}: executing \"root\" at <{context}>: {}",
            e.msg
        ),
        line,
        col,
    }
}

/// Maps an error found in pass `passes + 1` (whose input is the output of `passes` passes over
/// `input`) back to the action of `input` that produced the offending text. The message keeps
/// the position Go would report; `line`/`col` point into `input`.
fn relocate(mut e: RenderError, input: &str, passes: usize, ctx: &Context) -> RenderError {
    // Re-run the earlier passes recording where each piece of output came from. They succeeded
    // before, and errors are rare, so this costs nothing on the happy path.
    let lookup = |name: &str| funcs::lookup(name, ctx.amazon_funcs);
    let mut texts = vec![input.to_string()];
    let mut maps: Vec<Vec<exec::Segment>> = Vec::new();
    for _ in 0..passes {
        let src = texts.last().map(String::as_str).unwrap_or_default();
        let mut out = String::new();
        let mut segs = Vec::new();
        let replayed = parse::parse(src, &lookup)
            .ok()
            .map(|tree| exec::execute(&tree, ctx, &mut out, Some((src, &mut segs))).is_ok());
        if replayed != Some(true) {
            // Cannot happen (the same passes succeeded before); never point outside `input`.
            e.line = 1;
            e.col = 1;
            return e;
        }
        maps.push(segs);
        texts.push(out);
    }
    let last = texts.last().map(String::as_str).unwrap_or_default();
    let mut pos = offset_of(last, e.line, e.col);
    for segs in maps.iter().rev() {
        pos = exec::map_back(segs, pos);
    }
    let (line, _, col) = locate(input, pos);
    e.line = line;
    e.col = col;
    e
}

/// The byte offset of a 1-based line and character column.
fn offset_of(src: &str, line: u32, col: u32) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match src[start..].find('\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    src[start..]
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(src.len(), |(i, _)| start + i)
}
