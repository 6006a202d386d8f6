//! Parser from tokens to the template tree, following `text/template/parse/parse.go` (Go 1.19,
//! the release the reference Packer 1.6.6 binary was built with): the same grammar, the same
//! error texts, with each error placed on the token at fault.
//!
//! Not supported (a clear error instead): `define`, `template` and `block`.

use std::borrow::Cow;
use std::fmt;

use super::funcs::Func;
use super::lexer::{lex, Kind, Token};

/// A parse error: Go's message (without the `template: root:N:` prefix) and the byte offset of
/// the offending token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub msg: String,
    pub pos: usize,
    /// Where Go's parser was when it failed: its line is the one Go's message names.
    pub go_pos: usize,
}

type PResult<T> = Result<T, ParseError>;

/// A parsed template.
#[derive(Debug)]
pub(crate) struct Tree<'s> {
    pub root: Vec<Node<'s>>,
}

#[derive(Debug)]
pub(crate) enum Node<'s> {
    Text(&'s str),
    Action(Pipe<'s>),
    If(Box<Branch<'s>>),
    Range(Box<Branch<'s>>),
    With(Box<Branch<'s>>),
    Break,
    Continue,
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch<'s> {
    pub pipe: Pipe<'s>,
    pub list: Vec<Node<'s>>,
    pub else_list: Option<Vec<Node<'s>>>,
}

#[derive(Debug)]
pub(crate) struct Pipe<'s> {
    pub pos: usize,
    pub is_assign: bool,
    /// Declared or assigned variables, with their `$`.
    pub decl: Vec<&'s str>,
    pub cmds: Vec<Cmd<'s>>,
}

#[derive(Debug)]
pub(crate) struct Cmd<'s> {
    pub pos: usize,
    pub args: Vec<Arg<'s>>,
}

#[derive(Debug)]
pub(crate) struct Arg<'s> {
    pub pos: usize,
    pub kind: ArgKind<'s>,
}

#[derive(Debug)]
pub(crate) enum ArgKind<'s> {
    Dot,
    Nil,
    Bool(bool),
    Number(Number<'s>),
    /// Unquoted text and the source spelling (for error messages).
    Str(Cow<'s, str>, &'s str),
    /// `.A.B`: field names without dots.
    Field(Vec<&'s str>),
    /// `$x.A.B`: the variable (with `$`) and the field names.
    Variable(&'s str, Vec<&'s str>),
    Ident(Func, &'s str),
    Pipe(Box<Pipe<'s>>),
    /// `(pipeline).A.B`.
    Chain(Box<Arg<'s>>, Vec<&'s str>),
}

/// A numeric constant with the interpretations Go allows for it.
#[derive(Debug, Clone)]
pub(crate) struct Number<'s> {
    pub text: &'s str,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Fits uint64 but not int64.
    pub uint_only: bool,
    /// `'a'` character constants are integers even when written like floats.
    pub is_char: bool,
}

impl Number<'_> {
    /// Go's `idealConstant`: what the constant is when used as a value.
    pub(crate) fn ideal(&self) -> Result<super::value::V<'static>, String> {
        use super::value::V;
        let looks_float = !self.is_char
            && !is_hex_int(self.text)
            && self.text.contains(['.', 'e', 'E', 'p', 'P']);
        if let (Some(f), true) = (self.float, looks_float) {
            return Ok(V::Float(f));
        }
        if let Some(i) = self.int {
            return Ok(V::Int(i));
        }
        if self.uint_only {
            return Err(format!("{} overflows int", self.text));
        }
        match self.float {
            Some(f) => Ok(V::Float(f)),
            None => Err(format!("{} overflows int", self.text)),
        }
    }
}

fn is_hex_int(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    (s.starts_with("0x") || s.starts_with("0X")) && !s.contains(['p', 'P'])
}

/// Go's `underscoreOK`: underscores may only separate digits (or follow a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base prefixes, leading-zero octal, underscores between
/// digits.
fn parse_uint(s: &str) -> Option<u64> {
    if !underscore_ok(s) {
        return None;
    }
    let lower = |p: &str| s.len() >= 2 && s[..2].eq_ignore_ascii_case(p);
    let (digits, radix) = if lower("0x") {
        (&s[2..], 16)
    } else if lower("0o") {
        (&s[2..], 8)
    } else if lower("0b") {
        (&s[2..], 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !clean.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(&clean, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for what the lexer accepts: decimal floats and hexadecimal
/// ones with a binary exponent (`0x1.8p3`).
fn parse_float(s: &str) -> Option<f64> {
    if !underscore_ok(s) {
        return None;
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean[..2].eq_ignore_ascii_case("0x") {
        parse_hex_float(&clean[2..])?
    } else {
        // Rust also accepts "inf"/"nan"; Go's lexer never produces them here.
        if !clean.bytes().any(|b| b.is_ascii_digit())
            || clean
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `MANTISSA[.FRACTION]p[+-]EXP` in hexadecimal with a decimal binary exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exp.checked_sub(4 * frac.len() as i32)?;
    Some(v * 2f64.powi(scale))
}

/// Go's `newNumber` for number tokens.
fn new_number(text: &str) -> Result<Number<'_>, String> {
    if text.ends_with('i') {
        return Err(format!(
            "complex number {} is not supported by rpack",
            super::gofmt::quote(text)
        ));
    }
    let (neg, mag) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut n = Number {
        text,
        int: None,
        float: None,
        uint_only: false,
        is_char: false,
    };
    if let Some(u) = parse_uint(mag) {
        if neg {
            if u <= i64::MAX as u64 + 1 {
                n.int = Some((u as i128).wrapping_neg() as i64);
            }
        } else if u <= i64::MAX as u64 {
            n.int = Some(u as i64);
        } else {
            n.uint_only = true;
        }
        n.float = Some(if neg { -(u as f64) } else { u as f64 });
        return Ok(n);
    }
    match parse_float(text) {
        Some(f) => {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", super::gofmt::quote(text)));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                n.int = Some(f as i64);
            }
            Ok(n)
        }
        None => Err(format!(
            "illegal number syntax: {}",
            super::gofmt::quote(text)
        )),
    }
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals.
pub(crate) fn unquote(text: &str) -> Option<Cow<'_, str>> {
    let b = text.as_bytes();
    if b.len() < 2 {
        return None;
    }
    if b[0] == b'`' {
        let inner = &text[1..text.len() - 1];
        if inner.contains('\r') {
            return Some(Cow::Owned(inner.replace('\r', "")));
        }
        return Some(Cow::Borrowed(inner));
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (bytes, tail) = unquote_char(rest, b'"')?;
        out.extend_from_slice(&bytes);
        rest = tail;
    }
    Some(Cow::Owned(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

/// Go's `strconv.UnquoteChar`: decodes one (possibly escaped) character; returns its UTF-8
/// bytes (or a raw byte for `\x`/octal escapes) and the rest.
pub(crate) fn unquote_char(s: &str, quote: u8) -> Option<(Vec<u8>, &str)> {
    let c = s.chars().next()?;
    if c as u32 == quote as u32 && (quote == b'\'' || quote == b'"') {
        return None;
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        return Some((
            c.encode_utf8(&mut buf).as_bytes().to_vec(),
            &s[c.len_utf8()..],
        ));
    }
    let b = s.as_bytes();
    let e = *b.get(1)?;
    if !e.is_ascii() {
        return None; // `\` before a non-ASCII character is no escape
    }
    let rest = &s[2..];
    let simple = |c: u8| Some((vec![c], rest));
    match e {
        b'a' => simple(7),
        b'b' => simple(8),
        b'f' => simple(12),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(11),
        b'\\' => simple(b'\\'),
        b'\'' | b'"' => {
            if e != quote {
                return None;
            }
            simple(e)
        }
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..n)?;
            let v = u32::from_str_radix(hex, 16).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let tail = &rest[n..];
            if e == b'x' {
                return Some((vec![v as u8], tail));
            }
            let c = char::from_u32(v)?;
            let mut buf = [0u8; 4];
            Some((c.encode_utf8(&mut buf).as_bytes().to_vec(), tail))
        }
        b'0'..=b'7' => {
            let oct = s.get(1..4)?;
            if !oct.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
                return None;
            }
            let v = u32::from_str_radix(oct, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((vec![v as u8], &s[4..]))
        }
        _ => None,
    }
}

fn char_constant(text: &str) -> Result<Number<'_>, String> {
    let inner = &text[1..];
    let malformed = || format!("malformed character constant: {text}");
    let (bytes, tail) = unquote_char(inner, b'\'').ok_or_else(|| "invalid syntax".to_string())?;
    if tail != "'" {
        return Err(malformed());
    }
    let v = match std::str::from_utf8(&bytes) {
        Ok(s) => s.chars().next().map(|c| c as u32).unwrap_or(0),
        Err(_) => bytes[0] as u32,
    };
    Ok(Number {
        text,
        int: Some(v as i64),
        float: Some(v as f64),
        uint_only: false,
        is_char: true,
    })
}

/// Parses `src`; `has_func` says whether a function name exists in this context.
pub(crate) fn parse<'s>(
    src: &'s str,
    has_func: &dyn Fn(&str) -> Option<Func>,
) -> PResult<Tree<'s>> {
    let toks = lex(src);
    let mut p = Parser {
        src,
        toks,
        i: 0,
        vars: vec!["$"],
        has_func,
        depth: 0,
        range_depth: 0,
        action: None,
    };
    let mut root = Vec::new();
    while p.peek().kind != Kind::Eof {
        if p.peek().kind == Kind::LeftDelim {
            let save = p.i;
            let delim = p.next();
            if p.next_non_space().kind == Kind::Define {
                return Err(p.err_at(delim.pos, "{{define}} is not supported by rpack".into()));
            }
            p.i = save;
        }
        let start = p.peek().pos;
        match p.text_or_action()? {
            Item::Node(n) => root.push(n),
            Item::End => return Err(p.err_at(start, "unexpected {{end}}".into())),
            Item::Else(_) => return Err(p.err_at(start, "unexpected {{else}}".into())),
        }
    }
    Ok(Tree { root })
}

impl<'s> Tree<'s> {
    /// Names of the functions the template calls (Packer's `functionsCalled`).
    pub(crate) fn functions(&self) -> std::collections::BTreeSet<&'s str> {
        fn pipe<'s>(p: &Pipe<'s>, out: &mut std::collections::BTreeSet<&'s str>) {
            for c in &p.cmds {
                for a in &c.args {
                    arg(a, out);
                }
            }
        }
        fn arg<'s>(a: &Arg<'s>, out: &mut std::collections::BTreeSet<&'s str>) {
            match &a.kind {
                ArgKind::Ident(_, name) => {
                    out.insert(name);
                }
                ArgKind::Pipe(p) => pipe(p, out),
                ArgKind::Chain(node, _) => arg(node, out),
                _ => {}
            }
        }
        fn list<'s>(nodes: &[Node<'s>], out: &mut std::collections::BTreeSet<&'s str>) {
            for n in nodes {
                match n {
                    Node::Text(_) | Node::Break | Node::Continue => {}
                    Node::Action(p) => pipe(p, out),
                    Node::If(b) | Node::Range(b) | Node::With(b) => {
                        pipe(&b.pipe, out);
                        list(&b.list, out);
                        if let Some(e) = &b.else_list {
                            list(e, out);
                        }
                    }
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        list(&self.root, &mut out);
        out
    }
}

struct Parser<'s, 'f> {
    src: &'s str,
    toks: Vec<Token<'s>>,
    i: usize,
    vars: Vec<&'s str>,
    has_func: &'f dyn Fn(&str) -> Option<Func>,
    /// Nesting of parentheses and control structures, bounded to keep recursion shallow.
    depth: usize,
    /// How many `range` bodies enclose the current position (`break`/`continue` need one).
    range_depth: usize,
    /// Offset of the `{{` of the action being parsed (Go's `actionLine`).
    action: Option<usize>,
}

/// Deepest nesting accepted (Go allows 10000; real templates nest a handful of levels).
const MAX_DEPTH: usize = 200;

/// What `text_or_action` produced.
enum Item<'s> {
    Node(Node<'s>),
    End,
    /// `{{else}}`; `true` when followed by `if` (the `if` token is left pending).
    Else(bool),
}

impl<'s> Parser<'s, '_> {
    fn peek(&self) -> &Token<'s> {
        // The token list always ends with Eof or Error; reading past it repeats that token.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token<'s> {
        let t = self.peek().clone();
        self.i = (self.i + 1).min(self.toks.len());
        t
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn next_non_space(&mut self) -> Token<'s> {
        loop {
            let t = self.next();
            if t.kind != Kind::Space {
                return t;
            }
        }
    }

    /// Skips spaces (like Go, which consumes them and backs up onto the next token).
    fn peek_non_space(&mut self) -> Token<'s> {
        while self.peek().kind == Kind::Space {
            self.i += 1; // a Space token is never the last one
        }
        self.peek().clone()
    }

    fn err_at(&self, pos: usize, msg: String) -> ParseError {
        ParseError {
            msg,
            pos,
            go_pos: pos,
        }
    }

    /// A lexical error token becomes its own message.
    fn lex_error(&self, t: &Token<'s>) -> ParseError {
        ParseError {
            msg: t.msg.clone().unwrap_or_default(),
            pos: t.pos,
            go_pos: t.go_pos,
        }
    }

    fn line_of(&self, pos: usize) -> usize {
        let end = pos.min(self.src.len());
        self.src.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Go's `unexpected`: a lexical error is reported as is (naming the line the action started
    /// on when that differs), anything else as "unexpected X in CONTEXT".
    fn unexpected(&self, t: &Token<'s>, context: &str) -> ParseError {
        if t.kind == Kind::Error {
            let mut e = self.lex_error(t);
            if let Some(action) = self.action {
                let line = self.line_of(action);
                if line != self.line_of(t.go_pos) {
                    if e.msg.ends_with(" action") {
                        e.msg.push_str(&format!(" started at root:{line}"));
                    } else {
                        e.msg
                            .push_str(&format!(" in action started at root:{line}"));
                    }
                }
            }
            return e;
        }
        self.err_at(t.pos, format!("unexpected {t} in {context}"))
    }

    fn text_or_action(&mut self) -> PResult<Item<'s>> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Item::Node(Node::Text(t.val))),
            Kind::LeftDelim => {
                self.action = Some(t.pos);
                let item = self.action(t.pos);
                self.action = None;
                item
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    /// Parses after `{{`; `delim` is the offset of that `{{`.
    fn action(&mut self, delim: usize) -> PResult<Item<'s>> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Block | Kind::Template => {
                return Err(self.err_at(
                    t.pos,
                    format!("{{{{{}}}}} is not supported by rpack", t.val),
                ));
            }
            Kind::Break | Kind::Continue => {
                let close = self.next_non_space();
                if close.kind != Kind::RightDelim {
                    return Err(self.unexpected(&close, &format!("{{{{{}}}}}", t.val)));
                }
                if self.range_depth == 0 {
                    return Err(
                        self.err_at(t.pos, format!("{{{{{}}}}} outside {{{{range}}}}", t.val))
                    );
                }
                let node = if t.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                };
                return Ok(Item::Node(node));
            }
            Kind::Else => return self.else_control(),
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::End);
            }
            Kind::If => return self.control(delim, Ctl::If).map(Item::Node),
            Kind::Range => return self.control(delim, Ctl::Range).map(Item::Node),
            Kind::With => return self.control(delim, Ctl::With).map(Item::Node),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", delim, Kind::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token<'s>> {
        let t = self.next_non_space();
        if t.kind != kind {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn else_control(&mut self) -> PResult<Item<'s>> {
        let t = self.peek_non_space();
        if t.kind == Kind::If {
            return Ok(Item::Else(true));
        }
        self.expect(Kind::RightDelim, "else")?;
        Ok(Item::Else(false))
    }

    /// Items up to `{{end}}` or `{{else}}`; `open` is where the enclosing control started.
    /// Also returns where the closing `{{end}}`/`{{else}}` starts.
    fn item_list(&mut self, open: usize) -> PResult<(Vec<Node<'s>>, Item<'s>, usize)> {
        let mut list = Vec::new();
        loop {
            let t = self.peek_non_space();
            match t.kind {
                Kind::Eof => {
                    let mut e = self.err_at(open, "unexpected EOF".into());
                    e.go_pos = t.pos;
                    return Err(e);
                }
                Kind::Error => return Err(self.lex_error(&t)),
                _ => {}
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                end @ (Item::End | Item::Else(_)) => return Ok((list, end, t.pos)),
            }
        }
    }

    fn control(&mut self, delim: usize, ctl: Ctl) -> PResult<Node<'s>> {
        self.enter(delim)?;
        let mark = self.vars.len();
        let result = self.control_inner(delim, ctl);
        self.vars.truncate(mark);
        self.depth -= 1;
        result
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_at(pos, "max expression depth exceeded".into()));
        }
        Ok(())
    }

    fn control_inner(&mut self, delim: usize, ctl: Ctl) -> PResult<Node<'s>> {
        let pipe = self.pipeline(ctl.name(), delim, Kind::RightDelim)?;
        if ctl == Ctl::Range {
            self.range_depth += 1;
        }
        let body = self.item_list(delim);
        if ctl == Ctl::Range {
            self.range_depth -= 1;
        }
        let (list, next, _) = body?;
        let mut else_list = None;
        if let Item::Else(followed_by_if) = next {
            if followed_by_if && ctl == Ctl::If {
                // {{else if x}} is {{else}}{{if x}}…{{end}} sharing the outer {{end}}.
                let if_tok = self.next_non_space();
                let inner = self.control(if_tok.pos, Ctl::If)?;
                else_list = Some(vec![inner]);
            } else {
                let (list, next, at) = self.item_list(delim)?;
                if !matches!(next, Item::End) {
                    return Err(self.err_at(at, "expected end; found {{else}}".into()));
                }
                else_list = Some(list);
            }
        }
        let b = Box::new(Branch {
            pipe,
            list,
            else_list,
        });
        Ok(match ctl {
            Ctl::If => Node::If(b),
            Ctl::Range => Node::Range(b),
            Ctl::With => Node::With(b),
        })
    }

    /// A pipeline up to and including `end` (`}}`, or `)` inside parentheses).
    fn pipeline(&mut self, context: &str, open: usize, end: Kind) -> PResult<Pipe<'s>> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let save = self.i;
            self.next();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val);
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val);
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        let t = self.peek_non_space();
                        match t.kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => {
                                return Err(self
                                    .err_at(t.pos, "range can only initialize variables".into()))
                            }
                        }
                    }
                    return Err(
                        self.err_at(next.pos, format!("too many declarations in {context}"))
                    );
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            match t.kind {
                k if k == end => {
                    self.check_pipeline(
                        &pipe,
                        context,
                        if pipe.cmds.is_empty() { open } else { t.pos },
                    )?;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe<'s>, context: &str, pos: usize) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.err_at(pos, format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                ArgKind::Bool(_)
                    | ArgKind::Dot
                    | ArgKind::Nil
                    | ArgKind::Number(_)
                    | ArgKind::Str(..)
            ) {
                return Err(self.err_at(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Cmd<'s>> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.err_at(pos, "empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg<'s>>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(&self.next().val[1..]);
        }
        let kind = match node.kind {
            ArgKind::Field(mut f) => {
                f.extend(fields);
                return Ok(Some(Arg {
                    pos: chain_pos,
                    kind: ArgKind::Field(f),
                }));
            }
            ArgKind::Variable(v, mut f) => {
                f.extend(fields);
                return Ok(Some(Arg {
                    pos: chain_pos,
                    kind: ArgKind::Variable(v, f),
                }));
            }
            ArgKind::Bool(_)
            | ArgKind::Str(..)
            | ArgKind::Number(_)
            | ArgKind::Nil
            | ArgKind::Dot => {
                return Err(self.err_at(
                    chain_pos,
                    format!(
                        "unexpected . after term {}",
                        super::gofmt::quote(&node.to_string())
                    ),
                ));
            }
            other => ArgKind::Chain(
                Box::new(Arg {
                    pos: node.pos,
                    kind: other,
                }),
                fields,
            ),
        };
        Ok(Some(Arg {
            pos: chain_pos,
            kind,
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg<'s>>> {
        let t = self.next_non_space();
        let kind = match t.kind {
            Kind::Identifier => match (self.has_func)(t.val) {
                Some(f) => ArgKind::Ident(f, t.val),
                None => {
                    return Err(self.err_at(
                        t.pos,
                        format!("function {} not defined", super::gofmt::quote(t.val)),
                    ))
                }
            },
            Kind::Dot => ArgKind::Dot,
            Kind::Nil => ArgKind::Nil,
            Kind::Variable => {
                if !self.vars.contains(&t.val) {
                    return Err(self.err_at(
                        t.pos,
                        format!("undefined variable {}", super::gofmt::quote(t.val)),
                    ));
                }
                ArgKind::Variable(t.val, Vec::new())
            }
            Kind::Field => ArgKind::Field(vec![&t.val[1..]]),
            Kind::Bool => ArgKind::Bool(t.val == "true"),
            Kind::CharConstant => {
                ArgKind::Number(char_constant(t.val).map_err(|m| self.err_at(t.pos, m))?)
            }
            Kind::Number => ArgKind::Number(new_number(t.val).map_err(|m| self.err_at(t.pos, m))?),
            Kind::Complex => {
                return Err(self.err_at(
                    t.pos,
                    format!(
                        "complex number {} is not supported by rpack",
                        super::gofmt::quote(t.val)
                    ),
                ))
            }
            Kind::LeftParen => {
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline", t.pos, Kind::RightParen)?;
                self.depth -= 1;
                ArgKind::Pipe(Box::new(pipe))
            }
            Kind::String | Kind::RawString => match unquote(t.val) {
                Some(s) => ArgKind::Str(s, t.val),
                None => return Err(self.err_at(t.pos, "invalid syntax".into())),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: t.pos, kind }))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctl {
    If,
    Range,
    With,
}

impl Ctl {
    fn name(self) -> &'static str {
        match self {
            Ctl::If => "if",
            Ctl::Range => "range",
            Ctl::With => "with",
        }
    }
}

// Go's `Node.String()` renderings, used as the `<…>` context of execution errors.

impl fmt::Display for Arg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(n) => f.write_str(n.text),
            ArgKind::Str(_, quoted) => f.write_str(quoted),
            ArgKind::Field(fields) => {
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            ArgKind::Variable(v, fields) => {
                f.write_str(v)?;
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            ArgKind::Ident(_, name) => f.write_str(name),
            ArgKind::Pipe(p) => write!(f, "({p})"),
            ArgKind::Chain(node, fields) => {
                write!(f, "{node}")?;
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Cmd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, b) = match self {
            Node::Text(t) => return f.write_str(t),
            Node::Action(p) => return write!(f, "{{{{{p}}}}}"),
            Node::Break => return f.write_str("{{break}}"),
            Node::Continue => return f.write_str("{{continue}}"),
            Node::If(b) => ("if", b),
            Node::Range(b) => ("range", b),
            Node::With(b) => ("with", b),
        };
        write!(f, "{{{{{name} {}}}}}", b.pipe)?;
        for n in &b.list {
            write!(f, "{n}")?;
        }
        if let Some(e) = &b.else_list {
            f.write_str("{{else}}")?;
            for n in e {
                write!(f, "{n}")?;
            }
        }
        f.write_str("{{end}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs(name: &str) -> Option<Func> {
        super::super::funcs::lookup(name, false)
    }

    fn round_trip(src: &str) -> String {
        let tree = parse(src, &funcs).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        tree.root.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn parses_and_prints_back() {
        let cases = [
            ("", ""),
            ("text", "text"),
            ("{{.}}", "{{.}}"),
            ("{{ .A.B }}", "{{.A.B}}"),
            ("{{$x := 1}}{{$x}}", "{{$x := 1}}{{$x}}"),
            ("{{ user `a` | upper }}", "{{user `a` | upper}}"),
            ("{{ (user \"a\").B }}", "{{(user \"a\").B}}"),
            (
                "{{if .A}}a{{else if .B}}b{{else}}c{{end}}",
                "{{if .A}}a{{else}}{{if .B}}b{{else}}c{{end}}{{end}}",
            ),
            (
                "{{range $i, $v := .L}}{{$i}}{{end}}",
                "{{range $i, $v := .L}}{{$i}}{{end}}",
            ),
            (
                "{{with $x := .A}}{{$x}}{{else}}none{{end}}",
                "{{with $x := .A}}{{$x}}{{else}}none{{end}}",
            ),
            ("a {{- 1 -}} b", "a{{1}}b"),
            ("{{/* comment */}}x", "x"),
            (
                "{{'a'}}{{0x10}}{{1e3}}{{-2}}{{nil | print}}",
                "{{'a'}}{{0x10}}{{1e3}}{{-2}}{{nil | print}}",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(round_trip(src), want, "{src}");
        }
    }

    #[test]
    fn numbers() {
        let int = |s: &str| new_number(s).ok().and_then(|n| n.int);
        assert_eq!(int("42"), Some(42));
        assert_eq!(int("-42"), Some(-42));
        assert_eq!(int("0x1F"), Some(31));
        assert_eq!(int("017"), Some(15));
        assert_eq!(int("0o17"), Some(15));
        assert_eq!(int("0b101"), Some(5));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("1__000"), None);
        assert_eq!(int("0x_1F"), Some(31));
        assert_eq!(new_number("0x1p4").unwrap().float, Some(16.0));
        assert_eq!(new_number("0x1.8p1").unwrap().float, Some(3.0));
        assert_eq!(int("2.0"), Some(2));
        assert_eq!(int("1e3"), Some(1000));
        assert_eq!(int("2.5"), None);
        assert!(new_number("18446744073709551615").unwrap().uint_only);
        assert_eq!(
            new_number("99999999999999999999").unwrap_err(),
            "integer overflow: \"99999999999999999999\""
        );
        assert_eq!(new_number("-").unwrap_err(), "illegal number syntax: \"-\"");
        assert_eq!(
            new_number("1.2.3").unwrap_err(),
            "illegal number syntax: \"1.2.3\""
        );
        assert_eq!(char_constant("'a'").unwrap().int, Some(97));
        assert_eq!(char_constant(r"'\n'").unwrap().int, Some(10));
        assert_eq!(
            char_constant("'ab'").unwrap_err(),
            "malformed character constant: 'ab'"
        );
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"a\\tb\"").as_deref(), Some("a\tb"));
        assert_eq!(
            unquote("\"\\u00e9\\x41\\101\\\"\"").as_deref(),
            Some("éAA\"")
        );
        assert_eq!(unquote("`a\\tb`").as_deref(), Some("a\\tb"));
        assert_eq!(unquote("`a\r\nb`").as_deref(), Some("a\nb"));
        assert_eq!(unquote("\"\\'\""), None);
        assert_eq!(unquote("\"\\q\""), None);
        assert_eq!(unquote("\"\\400\""), None);
        // Found by fuzzing: a backslash before a multi-byte character.
        assert_eq!(unquote("\"\\\u{616}0\""), None);
        assert_eq!(char_constant("'\\é'").unwrap_err(), "invalid syntax");
    }

    /// Every parse error: message and the byte offset it points at.
    #[test]
    fn parse_errors() {
        let cases: &[(&str, &str, usize)] = &[
            ("{{ nope }}", "function \"nope\" not defined", 3),
            (
                "abc {{ user `a` | nope `b` }}",
                "function \"nope\" not defined",
                18,
            ),
            ("{{", "unclosed action", 0),
            ("x{{ .A ", "unclosed action", 1),
            ("{{}}", "missing value for command", 0),
            ("{{ }}", "missing value for command", 0),
            ("{{if}}{{end}}", "missing value for if", 0),
            ("{{if .A}}x", "unexpected EOF", 0),
            ("a\n{{range .A}}x{{else}}y", "unexpected EOF", 2),
            ("{{end}}", "unexpected {{end}}", 0),
            ("x{{else}}", "unexpected {{else}}", 1),
            (
                "{{if 1}}{{else}}{{else}}{{end}}",
                "expected end; found {{else}}",
                16,
            ),
            ("{{end x}}", "unexpected \"x\" in end", 6),
            ("{{else x}}", "unexpected \"x\" in else", 7),
            ("{{ $x }}", "undefined variable \"$x\"", 3),
            (
                "{{if $x := 1}}{{end}}{{$x}}",
                "undefined variable \"$x\"",
                23,
            ),
            (
                "{{ 1 | 2 }}",
                "non executable command in pipeline stage 2",
                7,
            ),
            (
                "{{ .A | \"s\" }}",
                "non executable command in pipeline stage 2",
                8,
            ),
            ("{{ \"a\"\"b\" }}", "unexpected \"\\\"b\\\"\" in operand", 6),
            ("{{ \"a\".B }}", "unexpected . after term \"\\\"a\\\"\"", 6),
            ("{{ \"\\q\" }}", "invalid syntax", 3),
            ("{{ | print }}", "unexpected \"|\" in command", 3),
            ("{{ 3x }}", "bad number syntax: \"3x\"", 3),
            ("{{ print 3x }}", "bad number syntax: \"3x\"", 9),
            ("{{ - }}", "illegal number syntax: \"-\"", 3),
            (
                "{{ 1+2i }}",
                "complex number \"1+2i\" is not supported by rpack",
                3,
            ),
            (
                "{{define \"x\"}}{{end}}",
                "{{define}} is not supported by rpack",
                0,
            ),
            (
                "{{template \"x\"}}",
                "{{template}} is not supported by rpack",
                2,
            ),
            (
                "{{block \"x\" .}}{{end}}",
                "{{block}} is not supported by rpack",
                2,
            ),
            (
                "{{range $a, $b, $c := .}}{{end}}",
                "too many declarations in range",
                14,
            ),
            (
                "{{if $a, $b := .}}{{end}}",
                "too many declarations in if",
                7,
            ),
            (
                "{{range $a, 1}}{{end}}",
                "range can only initialize variables",
                12,
            ),
            ("{{/* x", "unclosed comment", 0),
            ("{{ print (1 }}", "unclosed left paren", 9),
            (
                "{{ (1 | 2) }}",
                "non executable command in pipeline stage 2",
                8,
            ),
            ("{{ 'ab' }}", "malformed character constant: 'ab'", 3),
        ];
        for (src, msg, pos) in cases {
            let err = parse(src, &funcs)
                .err()
                .unwrap_or_else(|| panic!("{src}: parsed"));
            assert_eq!((err.msg.as_str(), err.pos), (*msg, *pos), "{src}");
        }
    }

    /// The intent of Packer's `TestFunctionsCalled`.
    #[test]
    fn functions_called() {
        let called = |src: &str| -> Vec<String> {
            let tree = parse(src, &funcs).unwrap();
            tree.functions().into_iter().map(String::from).collect()
        };
        assert!(called("foo").is_empty());
        assert_eq!(called("foo {{user `bar`}}"), vec!["user"]);
        assert_eq!(
            called("{{ if eq (env `A`) `b` }}{{ (upper .X).Y }}{{ else }}{{ lower `x` | print }}{{ end }}"),
            vec!["env", "eq", "lower", "print", "upper"]
        );
    }

    #[test]
    fn variables_scope_to_their_control() {
        assert!(parse("{{$x := 1}}{{if .}}{{$x}}{{end}}{{$x}}", &funcs).is_ok());
        assert!(parse("{{range $i, $v := .}}{{$i}}{{$v}}{{$}}{{end}}", &funcs).is_ok());
        assert!(parse("{{with $x := 1}}{{end}}{{$x}}", &funcs).is_err());
        assert!(parse("{{$x := 1}}{{$x = 2}}", &funcs).is_ok());
    }
}
