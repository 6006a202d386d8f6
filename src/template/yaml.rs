//! The project's one YAML module: every read and write of YAML (platform.yaml and the workspace
//! config in `platform`, HCL2's `yamldecode`/`yamlencode`) goes through here, on serde_yaml.
//! HCL2's `yamlencode` is spelled as Packer spells it ([`encode_cty`]): go-cty-yaml's emitter
//! (a port of libyaml's), which serde_yaml's does not match.
//!
//! Reads are guarded by a linear pre-scan that refuses nesting deeper than the YAML reader will
//! accept anyway, before the reader sees it: libyaml's scanner (behind serde_yaml) takes quadratic
//! time in the nesting depth, so 100,000 `[` took minutes before failing with "recursion limit
//! exceeded". The scan is approximate (it knows quotes, comments and indicators, not every YAML
//! rule) and errs only on the side of documents that would fail anyway.

pub(crate) use serde_yaml::{Error, Mapping, Value};

/// Reads a YAML document (callers run [`too_deep`] first, to word its refusal their way).
pub(crate) fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_yaml::from_str(text)
}

/// Writes a value as a YAML document.
pub(crate) fn to_string<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_yaml::to_string(v)
}

/// Reads a YAML document into any value, the depth checked first; errors say where.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    if let Some((line, col)) = too_deep(text) {
        return Err(format!(
            "YAML nested deeper than {MAX_DEPTH} levels at line {line} column {col}"
        ));
    }
    from_str(text).map_err(|e| e.to_string())
}

/// serde_yaml's own recursion limit: deeper documents never parse.
pub(crate) const MAX_DEPTH: usize = 128;

/// Where the text first nests deeper than [`MAX_DEPTH`]: 1-based line and column.
pub(crate) fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut block = 0usize;
        let mut at_indicators = true;
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let col = line[..i].chars().count() + 1;
            if let Some(q) = quote {
                match c {
                    '\\' if q == '"' => {
                        chars.next();
                    }
                    _ if c == q => quote = None,
                    _ => {}
                }
                prev = c;
                continue;
            }
            let next_blank = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
            match c {
                '#' if prev.is_whitespace() => break,
                '-' | '?' | ':' if at_indicators && next_blank => block += 1,
                ' ' | '\t' => {}
                '[' | '{' => {
                    flow += 1;
                    at_indicators = false;
                }
                ']' | '}' => {
                    flow = flow.saturating_sub(1);
                    at_indicators = false;
                }
                '"' | '\'' if matches!(prev, ' ' | '\t' | ':' | ',' | '[' | '{' | '-' | '?') => {
                    quote = Some(c);
                    at_indicators = false;
                }
                _ => at_indicators = false,
            }
            if flow + block > MAX_DEPTH {
                return Some((n + 1, col));
            }
            prev = c;
        }
    }
    None
}

/// A value for [`encode_cty`], shaped as cty's: map and object keys in byte order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cty {
    Null,
    Bool(bool),
    /// The number as cty writes it (`1`, `1.5`, no exponent).
    Number(String),
    String(String),
    Seq(Vec<Cty>),
    Map(std::collections::BTreeMap<String, Cty>),
}

/// `v` as go-cty-yaml 1.0's `Marshal` writes it (Packer 1.6.6's `yamlencode`): one document
/// without a `---` marker; strings double-quoted, or as a literal block (`|`, `|-`, `|+`) when
/// they hold a line break and a block can carry them; numbers, bools and null plain; block
/// sequences (not indented under a mapping key) and mappings, keys sorted; empty collections as
/// `[]` and `{}`; double-quoted lines folded past column 80; a plain root scalar (`1`, `true`,
/// `null`) followed by the document end marker `...`.
pub(crate) fn encode_cty(v: &Cty) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
        open_ended: false,
    };
    e.node(v, Context::Root);
    // Document end (implicit), then stream end.
    e.write_indent();
    if e.open_ended {
        e.indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

/// Where a node is, as libyaml's emitter tracks it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    Sequence,
    Mapping,
    SimpleKey,
}

/// libyaml's best width and indent (go-cty-yaml sets neither).
const BEST_WIDTH: usize = 80;
const BEST_INDENT: isize = 2;

