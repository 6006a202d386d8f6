//! A JSON parser that keeps the position of every value, rejects duplicate keys at any depth and
//! reports syntax errors the way Packer does (line, column, offset and a caret excerpt).
//!
//! The scanner follows Go's `encoding/json` state machine closely so that the error texts
//! (`invalid character '}' looking for beginning of object key string`) and the byte offsets
//! Packer prints come out identical. Like Packer, a syntax error anywhere wins over a duplicate
//! key, and the first duplicate in document order is the one reported.

use std::collections::HashSet;
use std::fmt;

/// Where a value starts in the source text. `line` and `col` are 1-based; `offset` is a byte offset.
/// `file` indexes [`crate::template::parse::Template::files`]: always 0 in a JSON template (one
/// file); an HCL2 template from a directory numbers its files in load order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
    pub file: u32,
}

/// A JSON value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's source text is kept so `5` and `5.0` can be told apart like Go does.
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Object),
}

/// A JSON object in source order. Keys are unique (duplicates are a parse error).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    pub entries: Vec<(String, Pos, Node)>,
}

impl Object {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, n)| n)
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _, _)| k.as_str())
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Object> {
        match &self.value {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl Value {
    /// Go's name for the JSON type as `encoding/json` decodes it into `interface{}`
    /// (used in mapstructure-style messages: `got unconvertible type 'float64'`).
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Null => "<nil>",
            Value::Bool(_) => "bool",
            Value::Number(_) => "float64",
            Value::String(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Object(_) => "map[string]interface {}",
        }
    }
}

impl Object {
    /// The position of `key` itself (not its value).
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, p, _)| *p)
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Why a template's JSON could not be read. `Display` gives Packer's exact text (without the
/// CLI's `Failed to parse template: ` prefix).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    /// Go's syntax message, where Packer says it is (Packer's own line/column arithmetic, which
    /// counts columns from 1 after a newline but from 0 on the first line) and the excerpt.
    #[error(
        "Error parsing JSON: {message}\nAt line {line}, column {col} (offset {offset}):\n{excerpt}"
    )]
    Syntax {
        message: String,
        offset: usize,
        line: u32,
        col: u32,
        excerpt: String,
    },
    /// The first key that appears twice in one object, with the position of its second occurrence.
    #[error("template has duplicate field: {key}")]
    DuplicateField { key: String, pos: Pos },
}

/// Parses `src` into positioned nodes.
pub fn parse(src: &str) -> Result<Node, JsonError> {
    let mut p = Parser {
        src: src.as_bytes(),
        text: src,
        i: 0,
        line: 1,
        line_start: 0,
        col_at: (1, 0, 0),
        depth: 0,
        dup: None,
    };
    let node = super::json_stack::on_deep_stack(src, || {
        p.parse_document().map_err(|e| p.syntax_error(e))
    })?;
    match p.dup.take() {
        Some((key, pos)) => Err(JsonError::DuplicateField { key, pos }),
        None => Ok(node),
    }
}

/// Parses `src` like [`parse`] but lets a repeated key through (later wins when read in order),
/// as Go's `encoding/json` does for `-var-file` files.
pub fn parse_allowing_duplicates(src: &str) -> Result<Node, JsonError> {
    let mut p = Parser {
        src: src.as_bytes(),
        text: src,
        i: 0,
        line: 1,
        line_start: 0,
        col_at: (1, 0, 0),
        depth: 0,
        dup: None,
    };
    super::json_stack::on_deep_stack(src, || p.parse_document().map_err(|e| p.syntax_error(e)))
}

/// A syntax error before it is positioned: Go's message and Go's `SyntaxError.Offset`.
struct RawSyntax {
    message: String,
    offset: usize,
}

struct Parser<'s> {
    src: &'s [u8],
    text: &'s str,
    i: usize,
    line: u32,
    line_start: usize,
    /// The last position asked for (line, byte index, characters before it on that line), so
    /// [`Parser::pos`] counts only the characters since then: linear even on one-line files.
    col_at: (u32, usize, usize),
    /// How many arrays and objects are open at the cursor.
    depth: usize,
    dup: Option<(String, Pos)>,
}

/// Go's `encoding/json` nesting limit (`maxNestingDepth`), which Packer inherits: the 10,001st
/// open array or object is a syntax error. It also keeps the recursive parser off the stack's end.
pub const MAX_DEPTH: usize = 10_000;

/// What the scanner was doing when it met a bad byte (Go's context strings).
const BEGIN_VALUE: &str = "looking for beginning of value";
const BEGIN_KEY: &str = "looking for beginning of object key string";
const AFTER_KEY: &str = "after object key";
const AFTER_PAIR: &str = "after object key:value pair";
const AFTER_ELEM: &str = "after array element";
const AFTER_TOP: &str = "after top-level value";

