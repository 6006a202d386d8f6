//! Language items of issue #14: plugin bodies checked against their plugin's keys, file names in
//! positions of multi-file templates, every error of a stage at once, `nullable`, `convert()`,
//! operator precedence.

use super::plugin_keys::{suggestion, Family, PluginKeys, Unknown};
use super::tests::write;
use super::*;

/// A stand-in for the plan's registry: a few plugins with flat key lists.
struct FakeKeys;

impl PluginKeys for FakeKeys {
    fn unknown(
        &self,
        family: Family,
        kind: &str,
        config: &crate::template::json::Object,
    ) -> Option<Vec<Unknown>> {
        let known: &[&str] = match (family, kind) {
            (Family::Builder, "null") => &["name", "communicator"],
            (Family::Provisioner, "shell-local") => {
                &["inline", "only", "except", "pause_before", "timeout"]
            }
            (Family::PostProcessor, "manifest") => &["output", "only", "except"],
            _ => return None,
        };
        let known: Vec<String> = known.iter().map(std::string::ToString::to_string).collect();
        Some(
            config
                .entries
                .iter()
                .filter(|(k, _, _)| k != "type" && !known.contains(k))
                .map(|(k, p, _)| Unknown {
                    path: k.clone(),
                    pos: *p,
                    suggestion: suggestion(k, &known),
                })
                .collect(),
        )
    }
}

fn load_dir(dir: &Path, vars: &[(&str, &str)], keys: bool) -> Result<Loaded, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data = DataOptions {
        plugins: if keys { Some(&FakeKeys) } else { None },
        ..DataOptions::default()
    };
    load_with_env(&dir.display().to_string(), &[], &vars, Vec::new(), data)
        .map_err(|e| e.replace(&dir.display().to_string(), "DIR"))
}

fn load_one(text: &str, vars: &[(&str, &str)]) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "t.pkr.hcl", text);
    load_dir(dir.path(), vars, true)
}

/// The `on FILE:LINE:COL:` lines of rendered diagnostics, in order.
fn positions(e: &str) -> Vec<String> {
    e.lines()
        .filter_map(|l| l.trim().strip_prefix("on "))
        .map(|l| l.trim_end_matches(':').replace("DIR/", ""))
        .collect()
}

const SOURCES: &str = "source \"null\" \"a\" {\n  communicator = \"none\"\n  bogus        = 1\n}\n";
const BUILD: &str = r#"build {
  source "null.a" {
    name = "x"
    nope = "y"
  }
  provisioner "shell-local" {
    inline = ["echo"]
    inlin  = ["x"]
    name   = "named"
  }
  post-processors {
    post-processor "manifest" {
      outptu = "m.json"
    }
  }
}
"#;

#[test]
fn unknown_plugin_keys_are_unsupported_arguments_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pkr.hcl", SOURCES);
    write(dir.path(), "b.pkr.hcl", BUILD);
    let e = load_dir(dir.path(), &[], true).err().unwrap();
    assert_eq!(
        positions(&e),
        [
            "a.pkr.hcl:3:3",
            "b.pkr.hcl:4:5",
            "b.pkr.hcl:8:5",
            "b.pkr.hcl:13:7"
        ],
        "{e}"
    );
    assert_eq!(e.matches("Error: Unsupported argument").count(), 4, "{e}");
    assert!(
        e.contains("   3:   bogus        = 1\n        ^\n\nAn argument named \"bogus\" is not expected here.\n"),
        "{e}"
    );
    assert!(
        e.contains("An argument named \"nope\" is not expected here. Did you mean \"name\"?"),
        "{e}"
    );
    assert!(
        e.contains("An argument named \"inlin\" is not expected here. Did you mean \"inline\"?"),
        "{e}"
    );
    assert!(
        e.contains("An argument named \"outptu\" is not expected here. Did you mean \"output\"?"),
        "{e}"
    );
    // The provisioner's `name` is Packer's own attribute, not the plugin's.
    assert!(!e.contains("\"name\" is not expected"), "{e}");
    // Without the plugins' keys the body loads (the plan reports the keys later).
    assert!(load_dir(dir.path(), &[], false).is_ok());
}

