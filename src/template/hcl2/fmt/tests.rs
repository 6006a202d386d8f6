//! The formatter's rules one at a time (the fixture corpus in tests/fixtures/fmt, checked
//! against Packer 1.6.6 itself, covers whole files).

use super::{check, format, graphemes, lexer};

#[test]
fn attributes_of_a_group_align_their_equals_signs() {
    assert_eq!(
        format("a=1\nlonger   =  2\n\nc = 3\n"),
        "a      = 1\nlonger = 2\n\nc = 3\n"
    );
}

#[test]
fn blocks_indent_two_spaces_per_level() {
    assert_eq!(
        format("b \"x\" {\nc {\nd=1\n}\n}\n"),
        "b \"x\" {\n  c {\n    d = 1\n  }\n}\n"
    );
}

#[test]
fn operators_commas_and_brackets_are_spaced() {
    assert_eq!(
        format("x = [ 1,2 ,3 ]\ny = a+b*-c\nz = f( 1 )[0]\n"),
        "x = [1, 2, 3]\ny = a + b * -c\nz = f(1)[0]\n"
    );
    assert_eq!(format("o = {a=1}\ne = {}\n"), "o = { a = 1 }\ne = {}\n");
}

#[test]
fn trailing_comments_align_and_keep_their_text() {
    assert_eq!(
        format("a = 1 # one  \nbbb = 2 // two\n/* block */\n"),
        "a   = 1 # one  \nbbb = 2 // two\n/* block */\n"
    );
}

#[test]
fn heredocs_and_string_contents_are_untouched() {
    let src = "x = <<-EOT\n   keep   this ${ var.a }\n      EOT\ny = \"  a  ${var.b}  \"\n";
    assert_eq!(
        format(src),
        "x = <<-EOT\n   keep   this ${var.a}\n      EOT\ny = \"  a  ${var.b}  \"\n"
    );
}

#[test]
fn the_scanner_covers_every_byte() {
    let src = "a = \"$${x} %%{y} \\\" ${ \"in\" }\" # c\r\n\tb=1.5e+3\n";
    let (tokens, open) = lexer::scan(src);
    assert!(open.is_none());
    let again: String = tokens
        .iter()
        .map(|t| format!("{}{}", " ".repeat(t.spaces_before), t.text))
        .collect();
    assert_eq!(again, src.replace('\t', " "));
}

#[test]
fn syntax_errors_and_open_heredocs_are_refused_with_their_place() {
    let e = check("bad.pkr.hcl", "a = 1\nb = \n").unwrap_err();
    let loc = e.loc.unwrap();
    assert_eq!((&*loc.file, loc.line), ("bad.pkr.hcl", 2));
    let e = check("h.pkr.hcl", "a = 1\nx = <<EOT\nhi\nEOT").unwrap_err();
    assert_eq!(e.loc.unwrap().line, 2);
    assert!(check("ok.pkr.hcl", "x = <<EOT\nhi\nEOT\n").is_ok());
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(graphemes("é"), 1);
    assert_eq!(graphemes("e\u{301}"), 1);
    assert_eq!(graphemes("\r\n"), 1);
    assert_eq!(format("é = 1\nab = 2\n"), "é  = 1\nab = 2\n");
}

#[test]
fn only_blanks_change_even_in_broken_input() {
    // Every prefix of every corpus file: unterminated strings, heredocs and templates included.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/input");
    let strip = |s: &str| s.replace([' ', '\t'], "");
    let mut checked = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for (i, _) in text.char_indices() {
            let prefix = &text[..i];
            let unmarked = prefix.trim_start_matches('\u{feff}');
            assert_eq!(strip(&format(prefix)), strip(unmarked), "{prefix:?}");
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}
