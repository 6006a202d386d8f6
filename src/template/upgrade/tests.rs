//! Unit tests of the upgrader: Go-template translation, HCL writing, whole templates.

use std::collections::BTreeSet;

use super::gotmpl::{string_expr, Mode, Refs, Scope};
use super::hclwrite::{self, Block, Item};
use super::{upgrade, Options};
use crate::template::parse::parse_str;

fn tr(s: &str, mode: Mode) -> (String, Refs) {
    let locals: BTreeSet<String> = ["loc".to_string()].into();
    let sc = Scope {
        mode,
        locals: &locals,
        build_name: "source.name".into(),
        source: None,
    };
    let mut refs = Refs::default();
    let e = string_expr(s, &sc, &mut refs);
    (e, refs)
}

fn body(s: &str) -> String {
    tr(s, Mode::Body).0
}

#[test]
fn calls_with_an_hcl2_form() {
    let cases = [
        ("plain", "\"plain\""),
        ("{{user `x`}}", "var.x"),
        ("{{ user \"x\" }}", "var.x"),
        ("{{user `loc`}}", "local.loc"),
        ("a-{{user `x`}}-b", "\"a-${var.x}-b\""),
        ("{{build `ID`}}", "build.ID"),
        (
            "{{build_name}}/{{build_type}}",
            "\"${source.name}/${source.type}\"",
        ),
        ("{{template_dir}}", "abspath(path.root)"),
        ("{{pwd}}", "path.cwd"),
        ("{{packer_version}}", "packer.version"),
        ("{{uuid}}", "uuidv4()"),
        (
            "{{isotime}}",
            "legacy_isotime(\"2006-01-02T15:04:05Z07:00\")",
        ),
        ("{{isotime `2006`}}", "legacy_isotime(\"2006\")"),
        ("{{strftime `%Y`}}", "legacy_strftime(\"%Y\")"),
        ("{{lower `AB`}}", "lower(\"AB\")"),
        ("{{user `x` | upper}}", "upper(var.x)"),
        ("{{upper (user `x`)}}", "upper(var.x)"),
        ("{{split `a-b` `-` 1}}", "split(\"-\", \"a-b\")[1]"),
        (
            "{{replace_all `-` `+` (user `x`)}}",
            "replace(var.x, \"-\", \"+\")",
        ),
        (
            "{{replace `-` `+` -1 `a-b`}}",
            "replace(\"a-b\", \"-\", \"+\")",
        ),
        ("{{env `HOME`}}", "var.env_HOME"),
    ];
    for (json, hcl) in cases {
        assert_eq!(body(json), hcl, "{json}");
    }
}