#[test]
fn unknown_plugin_keys_in_json_syntax_use_hcls_json_words() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "t.pkr.json",
        "{\n  \"source\": {\"null\": {\"a\": {\n    \"communicator\": \"none\",\n    \"communicatr\": 1\n  }}},\n  \"build\": {\"sources\": [\"source.null.a\"]}\n}\n",
    );
    let e = load_dir(dir.path(), &[], true).err().unwrap();
    assert_eq!(positions(&e), ["t.pkr.json:4:5"], "{e}");
    assert!(
        e.contains("Error: Extraneous JSON object property\n"),
        "{e}"
    );
    assert!(
        e.contains("\nNo argument or block type is named \"communicatr\".\n"),
        "{e}"
    );
}

#[test]
fn a_source_body_has_no_name_a_fill_in_has() {
    // Packer 1.6.6: `name` belongs to the build-level fill-in, not to the source.
    let e = load_one(
        "source \"null\" \"a\" {\n  name         = \"x\"\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n  source \"null.a\" {\n    name = \"y\"\n  }\n}\n",
        &[],
    )
    .err()
    .unwrap();
    assert_eq!(positions(&e), ["t.pkr.hcl:2:3"], "{e}");
    assert!(
        e.contains("An argument named \"name\" is not expected here."),
        "{e}"
    );
}

#[test]
fn a_provisioner_evaluated_per_build_reports_its_key_once() {
    let src = r#"
source "null" "a" { communicator = "none" }
source "null" "b" { communicator = "none" }
build {
  sources = ["source.null.a", "source.null.b"]
  provisioner "shell-local" {
    inline = ["echo ${source.name}"]
    bogus  = 1
  }
}
"#;
    let e = load_one(src, &[]).err().unwrap();
    assert_eq!(positions(&e), ["t.pkr.hcl:8:5"], "{e}");
}

#[test]
fn positions_of_a_directory_name_their_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.pkr.hcl",
        "build {\n  sources = [\"source.null.a\"]\n}\n",
    );
    write(
        dir.path(),
        "b.pkr.hcl",
        "# second file\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\n",
    );
    let l = load_dir(dir.path(), &[], true).unwrap();
    let b = &l.template.builders[0];
    let names = l.template.file_names();
    assert_eq!(b.pos.file, 1);
    assert!(
        names.name(b.pos).ends_with("b.pkr.hcl"),
        "{}",
        names.at(b.pos)
    );
    let key = b.config.key_pos("communicator").unwrap();
    assert!(
        names.at(key).ends_with("b.pkr.hcl:3:3"),
        "{}",
        names.at(key)
    );
    // A lone file and a JSON template keep their one name.
    let one = load_one(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
        &[],
    )
    .unwrap();
    let p = one.template.builders[0].pos;
    assert_eq!(p.file, 0);
    assert!(one.template.file_names().at(p).ends_with("t.pkr.hcl:1:1"));
    let json = crate::template::parse::FileNames::single("t.json");
    assert_eq!(json.at(p), "t.json:1:1");
    assert_eq!(json.to_string(), "t.json");
}

#[test]
fn errors_of_one_stage_come_together() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.pkr.hcl",
        r#"variable "n" {
  type    = number
  default = "abc"
}
variable "size" {
  type    = number
  default = 1
  validation {
    condition     = var.size > 2
    error_message = "The size must be more than 2."
  }
}
variable "other" {
  type = list(string)
}
"#,
    );
    write(
        dir.path(),
        "b.pkr.hcl",
        r#"variable "word" {
  type = string
  validation {
    condition     = length(var.word) > 3
    error_message = "Too short."
  }
}
"#,
    );
    let e = load_dir(dir.path(), &[("word", "ab"), ("other", "1")], true)
        .err()
        .unwrap();
    for want in [
        "Invalid default value for variable",
        "Invalid value for variable",
        "The size must be more than 2.",
        "Too short.",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    let at = positions(&e);
    assert!(at.contains(&"a.pkr.hcl:3:13".to_string()), "{at:?}");
    assert!(at.contains(&"a.pkr.hcl:7:13".to_string()), "{at:?}");
    assert!(at.contains(&"b.pkr.hcl:4:21".to_string()), "{at:?}");

    // Undefined references in different blocks and files: each with its position.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.pkr.hcl",
        "source \"null\" \"a\" {\n  communicator = var.nope\n}\n",
    );
    write(
        dir.path(),
        "b.pkr.hcl",
        "build {\n  sources = [\"source.null.a\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo ${local.missing}\"]\n  }\n}\n",
    );
    let e = load_dir(dir.path(), &[], true).err().unwrap();
    // Each at the reference itself (inside a string template too), in HCL's words.
    assert_eq!(positions(&e), ["a.pkr.hcl:2:18", "b.pkr.hcl:4:23"], "{e}");
    assert!(
        e.contains("This object does not have an attribute named \"nope\"."),
        "{e}"
    );
    assert!(
        e.contains("This object does not have an attribute named \"missing\"."),
        "{e}"
    );
}

