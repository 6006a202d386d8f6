//! HCL's JSON syntax (`.pkr.json`, `.pkrvars.json`): the JSON document is rewritten into the
//! native syntax Packer's schema implies (which keys are blocks, how many labels each takes,
//! which plugin keys are nested blocks), with a map from every written offset back to the JSON
//! source, so the rest of the front end sees one kind of body and every position names the JSON
//! file, line and column.
//!
//! As in HCL: a string is a template (`${...}` interpolates), a `"//"` key is a comment, a block
//! may be given as an object or an array of objects at every label level, and a variable's `type`
//! string is read as a type expression.

use crate::template::json::{self, Node, Pos, Value as J};

use super::diag::{Diag, SourceFile};
use super::limits::MAX_NESTING;
use super::schema::nested;

/// What a JSON object stands for.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// The file's top level.
    Root,
    /// A body where every key is an attribute (`variables`, `locals`, var files, ...).
    Attrs,
    Packer,
    Variable,
    Build,
    PostProcessors,
    /// A plugin body of the given type: nested blocks follow the plugin's schema.
    Plugin(&'a str),
    /// A `dynamic` block's body, generating blocks of a plugin's nested type.
    Dynamic(&'a str),
}

/// Native-syntax text with the offset map back to the JSON source.
pub(crate) struct Converted {
    pub text: String,
    /// (offset in `text`, offset in the JSON, bytes that map one to one from there).
    pub map: Vec<(usize, usize, usize)>,
}

struct W<'s> {
    src: &'s SourceFile,
    out: String,
    map: Vec<(usize, usize, usize)>,
}

