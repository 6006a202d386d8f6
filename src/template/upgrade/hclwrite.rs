//! A small HCL writer laid out like `hclwrite.Format` (what `packer fmt` and `terraform fmt`
//! print): two-space indentation, and the `=` of consecutive one-line attributes aligned.

/// One item of a body.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// `key = expr`; the expression text may span lines (objects, lists of objects).
    Attr(String, String),
    Block(Block),
    /// A `# ...` line per element.
    Comment(Vec<String>),
    Blank,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Vec<Item>,
}

impl Block {
    pub(crate) fn new(kind: &str, labels: &[&str]) -> Block {
        Block {
            kind: kind.to_string(),
            labels: labels.iter().map(ToString::to_string).collect(),
            body: Vec::new(),
        }
    }

    pub(crate) fn attr(&mut self, key: &str, expr: String) {
        self.body.push(Item::Attr(key.to_string(), expr));
    }

    /// Writes the block at indentation `depth` (two spaces each).
    pub(crate) fn write(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        out.push_str(&pad);
        out.push_str(&self.kind);
        for l in &self.labels {
            out.push(' ');
            out.push_str(&quote(l));
        }
        if self.body.is_empty() {
            out.push_str(" {\n");
            out.push_str(&pad);
            out.push_str("}\n");
            return;
        }
        out.push_str(" {\n");
        write_body(&self.body, depth + 1, out);
        out.push_str(&pad);
        out.push_str("}\n");
    }
}

/// Writes body items at `depth`, aligning the `=` of each run of one-line attributes.
pub(crate) fn write_body(items: &[Item], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            Item::Attr(..) => {
                let start = i;
                while i < items.len() && matches!(&items[i], Item::Attr(_, v) if !v.contains('\n'))
                {
                    i += 1;
                }
                if i == start {
                    // A multi-line attribute stands alone.
                    if let Item::Attr(k, v) = &items[i] {
                        write_attr(k, v, k.chars().count(), &pad, out);
                    }
                    i += 1;
                    continue;
                }
                let width = items[start..i]
                    .iter()
                    .map(|it| match it {
                        Item::Attr(k, _) => k.chars().count(),
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                for it in &items[start..i] {
                    if let Item::Attr(k, v) = it {
                        write_attr(k, v, width, &pad, out);
                    }
                }
            }
            Item::Block(b) => {
                b.write(depth, out);
                i += 1;
            }
            Item::Comment(lines) => {
                for l in lines {
                    out.push_str(&pad);
                    if l.is_empty() {
                        out.push_str("#\n");
                    } else {
                        out.push_str("# ");
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                i += 1;
            }
            Item::Blank => {
                out.push('\n');
                i += 1;
            }
        }
    }
}

fn write_attr(key: &str, value: &str, width: usize, pad: &str, out: &mut String) {
    out.push_str(pad);
    out.push_str(key);
    for _ in key.chars().count()..width {
        out.push(' ');
    }
    out.push_str(" = ");
    // Continuation lines of a multi-line value are indented with the attribute.
    let mut lines = value.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for l in lines {
        out.push('\n');
        if !l.is_empty() {
            out.push_str(pad);
        }
        out.push_str(l);
    }
    out.push('\n');
}

/// An HCL identifier (attribute names, bare object keys).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(s, "true" | "false" | "null")
}

/// `s` as a quoted HCL string whose content is literal text: quotes, backslashes and control
/// characters escaped, and `${`/`%{` doubled so HCL does not read them as template sequences.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", escape_literal(s))
}

/// The inside of a quoted HCL template for literal text `s`.
pub(crate) fn escape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A multi-line object constructor from (key, value expression) pairs, keys aligned.
pub(crate) fn object(entries: &[(String, String)]) -> String {
    if entries.is_empty() {
        return "{}".into();
    }
    let items: Vec<Item> = entries
        .iter()
        .map(|(k, v)| Item::Attr(k.clone(), v.clone()))
        .collect();
    let mut out = String::from("{\n");
    write_body(&items, 1, &mut out);
    out.push('}');
    out
}

/// A list constructor: on one line when every element is, else one element per line.
pub(crate) fn list(elems: &[String]) -> String {
    if elems.iter().all(|e| !e.contains('\n')) {
        return format!("[{}]", elems.join(", "));
    }
    let mut out = String::from("[\n");
    for e in elems {
        for (n, l) in e.split('\n').enumerate() {
            if n > 0 {
                out.push('\n');
            }
            if !l.is_empty() {
                out.push_str("  ");
            }
            out.push_str(l);
        }
        out.push_str(",\n");
    }
    out.push(']');
    out
}
