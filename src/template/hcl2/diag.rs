//! HCL diagnostics: a summary, a detail and where (file:line:col with the source line and a
//! caret), rendered the way HCL's diagnostic writer lays them out.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use crate::template::json::Pos;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// A position resolved against its file: 1-based line and column (in characters). It shares
/// the file's name and text (a template has thousands of positions; copying them for each
/// was a good part of reading a large one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: Arc<str>,
    /// The file's place among the template's files ([`SourceFile::index`]).
    pub file_index: u32,
    pub line: usize,
    pub col: usize,
    pub offset: usize,
    /// The file's text and where the position's line is in it, for the excerpt.
    source: Arc<str>,
    line_range: Range<usize>,
}

impl Loc {
    /// The source line, for the excerpt.
    pub(crate) fn text(&self) -> &str {
        self.source
            .get(self.line_range.clone())
            .unwrap_or_default()
            .trim_end_matches('\r')
    }
}

/// One problem in an HCL2 template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diag {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub loc: Option<Loc>,
}

impl Diag {
    pub(crate) fn error(
        loc: Option<Loc>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diag {
        Diag {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            loc,
        }
    }
    pub(crate) fn warning(
        loc: Option<Loc>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diag {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(loc, summary, detail)
        }
    }
}

/// A loaded source file: its display name and text. A file in HCL's JSON syntax is parsed
/// from a native-syntax rewrite: `map` takes offsets in the rewrite back to `text`.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub name: String,
    /// Its place among the template's files (0 for a lone file), carried into positions
    /// (`json::Pos::file`) so a diagnostic from the plan names the right file.
    pub index: u32,
    pub text: String,
    /// (offset in the rewrite, offset in `text`, bytes mapping one to one), ascending.
    pub map: Vec<(usize, usize, usize)>,
    /// Where each line of `text` starts, built on the first [`SourceFile::loc`]: a position is
    /// found by binary search, not by counting the lines before it (which made a file with
    /// many positioned values quadratic).
    line_starts: std::sync::OnceLock<Vec<usize>>,
    /// The name and text as positions share them, made on the first [`SourceFile::loc`].
    shared: std::sync::OnceLock<(Arc<str>, Arc<str>)>,
}

impl SourceFile {
    pub(crate) fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            index: 0,
            text: text.into(),
            map: Vec::new(),
            line_starts: std::sync::OnceLock::new(),
            shared: std::sync::OnceLock::new(),
        }
    }

    fn shared(&self) -> &(Arc<str>, Arc<str>) {
        self.shared
            .get_or_init(|| (Arc::from(self.name.as_str()), Arc::from(self.text.as_str())))
    }

    /// The range of line `line` (1-based; past the end: an empty range at the end).
    fn line_range(&self, line: usize) -> Range<usize> {
        let starts = self.line_starts();
        let Some(&start) = line.checked_sub(1).and_then(|i| starts.get(i)) else {
            return self.text.len()..self.text.len();
        };
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        start..end
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// Where byte `offset` of the parsed text (clamped to the text) is in the source: its
    /// offset there, 1-based line, the line's start and the 1-based column in characters.
    fn place(&self, offset: usize) -> (usize, usize, usize, usize) {
        let offset = match self.map.partition_point(|m| m.0 <= offset) {
            0 if !self.map.is_empty() => 0,
            0 => offset,
            i => {
                let (gen, orig, linear) = self.map[i - 1];
                orig + (offset - gen).min(linear)
            }
        };
        let offset = offset.min(self.text.len());
        let offset = (0..=offset)
            .rev()
            .find(|o| self.text.is_char_boundary(*o))
            .unwrap_or(0);
        let starts = self.line_starts();
        let line = starts.partition_point(|&st| st <= offset);
        let line_start = starts[line - 1];
        let col = self.text[line_start..offset].chars().count() + 1;
        (offset, line, line_start, col)
    }

    /// The location of byte `offset` of the parsed text (clamped to the text).
    pub(crate) fn loc(&self, offset: usize) -> Loc {
        let (offset, line, _, col) = self.place(offset);
        self.loc_at(line, col, offset)
    }

    /// The location at a known line, column and offset.
    pub(crate) fn loc_at(&self, line: usize, col: usize, offset: usize) -> Loc {
        let (file, source) = self.shared();
        Loc {
            file: file.clone(),
            file_index: self.index,
            line,
            col,
            offset,
            source: source.clone(),
            line_range: self.line_range(line),
        }
    }

    /// The plan's position of a span's start: [`SourceFile::loc`] without the file's name and
    /// the source line, which a value's position does not keep.
    pub(crate) fn span_pos(&self, span: Option<Range<usize>>) -> Pos {
        span.map(|s| {
            let (offset, line, _, col) = self.place(s.start);
            Pos {
                offset,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
                file: self.index,
            }
        })
        .unwrap_or_default()
    }

    pub(crate) fn span_loc(&self, span: Option<Range<usize>>) -> Option<Loc> {
        span.map(|s| self.loc(s.start))
    }
}

/// Renders diagnostics, errors and warnings in the order given.
pub(crate) fn render(diags: &[Diag]) -> String {
    let mut s = String::new();
    for d in diags {
        let label = match d.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        let _ = writeln!(s, "{label}: {}\n", d.summary);
        if let Some(l) = &d.loc {
            let _ = writeln!(s, "  on {}:{}:{}:", l.file, l.line, l.col);
            let gutter = format!("{:>4}: ", l.line);
            let _ = writeln!(s, "{gutter}{}", l.text());
            let pad: String = l
                .text()
                .chars()
                .take(l.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(s, "{}{pad}^\n", " ".repeat(gutter.len()));
        }
        if !d.detail.is_empty() {
            let _ = writeln!(s, "{}\n", d.detail);
        }
    }
    s
}

pub(crate) fn has_errors(diags: &[Diag]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_excerpt() {
        let f = SourceFile::new("a.pkr.hcl", "x {\n  é = 1\n}\n");
        let l = f.loc(9);
        assert_eq!((l.line, l.col, l.text()), (2, 5, "  é = 1"));
        let d = Diag::error(Some(l), "Bad", "Why.");
        assert_eq!(
            render(&[d]),
            "Error: Bad\n\n  on a.pkr.hcl:2:5:\n   2:   é = 1\n          ^\n\nWhy.\n\n"
        );
    }
}