impl W<'_> {
    fn mark(&mut self, orig: usize, linear: usize) {
        self.map.push((self.out.len(), orig, linear));
    }
    fn err(&self, at: Pos, summary: &str, detail: String) -> Diag {
        Diag::error(Some(self.src.loc(at.offset)), summary, detail)
    }

    fn body<'j>(
        &mut self,
        kind: Kind<'j>,
        obj: &'j json::Object,
        depth: usize,
    ) -> Result<(), Diag> {
        if depth > MAX_NESTING {
            return Err(too_deep(self, obj.entries.first().map(|e| e.1)));
        }
        for (key, kp, node) in &obj.entries {
            if key == "//" {
                continue;
            }
            if matches!(kind, Kind::Root) && key == "source" {
                self.root_sources(*kp, node)?;
                continue;
            }
            match block_labels(kind, key) {
                Some((labels, inner)) => self.blocks(key, *kp, node, labels, inner, &[], depth)?,
                None => self.attribute(kind, key, *kp, node, depth)?,
            }
        }
        Ok(())
    }

    fn ident(&mut self, key: &str, kp: Pos) -> Result<(), Diag> {
        let ok = key
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(self.err(
                kp,
                "Invalid name",
                format!("\"{key}\" is not a valid attribute or block name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes."),
            ));
        }
        self.mark(kp.offset + 1, key.len());
        self.out.push_str(key);
        Ok(())
    }

    fn attribute(
        &mut self,
        kind: Kind,
        key: &str,
        kp: Pos,
        node: &Node,
        depth: usize,
    ) -> Result<(), Diag> {
        self.ident(key, kp)?;
        self.out.push_str(" = ");
        let is_type = matches!(kind, Kind::Variable) && key == "type";
        match (&node.value, is_type) {
            (J::String(s), true) => {
                // The string is a type expression (`"list(string)"`).
                self.mark(node.pos.offset + 1, s.len());
                self.out.push_str(s);
            }
            _ => self.expr(node, depth + 1)?,
        }
        self.out.push('\n');
        Ok(())
    }

    fn expr(&mut self, node: &Node, depth: usize) -> Result<(), Diag> {
        if depth > MAX_NESTING {
            return Err(too_deep(self, Some(node.pos)));
        }
        match &node.value {
            J::Null => {
                self.mark(node.pos.offset, 0);
                self.out.push_str("null");
            }
            J::Bool(b) => {
                self.mark(node.pos.offset, 0);
                self.out.push_str(if *b { "true" } else { "false" });
            }
            J::Number(n) => {
                self.mark(node.pos.offset, n.len());
                self.out.push_str(n);
            }
            J::String(s) => self.string(node.pos, s),
            J::Array(items) => {
                self.mark(node.pos.offset, 0);
                self.out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(it, depth + 1)?;
                }
                self.out.push(']');
            }
            J::Object(o) => {
                self.mark(node.pos.offset, 0);
                self.out.push_str("{\n");
                for (k, kp, v) in &o.entries {
                    self.string(*kp, k);
                    self.out.push_str(" = ");
                    self.expr(v, depth + 1)?;
                    self.out.push('\n');
                }
                self.out.push('}');
            }
        }
        Ok(())
    }

    /// A quoted template; offsets inside it map one to one while no escape intervenes.
    fn string(&mut self, at: Pos, s: &str) {
        self.mark(at.offset, 1);
        self.out.push('"');
        self.map.push((self.out.len(), at.offset + 1, s.len()));
        escape_template(s, &mut self.out);
        self.out.push('"');
    }

    /// Blocks of type `key` with `labels` more labels to read, from an object or array.
    #[allow(clippy::too_many_arguments)]
    fn blocks<'j>(
        &mut self,
        key: &str,
        kp: Pos,
        node: &'j Node,
        labels: usize,
        inner: Kind<'j>,
        got: &[(String, Pos)],
        depth: usize,
    ) -> Result<(), Diag> {
        if depth > MAX_NESTING {
            return Err(too_deep(self, Some(node.pos)));
        }
        match &node.value {
            J::Array(items) => {
                for it in items {
                    self.blocks(key, kp, it, labels, inner, got, depth + 1)?;
                }
                Ok(())
            }
            J::Object(o) if labels > 0 => {
                for (l, lp, v) in o.entries.iter().filter(|e| e.0 != "//") {
                    let mut g = got.to_vec();
                    g.push((l.clone(), *lp));
                    // The last label of a build's `source "type.name"`, `provisioner "type"`
                    // or `post-processor "type"` names the plugin of the body.
                    let inner = match inner {
                        Kind::Plugin("") if key == "data" && labels == 2 => Kind::Plugin(l),
                        Kind::Plugin("") if labels == 1 => {
                            let t = l.strip_prefix("source.").unwrap_or(l);
                            Kind::Plugin(t.split('.').next().unwrap_or(t))
                        }
                        k => k,
                    };
                    self.blocks(key, kp, v, labels - 1, inner, &g, depth + 1)?;
                }
                Ok(())
            }
            J::Object(o) => {
                self.ident(key, kp)?;
                for (l, lp) in got {
                    self.out.push(' ');
                    self.string(*lp, l);
                }
                self.out.push_str(" {\n");
                self.body(inner, o, depth + 1)?;
                self.out.push_str("}\n");
                Ok(())
            }
            _ => Err(self.err(
                node.pos,
                "Incorrect JSON value type",
                format!(
                    "Either a JSON object or a JSON array of objects is required here, to define {}.",
                    if labels > 0 {
                        format!("the labels of a \"{key}\" block")
                    } else {
                        format!("the body of a \"{key}\" block")
                    }
                ),
            )),
        }
    }
}

/// Whether `key` in a body of `kind` is a block: its label count and the kind of its body.
fn block_labels<'a>(kind: Kind<'a>, key: &str) -> Option<(usize, Kind<'a>)> {
    match kind {
        Kind::Root => match key {
            "packer" => Some((0, Kind::Packer)),
            "variable" => Some((1, Kind::Variable)),
            "variables" | "locals" => Some((0, Kind::Attrs)),
            "local" => Some((1, Kind::Attrs)),
            // The type label names the data source, whose nested blocks (`assume_role` …)
            // are read as blocks.
            "data" => Some((2, Kind::Plugin(""))),
            "build" => Some((0, Kind::Build)),
            _ => None,
        },
        Kind::Packer => (key == "required_plugins").then_some((0, Kind::Attrs)),
        Kind::Variable => (key == "validation").then_some((0, Kind::Attrs)),
        Kind::Build => match key {
            "source" => Some((1, Kind::Plugin(""))),
            "provisioner" | "error-cleanup-provisioner" | "post-processor" => {
                Some((1, Kind::Plugin("")))
            }
            "post-processors" => Some((0, Kind::PostProcessors)),
            _ => None,
        },
        Kind::PostProcessors => (key == "post-processor").then_some((1, Kind::Plugin(""))),
        Kind::Plugin(p) => match key {
            "dynamic" => Some((1, Kind::Dynamic(p))),
            _ => nested(p, key).map(|_| (0, Kind::Plugin(p))),
        },
        Kind::Dynamic(p) => (key == "content").then_some((0, Kind::Plugin(p))),
        Kind::Attrs => None,
    }
}

