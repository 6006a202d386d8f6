//! Unit tests of the template parser: Go's parse tree printed back, and the errors Go reports.

use super::*;

fn funcs(name: &str) -> Option<Func> {
    super::super::funcs::lookup(name, false)
}

fn round_trip(src: &str) -> String {
    let tree = parse(src, &funcs).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    tree.root
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

#[test]
fn parses_and_prints_back() {
    let cases = [
        ("", ""),
        ("text", "text"),
        ("{{.}}", "{{.}}"),
        ("{{ .A.B }}", "{{.A.B}}"),
        ("{{$x := 1}}{{$x}}", "{{$x := 1}}{{$x}}"),
        ("{{ user `a` | upper }}", "{{user `a` | upper}}"),
        ("{{ (user \"a\").B }}", "{{(user \"a\").B}}"),
        (
            "{{if .A}}a{{else if .B}}b{{else}}c{{end}}",
            "{{if .A}}a{{else}}{{if .B}}b{{else}}c{{end}}{{end}}",
        ),
        (
            "{{range $i, $v := .L}}{{$i}}{{end}}",
            "{{range $i, $v := .L}}{{$i}}{{end}}",
        ),
        (
            "{{with $x := .A}}{{$x}}{{else}}none{{end}}",
            "{{with $x := .A}}{{$x}}{{else}}none{{end}}",
        ),
        ("a {{- 1 -}} b", "a{{1}}b"),
        ("{{/* comment */}}x", "x"),
        (
            "{{'a'}}{{0x10}}{{1e3}}{{-2}}{{nil | print}}",
            "{{'a'}}{{0x10}}{{1e3}}{{-2}}{{nil | print}}",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(round_trip(src), want, "{src}");
    }
}

/// Every parse error: message and the byte offset it points at.
#[test]
fn parse_errors() {
    let cases: &[(&str, &str, usize)] = &[
        ("{{ nope }}", "function \"nope\" not defined", 3),
        (
            "abc {{ user `a` | nope `b` }}",
            "function \"nope\" not defined",
            18,
        ),
        ("{{", "unclosed action", 0),
        ("x{{ .A ", "unclosed action", 1),
        ("{{}}", "missing value for command", 0),
        ("{{ }}", "missing value for command", 0),
        ("{{if}}{{end}}", "missing value for if", 0),
        ("{{if .A}}x", "unexpected EOF", 0),
        ("a\n{{range .A}}x{{else}}y", "unexpected EOF", 2),
        ("{{end}}", "unexpected {{end}}", 0),
        ("x{{else}}", "unexpected {{else}}", 1),
        (
            "{{if 1}}{{else}}{{else}}{{end}}",
            "expected end; found {{else}}",
            16,
        ),
        ("{{end x}}", "unexpected \"x\" in end", 6),
        ("{{else x}}", "unexpected \"x\" in else", 7),
        ("{{ $x }}", "undefined variable \"$x\"", 3),
        (
            "{{if $x := 1}}{{end}}{{$x}}",
            "undefined variable \"$x\"",
            23,
        ),
        (
            "{{ 1 | 2 }}",
            "non executable command in pipeline stage 2",
            7,
        ),
        (
            "{{ .A | \"s\" }}",
            "non executable command in pipeline stage 2",
            8,
        ),
        ("{{ \"a\"\"b\" }}", "unexpected \"\\\"b\\\"\" in operand", 6),
        ("{{ \"a\".B }}", "unexpected . after term \"\\\"a\\\"\"", 6),
        ("{{ \"\\q\" }}", "invalid syntax", 3),
        ("{{ | print }}", "unexpected \"|\" in command", 3),
        ("{{ 3x }}", "bad number syntax: \"3x\"", 3),
        ("{{ print 3x }}", "bad number syntax: \"3x\"", 9),
        ("{{ - }}", "illegal number syntax: \"-\"", 3),
        (
            "{{ 1+2i }}",
            "complex number \"1+2i\" is not supported by rpack",
            3,
        ),
        (
            "{{define \"x\"}}{{end}}",
            "{{define}} is not supported by rpack",
            0,
        ),
        (
            "{{template \"x\"}}",
            "{{template}} is not supported by rpack",
            2,
        ),
        (
            "{{block \"x\" .}}{{end}}",
            "{{block}} is not supported by rpack",
            2,
        ),
        (
            "{{range $a, $b, $c := .}}{{end}}",
            "too many declarations in range",
            14,
        ),
        (
            "{{if $a, $b := .}}{{end}}",
            "too many declarations in if",
            7,
        ),
        (
            "{{range $a, 1}}{{end}}",
            "range can only initialize variables",
            12,
        ),
        ("{{/* x", "unclosed comment", 0),
        ("{{ print (1 }}", "unclosed left paren", 9),
        (
            "{{ (1 | 2) }}",
            "non executable command in pipeline stage 2",
            8,
        ),
        ("{{ 'ab' }}", "malformed character constant: 'ab'", 3),
    ];
    for (src, msg, pos) in cases {
        let err = parse(src, &funcs)
            .err()
            .unwrap_or_else(|| panic!("{src}: parsed"));
        assert_eq!((err.msg.as_str(), err.pos), (*msg, *pos), "{src}");
    }
}

/// The intent of Packer's `TestFunctionsCalled`.
#[test]
fn functions_called() {
    let called = |src: &str| -> Vec<String> {
        let tree = parse(src, &funcs).unwrap();
        tree.functions().into_iter().map(String::from).collect()
    };
    assert!(called("foo").is_empty());
    assert_eq!(called("foo {{user `bar`}}"), vec!["user"]);
    assert_eq!(
        called(
            "{{ if eq (env `A`) `b` }}{{ (upper .X).Y }}{{ else }}{{ lower `x` | print }}{{ end }}"
        ),
        vec!["env", "eq", "lower", "print", "upper"]
    );
}

#[test]
fn variables_scope_to_their_control() {
    assert!(parse("{{$x := 1}}{{if .}}{{$x}}{{end}}{{$x}}", &funcs).is_ok());
    assert!(parse("{{range $i, $v := .}}{{$i}}{{$v}}{{$}}{{end}}", &funcs).is_ok());
    assert!(parse("{{with $x := 1}}{{end}}{{$x}}", &funcs).is_err());
    assert!(parse("{{$x := 1}}{{$x = 2}}", &funcs).is_ok());
}
