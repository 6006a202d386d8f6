//! [`Decoder`] turns one plugin object (plus its overrides, later wins) into typed values.
//!
//! Contract used by every plugin's `config.rs`:
//! ```ignore
//! let mut d = Decoder::new(&raws, &ctx, "amazon-ebs", &["ami_description", "tags"]);
//! let ami_name = d.string("ami_name");          // rendered, weakly typed, key marked as known
//! let regions = d.string_list("ami_regions");   // list, or comma-separated string
//! let filter = d.object("source_ami_filter", |d| Filter { owners: d.string_list("owners"), .. });
//! if ami_name.is_none() { d.error("ami_name", "ami_name must be specified"); }
//! d.finish()?;  // unknown keys (Packer's message) + every type/render/value error, in order
//! ```
//! Keys named `type`, starting with `packer_`, or (at the top level) `only`/`except`/`override`/
//! `pause_before`/`max_retries`/`timeout` for provisioners are handled by the caller.
//! Strings of keys in `no_render` are syntax-checked only (rendered later with build data).

use std::path::PathBuf;
use std::time::Duration;

use crate::gocompat::strconv::{
    parse_bool as parse_go_bool, parse_float as parse_go_float, parse_int_checked as parse_go_int,
    quote as go_quote,
};
use crate::gocompat::time::parse_duration as parse_go_duration;
use crate::template::interp::{self, Context};
use crate::template::json::{Node, Object, Pos, Value};
use crate::template::weak::{self, go_kind};

/// One configuration problem: Packer's message, the key path (`source_ami_filter.owners`) and
/// where in the template it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
    pub key: Option<String>,
    pub pos: Option<Pos>,
    /// A mapstructure decoding problem (a value of the wrong type): Packer reports these before
    /// the plugin's own checks run, under mapstructure's `N error(s) decoding:` header.
    pub decode: bool,
    /// For an unknown key: a known key of the same object spelled closely (HCL's "Did you
    /// mean" rule), for HCL2's "Unsupported argument".
    pub suggestion: Option<String>,
}

/// Decodes one plugin configuration. See the module docs.
pub struct Decoder<'a> {
    pub(crate) raws: Vec<&'a Object>,
    pub(crate) ctx: &'a Context,
    pub(crate) plugin: String,
    pub(crate) no_render: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) used: Vec<String>,
    pub(crate) errors: Vec<ConfigError>,
    /// Directory relative paths in the template are resolved against (the cwd, like Packer).
    pub base_dir: PathBuf,
    /// Only the accepted keys matter (an HCL2 body's keys are being checked): checks that run
    /// programs (ansible's version check) are skipped.
    pub keys_only: bool,
    /// Unknown keys found in nested objects (full paths), reported first by [`Decoder::finish`].
    unknown: Vec<ConfigError>,
    /// Keys Packer rejects with its "Deprecated configuration key" message instead.
    deprecated: Vec<String>,
}

/// The Go type names mapstructure prints for the target of a failed conversion.
#[derive(Clone, Copy)]
enum Target {
    String,
    Bool,
    Int,
    Int64,
    Float,
    Duration,
}

impl Target {
    fn go_name(self) -> &'static str {
        match self {
            Target::String => "string",
            Target::Bool => "bool",
            Target::Int => "int",
            Target::Int64 => "int64",
            Target::Float => "float64",
            Target::Duration => "time.Duration",
        }
    }
}

impl<'a> Decoder<'a> {
    pub fn new(raws: &[&'a Object], ctx: &'a Context, plugin: &str, no_render: &[&str]) -> Self {
        Decoder {
            raws: raws.to_vec(),
            ctx,
            plugin: plugin.to_string(),
            no_render: no_render
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            prefix: String::new(),
            used: Vec::new(),
            errors: Vec::new(),
            base_dir: PathBuf::from("."),
            keys_only: false,
            unknown: Vec::new(),
            deprecated: Vec::new(),
        }
    }

    /// The render context (for plugins that render values later themselves).
    pub fn ctx(&self) -> &Context {
        self.ctx
    }

    /// The plugin type name this decoder was made for (`amazon-ebs`, `shell`, …).
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The raw node for `key` (last override wins), marking the key known.
    pub fn raw(&mut self, key: &str) -> Option<&'a Node> {
        self.used.push(key.to_string());
        self.lookup(key)
    }

