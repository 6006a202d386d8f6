//! Tokenizer for Go `text/template` source, following `text/template/parse/lex.go` of the Go
//! release the reference Packer 1.6.6 binary was built with (1.19): `{{ }}` delimiters with
//! `{{- -}}` trim markers, comments, the tokens allowed inside actions (which may span lines),
//! and the `break`/`continue` keywords.
//!
//! The whole input is tokenized up front; a lexical error becomes the last token, so the parser
//! reports it only when it gets that far, exactly like Go's concurrent lexer.

/// What a token is. Keywords come after `Keyword` so `is_keyword` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Dot,
    Block,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
    Break,
    Continue,
}

impl Kind {
    pub(crate) fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Dot
                | Kind::Block
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Nil
                | Kind::Range
                | Kind::Template
                | Kind::With
                | Kind::Break
                | Kind::Continue
        )
    }
}

/// One token. `val` borrows the source, except for errors whose message is owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'s> {
    pub kind: Kind,
    /// Byte offset of the token (for errors: of the construct at fault).
    pub pos: usize,
    /// For errors: where Go's lexer says the failing lexeme starts (its line is the one Go's
    /// message names). Equal to `pos` otherwise.
    pub go_pos: usize,
    pub val: &'s str,
    /// Error message when `kind == Kind::Error`.
    pub msg: Option<String>,
}

impl std::fmt::Display for Token<'_> {
    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(self.msg.as_deref().unwrap_or("")),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", super::gofmt::quote(&head))
            }
            _ => f.write_str(&super::gofmt::quote(self.val)),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

/// Go's `isSpace` (since Go 1.16 actions may contain newlines).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// Go's `%#U` rendering of a character: `U+0029 ')'`.
pub(crate) fn fmt_u(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

/// Tokenizes `src`. The result always ends with an `Eof` or an `Error` token.
pub(crate) fn lex(src: &str) -> Vec<Token<'_>> {
    let mut l = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        toks: Vec::new(),
        parens: Vec::new(),
    };
    l.run();
    l.toks
}

struct Lexer<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    toks: Vec<Token<'s>>,
    /// Offsets of the open `(` of the current action.
    parens: Vec<usize>,
}

enum Step {
    Continue,
    Stop,
}

