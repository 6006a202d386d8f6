//! The token stream the formatter works on: HCL's native-syntax scanner (hclsyntax's
//! `scan_tokens.rl`) reproduced for what formatting needs. Every byte of the input is either a
//! token or a run of spaces/tabs between tokens, so writing the tokens back with their
//! `spaces_before` restores the input exactly.
//!
//! Literal text inside quoted strings and heredocs may be cut into more tokens than HCL's scanner
//! makes; the formatter never puts space between such pieces, so the output is the same.

/// What a token is, as far as the formatter's rules tell kinds apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Newline,
    Ident,
    NumberLit,
    /// Literal text of a quoted string.
    QuotedLit,
    /// Literal text of a heredoc.
    StringLit,
    OQuote,
    CQuote,
    /// `<<EOT` or `<<-EOT` with its newline.
    OHeredoc,
    /// The closing marker line of a heredoc (its indentation included), without the newline.
    CHeredoc,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// The `}` or `~}` that closes a template sequence.
    TemplateSeqEnd,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Dot,
    Comma,
    Ellipsis,
    Minus,
    Plus,
    Star,
    Slash,
    Percent,
    Equal,
    Colon,
    Question,
    EqualOp,
    NotEqual,
    GreaterThan,
    GreaterThanEq,
    LessThan,
    LessThanEq,
    And,
    Or,
    Bang,
    /// `#…` and `//…` (with their newline, when there is one) and `/*…*/`.
    Comment,
    /// A newline inside a quoted string (a syntax error HCL's parser reports).
    QuotedNewline,
    /// The end of the input: no text, but the spaces before it are kept.
    Eof,
    /// Any other symbol (`=>`, `&`, `|`, `~`, `^`, `;`, …) or an invalid character.
    Other,
}

/// One token: its kind, its text, and how many columns of blank precede it.
#[derive(Clone, Debug)]
pub(super) struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub spaces_before: usize,
}

/// Where the scanner is: HCL's scanner keeps a stack of these.
enum Mode<'a> {
    Main,
    Quoted,
    Heredoc {
        marker: &'a str,
        start_of_line: bool,
    },
}

/// A scan that ended inside a string, heredoc or template sequence: the byte offset of the
/// construct left open.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unterminated {
    pub offset: usize,
    pub what: &'static str,
}

struct Scanner<'a> {
    src: &'a str,
    tokens: Vec<Token<'a>>,
    last_end: usize,
    /// The modes entered, innermost last, each with where it was entered.
    modes: Vec<(Mode<'a>, usize)>,
    braces: i64,
    ret_braces: Vec<i64>,
}

/// Splits `src` into tokens, ending with an [`Kind::Eof`] token. A byte-order mark is dropped
/// (counted as blank, as HCL's scanner does). Also returns the first construct left open at the
/// end of the input, which HCL's parser rejects.
pub(super) fn scan(src: &str) -> (Vec<Token<'_>>, Option<Unterminated>) {
    let mut s = Scanner {
        src,
        tokens: Vec::new(),
        last_end: 0,
        modes: vec![(Mode::Main, 0)],
        braces: 0,
        ret_braces: Vec::new(),
    };
    let mut p = if src.starts_with('\u{feff}') { 3 } else { 0 };
    while p < src.len() {
        p = match s.modes.last() {
            Some((Mode::Quoted, _)) => s.quoted(p),
            Some((Mode::Heredoc { .. }, _)) => s.heredoc(p),
            _ => s.main(p),
        };
    }
    let open = s.modes.get(1).map(|(m, at)| Unterminated {
        offset: *at,
        what: match m {
            Mode::Main => "template sequence",
            Mode::Quoted => "quoted string",
            Mode::Heredoc { .. } => "heredoc",
        },
    });
    let end = src.len();
    s.push_raw(Kind::Eof, end, end);
    (s.tokens, open)
}

impl<'a> Scanner<'a> {
    fn push_raw(&mut self, kind: Kind, start: usize, end: usize) {
        let spaces_before = start - self.last_end;
        self.tokens.push(Token {
            kind,
            text: &self.src[start..end],
            spaces_before,
        });
        self.last_end = end;
    }

    /// Pushes a token of `len` bytes at `p`; returns where the next one starts.
    fn push(&mut self, kind: Kind, p: usize, len: usize) -> usize {
        self.push_raw(kind, p, p + len);
        p + len
    }