    /// The raw node for `key` without marking it known.
    pub fn peek(&self, key: &str) -> Option<&'a Node> {
        self.raws.iter().rev().find_map(|o| o.get(key))
    }

    /// Whether `key` is set (to anything but `null`) in any of the objects. Does not mark it known.
    pub fn is_set(&self, key: &str) -> bool {
        self.peek(key).is_some_and(|n| n.value != Value::Null)
    }

    /// Marks keys as known without reading them (keys the caller handles itself).
    pub fn mark_known(&mut self, keys: &[&str]) {
        self.used
            .extend(keys.iter().map(std::string::ToString::to_string));
    }

    /// Forgets that `keys` were read, so [`Decoder::finish`] reports them as unknown: for a
    /// plugin that reuses a shared decoder but does not have some of its keys.
    pub fn unmark(&mut self, keys: &[&str]) {
        self.used.retain(|u| !keys.contains(&u.as_str()));
    }

    /// Keys this plugin rejects as deprecated (Packer's `packer fix` message) rather than unknown.
    pub fn deprecated(&mut self, keys: &[&str]) {
        self.deprecated
            .extend(keys.iter().map(std::string::ToString::to_string));
    }

    /// The full key path of `key` in this decoder (`source_ami_filter.owners`).
    pub fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn lookup(&self, key: &str) -> Option<&'a Node> {
        self.raws.iter().rev().find_map(|o| o.get(key))
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        let node = self.raw(key)?;
        let path = self.path(key);
        self.scalar_string(&path, node)
    }

    /// A bool, weakly typed like mapstructure's `WeaklyTypedInput`: numbers are `!= 0`, strings
    /// go through `strconv.ParseBool`, and `""` (also after rendering) is `false`.
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        self.bool_or(key, Some(false))
    }

    /// An optional bool (Packer's `config.Trilean`): like [`Decoder::bool`], but `""` (also
    /// after rendering, e.g. from a `{{user}}` with an empty default) means unset.
    pub fn trilean(&mut self, key: &str) -> Option<bool> {
        self.bool_or(key, None)
    }

    fn bool_or(&mut self, key: &str, empty: Option<bool>) -> Option<bool> {
        let node = self.raw(key)?;
        let path = self.path(key);
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(parse_go_float(n).is_some_and(|f| f != 0.0)),
            Value::String(s) => {
                let s = self.render_typed(&path, s, node.pos)?;
                match parse_go_bool(&s) {
                    Some(b) => Some(b),
                    None if s.is_empty() => empty,
                    None => {
                        self.push(&path, node.pos, format!("cannot parse '{path}' as bool: strconv.ParseBool: parsing {}: invalid syntax", go_quote(&s)));
                        None
                    }
                }
            }
            _ => {
                self.unconvertible(&path, node, Target::Bool);
                None
            }
        }
    }

    /// An integer of a Go `int` field (its type is named in a type error).
    pub fn int(&mut self, key: &str) -> Option<i64> {
        let node = self.raw(key)?;
        let path = self.path(key);
        self.int_node(&path, node, Target::Int)
    }

    /// An integer of a Go `int64` field (`volume_size`, `iops`, …): [`Decoder::int`] with
    /// mapstructure's `expected type 'int64'` in a type error.
    pub fn int64(&mut self, key: &str) -> Option<i64> {
        let node = self.raw(key)?;
        let path = self.path(key);
        self.int_node(&path, node, Target::Int64)
    }

    fn int_node(&mut self, path: &str, node: &Node, target: Target) -> Option<i64> {
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Number(n) => match n.parse::<i64>() {
                Ok(i) => Some(i),
                // Go decodes JSON numbers as float64 and mapstructure truncates them.
                Err(_) => parse_go_float(n).map(|f| f as i64),
            },
            Value::String(s) => {
                let s = self.render_typed(path, s, node.pos)?;
                if s.is_empty() {
                    return Some(0);
                }
                match parse_go_int(&s) {
                    Ok(i) => Some(i),
                    Err(why) => {
                        self.push(
                            path,
                            node.pos,
                            format!(
                                "cannot parse '{path}' as int: strconv.ParseInt: parsing {}: {}",
                                go_quote(&s),
                                why.text()
                            ),
                        );
                        None
                    }
                }
            }
            _ => {
                self.unconvertible(path, node, target);
                None
            }
        }
    }

    pub fn float(&mut self, key: &str) -> Option<f64> {
        let node = self.raw(key)?;
        let path = self.path(key);
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Number(n) => parse_go_float(n),
            Value::String(s) => {
                let s = self.render_typed(&path, s, node.pos)?;
                if s.is_empty() {
                    return Some(0.0);
                }
                if let Some(f) = parse_go_float(&s) {
                    Some(f)
                } else {
                    self.push(&path, node.pos, format!("cannot parse '{path}' as float: strconv.ParseFloat: parsing {}: invalid syntax", go_quote(&s)));
                    None
                }
            }
            _ => {
                self.unconvertible(&path, node, Target::Float);
                None
            }
        }
    }

    /// A Go duration string (`"5m"`, `"1h5m2s"`) or a number of nanoseconds (weakly, a bool is
    /// 1 or 0). `""` is an error, as for Packer (`time: invalid duration ""`).
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        let node = self.raw(key)?;
        let path = self.path(key);
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(Duration::from_nanos(u64::from(*b))),
            Value::Number(n) => {
                let nanos = n
                    .parse::<i64>()
                    .ok()
                    .or_else(|| parse_go_float(n).map(|f| f as i64))
                    .unwrap_or(0);
                Some(Duration::from_nanos(nanos.max(0) as u64))
            }
            Value::String(s) => {
                let s = self.render_typed(&path, s, node.pos)?;
                match parse_go_duration(&s) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        self.push(&path, node.pos, format!("error decoding '{path}': {e}"));
                        None
                    }
                }
            }
            _ => {
                self.unconvertible(&path, node, Target::Duration);
                None
            }
        }
    }

    /// A list of strings; a single string is split on commas (Packer's weak decoding).
    pub fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        let node = self.raw(key)?;
        let path = self.path(key);
        match &node.value {
            Value::Null => None,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    // A string without `{{` is taken as it is (what rendering it gives), and
                    // its path, which only names it in errors, is not needed.
                    if let Value::String(s) = &item.value {
                        if !s.contains("{{") {
                            out.push(s.clone());
                            continue;
                        }
                    }
                    if let Some(s) = self.scalar_string(&format!("{path}[{i}]"), item) {
                        out.push(s);
                    }
                }
                Some(out)
            }
            Value::String(s) => {
                let s = self.render_value(&path, s, node.pos)?;
                if s.is_empty() {
                    Some(Vec::new())
                } else {
                    Some(s.split(',').map(str::to_string).collect())
                }
            }
            // mapstructure's WeaklyTypedInput: an empty map is an empty list; any other
            // single value (a map too) stands for a one-element list.
            Value::Object(o) if o.entries.is_empty() => Some(Vec::new()),
            // A single scalar becomes a one-element list.
            _ => self
                .scalar_string(&format!("{path}[0]"), node)
                .map(|s| vec![s]),
        }
    }

    pub fn string_map(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let node = self.raw(key)?;
        let path = self.path(key);
        match &node.value {
            Value::Null => None,
            Value::Object(o) => Some(self.map_entries(&path, o)),
            // mapstructure's weak decoding merges a list of maps (and accepts an empty list).
            Value::Array(items) if items.iter().all(|n| n.as_object().is_some()) => {
                let mut out: Vec<(String, String)> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let o = item.as_object().expect("checked above");
                    for (k, v) in self.map_entries(&format!("{path}[{i}]"), o) {
                        match out.iter_mut().find(|(ok, _)| *ok == k) {
                            Some(slot) => slot.1 = v,
                            None => out.push((k, v)),
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.push(
                    &path,
                    node.pos,
                    format!("'{path}' expected a map, got '{}'", go_kind(other)),
                );
                None
            }
        }
    }

    fn map_entries(&mut self, path: &str, o: &Object) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(o.entries.len());
        for (k, _, v) in &o.entries {
            if let Some(s) = self.scalar_string(&format!("{path}[{k}]"), v) {
                out.push((k.clone(), s));
            }
        }
        out
    }

    /// A nested object decoded by `f` (unknown nested keys are reported with the full path).
    pub fn object<T>(&mut self, key: &str, f: impl FnOnce(&mut Decoder<'a>) -> T) -> Option<T> {
        self.used.push(key.to_string());
        let path = self.path(key);
        // Every override that sets the object contributes; later objects win per key.
        let mut objects: Vec<&'a Object> = Vec::new();
        let mut last: Option<&'a Node> = None;
        for raw in &self.raws {
            if let Some(node) = raw.get(key) {
                last = Some(node);
                match &node.value {
                    Value::Object(o) => objects.push(o),
                    Value::Null => {}
                    // Packer 1.6.6's mapstructure has no weak slice → struct rule: an empty
                    // list is "expected a map, got 'slice'" like any other.
                    other => {
                        let msg = format!("'{path}' expected a map, got '{}'", go_kind(other));
                        self.push(&path, node.pos, msg);
                        return None;
                    }
                }
            }
        }
        let node = last?;
        if objects.is_empty() && node.value == Value::Null {
            return None;
        }
        Some(self.child(&objects, format!("{path}."), f))
    }

    /// A list of objects, each decoded by `f`.
    pub fn object_list<T>(
        &mut self,
        key: &str,
        mut f: impl FnMut(&mut Decoder<'a>) -> T,
    ) -> Option<Vec<T>> {
        let node = self.raw(key)?;
        let path = self.path(key);
        let items: Vec<&'a Node> = match &node.value {
            Value::Null => return None,
            Value::Array(items) => items.iter().collect(),
            // A single value stands for a one-element list.
            _ => vec![node],
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match &item.value {
                Value::Object(o) => out.push(self.child(&[o], format!("{path}[{i}]."), &mut f)),
                Value::Null => {}
                other => {
                    let msg = format!("'{path}[{i}]' expected a map, got '{}'", go_kind(other));
                    self.push(&format!("{path}[{i}]"), item.pos, msg);
                }
            }
        }
        Some(out)
    }

    fn child<T>(
        &mut self,
        objects: &[&'a Object],
        prefix: String,
        f: impl FnOnce(&mut Decoder<'a>) -> T,
    ) -> T {
        let mut child = Decoder {
            raws: objects.to_vec(),
            ctx: self.ctx,
            plugin: self.plugin.clone(),
            no_render: self.no_render.clone(),
            prefix,
            used: Vec::new(),
            errors: Vec::new(),
            base_dir: self.base_dir.clone(),
            keys_only: self.keys_only,
            unknown: Vec::new(),
            deprecated: Vec::new(),
        };
        let value = f(&mut child);
        let unknown = child.unknown_keys();
        self.unknown.extend(unknown);
        self.unknown.append(&mut child.unknown);
        self.errors.append(&mut child.errors);
        value
    }

    /// Records a problem about `key` (its position is looked up).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let (path, pos) = if key.is_empty() {
            (None, None)
        } else {
            (Some(self.path(key)), self.lookup(key).map(|n| n.pos))
        };
        self.errors.push(ConfigError {
            message: message.into(),
            key: path,
            pos,
            decode: false,
            suggestion: None,
        });
    }

    /// Records a problem about element `index` of the list `key`, at that element's position
    /// (the key's own when the list is written as one comma-separated string).
    pub fn error_item(&mut self, key: &str, index: usize, message: impl Into<String>) {
        let node = self.lookup(key);
        let pos = match node.map(|n| &n.value) {
            Some(Value::Array(items)) => items.get(index).map(|n| n.pos),
            _ => None,
        };
        self.errors.push(ConfigError {
            message: message.into(),
            key: Some(format!("{}[{index}]", self.path(key))),
            pos: pos.or(node.map(|n| n.pos)),
            decode: false,
            suggestion: None,
        });
    }

    /// Records a problem about the entry `name` of the map `key`, at that entry's name.
    pub fn error_entry(&mut self, key: &str, name: &str, message: impl Into<String>) {
        let node = self.lookup(key);
        let pos = match node.map(|n| &n.value) {
            Some(Value::Object(o)) => o
                .entries
                .iter()
                .find(|(k, _, _)| k == name)
                .map(|(_, p, _)| *p),
            _ => None,
        };
        self.errors.push(ConfigError {
            message: message.into(),
            key: Some(format!("{}.{name}", self.path(key))),
            pos: pos.or(node.map(|n| n.pos)),
            decode: false,
            suggestion: None,
        });
    }

    /// Records a problem that is about the plugin as a whole (no key).
    pub fn error_general(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError {
            message: message.into(),
            key: None,
            pos: None,
            decode: false,
            suggestion: None,
        });
    }

    /// Whether any problem has been recorded so far (unknown keys are only known at `finish`).
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Unknown-key errors first (Packer: `unknown configuration key: '"x"'`), then every other error.
    pub fn finish(mut self) -> Result<(), Vec<ConfigError>> {
        let mut all = self.unknown_keys();
        all.append(&mut self.unknown);
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all.append(&mut self.errors);
        if all.is_empty() {
            Ok(())
        } else {
            Err(all)
        }
    }

    /// Keys of this level nobody read, sorted like Packer (it sorts mapstructure's unused list).
    fn unknown_keys(&self) -> Vec<ConfigError> {
        let mut seen: Vec<(&str, Pos)> = Vec::new();
        for raw in &self.raws {
            for (k, kpos, _) in &raw.entries {
                if k == "type" || k.starts_with("packer_") || self.used.iter().any(|u| u == k) {
                    continue;
                }
                if !seen.iter().any(|(s, _)| s == k) {
                    seen.push((k, *kpos));
                }
            }
        }
        seen.sort_by(|a, b| a.0.cmp(b.0));
        seen.into_iter()
            .map(|(k, pos)| {
                let path = self.path(k);
                let message = if self.deprecated.iter().any(|d| d == k) {
                    format!(
                        "Deprecated configuration key: '{path}'. Please call `packer fix` against your template to update your \
                         template to be compatible with the current version of Packer. Visit \
                         https://www.packer.io/docs/commands/fix/ for more detail."
                    )
                } else {
                    format!("unknown configuration key: '{}'", go_quote(&path))
                };
                let suggestion = crate::template::hcl2::plugin_keys::suggestion(k, &self.used);
                ConfigError { message, key: Some(path), pos: Some(pos), decode: false, suggestion }
            })
            .collect()
    }

    /// Records a decoding problem (a value mapstructure cannot convert).
    fn push(&mut self, path: &str, pos: Pos, message: String) {
        self.errors.push(ConfigError {
            message,
            key: Some(path.to_string()),
            pos: Some(pos),
            decode: true,
            suggestion: None,
        });
    }

    /// Records a template that does not parse or render (Packer's interpolation, before any
    /// decoding).
    fn push_render(&mut self, path: &str, pos: Pos, message: String) {
        self.errors.push(ConfigError {
            message,
            key: Some(path.to_string()),
            pos: Some(pos),
            decode: false,
            suggestion: None,
        });
    }

    /// A scalar weakly converted to a string (numbers like Go's `FormatFloat(f, 'f', -1)`,
    /// booleans as `1`/`0`), rendered unless its key is in `no_render`.
    fn scalar_string(&mut self, path: &str, node: &Node) -> Option<String> {
        match &node.value {
            Value::Null => None,
            Value::String(s) => self.render_value(path, s, node.pos),
            Value::Number(_) | Value::Bool(_) => weak::scalar_string(&node.value),
            _ => {
                self.unconvertible(path, node, Target::String);
                None
            }
        }
    }

    fn unconvertible(&mut self, path: &str, node: &Node, target: Target) {
        let msg = weak::plugin_unconvertible(path, target.go_name(), &node.value);
        self.push(path, node.pos, msg);
    }

    fn is_no_render(&self, path: &str) -> bool {
        self.no_render.iter().any(|k| {
            path == k
                || path
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    /// Renders a string that is converted further (bool, number, duration): `None` when the
    /// render failed, so no second error is piled onto the first.
    fn render_typed(&mut self, path: &str, s: &str, pos: Pos) -> Option<String> {
        let before = self.errors.len();
        let out = self.render_value(path, s, pos)?;
        (self.errors.len() == before).then_some(out)
    }

    /// Renders (or, for `no_render` keys, only checks) one string value. Errors read like
    /// Packer's: `invalid '<key>'` for a template that does not parse, `render '<key>'` for one
    /// that fails while executing.
    fn render_value(&mut self, path: &str, s: &str, pos: Pos) -> Option<String> {
        if !s.contains("{{") {
            return Some(s.to_string());
        }
        let shown = top_key(path);
        if self.is_no_render(path) {
            // Rendered later with build data; undefined variables are reported now.
            if let Some(sink) = &self.ctx.undefined {
                let mark = sink.mark();
                for name in crate::template::undefined::user_names(s) {
                    if !self.ctx.user_vars.contains_key(&name) {
                        sink.record(&name);
                    }
                }
                sink.locate_since(mark, path, pos, s);
            }
            if let Err(e) = interp::check(s, self.ctx) {
                self.push_render(
                    path,
                    pos,
                    format!("Error decoding config: invalid '{shown}': {e} in:\n\n{s}"),
                );
            }
            return Some(s.to_string());
        }
        let mark = self
            .ctx
            .undefined
            .as_ref()
            .map(super::template::undefined::Sink::mark);
        let rendered = interp::render(s, self.ctx);
        if let (Some(sink), Some(mark)) = (&self.ctx.undefined, mark) {
            sink.locate_since(mark, path, pos, s);
        }
        match rendered {
            Ok(out) => Some(out),
            Err(e) => {
                let verb = if e.message.contains("executing \"") {
                    "render"
                } else {
                    "invalid"
                };
                self.push_render(
                    path,
                    pos,
                    format!("Error decoding config: {verb} '{shown}': {e} in:\n\n{s}"),
                );
                // The value stays as written so the plugin's own checks do not pile follow-on
                // errors ("inline must be set") onto the one already recorded.
                Some(s.to_string())
            }
        }
    }
}

/// The key Packer names in render errors: the path without list indexes.
fn top_key(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

pub(crate) use crate::gocompat::path::expand_user;

#[cfg(test)]
mod tests;