impl Lexer<'_> {
    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.toks.push(Token {
            kind,
            pos: start,
            go_pos: start,
            val: &self.src[start..end],
            msg: None,
        });
    }

    fn error(&mut self, pos: usize, msg: String) -> Step {
        self.error_at(pos, pos, msg)
    }

    /// An error pointing at `pos` that Go reports on the line of `go_pos`.
    fn error_at(&mut self, pos: usize, go_pos: usize, msg: String) -> Step {
        self.toks.push(Token {
            kind: Kind::Error,
            pos,
            go_pos,
            val: "",
            msg: Some(msg),
        });
        Step::Stop
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn run(&mut self) {
        loop {
            // Text up to the next left delimiter.
            let start = self.pos;
            match find(self.b, LEFT.as_bytes(), start) {
                None => {
                    if start < self.b.len() {
                        self.emit(Kind::Text, start, self.b.len());
                    }
                    let end = self.b.len();
                    self.toks.push(Token {
                        kind: Kind::Eof,
                        pos: end,
                        go_pos: end,
                        val: "",
                        msg: None,
                    });
                    return;
                }
                Some(x) => {
                    let trim = self.has_left_trim(x + LEFT.len());
                    let mut end = x;
                    if trim {
                        while end > start && is_space(self.b[end - 1]) {
                            end -= 1;
                        }
                    }
                    if end > start {
                        self.emit(Kind::Text, start, end);
                    }
                    self.pos = x;
                    if let Step::Stop = self.left_delim(trim) {
                        return;
                    }
                }
            }
        }
    }

    /// `{{- ` : a minus followed by white space right after the delimiter.
    fn has_left_trim(&self, at: usize) -> bool {
        at + 1 < self.b.len() && self.b[at] == b'-' && is_space(self.b[at + 1])
    }

    /// ` -}}` or `}}` at the current position: (is delimiter, has trim marker).
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.b[self.pos..];
        if rest.len() >= 4 && is_space(rest[0]) && rest[1] == b'-' && &rest[2..4] == b"}}" {
            return (true, true);
        }
        (rest.starts_with(RIGHT.as_bytes()), false)
    }

    fn skip_trim_space(&mut self) {
        while self.pos < self.b.len() && is_space(self.b[self.pos]) {
            self.pos += 1;
        }
    }

    fn left_delim(&mut self, trim: bool) -> Step {
        let delim_pos = self.pos;
        self.pos += LEFT.len();
        if trim {
            self.pos += 2;
        }
        if self.b[self.pos..].starts_with(b"/*") {
            return self.comment(delim_pos);
        }
        self.emit(Kind::LeftDelim, delim_pos, delim_pos + LEFT.len());
        self.parens.clear();
        self.inside_action(delim_pos)
    }

    fn comment(&mut self, delim_pos: usize) -> Step {
        let comment_start = self.pos;
        let Some(i) = find(self.b, b"*/", self.pos + 2) else {
            return self.error_at(delim_pos, comment_start, "unclosed comment".into());
        };
        self.pos = i + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            let at = self.pos;
            return self.error_at(
                at,
                comment_start,
                "comment ends before closing delimiter".into(),
            );
        }
        self.pos += RIGHT.len() + if trim { 2 } else { 0 };
        if trim {
            self.skip_trim_space();
        }
        Step::Continue
    }

    fn inside_action(&mut self, delim_pos: usize) -> Step {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if let Some(&open) = self.parens.last() {
                    let at = self.pos;
                    return self.error_at(open, at, "unclosed left paren".into());
                }
                if trim {
                    self.pos += 2;
                }
                self.emit(Kind::RightDelim, self.pos, self.pos + RIGHT.len());
                self.pos += RIGHT.len();
                if trim {
                    self.skip_trim_space();
                }
                return Step::Continue;
            }
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                return self.error_at(delim_pos, start, "unclosed action".into());
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    let mut end = start;
                    while end < self.b.len() && is_space(self.b[end]) {
                        end += 1;
                    }
                    // Leave the last space for a following ` -}}`.
                    if self.b[end..].starts_with(b"-}}") {
                        end -= 1;
                    }
                    if end > start {
                        self.emit(Kind::Space, start, end);
                    }
                    self.pos = end;
                }
                '=' => {
                    self.pos += 1;
                    self.emit(Kind::Assign, start, self.pos);
                }
                ':' => {
                    if self.b.get(start + 1) != Some(&b'=') {
                        return self.error(start, "expected :=".into());
                    }
                    self.pos += 2;
                    self.emit(Kind::Declare, start, self.pos);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Kind::Pipe, start, self.pos);
                }
                '"' => {
                    if let Step::Stop = self.quote(start) {
                        return Step::Stop;
                    }
                }
                '`' => match find(self.b, b"`", start + 1) {
                    None => return self.error(start, "unterminated raw quoted string".into()),
                    Some(e) => {
                        self.pos = e + 1;
                        self.emit(Kind::RawString, start, self.pos);
                    }
                },
                '$' => {
                    if let Step::Stop = self.field_or_variable(start, Kind::Variable) {
                        return Step::Stop;
                    }
                }
                '\'' => {
                    if let Step::Stop = self.char_constant(start) {
                        return Step::Stop;
                    }
                }
                '.' if !matches!(self.b.get(start + 1), Some(b'0'..=b'9')) => {
                    if let Step::Stop = self.field_or_variable(start, Kind::Field) {
                        return Step::Stop;
                    }
                }
                '.' | '+' | '-' | '0'..='9' => {
                    if let Step::Stop = self.number(start) {
                        return Step::Stop;
                    }
                }
                c if is_alnum(c) => {
                    if let Step::Stop = self.identifier(start) {
                        return Step::Stop;
                    }
                }
                '(' => {
                    self.pos += 1;
                    self.parens.push(start);
                    self.emit(Kind::LeftParen, start, self.pos);
                }
                ')' => {
                    // Like Go, the paren is emitted before the error, so the parser reports it
                    // as unexpected where a pipeline cannot end with `)`.
                    self.pos += 1;
                    self.emit(Kind::RightParen, start, self.pos);
                    if self.parens.pop().is_none() {
                        return self.error(start, "unexpected right paren".into());
                    }
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.pos += 1;
                    self.emit(Kind::Char, start, self.pos);
                }
                c => {
                    return self.error(
                        start,
                        format!("unrecognized character in action: {}", fmt_u(c)),
                    );
                }
            }
        }
    }

    /// Go's `atTerminator`: what may follow a field, variable or identifier.
    fn at_terminator(&self) -> bool {
        match self.peek_char() {
            None => true,
            Some(c) => matches!(
                c,
                ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(' | '}'
            ),
        }
    }

    fn consume_alnum(&mut self) {
        while let Some(c) = self.peek_char() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn field_or_variable(&mut self, start: usize, kind: Kind) -> Step {
        self.pos += 1; // '.' or '$'
        if self.at_terminator() {
            let k = if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            };
            self.emit(k, start, self.pos);
            return Step::Continue;
        }
        self.consume_alnum();
        if !self.at_terminator() {
            let c = self.peek_char().unwrap_or('\0');
            let at = self.pos;
            return self.error_at(at, start, format!("bad character {}", fmt_u(c)));
        }
        self.emit(kind, start, self.pos);
        Step::Continue
    }

    fn identifier(&mut self, start: usize) -> Step {
        self.consume_alnum();
        if !self.at_terminator() {
            let c = self.peek_char().unwrap_or('\0');
            let at = self.pos;
            return self.error_at(at, start, format!("bad character {}", fmt_u(c)));
        }
        let word = &self.src[start..self.pos];
        let kind = match word {
            "block" => Kind::Block,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "nil" => Kind::Nil,
            "range" => Kind::Range,
            "template" => Kind::Template,
            "with" => Kind::With,
            "break" => Kind::Break,
            "continue" => Kind::Continue,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind, start, self.pos);
        Step::Continue
    }

    fn quote(&mut self, start: usize) -> Step {
        let mut i = start + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    return self.error(start, "unterminated quoted string".into());
                }
                Some(b'\\') => match self.b.get(i + 1) {
                    None | Some(b'\n') => {
                        return self.error(start, "unterminated quoted string".into());
                    }
                    Some(_) => i += 2,
                },
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.emit(Kind::String, start, self.pos);
        Step::Continue
    }

    fn char_constant(&mut self, start: usize) -> Step {
        let mut i = start + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    return self.error(start, "unterminated character constant".into());
                }
                Some(b'\\') => match self.b.get(i + 1) {
                    None | Some(b'\n') => {
                        return self.error(start, "unterminated character constant".into());
                    }
                    Some(_) => i += 2,
                },
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.emit(Kind::CharConstant, start, self.pos);
        Step::Continue
    }

    /// Go's `scanNumber`; returns false when an alphanumeric follows the number.
    fn scan_number(&mut self) -> bool {
        let accept = |l: &mut Self, set: &[u8]| -> bool {
            if l.pos < l.b.len() && set.contains(&l.b[l.pos]) {
                l.pos += 1;
                true
            } else {
                false
            }
        };
        let accept_run = |l: &mut Self, set: &[u8]| {
            while l.pos < l.b.len() && set.contains(&l.b[l.pos]) {
                l.pos += 1;
            }
        };
        accept(self, b"+-");
        let mut digits: &[u8] = b"0123456789_";
        if accept(self, b"0") {
            if accept(self, b"xX") {
                digits = b"0123456789abcdefABCDEF_";
            } else if accept(self, b"oO") {
                digits = b"01234567_";
            } else if accept(self, b"bB") {
                digits = b"01_";
            }
        }
        accept_run(self, digits);
        if accept(self, b".") {
            accept_run(self, digits);
        }
        if digits.len() == 11 && accept(self, b"eE") {
            accept(self, b"+-");
            accept_run(self, b"0123456789_");
        }
        if digits.len() == 23 && accept(self, b"pP") {
            accept(self, b"+-");
            accept_run(self, b"0123456789_");
        }
        accept(self, b"i");
        if let Some(c) = self.peek_char() {
            if is_alnum(c) {
                self.pos += c.len_utf8();
                return false;
            }
        }
        true
    }

    fn number(&mut self, start: usize) -> Step {
        if !self.scan_number() {
            let text = self.src[start..self.pos].to_string();
            return self.error(
                start,
                format!("bad number syntax: {}", super::gofmt::quote(&text)),
            );
        }
        if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
            // Complex constant such as 1+2i: no spaces, must end in 'i'.
            if !self.scan_number() || self.b[self.pos - 1] != b'i' {
                let text = self.src[start..self.pos].to_string();
                return self.error(
                    start,
                    format!("bad number syntax: {}", super::gofmt::quote(&text)),
                );
            }
            self.emit(Kind::Complex, start, self.pos);
        } else {
            self.emit(Kind::Number, start, self.pos);
        }
        Step::Continue
    }
}