impl Parser<'_> {
    fn pos(&mut self) -> Pos {
        let (from, before) = match self.col_at {
            (line, at, chars) if line == self.line && at <= self.i => (at, chars),
            _ => (self.line_start, 0),
        };
        let chars = before + self.text.get(from..self.i).map_or(0, |s| s.chars().count());
        self.col_at = (self.line, self.i, chars);
        let col = chars + 1;
        Pos {
            offset: self.i,
            line: self.line,
            col: col as u32,
            file: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    /// Error on the byte at the cursor (Go reports the offset just past it). Go's scanner works
    /// on bytes, so a non-ASCII lead byte is printed as the rune of that byte value.
    fn bad(&self, context: &str) -> RawSyntax {
        match self.peek() {
            Some(c) => RawSyntax {
                message: format!("invalid character {} {context}", quote_char(char::from(c))),
                offset: self.i + 1,
            },
            None => self.eof(),
        }
    }

    fn eof(&self) -> RawSyntax {
        RawSyntax {
            message: "unexpected end of JSON input".into(),
            offset: self.src.len(),
        }
    }

    /// At end of input Go feeds the scanner one space: states that cannot take a space report
    /// it as the invalid character.
    fn eof_as_space(&self, context: &str) -> RawSyntax {
        RawSyntax {
            message: format!("invalid character ' ' {context}"),
            offset: self.src.len(),
        }
    }

    fn parse_document(&mut self) -> Result<Node, RawSyntax> {
        self.skip_ws();
        let node = self.parse_value()?;
        self.skip_ws();
        if self.peek().is_some() {
            return Err(self.bad(AFTER_TOP));
        }
        Ok(node)
    }

    fn parse_value(&mut self) -> Result<Node, RawSyntax> {
        let pos = self.pos();
        let value = match self.peek() {
            None => return Err(self.eof()),
            Some(b'{' | b'[') if self.depth >= MAX_DEPTH => {
                return Err(self.bad("exceeded max depth"))
            }
            Some(b'{') => {
                self.depth += 1;
                let v = self.parse_object()?;
                self.depth -= 1;
                v
            }
            Some(b'[') => {
                self.depth += 1;
                let v = self.parse_array()?;
                self.depth -= 1;
                v
            }
            Some(b'"') => Value::String(self.parse_string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(self.parse_number()?),
            Some(b't') => {
                self.literal("true")?;
                Value::Bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                Value::Bool(false)
            }
            Some(b'n') => {
                self.literal("null")?;
                Value::Null
            }
            Some(_) => return Err(self.bad(BEGIN_VALUE)),
        };
        Ok(Node { value, pos })
    }

    fn literal(&mut self, word: &'static str) -> Result<(), RawSyntax> {
        self.i += 1;
        for expect in word.bytes().skip(1) {
            let context = format!("in literal {word} (expecting '{}')", expect as char);
            match self.peek() {
                Some(c) if c == expect => self.i += 1,
                Some(_) => return Err(self.bad(&context)),
                None => return Err(self.eof_as_space(&context)),
            }
        }
        Ok(())
    }

    fn parse_object(&mut self) -> Result<Value, RawSyntax> {
        self.i += 1;
        let mut obj = Object::default();
        let mut seen: Option<HashSet<String>> = None;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(obj));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.bad(BEGIN_KEY));
            }
            let key_pos = self.pos();
            let key = self.parse_string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.bad(AFTER_KEY));
            }
            self.i += 1;
            self.skip_ws();
            let node = self.parse_value()?;
            if self.dup.is_none() {
                let is_dup = if let Some(set) = &mut seen {
                    !set.insert(key.clone())
                } else {
                    let dup = obj.entries.iter().any(|(k, _, _)| *k == key);
                    if obj.entries.len() >= 16 {
                        seen = Some(
                            obj.entries
                                .iter()
                                .map(|(k, _, _)| k.clone())
                                .chain([key.clone()])
                                .collect(),
                        );
                    }
                    dup
                };
                if is_dup {
                    self.dup = Some((key.clone(), key_pos));
                }
            }
            obj.entries.push((key, key_pos, node));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(obj));
                }
                _ => return Err(self.bad(AFTER_PAIR)),
            }
        }
    }

    fn parse_array(&mut self) -> Result<Value, RawSyntax> {
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.parse_value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.bad(AFTER_ELEM)),
            }
        }
    }

    fn parse_string(&mut self) -> Result<String, RawSyntax> {
        self.i += 1;
        let mut out = String::new();
        let mut run_start = self.i;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            match c {
                b'"' => {
                    out.push_str(&self.text[run_start..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run_start..self.i]);
                    self.i += 1;
                    self.parse_escape(&mut out)?;
                    run_start = self.i;
                }
                c if c < 0x20 => return Err(self.bad("in string literal")),
                _ => self.i += 1,
            }
        }
    }

    fn parse_escape(&mut self, out: &mut String) -> Result<(), RawSyntax> {
        const CTX: &str = "in string escape code";
        let Some(c) = self.peek() else {
            return Err(self.eof_as_space(CTX));
        };
        self.i += 1;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) && self.src[self.i..].starts_with(b"\\u") {
                    // A surrogate pair is only combined when a valid low half follows.
                    let save = self.i;
                    self.i += 2;
                    let second = self.hex4()?;
                    if (0xDC00..0xE000).contains(&second) {
                        let cp = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        return Ok(());
                    }
                    out.push('\u{FFFD}');
                    self.i = save;
                    return Ok(());
                }
                out.push(char::from_u32(first).unwrap_or('\u{FFFD}'));
            }
            _ => {
                self.i -= 1;
                return Err(self.bad(CTX));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, RawSyntax> {
        const CTX: &str = "in \\u hexadecimal character escape";
        let mut v = 0u32;
        for _ in 0..4 {
            match self.peek() {
                Some(c) if c.is_ascii_hexdigit() => {
                    v = v * 16 + (c as char).to_digit(16).unwrap_or(0);
                    self.i += 1;
                }
                Some(_) => return Err(self.bad(CTX)),
                None => return Err(self.eof_as_space(CTX)),
            }
        }
        Ok(v)
    }

    fn parse_number(&mut self) -> Result<String, RawSyntax> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            match self.peek() {
                Some(b'0'..=b'9') => {}
                Some(_) => return Err(self.bad("in numeric literal")),
                None => return Err(self.eof_as_space("in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            const CTX: &str = "after decimal point in numeric literal";
            match self.peek() {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return Err(self.bad(CTX)),
                None => return Err(self.eof_as_space(CTX)),
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            const CTX: &str = "in exponent of numeric literal";
            match self.peek() {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return Err(self.bad(CTX)),
                None => return Err(self.eof_as_space(CTX)),
            }
        }
        Ok(self.text[start..self.i].to_string())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// Positions a syntax error the way Packer's `highlightPosition` does.
    fn syntax_error(&self, e: RawSyntax) -> JsonError {
        let (line, col, excerpt) = highlight_position(self.src, e.offset);
        JsonError::Syntax {
            message: e.message,
            offset: e.offset,
            line,
            col,
            excerpt,
        }
    }
}

/// Go's `quoteChar`: `'\''`, `'"'`, otherwise the `strconv.Quote` body in single quotes.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

pub(crate) use crate::gocompat::strconv::quote as go_quote;

/// Packer's `highlightPosition`: walks the first `offset` bytes, and shows the line before and the
/// line up to the error with a caret. Its column arithmetic is kept as is (the first line counts
/// from 0, later lines from 1) because users compare our output with Packer's.
fn highlight_position(src: &[u8], offset: usize) -> (u32, u32, String) {
    let mut line = 1u32;
    let mut col = 0u32;
    let mut last_line: &[u8] = &[];
    let mut this_start = 0usize;
    let end = offset.min(src.len());
    for (n, &b) in src[..end].iter().enumerate() {
        if b == b'\n' {
            last_line = &src[this_start..n];
            this_start = n + 1;
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    let this_line = &src[this_start..end];
    let mut out = String::new();
    if line > 1 {
        out.push_str(&format!(
            "{:5}: {}\n",
            line - 1,
            String::from_utf8_lossy(last_line)
        ));
    }
    out.push_str(&format!(
        "{:5}: {}\n",
        line,
        String::from_utf8_lossy(this_line)
    ));
    out.push_str(&" ".repeat(col as usize + 5));
    out.push_str("^\n");
    (line, col, out)
}

/// Where a syntax error at Go's `offset` is, as an editor counts it: the 1-based line and the
/// 1-based column in characters of the byte that stopped the scanner (of the last byte at end
/// of input). Packer's own "At line, column" keeps its odd arithmetic; this one is for the
/// `file:line:col` rpack adds.
pub fn syntax_error_pos(src: &str, offset: usize) -> Pos {
    let bytes = src.as_bytes();
    let at = offset.saturating_sub(1).min(bytes.len());
    let before = &bytes[..at];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Characters, not bytes: count every byte that does not continue a UTF-8 sequence.
    let col = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    Pos {
        offset: at,
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
        file: 0,
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(src: &str) -> String {
        parse(src).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_read_like_packer() {
        let src = "{\n  \"builders\": [\n    {\n      \"type\":\"test\",\n    }\n  ]\n}\n";
        assert_eq!(
            syntax(src),
            "Error parsing JSON: invalid character '}' looking for beginning of object key string\n\
             At line 5, column 6 (offset 50):\n    4:       \"type\":\"test\",\n    5:     }\n           ^\n"
        );
        assert_eq!(
            syntax("*"),
            "Error parsing JSON: invalid character '*' looking for beginning of value\nAt line 1, column 1 (offset 1):\n    1: *\n      ^\n"
        );
        assert_eq!(
            syntax(r#"{"builders":[{"type":"test"}]*"#),
            "Error parsing JSON: invalid character '*' after object key:value pair\nAt line 1, column 30 (offset 30):\n    1: {\"builders\":[{\"type\":\"test\"}]*\n                                   ^\n"
        );
    }

    #[test]
    fn go_scanner_messages() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            ("[1 2]", "invalid character '2' after array element"),
            ("{} {}", "invalid character '{' after top-level value"),
            (
                "tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            (
                "nul!",
                "invalid character '!' in literal null (expecting 'l')",
            ),
            ("-x", "invalid character 'x' in numeric literal"),
            (
                "1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            ("01", "invalid character '1' after top-level value"),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            ("\"\\q\"", "invalid character 'q' in string escape code"),
            (
                "\"\\u12x4\"",
                "invalid character 'x' in \\u hexadecimal character escape",
            ),
            (
                "{'a':1}",
                "invalid character '\\'' looking for beginning of object key string",
            ),
        ];
        for (src, want) in cases {
            match parse(src) {
                Err(JsonError::Syntax { message, .. }) => assert_eq!(message, want, "for {src:?}"),
                other => panic!("{src:?}: expected a syntax error, got {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_keys_at_any_depth() {
        let err =
            parse(r#"{"variables":{"a":"1"},"builders":[{"foo":"x","foo":"y"}]}"#).unwrap_err();
        assert_eq!(err.to_string(), "template has duplicate field: foo");
        let err = parse("{\"variables\":{},\n\"variables\":{}}").unwrap_err();
        assert!(
            matches!(err, JsonError::DuplicateField { ref key, pos } if key == "variables" && pos.line == 2)
        );
        // A syntax error later in the file wins over an earlier duplicate, as in Packer.
        assert!(matches!(
            parse(r#"{"a":1,"a":2,}"#),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn values_keep_positions_and_text() {
        let node = parse("{\n  \"a\": [1.50, \"x\\u00e9\\ud83d\\ude00\", true, null]\n}").unwrap();
        let obj = node.as_object().unwrap();
        assert_eq!(
            obj.key_pos("a"),
            Some(Pos {
                offset: 4,
                line: 2,
                col: 3,
                file: 0
            })
        );
        let items = obj.get("a").unwrap().as_array().unwrap();
        assert_eq!(items[0].value, Value::Number("1.50".into()));
        assert_eq!(
            items[0].pos,
            Pos {
                offset: 10,
                line: 2,
                col: 9,
                file: 0
            }
        );
        assert_eq!(items[1].as_str(), Some("xé😀"));
        assert_eq!(items[2].value, Value::Bool(true));
        assert_eq!(items[3].value, Value::Null);
    }

    #[test]
    fn nesting_stops_at_go_max_depth() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let ok = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || parse(&deep(MAX_DEPTH)).is_ok())
            .unwrap()
            .join()
            .unwrap();
        assert!(ok);
        match parse(&"[".repeat(MAX_DEPTH + 50)) {
            Err(JsonError::Syntax {
                message,
                offset,
                line,
                col,
                ..
            }) => {
                assert_eq!(message, "invalid character '[' exceeded max depth");
                assert_eq!((offset, line, col), (10_001, 1, 10_001));
            }
            other => panic!("{other:?}"),
        }
        let obj = format!("{}1", r#"{"a":"#.repeat(MAX_DEPTH + 1));
        assert!(parse(&obj)
            .unwrap_err()
            .to_string()
            .contains("exceeded max depth"));
    }

    #[test]
    fn columns_on_one_long_line() {
        let src = format!("[{}\"é\", 7]", "1,".repeat(50_000));
        let node = parse(&src).unwrap();
        let items = node.as_array().unwrap();
        assert_eq!(items[50_000].pos.col, 100_002);
        assert_eq!(items[50_001].pos.col, 100_007);
    }
}