const NULLABLE: &str = r#"
variable "with_default" {
  type     = string
  default  = "d"
  nullable = false
}
variable "plain" {
  type    = string
  default = "d"
}
variable "required" {
  type     = list(string)
  nullable = false
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
"#;

fn var_value(l: &Loaded, name: &str) -> String {
    let v = l.console.scope.get("var").unwrap().as_object().unwrap()[name].clone();
    serde_json::to_string(&v).unwrap()
}

#[test]
fn nullable_false_takes_the_default_for_null_and_requires_a_value() {
    let l = load_one(NULLABLE, &[("required", "[\"1\"]")]).unwrap();
    assert_eq!(var_value(&l, "with_default"), "\"d\"");
    assert_eq!(var_value(&l, "plain"), "\"d\"");
    // A null given value: the default for nullable = false, null otherwise.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "t.pkr.hcl", NULLABLE);
    write(
        dir.path(),
        "n.auto.pkrvars.hcl",
        "with_default = null\nplain = null\nrequired = null\n",
    );
    let e = load_dir(dir.path(), &[], true).err().unwrap();
    assert_eq!(e.matches("Error: ").count(), 1, "{e}");
    assert!(e.contains("Error: Required variable not set"), "{e}");
    assert!(e.contains("on DIR/n.auto.pkrvars.hcl:3:1:"), "{e}");
    assert!(
        e.contains("The given value is not suitable for var.required defined at DIR/t.pkr.hcl:11:1: required variable may not be set to null."),
        "{e}"
    );
    let l = load_dir(dir.path(), &[("required", "[]")], true).unwrap();
    assert_eq!(var_value(&l, "with_default"), "\"d\"");
    assert_eq!(var_value(&l, "plain"), "null");
    assert_eq!(var_value(&l, "required"), "[]");
    // From -var.
    let e = load_one(NULLABLE, &[("required", "null")]).err().unwrap();
    assert!(
        e.contains("Unsuitable value for var.required set using -var=\"required=...\": required variable may not be set to null."),
        "{e}"
    );
    assert_eq!(positions(&e), ["t.pkr.hcl:11:1"], "{e}");
    // Not set at all: unset, as without nullable.
    let e = load_one(NULLABLE, &[]).err().unwrap();
    assert!(e.contains("Unset variable \"required\""), "{e}");
    // A null default contradicts nullable = false; nullable must be a bool.
    let e = load_one(
        "variable \"x\" {\n  default  = null\n  nullable = false\n}\nvariable \"y\" {\n  default  = 1\n  nullable = \"no\"\n}\n",
        &[],
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Invalid default value for variable\n\n  on DIR/t.pkr.hcl:2:14:"),
        "{e}"
    );
    assert!(
        e.contains("A null default value is not valid when nullable=false."),
        "{e}"
    );
    assert!(
        e.contains("Inappropriate value for attribute \"nullable\": bool required, not string."),
        "{e}"
    );
    assert!(!e.contains("Unset variable"), "{e}");
}

/// Evaluates `expr` as a local of a minimal template: its value as JSON, or the error.
fn local(expr: &str) -> Result<String, String> {
    let src = format!(
        "locals {{\n  v = {expr}\n}}\nsource \"null\" \"a\" {{\n  communicator = \"none\"\n}}\nbuild {{\n  sources = [\"source.null.a\"]\n}}\n"
    );
    let l = load_one(&src, &[])?;
    let v = l.console.scope.get("local").unwrap().as_object().unwrap()["v"].clone();
    Ok(serde_json::to_string(&v).unwrap())
}

#[test]
fn convert_uses_the_variable_type_system() {
    assert_eq!(local("convert(\"5\", number)").unwrap(), "5");
    assert_eq!(
        local("convert([1, 2], list(string))").unwrap(),
        "[\"1\",\"2\"]"
    );
    assert_eq!(
        local("convert({a = 1}, map(string))").unwrap(),
        "{\"a\":\"1\"}"
    );
    assert_eq!(
        local("convert({a = 1}, object({a = string, b = optional(number)}))").unwrap(),
        "{\"a\":\"1\",\"b\":null}"
    );
    assert_eq!(
        local("[for x in [\"1\", \"2\"] : convert(x, number) + 1]").unwrap(),
        "[2,3]"
    );
    assert_eq!(
        local("try(convert(\"x\", bool), \"no\")").unwrap(),
        "\"no\""
    );
    let e = local("convert(\"abc\", number)").err().unwrap();
    assert!(e.contains("Error: Invalid function argument"), "{e}");
    assert!(e.contains("Invalid value for \"value\" parameter: "), "{e}");
    assert_eq!(positions(&e), ["t.pkr.hcl:2:15"], "{e}");
    let e = local("convert(1, strang)").err().unwrap();
    assert!(e.contains("Error: Invalid type specification"), "{e}");
    assert!(
        e.contains("The keyword \"strang\" is not a valid type specification."),
        "{e}"
    );
    assert_eq!(positions(&e), ["t.pkr.hcl:2:18"], "{e}");
    let e = local("convert(1)").err().unwrap();
    assert!(e.contains("Not enough function arguments"), "{e}");
}

#[test]
fn operators_follow_hcl_precedence() {
    // Expected values as Packer 1.6.6's console prints them.
    for (expr, want) in [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),
        ("100 / 10 / 5", "2"),
        ("7 % 3 * 2", "2"),
        ("2 * 3 % 4", "2"),
        ("10 % 4 + 1 * 2", "4"),
        ("-7 % 3", "-1"),
        ("7 % -3", "1"),
        ("7.5 % 2", "1.5"),
        ("5 / 2", "2.5"),
        ("-2 * 3", "-6"),
        ("- 2 + 3", "1"),
        ("-(2 + 3)", "-5"),
        ("- -2", "2"),
        ("2 - 3 - -1", "0"),
        ("!true && false", "false"),
        ("!(true && false)", "true"),
        ("true || false && false", "true"),
        ("(true || false) && false", "false"),
        ("false && true || true", "true"),
        ("1 + 2 == 3", "true"),
        ("1 < 2 == true", "true"),
        ("2 > 1 && 1 > 2", "false"),
        ("1 + 2 * 3 > 6 == !false", "true"),
        ("1 != 2 || false", "true"),
        // Equality does not convert: a string is never equal to a number or a bool.
        ("\"1\" == 1", "false"),
        ("true == \"true\"", "false"),
        ("1 == 1.0", "true"),
        ("\"a\" == \"a\"", "true"),
        ("null == null", "true"),
        ("[1, 2] == [1, 2]", "true"),
        ("{a = 1} == {a = 1}", "true"),
    ] {
        assert_eq!(local(expr).as_deref(), Ok(want), "{expr}");
    }
    // Comparisons do not chain.
    let e = local("1 < 2 < 3").err().unwrap();
    assert!(e.contains("Invalid operand"), "{e}");
}

