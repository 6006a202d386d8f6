//! hclwrite's formatting passes over a token stream (hashicorp/hcl v2.6.0, the version Packer
//! 1.6.6 builds with): only the blank before each token changes.
//!
//! The tokens are cut into lines, each line into up to three cells: `lead`, `assign` (from the
//! `=` of an attribute whose value ends on the line) and `comment` (a trailing `#`/`//`
//! comment). Then: indentation by bracket nesting, spacing between tokens by their kinds, and
//! the `=` and trailing comments of consecutive lines aligned in columns.

use std::ops::Range;

use super::lexer::{Kind, Token};

/// One line's cells, as index ranges into the token list (`assign`/`comment` may be empty).
#[derive(Clone, Debug)]
struct Line {
    lead: Range<usize>,
    assign: Range<usize>,
    comment: Range<usize>,
}

/// Sets every token's `spaces_before` (except the end of input's) to the canonical layout.
pub(super) fn format(tokens: &mut [Token<'_>]) {
    let lines = lines(tokens);
    indent(tokens, &lines);
    spaces(tokens, &lines);
    align(tokens, &lines);
}

fn is_newline(t: &Token<'_>) -> bool {
    t.kind == Kind::Newline || (t.kind == Kind::Comment && t.text.ends_with('\n'))
}

fn bracket_change(t: &Token<'_>) -> i64 {
    match t.kind {
        Kind::OBrace
        | Kind::OBrack
        | Kind::OParen
        | Kind::TemplateControl
        | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

fn lines(tokens: &[Token<'_>]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.kind == Kind::Eof {
            out.push(start..i);
            start = tokens.len();
            break;
        }
        if is_newline(t) {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out.into_iter()
        .map(|r| {
            let mut lead = r.clone();
            let mut comment = r.end..r.end;
            if lead.len() > 1 && tokens[lead.end - 1].kind == Kind::Comment {
                comment = lead.end - 1..lead.end;
                lead.end -= 1;
            }
            let mut assign = lead.end..lead.end;
            if let Some(eq) = (lead.start + 1..lead.end).find(|&i| tokens[i].kind == Kind::Equal) {
                // Only a value that ends on this line (brackets balanced) is an assign cell.
                let net: i64 = tokens[eq..lead.end].iter().map(bracket_change).sum();
                if net == 0 {
                    assign = eq..lead.end;
                    lead.end = eq;
                }
            }
            Line {
                lead,
                assign,
                comment,
            }
        })
        .collect()
}

/// Two spaces per open bracket level, counted per line: a line that opens brackets indents the
/// lines after it once, however many it opens; the closing line comes back out.
fn indent(tokens: &mut [Token<'_>], lines: &[Line]) {
    let mut stack: Vec<i64> = Vec::new();
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if tokens[first].kind == Kind::Newline {
            tokens[first].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for t in &tokens[line.lead.clone()] {
            net += bracket_change(t);
            if t.kind == Kind::OHeredoc {
                break;
            }
        }
        net += tokens[line.assign.clone()]
            .iter()
            .map(bracket_change)
            .sum::<i64>();
        if net > 0 {
            tokens[first].spaces_before = 2 * stack.len();
            stack.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = stack.last_mut() else { break };
            match closed.cmp(top) {
                std::cmp::Ordering::Greater => {
                    closed -= *top;
                    stack.pop();
                }
                std::cmp::Ordering::Less => {
                    *top -= closed;
                    closed = 0;
                }
                std::cmp::Ordering::Equal => {
                    stack.pop();
                    closed = 0;
                }
            }
        }
        tokens[first].spaces_before = 2 * stack.len();
    }
}

/// The blank between neighbours inside the lead and the assign cells.
fn spaces(tokens: &mut [Token<'_>], lines: &[Line]) {
    for line in lines {
        for cell in [&line.lead, &line.assign] {
            if cell.is_empty() {
                continue;
            }
            if cell.start == line.assign.start {
                tokens[cell.start].spaces_before = 1;
            }
            for i in cell.start..cell.end - 1 {
                let before = (i > cell.start).then(|| tokens[i - 1].kind);
                let space = space_after(&tokens[i], before, &tokens[i + 1]);
                tokens[i + 1].spaces_before = usize::from(space);
            }
        }
    }
}

/// hclwrite's `spaceAfterToken`: whether `subject` (after `before`, `None` at the start of a
/// cell) is followed by one space before `after`.
fn space_after(subject: &Token<'_>, before: Option<Kind>, after: &Token<'_>) -> bool {
    #[allow(clippy::enum_glob_use)]
    use Kind::*;
    let s = subject.kind;
    let a = after.kind;
    if a == Newline || a == Eof {
        return false;
    }
    if s == Ident && a == OParen {
        return false;
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false;
    }
    if s == Ident && subject.text == "in" && before == Some(Ident) {
        return true;
    }
    if a == OBrack && (s == Ident || s == NumberLit || bracket_change(subject) < 0) {
        return false;
    }
    if s == Minus {
        // Negation (no space) unless what comes before could end an operand.
        return !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | GreaterThan
                    | GreaterThanEq
                    | LessThan
                    | LessThanEq
                    | And
                    | Or
                    | Bang
            )
        );
    }
    if s == OBrace || a == CBrace {
        return !(s == OBrace && a == CBrace);
    }
    if matches!(s, TemplateInterp | TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket_change(subject) > 0 || bracket_change(after) < 0 {
        return false;
    }
    true
}

/// Columns a run of tokens takes (blank included), counting user-perceived characters.
fn columns(tokens: &[Token<'_>]) -> usize {
    tokens
        .iter()
        .map(|t| t.spaces_before + super::graphemes(t.text))
        .sum()
}

/// Aligns the `=` of consecutive lines with an assign cell, then the trailing comments of
/// consecutive lines with a comment cell.
fn align(tokens: &mut [Token<'_>], lines: &[Line]) {
    for pass in [Pass::Assign, Pass::Comment] {
        let mut i = 0;
        while i < lines.len() {
            let has = |l: &Line| match pass {
                Pass::Assign => !l.assign.is_empty(),
                Pass::Comment => !l.comment.is_empty(),
            };
            if !has(&lines[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < lines.len() && has(&lines[i]) {
                i += 1;
            }
            let chain = &lines[start..i];
            let width = |l: &Line, tokens: &[Token<'_>]| match pass {
                Pass::Assign => columns(&tokens[l.lead.clone()]),
                Pass::Comment => columns(&tokens[l.lead.start..l.assign.end.max(l.lead.end)]),
            };
            let max = chain.iter().map(|l| width(l, tokens)).max().unwrap_or(0);
            for l in chain {
                let pad = max - width(l, tokens) + 1;
                let first = match pass {
                    Pass::Assign => l.assign.start,
                    Pass::Comment => l.comment.start,
                };
                tokens[first].spaces_before = pad;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Pass {
    Assign,
    Comment,
}
