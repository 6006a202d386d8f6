//! `rpack fmt`'s formatter: the canonical layout of an HCL native-syntax file, as hclwrite's
//! `Format` (the formatter behind `packer fmt` and `terraform fmt`) produces it. Pure functions
//! from text to text; only the blank between tokens changes, so comments, heredocs and string
//! contents come out as they went in.

mod layout;
mod lexer;

use super::diag::{Diag, SourceFile};

/// The canonical layout of `src` (which should be syntactically valid: see [`check`]).
pub(crate) fn format(src: &str) -> String {
    let (mut tokens, _) = lexer::scan(src);
    layout::format(&mut tokens);
    let mut out = String::with_capacity(src.len() + src.len() / 8);
    for t in &tokens {
        out.extend(std::iter::repeat_n(' ', t.spaces_before));
        out.push_str(t.text);
    }
    out
}

/// Checks that `text` (the file `name`) parses as HCL native syntax, as Packer does before
/// formatting; the error names the place.
pub(crate) fn check(name: &str, text: &str) -> Result<(), Diag> {
    // HCL's scanner skips a byte-order mark; hcl-edit does not.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut file = SourceFile::new(name, text);
    super::load::parse(&mut file, false)?;
    // hcl-edit accepts a heredoc whose closing marker ends the file without a newline; HCL's
    // scanner (and so Packer) does not.
    if let (_, Some(open)) = lexer::scan(text) {
        return Err(Diag::error(
            Some(file.loc(open.offset)),
            "Invalid HCL syntax",
            format!("unterminated {}", open.what),
        ));
    }
    Ok(())
}

/// User-perceived characters (grapheme clusters) in `s`, as hclwrite counts columns: a
/// combining mark, a variation selector, a zero-width joiner and what it joins, or the `\n` of
/// `\r\n` adds nothing to the character before it.
fn graphemes(s: &str) -> usize {
    let mut n = 0;
    let mut prev: Option<char> = None;
    for c in s.chars() {
        let extends = prev.is_some()
            && (is_extender(c) || prev == Some('\u{200d}') || (prev == Some('\r') && c == '\n'));
        if !extends {
            n += 1;
        }
        prev = Some(c);
    }
    n
}

fn is_extender(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'
        | '\u{0483}'..='\u{0489}'
        | '\u{0591}'..='\u{05bd}'
        | '\u{0610}'..='\u{061a}'
        | '\u{064b}'..='\u{065f}'
        | '\u{0900}'..='\u{0903}'
        | '\u{093a}'..='\u{094f}'
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{200c}'..='\u{200d}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{302a}'..='\u{302f}'
        | '\u{3099}'..='\u{309a}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{fe20}'..='\u{fe2f}'
        | '\u{1f3fb}'..='\u{1f3ff}'
        | '\u{e0020}'..='\u{e007f}'
        | '\u{e0100}'..='\u{e01ef}')
}

#[cfg(test)]
mod tests;