#[test]
fn operands_convert_as_cty_does() {
    for (expr, want) in [
        ("\"1\" + 1", "2"),
        ("\"2\" * \"3\"", "6"),
        ("\"1.50\" * 2", "3"),
        ("\"1e2\" + 0", "100"),
        ("\"10\" > \"9\"", "true"),
        ("\"1\" < 2", "true"),
        ("-\"2\"", "-2"),
        ("\"true\" && true", "true"),
        ("\"1\" && true", "true"),
        ("!\"false\"", "true"),
        ("[for x in [\"1\", \"2\"] : x * 10]", "[10,20]"),
        ("try(\"x\" + 1, \"fallback\")", "\"fallback\""),
    ] {
        assert_eq!(local(expr).as_deref(), Ok(want), "{expr}");
    }
    // Packer 1.6.6's messages, at the operand.
    for (expr, summary, detail, col) in [
        ("\"abc\" + 1", "Invalid operand", "Unsuitable value for left operand: a number is required.", 7),
        ("\" 1\" + 0", "Invalid operand", "Unsuitable value for left operand: a number is required.", 7),
        ("1 + true", "Invalid operand", "Unsuitable value for right operand: number required.", 11),
        ("[1] + 1", "Invalid operand", "Unsuitable value for left operand: number required.", 7),
        ("!1", "Invalid operand", "Unsuitable value for unary operand: bool required.", 8),
        ("-\"a\"", "Invalid operand", "Unsuitable value for unary operand: a number is required.", 8),
        ("\"TRUE\" && true", "Invalid operand", "Unsuitable value for left operand: a bool is required; to convert from string, use lowercase \"true\".", 7),
        ("null + 1", "Operation failed", "Error during operation: argument must not be null.", 7),
    ] {
        let e = local(expr).err().unwrap();
        assert!(e.starts_with(&format!("Error: {summary}\n")), "{expr}: {e}");
        assert!(e.contains(detail), "{expr}: {e}");
        assert_eq!(positions(&e), [format!("t.pkr.hcl:2:{col}")], "{expr}: {e}");
    }
    // The internal conversion is not a function templates can call.
    let e = local("__rpack_operand(1, \"number\", \"left\", 0)")
        .err()
        .unwrap();
    assert!(e.contains("Call to unknown function"), "{e}");
}