#[test]
fn literal_text_is_escaped_for_hcl() {
    assert_eq!(
        body("${x} %{y} \"q\" \\ \n\t"),
        r#""$${x} %%{y} \"q\" \\ \n\t""#
    );
    assert_eq!(body("a ${b} {{user `x`}}"), r#""a $${b} ${var.x}""#);
    assert_eq!(body("$ % {"), r#""$ % {""#);
}

#[test]
fn what_has_no_hcl2_form_stays_a_go_template_with_a_note() {
    // Unix seconds: kept, explained.
    let (e, refs) = tr("ami-{{timestamp}}", Mode::Body);
    assert_eq!(e, "\"ami-{{timestamp}}\"");
    assert!(
        refs.notes[0].starts_with("{{timestamp}} stays a Go template"),
        "{:?}",
        refs.notes
    );
    // A regex-looking search string would change meaning in HCL2's replace().
    let (e, _) = tr("{{replace_all `/x/` `y` `z`}}", Mode::Body);
    assert_eq!(e, "\"{{replace_all `/x/` `y` `z`}}\"");
    // Translatable arguments of a kept call are substituted as raw strings.
    let (e, refs) = tr("{{ user `n` | clean_resource_name }}", Mode::Body);
    assert_eq!(e, "\"{{ `${var.n}` | clean_resource_name }}\"");
    assert!(
        refs.notes[0].contains("clean_resource_name"),
        "{:?}",
        refs.notes
    );
    let (e, _) = tr("{{clean_resource_name (user `n`)}}", Mode::Body);
    assert_eq!(e, "\"{{ clean_resource_name `${var.n}` }}\"");
    // The plugin's own data stays, without a note.
    let (e, refs) = tr("{{ .Vars }} sudo {{.Path}}", Mode::Body);
    assert_eq!(e, "\"{{ .Vars }} sudo {{.Path}}\"");
    assert!(refs.notes.is_empty());
    // Not a template Go can parse: kept, explained.
    let (e, refs) = tr("{{ nosuchfunc }}", Mode::Body);
    assert_eq!(e, "\"{{ nosuchfunc }}\"");
    assert!(
        refs.notes[0].contains("not a valid Go template"),
        "{:?}",
        refs.notes
    );
    // range has no translation.
    let (_, refs) = tr("{{ range .X }}a{{ end }}", Mode::Body);
    assert!(
        refs.notes[0].contains("control structure"),
        "{:?}",
        refs.notes
    );
}

#[test]
fn if_else_becomes_an_hcl2_directive() {
    let (e, refs) = tr(
        "{{ if env `R` }}{{ env `R` }}{{ else }}us-east-1{{ end }}",
        Mode::Default,
    );
    assert_eq!(
        e,
        r#""%{ if env("R") != "" }${env("R")}%{ else }us-east-1%{ endif }""#
    );
    assert!(!refs.needs_local);
}

#[test]
fn variable_defaults_allow_env_only() {
    let (e, refs) = tr("{{env `HOME`}}/x", Mode::Default);
    assert_eq!(e, "\"${env(\"HOME\")}/x\"");
    assert!(!refs.needs_local);
    for local in [
        "{{user `a`}}",
        "{{template_dir}}/..",
        "{{isotime}}",
        "{{uuid}}",
    ] {
        assert!(tr(local, Mode::Default).1.needs_local, "{local}");
    }
    // A Go template that stays is fine in a default.
    assert!(!tr("{{timestamp}}", Mode::Default).1.needs_local);
    // `source` is not in scope outside bodies.
    assert_eq!(tr("{{build_name}}", Mode::Local).0, "\"{{build_name}}\"");
}

#[test]
fn hclwrite_aligns_runs_of_one_line_attributes() {
    let mut b = Block::new("source", &["null", "x"]);
    b.attr("a", "1".into());
    b.attr("long_name", "2".into());
    b.attr(
        "obj",
        hclwrite::object(&[("k".into(), "1".into()), ("\"a b\"".into(), "2".into())]),
    );
    b.attr("z", "3".into());
    b.body.push(Item::Block(Block::new("inner", &[])));
    let mut out = String::new();
    b.write(0, &mut out);
    assert_eq!(
        out,
        "source \"null\" \"x\" {\n  a         = 1\n  long_name = 2\n  obj = {\n    k     = 1\n    \"a b\" = 2\n  }\n  z = 3\n  inner {\n  }\n}\n"
    );
    assert_eq!(hclwrite::list(&["1".into(), "\"a\"".into()]), "[1, \"a\"]");
    assert!(
        hclwrite::is_ident("a-b_1") && !hclwrite::is_ident("1a") && !hclwrite::is_ident("true")
    );
}

#[test]
fn a_whole_template() {
    let tpl = parse_str(
        r#"{
  "description": "d",
  "variables": {"a": "A", "b": "{{user `a`}}-b", "req": null, "s": "x"},
  "sensitive-variables": ["s"],
  "builders": [
    {"type": "null", "name": "n 1", "communicator": "none"},
    {"type": "amazon-ebs", "region": "{{user `undeclared`}}",
     "source_ami_filter": {"filters": {"name": "al2*"}, "owners": ["amazon"]},
     "launch_block_device_mappings": [{"device_name": "/dev/xvda"}, {"device_name": "/dev/xvdb"}],
     "tags": {"Name": "{{build_name}}"}}
  ],
  "provisioners": [{"type": "shell", "inline": ["echo {{user `b`}}"], "only": ["n 1"],
                    "override": {"amazon-ebs": {"inline": ["o"]}}}],
  "post-processors": ["manifest", [{"type": "manifest"}, {"type": "checksum", "only": ["amazon-ebs"]}]]
}"#,
    )
    .unwrap();
    let text = upgrade(&tpl, Options::default());
    let want = r#"variable "a" {
  type    = string
  default = "A"
}

variable "req" {
  type = string
}

variable "s" {
  type      = string
  default   = "x"
  sensitive = true
}

# Not declared in the JSON template (a var-file may set it); undefined, it rendered as "".
variable "undeclared" {
  type    = string
  default = ""
}

locals {
  b = "${var.a}-b"
}

source "null" "n_1" {
  communicator = "none"
}

source "amazon-ebs" "amazon-ebs" {
  region = var.undeclared
  source_ami_filter {
    filters = {
      name = "al2*"
    }
    owners = ["amazon"]
  }
  launch_block_device_mappings {
    device_name = "/dev/xvda"
  }
  launch_block_device_mappings {
    device_name = "/dev/xvdb"
  }
  tags = {
    Name = "amazon-ebs"
  }
}

build {
  description = "d"

  sources = ["source.null.n_1", "source.amazon-ebs.amazon-ebs"]

  provisioner "shell" {
    inline = ["echo ${local.b}"]
    only   = ["null.n_1"]
    override = {
      "amazon-ebs.amazon-ebs" = {
        inline = ["o"]
      }
    }
  }

  post-processor "manifest" {
  }

  post-processors {
    post-processor "manifest" {
    }
    post-processor "checksum" {
      only = ["amazon-ebs.amazon-ebs"]
    }
  }
}
"#;
    assert_eq!(text, want);
}

#[test]
fn odd_strings_are_kept_not_lost() {
    for s in [
        "{{",
        "}}",
        "a {{/* comment */}} b",
        "{{ $x := `v` }}{{ $x }}",
        "{{ .A.B }} é ✓",
        "{{ (user `x`).Foo }}",
        "{{- user `x` -}}  tail",
        "{{ printf \"%s\" (user `x`) }}",
    ] {
        let (e, _) = tr(s, Mode::Body);
        assert!(!e.is_empty(), "{s}");
        // Either translated or kept: never an empty or unterminated string.
        assert!(
            e.starts_with('"') && e.ends_with('"') || !e.contains('"'),
            "{s} → {e}"
        );
    }
    assert_eq!(body("{{- user `x` -}}  tail"), "\"${var.x}tail\"");
    assert_eq!(body("{{ (user `x`).Foo }}"), "\"{{ (user `x`).Foo }}\"");
    assert_eq!(
        body("{{ printf \"%s\" (user `x`) }}"),
        "\"{{ printf \\\"%s\\\" `${var.x}` }}\""
    );
}
