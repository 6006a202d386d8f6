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

mod errors;
mod robustness;