/// References inside a `%{ for … in COLLECTION }` directive count like any other: a local used
/// only there is resolved first (dependency order), an unknown function there is reported, and
/// evaluation with only the variables read (`var_local_reads`) still sees it.
#[test]
fn template_for_directive_collections_are_references() {
    let text = r#"
variable "items" {
  default = ["a", "b"]
}
locals {
  joined = "%{for x in local.upper}${x};%{endfor}"
  upper  = [for i in var.items : upper(i)]
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["echo ${local.joined} %{for i in var.items}<${i}>%{endfor}"]
  }
}
"#;
    let l = load_one(text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let inline = l.template.provisioners[0].config.get("inline").unwrap();
    assert_eq!(
        inline.as_array().unwrap()[0].as_str(),
        Some("echo A;B; <a><b>")
    );
    let bad = text.replace("local.upper}", "nope(local.upper)}");
    let e = load_one(&bad, &[])
        .err()
        .expect("an unknown function in a for directive");
    assert!(e.contains("Call to unknown function"), "{e}");
}

#[test]
fn var_local_reads_lists_attributes_or_needs_the_whole_object() {
    let parse = |s: &str| s.parse::<hcl_edit::expr::Expression>().unwrap();
    let e = parse(r#""${var.a}-${local.b}-%{for x in var.c}${x}%{endfor}-${upper(var.d[0])}""#);
    let (vars, locals) = super::eval::var_local_reads([&e]).unwrap();
    assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["a", "c", "d"]);
    assert_eq!(locals.into_iter().collect::<Vec<_>>(), ["b"]);
    for whole in [r#"var["a"]"#, "keys(local)", "[for var in [1] : var]"] {
        assert!(
            super::eval::var_local_reads([&parse(whole)]).is_none(),
            "{whole}"
        );
    }
}

/// `x % 0` is an HCL diagnostic at the divisor, not a panic of the evaluator's integer `%`
/// (found by the hcl2 fuzzer; the input is kept in src/fuzzing/regressions/hcl2/).
#[test]
fn remainder_by_zero_is_an_error_not_a_panic() {
    let text = "locals {\n  a = 5 % 0\n  b = 7 % \"0\"\n}\n".to_string() + SOURCES_OK;
    let e = load_one(&text, &[]).err().expect("an error");
    assert!(
        e.contains("can't compute a remainder of division by zero"),
        "{e}"
    );
    assert!(positions(&e).iter().any(|p| p == "t.pkr.hcl:2:11"), "{e}");
}

const SOURCES_OK: &str = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n";
