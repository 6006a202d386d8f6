//! The console's line editor, fed key bytes as a terminal sends them.

use super::*;

/// Reads lines from `keys` until the input ends; returns what each read gave and the output.
fn run(keys: &[u8]) -> (Vec<Input>, String) {
    let mut ed = Editor::default();
    let mut input = keys;
    let mut out = Vec::new();
    let mut got = Vec::new();
    loop {
        let r = ed.read_line("> ", &mut input, &mut out).unwrap();
        let end = r == Input::Eof;
        got.push(r);
        if end {
            return (got, String::from_utf8(out).unwrap());
        }
    }
}

fn line(s: &str) -> Input {
    Input::Line(s.to_string())
}

#[test]
fn cursor_keys_edit_inside_the_line() {
    // Left twice, insert; Home, insert; End, insert; Ctrl-B/Ctrl-F; Delete under the cursor.
    let (got, _) = run(b"bd\x1b[Dc\x1b[D\x1b[Da\x1b[H<\x1b[F>\x02\x02\x06!\r");
    assert_eq!(got, [line("<abcd!>"), Input::Eof]);
    let (got, _) = run(b"abc\x01\x1b[3~\x05\x08X\rxyz\x01\x04\n");
    assert_eq!(got, [line("bX"), line("yz"), Input::Eof]);
    let (got, _) = run(b"abc\x1bOH-\x1bOF+\x1b[1~(\x1b[4~)\r");
    assert_eq!(got, [line("(-abc+)"), Input::Eof]);
}

#[test]
fn kill_keys_and_word_delete() {
    let (got, _) = run(b"one two  three\x17\rkeep cut\x1b[D\x1b[D\x1b[D\x0b\rcut keep\x1b[D\x1b[D\x1b[D\x1b[D\x15\r");
    assert_eq!(
        got,
        [line("one two  "), line("keep "), line("keep"), Input::Eof]
    );
}

#[test]
fn up_and_down_walk_the_history_and_keep_the_typed_line() {
    // Two lines, then Up Up (first line), Down (second), Down (what was typed: "new").
    let (got, _) = run(b"first\rsecond\rnew\x1b[A\x1b[A\x1b[B\x1b[B!\r\x10\x10\x10\r");
    assert_eq!(
        got,
        [
            line("first"),
            line("second"),
            line("new!"),
            // Ctrl-P three times: new!, second, first (and no further).
            line("first"),
            Input::Eof
        ]
    );
    // Empty lines and repeats are not remembered: two Ups reach "a" and stay there.
    let (got, _) = run(b"a\r\ra\r\x1b[A\x1b[A\r");
    assert_eq!(got, [line("a"), line(""), line("a"), line("a"), Input::Eof]);
}

#[test]
fn ctrl_c_abandons_the_line_and_ctrl_d_ends_an_empty_one() {
    let (got, out) = run(b"ab\x03\x03\x04");
    assert_eq!(
        got,
        [
            Input::Interrupted("ab".into()),
            Input::Interrupted(String::new()),
            Input::Eof
        ]
    );
    // Packer's readline: `^C` after the line, `exit` at the end.
    assert!(out.contains("\r> ab\x1b[K^C\n"), "{out:?}");
    assert!(out.ends_with("\r> \x1b[Kexit\n"), "{out:?}");
}

#[test]
fn the_line_is_redrawn_with_the_cursor_in_place_and_utf8_is_one_character() {
    let (got, out) = run("é€x\x1b[D\x08\r".as_bytes());
    assert_eq!(got, [line("éx"), Input::Eof]);
    // After Left the cursor is one column before the end.
    assert!(out.contains("\r> é€x\x1b[K\x1b[1D"), "{out:?}");
    assert!(out.contains("\r> éx\x1b[K\x1b[1D"), "{out:?}");
    // Unknown control keys and escape sequences change nothing.
    let (got, _) = run(b"a\x07\x1b[5~\x1bxb\r");
    assert_eq!(got, [line("ab"), Input::Eof]);
}

#[test]
fn the_end_of_the_input_ends_a_line() {
    let (got, _) = run(b"tail");
    assert_eq!(got, [line("tail"), Input::Eof]);
}