    fn rest(&self, p: usize) -> &'a str {
        &self.src[p..]
    }

    /// `${` / `%{` (with an optional `~`) at `p`: the length of the opener.
    fn template_opener(&self, p: usize) -> Option<(Kind, usize)> {
        let r = self.rest(p).as_bytes();
        let kind = match r {
            [b'$', b'{', ..] => Kind::TemplateInterp,
            [b'%', b'{', ..] => Kind::TemplateControl,
            _ => return None,
        };
        Some((kind, if r.get(2) == Some(&b'~') { 3 } else { 2 }))
    }

    fn enter_template(&mut self, p: usize, kind: Kind, len: usize) -> usize {
        if let Some((Mode::Heredoc { start_of_line, .. }, _)) = self.modes.last_mut() {
            *start_of_line = false;
        }
        self.braces += 1;
        self.ret_braces.push(self.braces);
        self.modes.push((Mode::Main, p));
        self.push(kind, p, len)
    }

    /// A `}` or `~}` of `len` bytes at `p`.
    fn close_brace(&mut self, p: usize, len: usize) -> usize {
        let closes_template = self.ret_braces.last() == Some(&self.braces);
        self.braces -= 1;
        if closes_template {
            self.ret_braces.pop();
            self.modes.pop();
            return self.push(Kind::TemplateSeqEnd, p, len);
        }
        // A `~}` that closes no template is still a sequence end (the parser rejects it).
        let kind = if len == 2 {
            Kind::TemplateSeqEnd
        } else {
            Kind::CBrace
        };
        self.push(kind, p, len)
    }

    fn main(&mut self, p: usize) -> usize {
        let r = self.rest(p);
        let b = r.as_bytes();
        let c = r.chars().next().unwrap_or('\0');
        match b[0] {
            b' ' | b'\t' => {
                let n = b.iter().take_while(|x| matches!(x, b' ' | b'\t')).count();
                // Blank is not a token: the next token counts it.
                p + n
            }
            b'0'..=b'9' => self.push(Kind::NumberLit, p, number_len(b)),
            b'#' => self.push(Kind::Comment, p, line_comment_len(r)),
            b'/' if b.get(1) == Some(&b'/') => self.push(Kind::Comment, p, line_comment_len(r)),
            b'/' if b.get(1) == Some(&b'*') && r[2..].contains("*/") => {
                let len = r[2..].find("*/").map_or(r.len(), |i| i + 4);
                self.push(Kind::Comment, p, len)
            }
            b'\n' => self.push(Kind::Newline, p, 1),
            b'\r' if b.get(1) == Some(&b'\n') => self.push(Kind::Newline, p, 2),
            b'{' => {
                self.braces += 1;
                self.push(Kind::OBrace, p, 1)
            }
            b'}' => self.close_brace(p, 1),
            b'~' if b.get(1) == Some(&b'}') => self.close_brace(p, 2),
            b'"' => {
                self.modes.push((Mode::Quoted, p));
                self.push(Kind::OQuote, p, 1)
            }
            b'<' if heredoc_opener(r).is_some() => {
                let (len, marker) = heredoc_opener(r).unwrap_or_default();
                self.modes.push((
                    Mode::Heredoc {
                        marker,
                        start_of_line: true,
                    },
                    p,
                ));
                self.push(Kind::OHeredoc, p, len)
            }
            _ if c == '_' || unicode_ident::is_xid_start(c) => {
                let len = r
                    .char_indices()
                    .skip(1)
                    .find(|(_, ch)| !(*ch == '-' || unicode_ident::is_xid_continue(*ch)))
                    .map_or(r.len(), |(i, _)| i);
                self.push(Kind::Ident, p, len)
            }
            _ => {
                let (kind, len) = symbol(b).unwrap_or((Kind::Other, c.len_utf8()));
                self.push(kind, p, len)
            }
        }
    }

    fn quoted(&mut self, p: usize) -> usize {
        let b = self.rest(p).as_bytes();
        if let Some((kind, len)) = self.template_opener(p) {
            return self.enter_template(p, kind, len);
        }
        match b[0] {
            b'"' => {
                self.modes.pop();
                self.push(Kind::CQuote, p, 1)
            }
            b'\r' | b'\n' => {
                let n = b.iter().take_while(|x| matches!(x, b'\r' | b'\n')).count();
                self.push(Kind::QuotedNewline, p, n)
            }
            _ => {
                let mut i = 0;
                while i < b.len() {
                    match b[i] {
                        b'"' | b'\r' | b'\n' => break,
                        b'\\' if matches!(b.get(i + 1), Some(x) if *x != b'\r' && *x != b'\n') => {
                            i += 1 + utf8_len(b[i + 1]);
                        }
                        b'$' | b'%' => match escaped_opener(&b[i..]) {
                            Some(n) => i += n,
                            None if b.get(i + 1) == Some(&b'{') => break,
                            None => i += 1,
                        },
                        x => i += utf8_len(x),
                    }
                }
                self.push(Kind::QuotedLit, p, i.max(1))
            }
        }
    }

    fn heredoc(&mut self, p: usize) -> usize {
        let r = self.rest(p);
        let Some((
            Mode::Heredoc {
                marker,
                start_of_line,
            },
            _,
        )) = self.modes.last()
        else {
            return self.main(p);
        };
        let (marker, start_of_line) = (*marker, *start_of_line);
        if start_of_line {
            if let Some(nl) = r.find('\n') {
                let line = r[..nl].strip_suffix('\r').unwrap_or(&r[..nl]);
                if !line.contains(['$', '%']) && go_trim_space(line) == marker {
                    self.modes.pop();
                    let after = self.push(Kind::CHeredoc, p, line.len());
                    return self.push(Kind::Newline, after, p + nl + 1 - after);
                }
            }
        }
        if let Some((kind, len)) = self.template_opener(p) {
            return self.enter_template(p, kind, len);
        }
        let b = r.as_bytes();
        let mut i = 0;
        let mut eol = false;
        while i < b.len() {
            match b[i] {
                b'\n' => {
                    i += 1;
                    eol = true;
                    break;
                }
                b'$' | b'%' => match escaped_opener(&b[i..]) {
                    Some(n) => i += n,
                    None if b.get(i + 1) == Some(&b'{') => break,
                    None => i += 1,
                },
                x => i += utf8_len(x),
            }
        }
        if let Some((Mode::Heredoc { start_of_line, .. }, _)) = self.modes.last_mut() {
            *start_of_line = eol;
        }
        self.push(Kind::StringLit, p, i.max(1))
    }
}

