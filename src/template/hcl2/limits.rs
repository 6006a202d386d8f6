//! Bounds on what an HCL2 template may ask of rpack: how deep blocks, expressions and JSON
//! values may nest (hcl-edit's parser and the evaluators recurse, so an unbounded depth would
//! end in a stack overflow instead of an error).

/// The deepest nesting accepted: real templates stay under ten levels. hcl-edit's parser
/// backtracks: a fuzzer-found 1.1 KB input of objects nested 26 levels deep among `--`
/// operators took it 7.4 s (release build), its time growing about 1.5x per added level, so the
/// bound is set where such a parse still takes a fraction of a second, not where the stack
/// would give out.
pub(crate) const MAX_NESTING: usize = 16;

use super::diag::{Diag, SourceFile};

/// What the scanner is inside of.
#[derive(Clone, Copy, PartialEq)]
enum In {
    /// Brackets, braces or parentheses (or the file's top level).
    Code,
    /// A quoted template.
    Quoted,
    /// A `${ }` or `%{ }` inside a template.
    Interp,
}

/// Refuses native-syntax text that nests deeper than [`MAX_NESTING`] — brackets, braces,
/// parentheses, quoted templates and their interpolations, and runs of unary operators — before
/// hcl-edit's recursive parser sees it. One linear pass; heredocs and comments are skipped over
/// (their interpolations count like a quoted template's).
///
/// Gives the offsets of the lines that start with a letter outside every bracket, string,
/// heredoc and comment: where a top-level block or attribute can begin.
pub(crate) fn check_native(f: &SourceFile) -> Result<Vec<usize>, Diag> {
    let b = f.text.as_bytes();
    let mut top_lines = Vec::new();
    let mut stack: Vec<In> = Vec::new();
    let mut unary = 0usize;
    let mut i = 0;
    let deep = |at: usize| {
        Diag::error(
            Some(f.loc(at)),
            "Nesting too deep",
            format!("{} nests blocks or expressions more than {MAX_NESTING} levels deep; rpack refuses it before it could exhaust the stack.", f.name),
        )
    };
    while i < b.len() {
        let top = stack.last().copied().unwrap_or(In::Code);
        let c = b[i];
        if top == In::Quoted {
            match c {
                b'\\' => i += 1,
                b'"' | b'\n' => {
                    stack.pop();
                }
                b'$' | b'%' if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&b'{') => i += 2,
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    stack.push(In::Interp);
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            if stack.len() > MAX_NESTING {
                return Err(deep(i - 1));
            }
            continue;
        }
        match c {
            b'!' | b'-' if b.get(i + 1) != Some(&b'=') => {
                unary += 1;
                if stack.len() + unary > MAX_NESTING {
                    return Err(deep(i));
                }
            }
            b' ' | b'\t' | b'\r' => {}
            _ => unary = 0,
        }
        match c {
            b'#' => i = skip_to(b, i, b"\n"),
            b'/' if b.get(i + 1) == Some(&b'/') => i = skip_to(b, i, b"\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_to(b, i + 2, b"*/") + 1,
            b'<' if b.get(i + 1) == Some(&b'<') => {
                i = heredoc(b, i, stack.len()).map_err(deep)?.unwrap_or(i + 1);
            }
            b'"' => stack.push(In::Quoted),
            b'\n' if stack.is_empty() && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => {
                top_lines.push(i + 1);
            }
            b'{' | b'[' | b'(' => stack.push(In::Code),
            b'}' | b']' | b')' => {
                stack.pop();
            }
            _ => {}
        }
        if stack.len() > MAX_NESTING {
            return Err(deep(i));
        }
        i += 1;
    }
    Ok(top_lines)
}

/// The index of the start of the next `pat` from `i` (or the end).
fn skip_to(b: &[u8], i: usize, pat: &[u8]) -> usize {
    b[i.min(b.len())..]
        .windows(pat.len())
        .position(|w| w == pat)
        .map_or(b.len(), |p| i + p)
}

/// Skips a heredoc starting at `i` (`<<EOT` or `<<-EOT`), returning the index of its last
/// byte; `None` when `<<` does not start one. Its body counts by bracket depth (an
/// interpolation's expression nests inside it), on top of where the heredoc stands.
fn heredoc(b: &[u8], i: usize, depth: usize) -> Result<Option<usize>, usize> {
    let mut j = i + 2;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    let start = j;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
        j += 1;
    }
    if j == start || b.get(j) != Some(&b'\n') && b.get(j) != Some(&b'\r') {
        return Ok(None);
    }
    let marker = &b[start..j];
    let mut nest = 0usize;
    let mut line = skip_to(b, j, b"\n") + 1;
    while line < b.len() {
        let end = skip_to(b, line, b"\n");
        let text = &b[line..end];
        if text.trim_ascii() == marker {
            return Ok(Some(end.saturating_sub(1).max(line)));
        }
        for (k, c) in text.iter().enumerate() {
            match c {
                b'{' | b'[' | b'(' => nest += 1,
                b'}' | b']' | b')' => nest = nest.saturating_sub(1),
                _ => {}
            }
            if depth + nest > MAX_NESTING {
                return Err(line + k);
            }
        }
        line = end + 1;
    }
    Ok(Some(b.len()))
}

/// Where plain text (a template file) first nests brackets, braces or parentheses deeper than
/// [`MAX_NESTING`], as a byte offset.
pub(crate) fn bracket_depth_exceeded(text: &str) -> Option<usize> {
    let mut nest = 0usize;
    for (i, c) in text.bytes().enumerate() {
        match c {
            b'{' | b'[' | b'(' => nest += 1,
            b'}' | b']' | b')' => nest = nest.saturating_sub(1),
            _ => {}
        }
        if nest > MAX_NESTING {
            return Some(i);
        }
    }
    None
}
