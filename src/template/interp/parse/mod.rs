//! Parser from tokens to the template tree, following `text/template/parse/parse.go` (Go 1.19,
//! the release the reference Packer 1.6.6 binary was built with): the same grammar, the same
//! error texts, with each error placed on the token at fault.
//!
//! Not supported (a clear error instead): `define`, `template` and `block`.

use std::borrow::Cow;

use super::funcs::Func;
use super::lexer::{lex, Kind, Token};
pub(crate) use super::literal::Number;
use super::literal::{char_constant, new_number, unquote};

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

#[cfg(test)]
mod tests;