fn too_deep(w: &W, at: Option<Pos>) -> Diag {
    Diag::error(
        at.map(|p| w.src.loc(p.offset)),
        "Nesting too deep",
        format!("{} nests blocks, arrays or objects more than {MAX_NESTING} levels deep; rpack refuses it before it could exhaust the stack.", w.src.name),
    )
}

/// Rewrites a JSON-syntax template file (`attrs_only`: a var file, where every key is a
/// variable's value).
pub(crate) fn convert(src: &SourceFile, attrs_only: bool) -> Result<Converted, Diag> {
    let root = json::parse(&src.text).map_err(|e| json_error(src, e))?;
    let J::Object(obj) = &root.value else {
        return Err(Diag::error(
            Some(src.loc(root.pos.offset)),
            "Incorrect JSON value type",
            format!("The root of {} must be a JSON object.", src.name),
        ));
    };
    let mut w = W {
        src,
        out: String::new(),
        map: Vec::new(),
    };
    let kind = if attrs_only { Kind::Attrs } else { Kind::Root };
    w.body(kind, obj, 0)?;
    Ok(Converted {
        text: w.out,
        map: w.map,
    })
}

impl W<'_> {
    /// `source` → type → name → body: the type label names the plugin.
    fn root_sources(&mut self, kp: Pos, node: &Node) -> Result<(), Diag> {
        for it in as_items(node) {
            let J::Object(types) = &it.value else {
                return self.blocks("source", kp, it, 2, Kind::Attrs, &[], 1);
            };
            for (ty, tp, names) in types.entries.iter().filter(|e| e.0 != "//") {
                let got = [(ty.clone(), *tp)];
                self.blocks("source", kp, names, 1, Kind::Plugin(ty), &got, 2)?;
            }
        }
        Ok(())
    }
}

/// Writes a template's text inside quotes: its literal parts escaped, its `${ }` and `%{ }`
/// sequences verbatim (they hold expressions, whose own strings are quoted as they stand).
fn escape_template(s: &str, out: &mut String) {
    #[derive(Clone, Copy, PartialEq)]
    enum In {
        Code(usize),
        Str,
    }
    let mut stack: Vec<In> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match stack.last().copied() {
            None => match c {
                '$' | '%' if chars.peek() == Some(&c) => {
                    out.push(c);
                    out.push(chars.next().unwrap_or(c));
                }
                '$' | '%' if chars.peek() == Some(&'{') => {
                    out.push(c);
                    out.push(chars.next().unwrap_or('{'));
                    stack.push(In::Code(0));
                }
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            },
            Some(In::Code(depth)) => {
                out.push(c);
                match c {
                    '{' => *stack.last_mut().unwrap_or(&mut In::Str) = In::Code(depth + 1),
                    '}' if depth == 0 => {
                        stack.pop();
                    }
                    '}' => *stack.last_mut().unwrap_or(&mut In::Str) = In::Code(depth - 1),
                    '"' => stack.push(In::Str),
                    _ => {}
                }
            }
            Some(In::Str) => {
                out.push(c);
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        stack.pop();
                    }
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        out.push(chars.next().unwrap_or('{'));
                        stack.push(In::Code(0));
                    }
                    _ => {}
                }
            }
        }
    }
}

fn as_items(n: &Node) -> Vec<&Node> {
    match &n.value {
        J::Array(a) => a.iter().collect(),
        _ => vec![n],
    }
}

fn json_error(src: &SourceFile, e: json::JsonError) -> Diag {
    match e {
        json::JsonError::Syntax {
            message, offset, ..
        } => Diag::error(Some(src.loc(offset)), "Invalid JSON syntax", message),
        json::JsonError::DuplicateField { key, pos } => Diag::error(
            Some(src.loc(pos.offset)),
            "Duplicate argument",
            format!("The argument \"{key}\" was already set in this object."),
        ),
    }
}