/// `$${` / `%%{` (optionally with `~`): a literal `${` / `%{`; the length, when `b` starts so.
fn escaped_opener(b: &[u8]) -> Option<usize> {
    match b {
        [a, c, b'{', rest @ ..] if a == c && matches!(a, b'$' | b'%') => {
            Some(if rest.first() == Some(&b'~') { 4 } else { 3 })
        }
        _ => None,
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// HCL's number literal: a digit, then digits, `.` and exponents, not ending in `.`.
fn number_len(b: &[u8]) -> usize {
    let mut i = 1;
    let mut best = 1;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => {
                i += 1;
                best = i;
            }
            b'.' => i += 1,
            b'e' | b'E' => {
                let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
                if matches!(b.get(i + 1 + sign), Some(b'0'..=b'9')) {
                    i += 2 + sign;
                    best = i;
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    best
}

/// A `#` or `//` comment: up to and with its newline, or to the end of the input.
fn line_comment_len(r: &str) -> usize {
    r.find('\n').map_or(r.len(), |i| i + 1)
}

/// `<<EOT` / `<<-EOT` followed by a newline: the opener's length and the marker.
fn heredoc_opener(r: &str) -> Option<(usize, &str)> {
    let body = r.strip_prefix("<<")?;
    let dash = usize::from(body.starts_with('-'));
    let ident = &body[dash..];
    let first = ident.chars().next()?;
    if !(first == '_' || unicode_ident::is_xid_start(first)) {
        return None;
    }
    let len = ident
        .char_indices()
        .find(|(_, ch)| !(*ch == '-' || *ch == '_' || unicode_ident::is_xid_continue(*ch)))
        .map_or(ident.len(), |(i, _)| i);
    let marker = &ident[..len];
    let nl = match &ident.as_bytes()[len..] {
        [b'\n', ..] => 1,
        [b'\r', b'\n', ..] => 2,
        _ => return None,
    };
    Some((2 + dash + len + nl, marker))
}

/// Operators and punctuation: the longest one at the start of `b`.
fn symbol(b: &[u8]) -> Option<(Kind, usize)> {
    let two = match b {
        [b'=', b'=', ..] => Some(Kind::EqualOp),
        [b'!', b'=', ..] => Some(Kind::NotEqual),
        [b'>', b'=', ..] => Some(Kind::GreaterThanEq),
        [b'<', b'=', ..] => Some(Kind::LessThanEq),
        [b'&', b'&', ..] => Some(Kind::And),
        [b'|', b'|', ..] => Some(Kind::Or),
        [b'=', b'>', ..] => Some(Kind::Other),
        _ => None,
    };
    if b.starts_with(b"...") {
        return Some((Kind::Ellipsis, 3));
    }
    if let Some(k) = two {
        return Some((k, 2));
    }
    let kind = match b.first()? {
        b'[' => Kind::OBrack,
        b']' => Kind::CBrack,
        b'(' => Kind::OParen,
        b')' => Kind::CParen,
        b'.' => Kind::Dot,
        b',' => Kind::Comma,
        b'*' => Kind::Star,
        b'/' => Kind::Slash,
        b'%' => Kind::Percent,
        b'+' => Kind::Plus,
        b'-' => Kind::Minus,
        b'=' => Kind::Equal,
        b'<' => Kind::LessThan,
        b'>' => Kind::GreaterThan,
        b'!' => Kind::Bang,
        b'?' => Kind::Question,
        b':' => Kind::Colon,
        _ => return None,
    };
    Some((kind, 1))
}

/// Go's `bytes.TrimSpace`: ASCII and Unicode white space off both ends.
fn go_trim_space(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}