/// Finds `needle` in `hay` at or after `from` (no regex, no allocation).
pub(crate) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    let first = needle[0];
    let mut i = from;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() + 1 - needle.len()]
            .iter()
            .position(|&c| c == first)
        {
            None => return None,
            Some(off) => {
                i += off;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src)
            .into_iter()
            .map(|t| (t.kind, t.msg.clone().unwrap_or_else(|| t.val.to_string())))
            .collect()
    }

    #[test]
    fn text_only() {
        assert_eq!(
            kinds("hello"),
            vec![(Kind::Text, "hello".into()), (Kind::Eof, String::new())]
        );
        assert_eq!(kinds(""), vec![(Kind::Eof, String::new())]);
    }

    #[test]
    fn tokens_inside_action() {
        use Kind::*;
        let cases: &[(&str, &[Kind])] = &[
            ("{{.}}", &[LeftDelim, Dot, RightDelim, Eof]),
            (
                "{{ .A.B }}",
                &[LeftDelim, Space, Field, Field, Space, RightDelim, Eof],
            ),
            (
                "{{$x := 1}}",
                &[
                    LeftDelim, Variable, Space, Declare, Space, Number, RightDelim, Eof,
                ],
            ),
            (
                "{{$x = `a`}}",
                &[
                    LeftDelim, Variable, Space, Assign, Space, RawString, RightDelim, Eof,
                ],
            ),
            (
                "{{f \"s\" | g}}",
                &[
                    LeftDelim, Identifier, Space, String, Space, Pipe, Space, Identifier,
                    RightDelim, Eof,
                ],
            ),
            (
                "{{(f)}}",
                &[
                    LeftDelim, LeftParen, Identifier, RightParen, RightDelim, Eof,
                ],
            ),
            (
                "{{if true}}{{else}}{{end}}",
                &[
                    LeftDelim, If, Space, Bool, RightDelim, LeftDelim, Else, RightDelim, LeftDelim,
                    End, RightDelim, Eof,
                ],
            ),
            (
                "{{range $i, $v := .}}",
                &[
                    LeftDelim, Range, Space, Variable, Char, Space, Variable, Space, Declare,
                    Space, Dot, RightDelim, Eof,
                ],
            ),
            ("{{nil}}", &[LeftDelim, Nil, RightDelim, Eof]),
            ("{{'a'}}", &[LeftDelim, CharConstant, RightDelim, Eof]),
            ("{{1+2i}}", &[LeftDelim, Complex, RightDelim, Eof]),
            ("{{-3}}", &[LeftDelim, Number, RightDelim, Eof]),
            ("{{.5}}", &[LeftDelim, Number, RightDelim, Eof]),
            ("{{0x1F}}", &[LeftDelim, Number, RightDelim, Eof]),
            ("{{/* c */}}x", &[Text, Eof]),
        ];
        for (src, want) in cases {
            let got: Vec<Kind> = lex(src).iter().map(|t| t.kind).collect();
            assert_eq!(&got, want, "{src}");
        }
    }

    #[test]
    fn trim_markers() {
        let toks = lex("a  {{- 1 -}}  b");
        assert_eq!(toks[0].val, "a");
        assert_eq!(toks.last().map(|t| t.kind), Some(Kind::Eof));
        let texts: Vec<&str> = toks
            .iter()
            .filter(|t| t.kind == Kind::Text)
            .map(|t| t.val)
            .collect();
        assert_eq!(texts, vec!["a", "b"]);
        // `{{-3}}` is a number, not a trim marker.
        assert_eq!(lex("a {{-3}}")[0].val, "a ");
        // Any white space before `-}}` makes a trim marker; actions may span lines.
        let texts: Vec<&str> = lex("{{1\n-}} \n b")
            .iter()
            .filter(|t| t.kind == Kind::Text)
            .map(|t| t.val)
            .collect();
        assert_eq!(texts, vec!["b"]);
        let kinds: Vec<Kind> = lex("{{ user\n`a` }}").iter().map(|t| t.kind).collect();
        use Kind::*;
        assert_eq!(
            kinds,
            vec![LeftDelim, Space, Identifier, Space, RawString, Space, RightDelim, Eof]
        );
        // Several spaces before the trim marker still trim.
        let texts: Vec<&str> = lex("{{1   -}}  b")
            .iter()
            .filter(|t| t.kind == Kind::Text)
            .map(|t| t.val)
            .collect();
        assert_eq!(texts, vec!["b"]);
        // Comments trim too.
        let texts: Vec<&str> = lex("a \n{{- /* x */ -}}\n b")
            .iter()
            .filter(|t| t.kind == Kind::Text)
            .map(|t| t.val)
            .collect();
        assert_eq!(texts, vec!["a", "b"]);
    }

    #[test]
    fn errors_and_their_positions() {
        let cases: &[(&str, &str, usize)] = &[
            ("ab {{ .A", "unclosed action", 3),
            ("x{{/* no end", "unclosed comment", 1),
            ("{{/* c */ x}}", "comment ends before closing delimiter", 9),
            ("{{ \"abc }}", "unterminated quoted string", 3),
            ("{{ `abc }}", "unterminated raw quoted string", 3),
            ("{{ 'a }}", "unterminated character constant", 3),
            ("{{ (f }}", "unclosed left paren", 3),
            ("{{ f) }}", "unexpected right paren", 4),
            ("{{ 3x }}", "bad number syntax: \"3x\"", 3),
            ("{{ .A# }}", "bad character U+0023 '#'", 5),
            ("{{ a: }}", "expected :=", 4),
            ("{{ é€ }}", "bad character U+20AC '€'", 5),
            ("{{ \u{7} }}", "unrecognized character in action: U+0007", 3),
        ];
        for (src, msg, pos) in cases {
            let last = lex(src).pop().unwrap();
            assert_eq!(last.kind, Kind::Error, "{src}");
            assert_eq!(last.msg.as_deref(), Some(*msg), "{src}");
            assert_eq!(last.pos, *pos, "{src}");
        }
    }

    #[test]
    fn find_works() {
        assert_eq!(find(b"abc{{d", b"{{", 0), Some(3));
        assert_eq!(find(b"abc{{d", b"{{", 4), None);
        assert_eq!(find(b"{", b"{{", 0), None);
        assert_eq!(find(b"a{b{{", b"{{", 0), Some(3));
    }
}
