//! Errors: Go execution errors, parse errors and their exact positions.

use super::*;

#[test]
fn go_execution_errors() {
    let x = |pos: &str, ctx: &str, msg: &str| {
        format!("template: root:1:{pos}: executing \"root\" at <{ctx}>: {msg}")
    };
    let cases: Vec<(&str, String, u32, u32)> = vec![
        (
            "{{user}}",
            x("2", "user", "wrong number of args for user: want 1 got 0"),
            1,
            3,
        ),
        (
            "{{ upper `a` `b` }}",
            x("3", "upper", "wrong number of args for upper: want 1 got 2"),
            1,
            4,
        ),
        (
            "{{ \"a\" | upper \"b\" }}",
            x("9", "upper", "wrong number of args for upper: want 1 got 2"),
            1,
            10,
        ),
        (
            "{{ and }}",
            x(
                "3",
                "and",
                "wrong number of args for and: want at least 1 got 0",
            ),
            1,
            4,
        ),
        (
            "{{ printf }}",
            x(
                "3",
                "printf",
                "wrong number of args for printf: want at least 1 got 0",
            ),
            1,
            4,
        ),
        (
            "{{ upper 1 }}",
            x("9", "1", "expected string; found 1"),
            1,
            10,
        ),
        (
            "{{ upper true }}",
            x("9", "true", "expected string; found true"),
            1,
            10,
        ),
        (
            "{{ upper nil }}",
            x("9", "nil", "cannot assign nil to string"),
            1,
            10,
        ),
        (
            "{{ split `a` `-` `x` }}",
            x("17", "`x`", "expected integer; found `x`"),
            1,
            18,
        ),
        (
            "{{ split `a` `-` 1.5 }}",
            x("17", "1.5", "expected integer; found 1.5"),
            1,
            18,
        ),
        (
            "{{ upper .Int }}",
            x(
                "9",
                ".Int",
                "wrong type for value; expected string; got int",
            ),
            1,
            10,
        ),
        (
            "{{ upper .Missing }}",
            x("9", ".Missing", "invalid value; expected string"),
            1,
            10,
        ),
        (
            "{{ upper .List }}",
            x(
                "9",
                ".List",
                "wrong type for value; expected string; got []interface {}",
            ),
            1,
            10,
        ),
        (
            "{{ .Int | upper }}",
            x(
                "10",
                "upper",
                "wrong type for value; expected string; got int",
            ),
            1,
            11,
        ),
        (
            "{{ .Str 1 }}",
            x("3", ".Str", "Str is not a method but has arguments"),
            1,
            4,
        ),
        (
            "{{ .Str.X }}",
            x("7", ".Str.X", "can't evaluate field X in type string"),
            1,
            8,
        ),
        (
            "{{ .Nil.X }}",
            x("7", ".Nil.X", "nil pointer evaluating interface {}.X"),
            1,
            8,
        ),
        (
            "{{ .List.X }}",
            x(
                "8",
                ".List.X",
                "can't evaluate field X in type []interface {}",
            ),
            1,
            9,
        ),
        (
            "{{ \"x\" 1 }}",
            x("3", "\"x\"", "can't give argument to non-function \"x\""),
            1,
            4,
        ),
        (
            "{{ $x := 1 }}{{ $x 2 }}",
            x("16", "$x", "can't give argument to non-function $x"),
            1,
            17,
        ),
        ("{{ nil }}", x("3", "nil", "nil is not a command"), 1, 4),
        (
            "{{ eq 1 \"a\" }}",
            x(
                "3",
                "eq 1 \"a\"",
                "error calling eq: incompatible types for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ eq 1 1.0 }}",
            x(
                "3",
                "eq 1 1.0",
                "error calling eq: incompatible types for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ eq 1 }}",
            x(
                "3",
                "eq 1",
                "error calling eq: missing argument for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ eq .List .List }}",
            x(
                "3",
                "eq .List .List",
                "error calling eq: non-comparable type [a b c]: []interface {}",
            ),
            1,
            4,
        ),
        (
            "{{ lt true false }}",
            x(
                "3",
                "lt true false",
                "error calling lt: invalid type for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ lt 1 \"a\" }}",
            x(
                "3",
                "lt 1 \"a\"",
                "error calling lt: incompatible types for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ gt .Missing 1 }}",
            x(
                "3",
                "gt .Missing 1",
                "error calling gt: invalid type for comparison",
            ),
            1,
            4,
        ),
        (
            "{{ len 3 }}",
            x("3", "len 3", "error calling len: len of type int"),
            1,
            4,
        ),
        (
            "{{ len .Missing }}",
            x(
                "3",
                "len .Missing",
                "error calling len: reflect: call of reflect.Value.Type on zero Value",
            ),
            1,
            4,
        ),
        (
            "{{ index .List 5 }}",
            x(
                "3",
                "index .List 5",
                "error calling index: index out of range: 5",
            ),
            1,
            4,
        ),
        (
            "{{ index .List \"a\" }}",
            x(
                "3",
                "index .List \"a\"",
                "error calling index: cannot index slice/array with type string",
            ),
            1,
            4,
        ),
        (
            "{{ index .Map 1 }}",
            x(
                "3",
                "index .Map 1",
                "error calling index: value has type int; should be string",
            ),
            1,
            4,
        ),
        (
            "{{ index .Missing 1 }}",
            x(
                "3",
                "index .Missing 1",
                "error calling index: index of untyped nil",
            ),
            1,
            4,
        ),
        (
            "{{ index 5 1 }}",
            x(
                "3",
                "index 5 1",
                "error calling index: can't index item of type int",
            ),
            1,
            4,
        ),
        (
            "{{ slice \"abc\" 2 1 }}",
            x(
                "3",
                "slice \"abc\" 2 1",
                "error calling slice: invalid slice index: 2 > 1",
            ),
            1,
            4,
        ),
        (
            "{{ slice \"abc\" 1 2 3 }}",
            x(
                "3",
                "slice \"abc\" 1 2 3",
                "error calling slice: cannot 3-index slice a string",
            ),
            1,
            4,
        ),
        (
            "{{ slice .List 9 }}",
            x(
                "3",
                "slice .List 9",
                "error calling slice: index out of range: 9",
            ),
            1,
            4,
        ),
        (
            "{{ slice 3 }}",
            x(
                "3",
                "slice 3",
                "error calling slice: can't slice item of type int",
            ),
            1,
            4,
        ),
        (
            "{{ call .Str }}",
            x(
                "3",
                "call .Str",
                "error calling call: non-function of type string",
            ),
            1,
            4,
        ),
        (
            "{{ range .Str }}{{ end }}",
            x("9", ".Str", "range can't iterate over hello"),
            1,
            10,
        ),
        (
            "{{ range 3 }}{{ end }}",
            x("9", "3", "range can't iterate over 3"),
            1,
            10,
        ),
        (
            "{{ 99999999999999999999.0 | printf \"%d\" }}",
            "ignored".into(),
            0,
            0,
        ),
    ];
    let mut failures = Vec::new();
    for (input, msg, line, col) in &cases {
        if msg == "ignored" {
            // A float constant that is too big for int stays a float: no error.
            assert!(render(input, &ctx()).is_ok(), "{input}");
            continue;
        }
        match render(input, &ctx()) {
            Err(e) if &e.message == msg && e.line == *line && e.col == *col => {}
            other => failures.push(format!(
                "{input:?}: want {msg:?} at {line}:{col}, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parse_errors_with_positions() {
    let p = |msg: &str| format!("template: root:1: {msg}");
    let c = ctx();
    check_errors(
        &c,
        &[
            ("{{ nope }}", &p("function \"nope\" not defined"), 1, 4),
            (
                "abc {{ user `a` | nope `b` }}",
                &p("function \"nope\" not defined"),
                1,
                19,
            ),
            ("é{{nope}}", &p("function \"nope\" not defined"), 1, 4),
            ("{{", &p("unclosed action"), 1, 1),
            ("x {{ user `a`", &p("unclosed action"), 1, 3),
            ("{{}}", &p("missing value for command"), 1, 1),
            ("{{if .A}}x", &p("unexpected EOF"), 1, 1),
            ("{{end}}", &p("unexpected {{end}}"), 1, 1),
            ("ab{{else}}", &p("unexpected {{else}}"), 1, 3),
            ("{{ $x }}", &p("undefined variable \"$x\""), 1, 4),
            (
                "{{ 1 | 2 }}",
                &p("non executable command in pipeline stage 2"),
                1,
                8,
            ),
            ("{{ \"abc }}", &p("unterminated quoted string"), 1, 4),
            ("{{ `abc }}", &p("unterminated raw quoted string"), 1, 4),
            ("{{ upper \"abc }}", &p("unterminated quoted string"), 1, 10),
            ("{{ \"\\z\" }}", &p("invalid syntax"), 1, 4),
            ("{{ (upper `a` }}", &p("unclosed left paren"), 1, 4),
            ("{{ upper `a`) }}", &p("unexpected \")\" in command"), 1, 13),
            ("{{ .A! }}", &p("bad character U+0021 '!'"), 1, 6),
            ("{{ print .A! }}", &p("bad character U+0021 '!'"), 1, 12),
            ("{{/* x", &p("unclosed comment"), 1, 1),
            (
                "{{/* x */ y }}",
                &p("comment ends before closing delimiter"),
                1,
                10,
            ),
            ("{{ break }}", &p("{{break}} outside {{range}}"), 1, 4),
            (
                "{{ range .List }}{{ continue 1 }}{{ end }}",
                &p("unexpected \"1\" in {{continue}}"),
                1,
                30,
            ),
            (
                "{{ define \"x\" }}{{ end }}",
                &p("{{define}} is not supported by rpack"),
                1,
                1,
            ),
            (
                "{{ template \"x\" }}",
                &p("{{template}} is not supported by rpack"),
                1,
                4,
            ),
        ],
    );
    // Multi-line inputs: the message names Go's line, line/col point at the token.
    check_errors(
        &c,
        &[
            ("line one\n  {{ nope }}", "template: root:2: function \"nope\" not defined", 2, 6),
            // Go names the line where it noticed; line/col point at the unclosed `{{if`.
            ("a\nb\n{{if 1}}\nc", "template: root:4: unexpected EOF", 3, 1),
            ("a\n{{ user\n`x`", "template: root:3: unclosed action started at root:2", 2, 1),
            ("a\n{{ user\n\"x }}", "template: root:3: unterminated quoted string in action started at root:2", 3, 1),
            ("a\nb {{ env `X` }}", "template: root:2:5: executing \"root\" at <env `X`>: error calling env: env vars are not allowed here", 2, 6),
            ("é {{env `X`}}", "template: root:1:5: executing \"root\" at <env `X`>: error calling env: env vars are not allowed here", 1, 5),
        ],
    );
}

#[test]
fn check_finds_syntax_errors_only() {
    let c = ctx();
    assert_eq!(check("no actions", &c), Ok(()));
    assert_eq!(
        check("{{ env `HOME` }}", &c),
        Ok(()),
        "run-time errors are not parse errors"
    );
    assert_eq!(check("{{ build `Nope` }}", &c), Ok(()));
    assert_eq!(check("{{ .Anything.Goes }}", &c), Ok(()));
    let e = check("{{ nope }}", &c).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.line, e.col),
        ("template: root:1: function \"nope\" not defined", 1, 4)
    );
    let e = check("{{ clean_resource_name `a` }}", &c).unwrap_err();
    assert_eq!(
        e.message,
        "template: root:1: function \"clean_resource_name\" not defined"
    );
    let mut amazon = c.clone();
    amazon.amazon_funcs = true;
    assert_eq!(check("{{ clean_resource_name `a` }}", &amazon), Ok(()));
    assert!(check("{{ if 1 }}", &c).is_err());
}

#[test]
fn errors_in_later_passes_point_at_the_original_action() {
    // `bad` expands to `{{ env `HOME` }}`, which fails in the second pass. The message keeps
    // Go's position in the expanded text; line/col point at `user` in the input.
    let e = render("abc {{user `bad`}}", &ctx()).unwrap_err();
    assert_eq!(
        e.message,
        "template: root:1:7: executing \"root\" at <env `HOME`>: error calling env: env vars are not allowed here"
    );
    assert_eq!((e.line, e.col), (1, 7));
    let e = render("x\n  {{ user `a` }} {{ user `bad` }}", &ctx()).unwrap_err();
    assert_eq!((e.line, e.col), (2, 21));
}

/// `col` must land on the offending token for every error: the character there is checked.
#[test]
fn error_columns_land_on_the_token() {
    let c = ctx();
    let cases: &[(&str, &str)] = &[
        ("ab {{ nope }}", "nope"),
        ("ab {{ user `a` | upper | nope }}", "nope"),
        ("ab {{ env `X` }}", "env"),
        ("ab {{ upper 1 }}", "1"),
        ("ab {{ split `a` `-` 5 }}", "split"),
        ("ab {{ .Str.Y }}", ".Y"),
        ("ab {{ if .True }}{{ $zz }}{{ end }}", "$zz"),
        ("ab\ncd {{ lower (env `X`) }}", "env"),
        ("ab {{ \"open }}", "\"open"),
        ("日本 {{ nope }}", "nope"),
    ];
    for (input, token) in cases {
        let e = render(input, &c).unwrap_err();
        let line = input.lines().nth(e.line as usize - 1).unwrap();
        let at: String = line.chars().skip(e.col as usize - 1).collect();
        assert!(
            at.starts_with(token),
            "{input:?}: error {e:?} points at {at:?}, want {token:?}"
        );
    }
}
