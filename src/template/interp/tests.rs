//! End-to-end tests of [`render`] and [`check`]: Go `text/template` behaviour, every function,
//! Packer's cases (the intent of `interpolate/funcs_test.go`, `i_test.go`, `parse_test.go`),
//! error messages with exact positions, the render loop, and a seeded random-input loop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;

/// 2012-06-21 02:12:56 UTC.
const T: i64 = 1_340_244_776;

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("Str".into(), s("hello"));
    m.insert("Int".into(), Value::Int(3));
    m.insert("Zero".into(), Value::Int(0));
    m.insert("Float".into(), Value::Float(1.5));
    m.insert("True".into(), Value::Bool(true));
    m.insert("False".into(), Value::Bool(false));
    m.insert("Empty".into(), s(""));
    m.insert("Nil".into(), Value::Nil);
    m.insert("List".into(), Value::List(vec![s("a"), s("b"), s("c")]));
    m.insert("EmptyList".into(), Value::List(vec![]));
    m.insert(
        "Nums".into(),
        Value::List(vec![Value::Int(1), Value::Int(2)]),
    );
    m.insert("NilList".into(), Value::List(vec![Value::Nil]));
    let mut inner = BTreeMap::new();
    inner.insert("k1".into(), s("v1"));
    inner.insert("k2".into(), s("v2"));
    m.insert("Map".into(), Value::Map(inner));
    m.insert("EmptyMap".into(), Value::Map(BTreeMap::new()));
    let mut leaf = BTreeMap::new();
    leaf.insert("Leaf".into(), s("deep"));
    let mut mid = BTreeMap::new();
    mid.insert("Inner".into(), Value::Map(leaf));
    m.insert("Nested".into(), Value::Map(mid));
    Value::Map(m)
}

fn ctx() -> Context {
    let mut user_vars = BTreeMap::new();
    for (k, v) in [
        ("foo", "foo"),
        ("a", "A"),
        ("nested", "{{user `a`}}-n"),
        ("deeper", "<{{user `nested`}}>"),
        ("bad", "{{ env `HOME` }}"),
        ("loop", "{{user `loop`}}x"),
    ] {
        user_vars.insert(k.to_string(), v.to_string());
    }
    Context {
        user_vars,
        build_name: Some("foo-bar".into()),
        build_type: Some("amazon-ebs".into()),
        packer_version: Some("1.6.6".into()),
        template_path: Some(PathBuf::from("/tmp/x/template.json")),
        data: Some(data()),
        init_time: Some(T),
        ..Context::default()
    }
}