struct Emitter {
    out: String,
    column: usize,
    indent: isize,
    indents: Vec<isize>,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }
    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }
    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }
    fn indicator(
        &mut self,
        s: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn node(&mut self, v: &Cty, ctx: Context) {
        match v {
            Cty::Seq(items) if items.is_empty() => self.empty("[", "]"),
            Cty::Map(m) if m.is_empty() => self.empty("{", "}"),
            Cty::Seq(items) => {
                self.increase_indent(false, ctx == Context::Mapping && !self.indention);
                for item in items {
                    self.write_indent();
                    self.indicator("-", true, false, true);
                    self.node(item, Context::Sequence);
                }
                self.pop_indent();
            }
            Cty::Map(m) => {
                self.increase_indent(false, false);
                for (k, val) in m {
                    self.write_indent();
                    let simple = k.len() <= 128 && !k.chars().any(is_break);
                    if simple {
                        self.scalar(&Cty::String(k.clone()), Context::SimpleKey);
                        self.indicator(":", false, false, false);
                    } else {
                        self.indicator("?", true, false, true);
                        self.scalar(&Cty::String(k.clone()), Context::Mapping);
                        self.write_indent();
                        self.indicator(":", true, false, true);
                    }
                    self.node(val, Context::Mapping);
                }
                self.pop_indent();
            }
            scalar => self.scalar(scalar, ctx),
        }
    }

    fn empty(&mut self, open: &str, close: &str) {
        self.indicator(open, true, true, false);
        self.indicator(close, false, false, false);
    }

    fn scalar(&mut self, v: &Cty, ctx: Context) {
        self.increase_indent(true, false);
        match v {
            Cty::Null => self.plain("null", ctx),
            Cty::Bool(b) => self.plain(if *b { "true" } else { "false" }, ctx),
            Cty::Number(n) => self.plain(n, ctx),
            Cty::String(s) => {
                let simple_key = ctx == Context::SimpleKey;
                if s.contains('\n') && !simple_key && block_allowed(s) {
                    self.literal(s);
                } else {
                    self.double_quoted(s, !simple_key);
                }
            }
            Cty::Seq(_) | Cty::Map(_) => {}
        }
        self.pop_indent();
    }

    fn plain(&mut self, s: &str, ctx: Context) {
        if !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = false;
        self.indention = false;
        if ctx == Context::Root {
            self.open_ended = true;
        }
    }

    fn double_quoted(&mut self, s: &str, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                if let Some(e) = escape(c) {
                    self.put(e);
                } else {
                    let (tag, width) = match c as u32 {
                        0..=0xFF => ('x', 2),
                        0x100..=0xFFFF => ('u', 4),
                        _ => ('U', 8),
                    };
                    self.put(tag);
                    for ch in format!("{:0width$X}", c as u32).chars() {
                        self.put(ch);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < chars.len() - 1
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str) {
        self.indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the text starts with a space or a
        // break, then chomping: `-` without a final break, `+` with more than one.
        if s.starts_with([' ', '\n']) {
            self.indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        self.open_ended = false;
        let chomp = if !s.ends_with('\n') {
            Some("-")
        } else if s == "\n" || s.ends_with("\n\n") {
            Some("+")
        } else {
            None
        };
        // libyaml marks a `+` block open-ended, but writing the indicator clears the mark again,
        // so no `...` follows it.
        if let Some(h) = chomp {
            self.indicator(h, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if c == '\n' {
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// libyaml's `is_printable` (with unicode output on).
fn printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Whether a multi-line string may be a literal block (libyaml's `analyze_scalar`): no space
/// at its end or before a break, only printable characters.
fn block_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let trailing_space = chars.last() == Some(&' ');
    let space_break = chars.windows(2).any(|w| w[0] == ' ' && is_break(w[1]));
    let special = chars.iter().any(|&c| !printable(c));
    !(trailing_space || space_break || special)
}

/// The short escape of a character in a double-quoted scalar, if it has one.
fn escape(c: char) -> Option<char> {
    Some(match c {
        '\0' => '0',
        '\u{7}' => 'a',
        '\u{8}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{b}' => 'v',
        '\u{c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{a0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_and_block_nesting_is_found() {
        let deep = format!("version: {}", "[".repeat(100_000));
        assert_eq!(too_deep(&deep), Some((1, 10 + MAX_DEPTH)));
        let maps = format!("a: {}", "{a: ".repeat(200));
        assert!(too_deep(&maps).is_some());
        let dashes = format!("x:\n  {}1\n", "- ".repeat(300));
        assert_eq!(too_deep(&dashes).map(|p| p.0), Some(2));
    }

    /// A JSON value as a [`Cty`] (test shorthand).
    fn cty(v: serde_json::Value) -> Cty {
        use serde_json::Value as J;
        match v {
            J::Null => Cty::Null,
            J::Bool(b) => Cty::Bool(b),
            J::Number(n) => Cty::Number(n.to_string()),
            J::String(s) => Cty::String(s),
            J::Array(a) => Cty::Seq(a.into_iter().map(cty).collect()),
            J::Object(o) => Cty::Map(o.into_iter().map(|(k, x)| (k, cty(x))).collect()),
        }
    }

    fn enc(v: serde_json::Value) -> String {
        encode_cty(&cty(v))
    }

    // Expected texts are Packer 1.6.6's `yamlencode` (go-cty-yaml 1.0.1), from `packer console`.
    #[test]
    fn scalars_are_spelled_as_go_cty_yaml_does() {
        use serde_json::json;
        assert_eq!(enc(json!(1)), "1\n...\n");
        assert_eq!(enc(json!(1.5)), "1.5\n...\n");
        assert_eq!(enc(json!(true)), "true\n...\n");
        assert_eq!(enc(json!(null)), "null\n...\n");
        assert_eq!(enc(json!("a")), "\"a\"\n");
        assert_eq!(enc(json!("")), "\"\"\n");
        // Strings that read as other types stay strings: every string is quoted.
        assert_eq!(enc(json!("true")), "\"true\"\n");
        assert_eq!(enc(json!("123")), "\"123\"\n");
        assert_eq!(enc(json!("-")), "\"-\"\n");
        assert_eq!(enc(json!([])), "[]\n");
        assert_eq!(enc(json!({})), "{}\n");
        assert_eq!(
            enc(json!({"a": "---", "b": "..."})),
            "\"a\": \"---\"\n\"b\": \"...\"\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_where_a_block_can_hold_them() {
        use serde_json::json;
        assert_eq!(enc(json!("a\nb")), "|-\n  a\n  b\n");
        assert_eq!(enc(json!("a\nb\n")), "|\n  a\n  b\n");
        assert_eq!(enc(json!("a\nb\n\n")), "|+\n  a\n  b\n\n");
        assert_eq!(enc(json!("\n")), "|2+\n\n");
        assert_eq!(enc(json!(" a\nb")), "|2-\n   a\n  b\n");
        // A space before a break, or a tab, rules the block out.
        assert_eq!(enc(json!("a \nb")), "\"a \\nb\"\n");
        assert_eq!(enc(json!("a\tb\nc")), "\"a\\tb\\nc\"\n");
        assert_eq!(
            enc(json!({"k": "line1\nline2"})),
            "\"k\": |-\n  line1\n  line2\n"
        );
        assert_eq!(enc(json!(["a\nb", "c"])), "- |-\n  a\n  b\n- \"c\"\n");
        // A key with a break is a complex key.
        assert_eq!(enc(json!({"multi\nkey": 1})), "? |-\n  multi\n  key\n: 1\n");
    }

    #[test]
    fn collections_keys_and_escapes() {
        use serde_json::json;
        assert_eq!(
            enc(json!({"b": "x", "a": [1, {"z": true, "y": null}], "c": {}, "d": []})),
            "\"a\":\n- 1\n- \"y\": null\n  \"z\": true\n\"b\": \"x\"\n\"c\": {}\n\"d\": []\n"
        );
        assert_eq!(enc(json!([[1, 2], [3]])), "- - 1\n  - 2\n- - 3\n");
        assert_eq!(
            enc(json!([{"a": 1, "b": [1, 2]}, []])),
            "- \"a\": 1\n  \"b\":\n  - 1\n  - 2\n- []\n"
        );
        assert_eq!(
            enc(json!({"a": {"b": {"c": [1, "x"]}}})),
            "\"a\":\n  \"b\":\n    \"c\":\n    - 1\n    - \"x\"\n"
        );
        assert_eq!(
            enc(json!({"with space": 1, "quo\"te": "back\\slash", "é": "ü😀"})),
            "\"quo\\\"te\": \"back\\\\slash\"\n\"with space\": 1\n\"é\": \"ü\\U0001F600\"\n"
        );
        assert_eq!(enc(json!("\u{85}x\u{2028}")), "\"\\Nx\\L\"\n");
    }

    #[test]
    fn long_double_quoted_strings_fold_past_column_80() {
        use serde_json::json;
        let words: Vec<String> = "abcdefghijk"
            .chars()
            .map(|c| c.to_string().repeat(10))
            .collect();
        assert_eq!(
            enc(json!(words.join(" "))),
            format!("\"{}\n  {}\"\n", words[..8].join(" "), words[8..].join(" "))
        );
        let words: Vec<String> = "abcdefghijklmnopq"
            .chars()
            .map(|c| c.to_string().repeat(10))
            .collect();
        // A run of two spaces is not a fold point.
        let text = format!("{}  {}", words[..8].join(" "), words[8..].join(" "));
        assert_eq!(
            enc(json!({ "key": text })),
            format!(
                "\"key\": \"{}\n  {}  {}\n  {}\"\n",
                words[..7].join(" "),
                words[7],
                words[8..15].join(" "),
                words[15..].join(" ")
            )
        );
    }

    #[test]
    fn ordinary_documents_pass() {
        let ok = "version: \"1.0\" # [[[[ not nesting\nprovisioner:\n  type: packer\n  template: t.json\nmetadata:\n  description: 'it''s [ fine {'\n  maintainer: \"a [\\\" b\"\noption_definitions:\n  - namespace: x\n    option_name: [a, [b, {c: d}]]\n";
        assert_eq!(too_deep(ok), None);
    }
}
