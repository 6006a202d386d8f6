//! The render loop, sizes and random inputs, small helpers, and the differential test against
//! recorded `packer console` output.

use super::*;

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
    for line in include_str!("../testdata/packer_console.txt").lines() {
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