/// Renders every `(input, output)` pair with `c`, reporting all mismatches at once.
fn check_outputs(c: &Context, cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (input, want) in cases {
        match render(input, c) {
            Ok(got) if got == *want => {}
            other => failures.push(format!("{input:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `(input, message, line, col)` error cases.
fn check_errors(c: &Context, cases: &[(&str, &str, u32, u32)]) {
    let mut failures = Vec::new();
    for (input, msg, line, col) in cases {
        match render(input, c) {
            Err(e) if e.message == *msg && e.line == *line && e.col == *col => {}
            other => failures.push(format!(
                "{input:?}: want Err({msg:?} at {line}:{col}), got {other:?}"
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
fn text_actions_and_literals() {
    check_outputs(
        &ctx(),
        &[
            ("", ""),
            ("plain text", "plain text"),
            ("{ not } an action }}", "{ not } an action }}"),
            ("{{\"s\"}}", "s"),
            ("{{`raw \\n`}}", "raw \\n"),
            (
                "{{\"a\\tb\\n\\\"q\\\" \\u00e9 \\x41 \\101\"}}",
                "a\tb\n\"q\" é A A",
            ),
            ("{{ 42 }}", "42"),
            ("{{-5}}", "-5"),
            ("{{ +5 }}", "5"),
            ("{{ 1.5 }}", "1.5"),
            ("{{ 1e3 }}", "1000"),
            ("{{ 1e6 }}", "1e+06"),
            (
                "{{ 0x10 }} {{ 017 }} {{ 0b11 }} {{ 0o17 }} {{ 0x_1F }}",
                "16 15 3 15 31",
            ),
            ("{{ 'a' }} {{ '\\n' }}", "97 10"),
            ("{{ true }} {{ false }}", "true false"),
            ("{{ print nil }}", "<nil>"),
            ("a{{/* comment */}}b", "ab"),
            ("a {{- /* trimmed */ -}} b", "ab"),
            ("a  \n {{- \"x\" -}} \n  b", "axb"),
            ("a {{- 1}} b", "a1 b"),
            ("a {{1 -}} b", "a 1b"),
            ("{{ \"x\" }}{{ \"y\" }}", "xy"),
            ("{{ ( \"p\" ) }}", "p"),
            ("{{ (print (print \"n\")) }}", "n"),
        ],
    );
}

#[test]
fn dot_fields_and_maps() {
    check_outputs(
        &ctx(),
        &[
            ("{{ .Str }}", "hello"),
            ("{{.Int}} {{.Float}} {{.True}}", "3 1.5 true"),
            ("{{ .Missing }}", "<no value>"),
            ("{{ .Nil }}", "<no value>"),
            ("{{ print .Nil }}|{{ print .Missing }}", "<nil>|<nil>"),
            ("{{ .Missing.Deeper }}", "<no value>"),
            ("{{ .Nested.Inner.Leaf }}", "deep"),
            ("{{ (.Nested).Inner.Leaf }}", "deep"),
            ("{{ .Nested.Inner }}", "map[Leaf:deep]"),
            ("{{ .List }}", "[a b c]"),
            ("{{ .Map }}", "map[k1:v1 k2:v2]"),
            ("{{ .NilList }}", "[<nil>]"),
            ("{{ .EmptyList }}", "[]"),
            ("{{ $.Str }}", "hello"),
            ("{{ with .Nested }}{{ .Inner.Leaf }}{{ end }}", "deep"),
        ],
    );
    // Nil data: every field is "<no value>" (Packer's console shows this for {{ .Foo }}).
    let mut c = ctx();
    c.data = None;
    check_outputs(
        &c,
        &[
            ("{{ .Foo }}", "<no value>"),
            ("{{ . }}", "<no value>"),
            ("{{ .A.B }}", "<no value>"),
        ],
    );
    c.data = Some(Value::Nil);
    check_outputs(&c, &[("{{ .Foo }}", "<no value>")]);
}

#[test]
fn variables_and_scopes() {
    check_outputs(
        &ctx(),
        &[
            ("{{ $x := \"a\" }}{{ $x }}", "a"),
            ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
            ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
            ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
            ("{{ $m := .Map }}{{ $m.k1 }}", "v1"),
            ("{{ $ }}", "map[Empty: EmptyList:[] EmptyMap:map[] False:false Float:1.5 Int:3 List:[a b c] Map:map[k1:v1 k2:v2] Nested:map[Inner:map[Leaf:deep]] Nil:<nil> NilList:[<nil>] Nums:[1 2] Str:hello True:true Zero:0]"),
            ("{{ range .List }}{{ $.Str }}{{ end }}", "hellohellohello"),
            ("{{ $x := .Missing }}{{ $x }}", "<no value>"),
            ("{{ $x := user `a` | lower }}{{ $x }}{{ $x }}", "aa"),
        ],
    );
}

#[test]
fn if_with_range_and_truthiness() {
    check_outputs(
        &ctx(),
        &[
            ("{{ if .True }}y{{ else }}n{{ end }}", "y"),
            ("{{ if .False }}y{{ else }}n{{ end }}", "n"),
            (
                "{{ if .False }}a{{ else if .Int }}b{{ else }}c{{ end }}",
                "b",
            ),
            // Actions may span lines (Go 1.16+).
            ("{{ if\n  .True }}y{{\nend\n}}", "y"),
            // break and continue (Go 1.18+).
            (
                "{{ range .List }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
                "a",
            ),
            (
                "{{ range .List }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}",
                "ac",
            ),
            (
                "{{ range .Nums }}{{ range $.Nums }}{{ break }}{{ end }}x{{ end }}",
                "xx",
            ),
            (
                "{{ range $k, $v := .Map }}{{ with $v }}{{ continue }}{{ end }}no{{ end }}.",
                ".",
            ),
            (
                "{{ if .False }}a{{ else if .Zero }}b{{ else if .Empty }}c{{ else }}d{{ end }}",
                "d",
            ),
            ("{{ if .Zero }}t{{ else }}f{{ end }}", "f"),
            ("{{ if 0.0 }}t{{ else }}f{{ end }}", "f"),
            ("{{ if .Float }}t{{ else }}f{{ end }}", "t"),
            ("{{ if .Empty }}t{{ else }}f{{ end }}", "f"),
            ("{{ if .Str }}t{{ else }}f{{ end }}", "t"),
            ("{{ if .EmptyList }}t{{ else }}f{{ end }}", "f"),
            ("{{ if .List }}t{{ else }}f{{ end }}", "t"),
            ("{{ if .EmptyMap }}t{{ else }}f{{ end }}", "f"),
            ("{{ if .Nil }}t{{ else }}f{{ end }}", "f"),
            ("{{ if .Missing }}t{{ else }}f{{ end }}", "f"),
            ("{{ if $x := .Int }}{{ $x }}{{ end }}", "3"),
            ("{{ with .Str }}{{ . }}{{ end }}", "hello"),
            ("{{ with .Empty }}x{{ else }}none{{ end }}", "none"),
            ("{{ with $x := .Int }}{{ $x }}{{ . }}{{ end }}", "33"),
            ("{{ range .List }}[{{ . }}]{{ end }}", "[a][b][c]"),
            (
                "{{ range $i, $v := .List }}{{ $i }}={{ $v }} {{ end }}",
                "0=a 1=b 2=c ",
            ),
            ("{{ range $v := .Nums }}{{ $v }}{{ end }}", "12"),
            (
                "{{ range $k, $v := .Map }}{{ $k }}:{{ $v }};{{ end }}",
                "k1:v1;k2:v2;",
            ),
            ("{{ range .Map }}{{ . }}{{ end }}", "v1v2"),
            ("{{ range .EmptyList }}x{{ else }}empty{{ end }}", "empty"),
            ("{{ range .EmptyMap }}x{{ else }}empty{{ end }}", "empty"),
            ("{{ range .Missing }}x{{ else }}none{{ end }}", "none"),
            ("{{ range .Nil }}x{{ else }}none{{ end }}", "none"),
            ("{{ range slice .List 1 }}{{ . }}{{ end }}", "bc"),
            (
                "{{ range $i, $e := .List }}{{ if eq $i 1 }}{{ $e }}{{ end }}{{ end }}",
                "b",
            ),
            ("{{ range .NilList }}{{ . }}{{ end }}", "<no value>"),
        ],
    );
}

#[test]
fn pipelines_and_parentheses() {
    check_outputs(
        &ctx(),
        &[
            ("{{ \"abc\" | upper }}", "ABC"),
            ("{{ \"a-b\" | replace \"-\" \"/\" 1 | upper }}", "A/B"),
            ("{{ .Str | printf \"%s!\" }}", "hello!"),
            ("{{ printf \"%s-%s\" (lower \"X\") (upper \"y\") }}", "x-Y"),
            ("{{ (index .Map \"k1\") | upper }}", "V1"),
            ("{{ \"A:B\" | lower }}", "a:b"),
            ("{{ build_name | replace \"-\" \"/\" 1 }}", "foo/bar"),
            ("{{ upper build_name }}", "FOO-BAR"),
            ("{{ .Missing | print }}", "<nil>"),
            ("{{ 3 | printf \"%d\" }}", "3"),
        ],
    );
}

#[test]
fn builtin_functions() {
    check_outputs(
        &ctx(),
        &[
            // print, println, printf
            ("{{ print 1 2 \"a\" 3 \"b\" \"c\" }}", "1 2a3bc"),
            ("{{ println \"a\" 1 }}", "a 1\n"),
            ("{{ printf \"%05.1f|%-4d|%x|%q|%v|%t|%%\" 3.14159 7 255 \"q\" .List true }}", "003.1|7   |ff|\"q\"|[a b c]|true|%"),
            ("{{ printf \"%d\" .Str }}", "%!d(string=hello)"),
            ("{{ printf \"%s %s\" \"one\" }}", "one %!s(MISSING)"),
            ("{{ printf \"x\" 1 }}", "x%!(EXTRA int=1)"),
            ("{{ printf \"%6.2f\" .Float }}", "  1.50"),
            ("{{ printf \"%v\" .Map }}", "map[k1:v1 k2:v2]"),
            // comparisons
            ("{{ eq 1 1 }} {{ eq 1 2 }} {{ eq \"a\" \"b\" \"a\" }} {{ eq .Str \"hello\" }}", "true false true true"),
            ("{{ eq .True true }} {{ eq 1.5 .Float }}", "true true"),
            ("{{ eq .Missing \"x\" }} {{ eq .Missing .Nil }}", "false true"),
            ("{{ ne 1 2 }} {{ ne \"a\" \"a\" }}", "true false"),
            ("{{ lt 1 2 }} {{ lt 2 1 }} {{ lt \"a\" \"b\" }} {{ lt 1.5 2.5 }}", "true false true true"),
            ("{{ le 2 2 }} {{ le 3 2 }}", "true false"),
            ("{{ gt \"b\" \"a\" }} {{ gt 1 1 }}", "true false"),
            ("{{ ge 1.5 2.5 }} {{ ge 2 2 }}", "false true"),
            // and, or, not: Go 1.18+ short-circuit, the deciding value is returned
            ("{{ and 1 0 \"x\" }}", "0"),
            ("{{ and 1 \"x\" }}", "x"),
            ("{{ or 0 \"\" \"y\" }}", "y"),
            ("{{ or 0 \"\" }}", ""),
            ("{{ and false (env `HOME`) }}", "false"),
            ("{{ or true (env `HOME`) }}", "true"),
            ("{{ .Int | and true }}", "3"),
            ("{{ not 0 }} {{ not .List }} {{ not .Missing }}", "true false true"),
            ("{{ if and .True (eq .Int 3) }}yes{{ end }}", "yes"),
            ("{{ if or .False (not .Str) }}yes{{ else }}no{{ end }}", "no"),
            // len, index, slice
            ("{{ len .List }} {{ len \"héllo\" }} {{ len .Map }} {{ len .EmptyList }}", "3 6 2 0"),
            ("{{ index .List 1 }} {{ index .Map \"k2\" }} {{ index .Nested \"Inner\" \"Leaf\" }}", "b v2 deep"),
            ("{{ index .Map \"zz\" }}", "<no value>"),
            ("{{ print (index .Map \"zz\") }}", "<nil>"),
            ("{{ index \"abc\" 1 }}", "98"),
            ("{{ index .List }}", "[a b c]"),
            ("{{ slice \"abcdef\" 1 3 }} {{ slice \"abc\" 1 }} {{ slice \"abc\" }}", "bc bc abc"),
            ("{{ slice .List 1 }} {{ slice .List 0 1 }} {{ slice .List 1 2 3 }}", "[b c] [a] [b]"),
            ("{{ index (slice .List 1) 0 }}", "b"),
            // html, js, urlquery
            ("{{ html \"<a href='x'>&</a>\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
            ("{{ html .Missing }}", "&lt;no value&gt;"),
            ("{{ html 1 2 }}", "1 2"),
            ("{{ js \"it's <b>\" }}", "it\\'s \\u003Cb\\u003E"),
            ("{{ \"a b&c\" | urlquery }}", "a+b%26c"),
        ],
    );
}

#[test]
fn packer_functions() {
    let cwd = std::env::current_dir()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut c = ctx();
    c.amazon_funcs = true;
    check_outputs(
        &c,
        &[
            // funcs_test.go: build_name, build_type, split, timestamp, user, replace, packer_version
            ("{{build_name}}", "foo-bar"),
            ("{{build_type}}", "amazon-ebs"),
            ("{{split build_name \"-\" 0}}", "foo"),
            ("{{split build_name \"-\" 1}}", "bar"),
            ("{{ split \"a,b,c\" \",\" 2 }}", "c"),
            ("{{timestamp}}", "1340244776"),
            ("{{user \"foo\"}}", "foo"),
            ("{{user `what`}}", ""),
            (
                "{{ \"foo-bar-baz\" | replace \"-\" \"/\" 1}}",
                "foo/bar-baz",
            ),
            ("{{ replace \"-\" \"/\" 1 \"foo-bar-baz\" }}", "foo/bar-baz"),
            (
                "{{ replace \"-\" \"/\" -1 \"foo-bar-baz\" }}",
                "foo/bar/baz",
            ),
            (
                "{{ \"I Am Henry VIII\" | replace_all \" \" \"-\" }}",
                "I-Am-Henry-VIII",
            ),
            (
                "{{ replace_all \" \" \"-\" \"I Am Henry VIII\" }}",
                "I-Am-Henry-VIII",
            ),
            ("{{packer_version}}", "1.6.6"),
            ("{{ upper \"abc\" }} {{ lower \"ABC\" }}", "ABC abc"),
            // time
            ("{{isotime}}", "2012-06-21T02:12:56Z"),
            ("{{isotime \"2006-01-02\"}}", "2012-06-21"),
            ("{{ isotime \"20060102-1504\" }}", "20120621-0212"),
            (
                "{{ isotime `Mon Jan _2 15:04:05 MST 2006` }}",
                "Thu Jun 21 02:12:56 UTC 2012",
            ),
            (
                "{{strftime \"%Y-%m-%dT%H:%M:%S%z\"}}",
                "2012-06-21T02:12:56+0000",
            ),
            ("{{ strftime `%Y%m%d` }}", "20120621"),
            // paths
            ("{{pwd}}", &cwd),
            ("{{template_dir}}", "/tmp/x"),
            // amazon
            (
                "{{ clean_resource_name \"a:b/c (d) [e] 'f'@g_h.i\" }}",
                "a-b/c (d) [e] 'f'@g_h.i",
            ),
            ("{{ clean_ami_name \"x*y\" }}", "x-y"),
            (
                "{{ isotime \"2006-01-02 15:04\" | clean_resource_name }}",
                "2012-06-21 02-12",
            ),
        ],
    );
}

#[test]
fn packer_function_errors() {
    let c = ctx();
    let calling = |pos: &str, ctx: &str, name: &str, msg: &str| {
        format!(
            "template: root:1:{pos}: executing \"root\" at <{ctx}>: error calling {name}: {msg}"
        )
    };
    let cases: Vec<(&str, String, u32, u32)> = vec![
        ("echo {{env `HOME`}}", calling("7", "env `HOME`", "env", "env vars are not allowed here"), 1, 8),
        ("{{isotime \"a\" \"b\"}}", calling("2", "isotime \"a\" \"b\"", "isotime", "too many values, 1 needed: [a b]"), 1, 3),
        ("{{ sed \"a\" \"b\" }}", calling("3", "sed \"a\" \"b\"", "sed", "template function `sed` is deprecated use `replace` or `replace_all` instead.Documentation: https://www.packer.io/docs/templates/engine"), 1, 4),
        ("{{ consul_key `k` }}", calling("3", "consul_key `k`", "consul_key", "consul_key is not allowed here"), 1, 4),
        ("{{ vault `p` `k` }}", calling("3", "vault `p` `k`", "vault", "Vault vars are only allowed in the variables section"), 1, 4),
        ("{{ aws_secretsmanager `s` }}", calling("3", "aws_secretsmanager `s`", "aws_secretsmanager", "AWS Secrets Manager is only allowed in the variables section"), 1, 4),
        ("{{split build_name \"-\" 2}}", calling("2", "split build_name \"-\" 2", "split", "the substring 2 was unavailable using the separator value, -, only 2 values were found"), 1, 3),
    ];
    let mut failures = Vec::new();
    for (input, msg, line, col) in &cases {
        match render(input, &c) {
            Err(e) if &e.message == msg && e.line == *line && e.col == *col => {}
            other => failures.push(format!(
                "{input:?}: want {msg:?} at {line}:{col}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let bare = Context {
        init_time: Some(T),
        ..Context::default()
    };
    check_errors(
        &bare,
        &[
            ("{{build_name}}", "template: root:1:2: executing \"root\" at <build_name>: error calling build_name: build_name not available", 1, 3),
            ("{{build_type}}", "template: root:1:2: executing \"root\" at <build_type>: error calling build_type: build_type not available", 1, 3),
            ("{{packer_version}}", "template: root:1:2: executing \"root\" at <packer_version>: error calling packer_version: packer_version not available", 1, 3),
            ("{{template_dir}}", "template: root:1:2: executing \"root\" at <template_dir>: error calling template_dir: template path not available", 1, 3),
            ("{{ clean_resource_name `x` }}", "template: root:1: function \"clean_resource_name\" not defined", 1, 4),
        ],
    );
}

#[test]
fn variables_pass_functions() {
    std::env::set_var("RPACK_INTERP_TEST_ENV", "foo");
    let mut c = ctx();
    c.variables_pass = true;
    c.secrets = Some(Arc::new(|name: &str, key: Option<&str>| {
        match (name, key) {
            ("db", None) => Ok("{\"pw\":\"s3cret\"}".to_string()),
            ("db", Some("pw")) => Ok("s3cret".to_string()),
            _ => Err(format!(
                "ResourceNotFoundException: secret {name} not found"
            )),
        }
    }));
    check_outputs(
        &c,
        &[
            ("{{env \"RPACK_INTERP_TEST_ENV\"}}", "foo"),
            ("{{env \"RPACK_INTERP_TEST_ENV_NOPE\"}}", ""),
            ("{{ aws_secretsmanager `db` `pw` }}", "s3cret"),
            ("{{ aws_secretsmanager `db` }}", "{\"pw\":\"s3cret\"}"),
        ],
    );
    let e = |name: &str, ctx: &str, msg: &str| {
        format!("template: root:1:3: executing \"root\" at <{ctx}>: error calling {name}: {msg}")
    };
    check_errors(
        &c,
        &[
            ("{{ aws_secretsmanager }}", &e("aws_secretsmanager", "aws_secretsmanager", "secret name must be provided"), 1, 4),
            ("{{ aws_secretsmanager `a` `b` `c` }}", &e("aws_secretsmanager", "aws_secretsmanager `a` `b` `c`", "only secret name and optional secret key can be provided."), 1, 4),
            ("{{ aws_secretsmanager `x` }}", &e("aws_secretsmanager", "aws_secretsmanager `x`", "ResourceNotFoundException: secret x not found"), 1, 4),
            ("{{ consul_key `k` }}", &e("consul_key", "consul_key `k`", "consul_key is not supported by rpack; pass the value with -var or -var-file instead"), 1, 4),
            ("{{ vault `p` `k` }}", &e("vault", "vault `p` `k`", "vault is not supported by rpack; pass the value with -var or -var-file instead"), 1, 4),
        ],
    );
    c.secrets = None;
    check_errors(
        &c,
        &[(
            "{{ aws_secretsmanager `db` }}",
            &e(
                "aws_secretsmanager",
                "aws_secretsmanager `db`",
                "AWS Secrets Manager is not available here",
            ),
            1,
            4,
        )],
    );
}

#[test]
fn user_variables_strict_and_lenient() {
    let mut c = ctx();
    check_outputs(&c, &[("{{user `nope`}}", "")]);
    c.strict_user_vars = true;
    check_errors(
        &c,
        &[(
            "{{user `bar`}}baz",
            "template: root:1:2: executing \"root\" at <user `bar`>: error calling user: Error: variable not set: bar",
            1,
            3,
        )],
    );
    check_outputs(&c, &[("{{user `foo`}}", "foo")]);
}

#[test]
fn build_function() {
    // funcs_test.go TestFuncPackerBuild, with rpack's explicit build-data modes.
    let mut c = ctx();
    let deferred = render("id={{ build `ID` }} host={{build \"Host\"}}", &c).unwrap();
    assert_eq!(deferred, "id={{ build `ID` }} host={{ build `Host` }}");
    assert_eq!(
        render(&deferred, &c).unwrap(),
        deferred,
        "stable while deferred"
    );
    check_errors(
        &c,
        &[("{{ build `PartyVar` }}", "template: root:1:3: executing \"root\" at <build `PartyVar`>: error calling build: loaded data, but couldnt find PartyVar in it.", 1, 4)],
    );
    let mut values = BTreeMap::new();
    values.insert("ID".to_string(), "i-0abc".to_string());
    values.insert("Host".to_string(), "10.0.0.1".to_string());
    values.insert("PartyVar".to_string(), "PartyVal".to_string());
    c.build_data = BuildData::Values(values);
    assert_eq!(render(&deferred, &c).unwrap(), "id=i-0abc host=10.0.0.1");
    check_outputs(&c, &[("{{ build `PartyVar` }}", "PartyVal")]);
    check_errors(
        &c,
        &[("{{ build `MissingVar` }}", "template: root:1:3: executing \"root\" at <build `MissingVar`>: error calling build: loaded data, but couldnt find MissingVar in it.", 1, 4)],
    );
    c.build_data = BuildData::Unavailable;
    check_errors(
        &c,
        &[("{{ build `ID` }}", "template: root:1:3: executing \"root\" at <build `ID`>: error calling build: Error validating build variable: the given variable ID will not be passed into your plugin.", 1, 4)],
    );
}

#[test]
fn uuid_is_time_ordered_hex() {
    let out = render("{{uuid}}", &ctx()).unwrap();
    let groups: Vec<usize> = out.split('-').map(str::len).collect();
    assert_eq!(groups, vec![8, 4, 4, 4, 12], "{out}");
    assert_ne!(render("{{uuid}}", &ctx()).unwrap(), out);
}

#[test]
fn template_dir_of_relative_path_is_absolute() {
    let mut c = ctx();
    c.template_path = Some(PathBuf::from("foo/bar.json"));
    let want = std::env::current_dir().unwrap().join("foo");
    assert_eq!(
        render("{{template_dir}}", &c).unwrap(),
        want.to_string_lossy()
    );
    c.template_path = Some(PathBuf::from("bar.json"));
    let want = std::env::current_dir().unwrap();
    assert_eq!(
        render("{{template_dir}}", &c).unwrap(),
        want.to_string_lossy()
    );
}

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
fn render_repeats_until_stable() {
    let c = ctx();
    check_outputs(
        &c,
        &[
            ("{{user `nested`}}", "A-n"),
            ("[{{user `deeper`}}]", "[<A-n>]"),
            ("{{ build `ID` }}{{user `nested`}}", "{{ build `ID` }}A-n"),
        ],
    );
    let e = render("{{user `loop`}}", &c).unwrap_err();
    assert!(e.message.contains("100 rendering passes"), "{e:?}");
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

/// A template set the size the brief names (1,000 variables, 200 provisioners) renders fast.
#[test]
fn many_values_render_quickly() {
    let mut c = ctx();
    for i in 0..1000 {
        c.user_vars.insert(format!("v{i}"), format!("value-{i}"));
    }
    let inputs: Vec<String> = (0..1000)
        .map(|i| format!("prefix {{{{user `v{i}`}}}}-{{{{ build_name | upper }}}} {{{{ isotime \"2006\" }}}}"))
        .chain((0..2000).map(|i| format!("echo {i} {{{{ build `ID` }}}} {{{{ .Str }}}} plain text without actions")))
        .collect();
    let start = std::time::Instant::now();
    for input in &inputs {
        check(input, &c).unwrap();
        render(input, &c).unwrap();
    }
    let took = start.elapsed();
    // Debug builds are ~10x slower than release; this still catches accidental quadratic work.
    assert!(took.as_millis() < 3000, "3000 strings took {took:?}");
}

/// Seeded random inputs built from template-ish pieces: nothing may panic or hang, and `check`
/// must accept whatever `render` can parse. (Complements the cargo-fuzz target in `fuzz/`.)
#[test]
fn random_inputs_never_panic() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        "(",
        ")",
        "|",
        "$x",
        ":=",
        "=",
        "$",
        ".",
        ".Str",
        ".Map",
        ".List",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "0x1F",
        "1e3",
        "true",
        "nil",
        "if",
        "else",
        "end",
        "range",
        "with",
        "user",
        "`a`",
        "printf",
        "\"%d %s %v\"",
        "index",
        "slice",
        "len",
        "eq",
        "and",
        "or",
        "not",
        "env",
        "isotime",
        "strftime",
        "\"%Y\"",
        "split",
        "replace",
        "build",
        "`ID`",
        "/*",
        "*/",
        "é",
        "\\",
        ",",
        "print",
        "html",
        "js",
        "urlquery",
        "lt",
        "upper",
        "{{ user `nested` }}",
    ];
    let c = ctx();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let n = (next() % 12) as usize + 1;
        let mut input = String::new();
        for _ in 0..n {
            input.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let rendered = render(&input, &c);
        let checked = check(&input, &c);
        if rendered.is_ok() {
            assert!(
                checked.is_ok(),
                "{input:?}: renders but check fails: {checked:?}"
            );
        }
        for e in [rendered.err(), checked.err()].into_iter().flatten() {
            assert!(e.line >= 1 && e.col >= 1, "{input:?}: {e:?}");
            assert!(e.message.starts_with("template: root:"), "{input:?}: {e:?}");
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let input = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let e = render(&input, &ctx()).unwrap_err();
    assert!(
        e.message.ends_with("max expression depth exceeded"),
        "{e:?}"
    );
    let input = "{{ if 1 }}".repeat(5000);
    let e = check(&input, &ctx()).unwrap_err();
    assert!(
        e.message.ends_with("max expression depth exceeded"),
        "{e:?}"
    );
}

#[test]
fn fast_path_returns_input_unchanged() {
    let c = ctx();
    for input in ["", "no braces", "{ single }", "}} {", "{{{ odd"] {
        if !input.contains("{{") {
            assert_eq!(render(input, &c).unwrap(), input);
            assert_eq!(check(input, &c), Ok(()));
        }
    }
}

#[test]
fn render_once_does_not_repeat() {
    let c = ctx();
    assert_eq!(
        render_once("{{user `nested`}}", &c).unwrap(),
        "{{user `a`}}-n"
    );
    assert_eq!(render_once("plain", &c).unwrap(), "plain");
}

#[test]
fn byte_offset_in_inverts_line_and_col() {
    let c = ctx();
    let input = "ab\nçd {{ nope }}";
    let e = check(input, &c).unwrap_err();
    assert_eq!((e.line, e.col), (2, 7));
    assert_eq!(&input[e.byte_offset_in(input)..], "nope }}");
}

#[test]
fn functions_called_lists_calls() {
    let c = ctx();
    let names = functions_called("a {{ build `ID` }} {{ user `x` | upper }}", &c).unwrap();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["build", "upper", "user"]
    );
    assert!(functions_called("plain", &c).unwrap().is_empty());
    assert!(functions_called("{{ nope }}", &c).is_err());
}

/// Differential test against real Packer 1.6.6: `testdata/packer_console.txt` records what
/// `packer console` printed for 342 expressions (functions, printf verbs, comparisons, errors
/// and their positions). rpack must print the same, except for the documented gaps below.
#[test]
fn agrees_with_recorded_packer_console_output() {
    const KNOWN_GAPS: &[&str] = &[
        "{{ 1+2i }}",                  // complex constants are not supported
        "{{ define \"x\" }}{{ end }}", // define/template/block are not supported
        "{{ template \"x\" }}",
        "{{ printf \"%b\" 5.0 }}", // %b of floats is not implemented
        "{{ \"\\377\" | len }}",   // Rust strings cannot hold invalid UTF-8
        "{{ index \"abc\" 0 0 }}", // bytes from strings are typed int, not uint8
    ];
    let unescape = |s: &str| {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            match (c, c == '\\') {
                (_, true) => match it.next() {
                    Some('t') => out.push('\t'),
                    Some('n') => out.push('\n'),
                    Some(o) => out.push(o),
                    None => {}
                },
                (c, false) => out.push(c),
            }
        }
        out
    };
    // The console's context: no variables, no data, no build, env not allowed.
    let c = Context {
        build_data: BuildData::Unavailable,
        ..Context::default()
    };
    let (mut checked, mut failures) = (0, Vec::new());
    for line in include_str!("testdata/packer_console.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let (expr, want) = line.split_once('\t').expect("EXPR<TAB>OUTPUT");
        let (expr, want) = (unescape(expr), unescape(want));
        if KNOWN_GAPS.contains(&expr.as_str()) {
            continue;
        }
        let got = match render(&expr, &c) {
            Ok(s) => s.trim_end_matches('\n').to_string(),
            Err(e) => format!(
                "ERR {}",
                e.message.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
        };
        checked += 1;
        if got != want {
            failures.push(format!("{expr}\n  packer: {want}\n  rpack:  {got}"));
        }
    }
    assert!(checked > 300, "only {checked} cases read");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn struct_data_reports_unknown_fields_like_go() {
    // The amazon builders pass a Go struct: a misspelt field is an error there, not "<no value>".
    let mut tags = BTreeMap::new();
    tags.insert("Name".to_string(), s("base"));
    let mut m = BTreeMap::new();
    m.insert("BuildRegion".to_string(), s("us-east-1"));
    m.insert("SourceAMITags".to_string(), Value::Map(tags));
    let c = Context {
        data: Some(Value::Map(m)),
        data_type: Some("*common.BuildInfoTemplate".into()),
        ..Context::default()
    };
    check_outputs(
        &c,
        &[
            ("{{ .BuildRegion }}", "us-east-1"),
            ("{{ .SourceAMITags.Name }}", "base"),
            ("{{ .SourceAMITags.Missing }}", "<no value>"),
            (
                "{{ with .SourceAMITags }}{{ .Nope }}{{ end }}",
                "<no value>",
            ),
        ],
    );
    let x = |pos: &str, ctx: &str, msg: &str| {
        format!("template: root:1:{pos}: executing \"root\" at <{ctx}>: {msg}")
    };
    check_errors(
        &c,
        &[
            (
                "ami-{{ .BuildRgion }}",
                &x(
                    "7",
                    ".BuildRgion",
                    "can't evaluate field BuildRgion in type *common.BuildInfoTemplate",
                ),
                1,
                8,
            ),
            (
                "{{ $.Nope }}",
                &x(
                    "4", // Go places `$.X` at its field part
                    "$.Nope",
                    "can't evaluate field Nope in type *common.BuildInfoTemplate",
                ),
                1,
                5,
            ),
            (
                "{{ .BuildRegion 1 }}",
                &x(
                    "3",
                    ".BuildRegion",
                    "BuildRegion has arguments but cannot be invoked as function",
                ),
                1,
                4,
            ),
        ],
    );
}
