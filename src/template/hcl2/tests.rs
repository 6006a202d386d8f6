//! End-to-end tests of the HCL2 front end on small templates.

use super::*;

pub(super) fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn load_src(text: &str, vars: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.pkr.hcl", text);
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_with_env(&p, &[], &vars, env, DataOptions::default())
        .map_err(|e| e.replace(&dir.path().display().to_string(), "DIR"))
}

pub(super) fn config_json(l: &Loaded, i: usize) -> String {
    fn conv(n: &crate::template::json::Node) -> serde_json::Value {
        use crate::template::json::Value as J;
        match &n.value {
            J::Null => serde_json::Value::Null,
            J::Bool(b) => (*b).into(),
            J::Number(s) => serde_json::from_str(s).unwrap(),
            J::String(s) => s.clone().into(),
            J::Array(a) => a.iter().map(conv).collect(),
            J::Object(o) => o
                .entries
                .iter()
                .map(|(k, _, v)| (k.clone(), conv(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
    let b = &l.template.builders[i];
    let o: serde_json::Map<_, _> = b
        .config
        .entries
        .iter()
        .map(|(k, _, v)| (k.clone(), conv(v)))
        .collect();
    serde_json::Value::Object(o).to_string()
}

const BASE: &str = r#"
variable "region" {
  type    = string
  default = "us-east-1"
}
variable "n" {
  type    = number
  default = 2
}
locals {
  name   = "img-${var.region}-${local.suffix}"
  suffix = upper(try(var.nope, "x"))
  ok     = can(var.nope)
}
source "null" "a" {
  communicator = "none"
}
source "file" "f" {
  content = "${local.name} ${local.ok} ${var.n * 2} ${build.ID}"
  target  = "out.txt"
}
build {
  sources = ["source.null.a", "source.file.f"]
  provisioner "shell-local" {
    inline = ["echo ${source.name}"]
    only   = ["null.a"]
  }
  post-processor "manifest" {}
}
"#;

#[test]
fn variables_locals_functions_and_build_vars() {
    let l = load_src(BASE, &[], &[]).unwrap();
    let names: Vec<&str> = l
        .template
        .builders
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["null.a", "file.f"]);
    assert_eq!(
        config_json(&l, 1),
        r#"{"type":"file","name":"file.f","content":"img-us-east-1-X false 4 {{ build `ID` }}","target":"out.txt"}"#
    );
    assert_eq!(l.template.provisioners.len(), 1);
    assert_eq!(l.template.provisioners[0].only, ["null.a"]);
    let inline = l.template.provisioners[0].config.get("inline").unwrap();
    assert_eq!(inline.as_array().unwrap()[0].as_str(), Some("echo a"));
    assert_eq!(l.template.post_processors.len(), 1);
}

#[test]
fn precedence_env_then_var() {
    let l = load_src(
        BASE,
        &[],
        &[("PKR_VAR_region", "eu-west-1"), ("PKR_VAR_n", "5")],
    )
    .unwrap();
    assert!(
        config_json(&l, 1).contains("img-eu-west-1-X false 10"),
        "{}",
        config_json(&l, 1)
    );
    let l = load_src(
        BASE,
        &[("region", "ap-south-1")],
        &[("PKR_VAR_region", "eu-west-1")],
    )
    .unwrap();
    assert!(config_json(&l, 1).contains("img-ap-south-1-X"));
    let e = load_src(BASE, &[("n", "x")], &[]).err().unwrap();
    assert!(
        e.contains("Invalid expression for variable") || e.contains("Unknown variable"),
        "{e}"
    );
    let e = load_src(BASE, &[("nope", "1")], &[]).err().unwrap();
    assert!(e.contains("Undefined -var variable"), "{e}");
}

#[test]
fn errors_have_positions_and_are_all_reported() {
    let e = load_src(
        "source \"null\" \"a\" {\n  communicator = nofunc(1)\n}\nbuild {\n  sources = [\"source.null.b\"]\n}\nvariable \"x\" {\n  typo = 1\n}\n",
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("Error: Unsupported argument\n\n  on DIR/t.pkr.hcl:8:3:\n   8:   typo = 1\n        ^\n\nAn argument named \"typo\" is not expected here."), "{e}");
    let e2 = load_src(
        "source \"null\" \"a\" {\n  communicator = nofunc(1)\n}\nbuild {\n  sources = [\"source.null.b\", \"source.null.a\"]\n}\n",
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(
        e2.contains("Call to unknown function\n\n  on DIR/t.pkr.hcl:2:18:"),
        "{e2}"
    );
    assert!(
        e2.contains("There is no function named \"nofunc\"."),
        "{e2}"
    );
    assert!(e2.contains("Unknown source"), "{e2}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let e = load_src(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n",
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(
        e.starts_with("Error: Invalid HCL syntax\n\n  on DIR/t.pkr.hcl:"),
        "{e}"
    );
    let e = load_src("locals {\n  a = local.b\n  b = local.a\n}\nsource \"null\" \"a\" {}\nbuild { sources = [\"source.null.a\"] }\n", &[], &[]).err().unwrap();
    assert!(e.contains("Cycle among locals"), "{e}");
    let e = load_src(
        "variable \"x\" {\n  type = number\n  default = \"abc\"\n}\n",
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("Invalid default value for variable"), "{e}");
    assert!(!e.contains("Unset variable"), "{e}");
    let e = load_src("data \"amazon-ami\" \"x\" {}\n", &[], &[])
        .err()
        .unwrap();
    assert!(e.contains("Missing build block"), "{e}");
    let e = load_src("variable \"x\" {}\n", &[], &[]).err().unwrap();
    assert!(e.contains("Unset variable \"x\""), "{e}");
    let e = load_src("source \"null\" \"a\" {\n  x = env(\"HOME\")\n}\nbuild { sources = [\"source.null.a\"] }\n", &[], &[]).err().unwrap();
    assert!(e.contains("only available in variable default"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = load_with_env(
        &dir.path().display().to_string(),
        &[],
        &[],
        vec![],
        DataOptions::default(),
    )
    .err()
    .unwrap();
    assert!(e.contains("Could not find any config file in"), "{e}");
}

#[test]
fn directory_duplicates_across_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pkr.hcl", "variable \"x\" {\n  default = 1\n}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\n");
    write(
        dir.path(),
        "b.pkr.hcl",
        "variable \"x\" {\n  default = 2\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    );
    let e = load_with_env(
        &dir.path().display().to_string(),
        &[],
        &[],
        vec![],
        DataOptions::default(),
    )
    .err()
    .unwrap();
    assert!(e.contains("Duplicate variable \"x\""), "{e}");
    assert!(e.contains("b.pkr.hcl:1:1"), "{e}");
    write(
        dir.path(),
        "b.pkr.hcl",
        "build {\n  sources = [\"source.null.a\"]\n}\n",
    );
    write(dir.path(), "x.auto.pkrvars.hcl", "x = 7\ny = 1\n");
    let l = load_with_env(
        &dir.path().display().to_string(),
        &[],
        &[],
        vec![],
        DataOptions::default(),
    )
    .unwrap();
    assert!(l.warnings.contains("Undefined variable"), "{}", l.warnings);
    assert_eq!(l.template.builders[0].name, "null.a");
}

#[test]
fn nested_blocks_dynamic_and_fill_ins() {
    let src = r#"
locals { tags = { a = "1", b = "2" } }
source "amazon-ebs" "x" {
  region = "us-east-1"
  source_ami_filter {
    filters = { name = "al2023-*" }
    owners  = ["amazon"]
  }
  dynamic "tag" {
    for_each = local.tags
    content {
      key   = tag.key
      value = tag.value
    }
  }
  launch_block_device_mappings {
    device_name = "/dev/xvda"
  }
  launch_block_device_mappings {
    device_name = "/dev/xvdb"
  }
}
build {
  name = "b"
  source "amazon-ebs.x" {
    name          = "y"
    instance_type = "t3.micro"
  }
}
"#;
    let l = load_src(src, &[], &[]).unwrap();
    assert_eq!(l.template.builders[0].name, "b.amazon-ebs.y");
    assert_eq!(
        config_json(&l, 0),
        r#"{"type":"amazon-ebs","name":"b.amazon-ebs.y","region":"us-east-1","source_ami_filter":{"filters":{"name":"al2023-*"},"owners":["amazon"]},"tag":[{"key":"a","value":"1"},{"key":"b","value":"2"}],"launch_block_device_mappings":[{"device_name":"/dev/xvda"},{"device_name":"/dev/xvdb"}],"instance_type":"t3.micro"}"#
    );
    let e = load_src(
        &src.replace("instance_type = \"t3.micro\"", "region = \"x\""),
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("Duplicate argument"), "{e}");
    let e = load_src(
        &src.replace(
            "launch_block_device_mappings {\n    device_name = \"/dev/xvdb\"",
            "bogus {\n    device_name = \"/dev/xvdb\"",
        ),
        &[],
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("Unsupported block type"), "{e}");
}

#[test]
fn only_except_patterns() {
    let names: Vec<String> = ["b.amazon-ebs.x", "null.a"]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    assert_eq!(
        select_builds(&["source.amazon-ebs.x".into()], &names, true),
        ["b.amazon-ebs.x"]
    );
    assert_eq!(
        select_builds(&["amazon-ebs.*".into()], &names, true),
        ["b.amazon-ebs.x"]
    );
    assert_eq!(select_builds(&["*.a".into()], &names, true), ["null.a"]);
    assert_eq!(
        select_builds(&["nothing".into()], &names, true),
        ["nothing"]
    );
    assert_eq!(
        select_builds(&["null.a".into()], &names, false),
        ["null.a", "null.a"]
    );
}
