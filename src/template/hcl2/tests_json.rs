//! HCL's JSON syntax: `.pkr.json` files alone and mixed with `.pkr.hcl`, JSON var files, and
//! positions that name the JSON file.

use super::tests::write;
use super::*;

fn conv(n: &crate::template::json::Node) -> serde_json::Value {
    use crate::template::json::Value as J;
    match &n.value {
        J::Null => serde_json::Value::Null,
        J::Bool(b) => (*b).into(),
        J::Number(s) => serde_json::from_str(s).unwrap(),
        J::String(s) => s.clone().into(),
        J::Array(a) => a.iter().map(conv).collect(),
        J::Object(o) => obj(o),
    }
}

fn obj(o: &crate::template::json::Object) -> serde_json::Value {
    o.entries
        .iter()
        .map(|(k, _, v)| (k.clone(), conv(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The plan a template loads into, positions aside.
fn dump(l: &Loaded) -> serde_json::Value {
    let t = &l.template;
    serde_json::json!({
        "builders": t.builders.iter().map(|b| serde_json::json!([b.name, b.kind, obj(&b.config)])).collect::<Vec<_>>(),
        "provisioners": t.provisioners.iter().map(|p| serde_json::json!([p.kind, p.only, p.except, obj(&p.config)])).collect::<Vec<_>>(),
        "post": t.post_processors.iter().map(|c| c.iter().map(|p| serde_json::json!([p.kind, p.name, p.only, obj(&p.config)])).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "variables": t.variables.iter().map(|v| serde_json::json!([v.name, v.default])).collect::<Vec<_>>(),
    })
}

fn load_files(files: &[(&str, &str)], path: &str, var_files: &[&str]) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    for (n, t) in files {
        write(dir.path(), n, t);
    }
    let p = dir.path().join(path).display().to_string();
    let vf: Vec<String> = var_files
        .iter()
        .map(|f| dir.path().join(f).display().to_string())
        .collect();
    load_with_env(&p, &vf, &[], Vec::new(), DataOptions::default())
        .map_err(|e| e.replace(&format!("{}/", dir.path().display()), ""))
}

const NATIVE: &str = r#"
variable "region" {
  type    = string
  default = "us-east-1"
}
variable "names" {
  type    = list(string)
  default = ["a", "b"]
  validation {
    condition     = length(var.names) > 0
    error_message = "At least one name."
  }
}
locals {
  prefix = "img-${var.region}"
}
local "secret" {
  expression = "s3cr3t-${var.region}"
  sensitive  = true
}
source "amazon-ebs" "main" {
  region        = var.region
  instance_type = "t3.micro"
  ami_name      = "${local.prefix}-{{timestamp}}"
  ssh_username  = "ec2-user"
  source_ami    = "ami-12345678"
  tags = {
    Name = local.prefix
  }
  tag {
    key   = "k1"
    value = "v1"
  }
  tag {
    key   = "k2"
    value = join(",", var.names)
  }
  source_ami_filter {
    filters = {
      name = "al2023-*"
    }
    owners      = ["amazon"]
    most_recent = true
  }
}
source "null" "n" {
  communicator = "none"
}
build {
  name    = "b"
  sources = ["source.null.n"]
  source "amazon-ebs.main" {
    name = "second"
  }
  provisioner "shell" {
    inline = ["echo ${source.name}", "echo ${upper(var.region)}"]
    only   = ["amazon-ebs.second"]
  }
  provisioner "file" {
    content     = "x"
    destination = "/tmp/x"
  }
  post-processors {
    post-processor "manifest" {
      output = "m.json"
    }
    post-processor "checksum" {
      checksum_types = ["md5"]
    }
  }
}
"#;

const JSON: &str = r#"{
  "//": "the same template in HCL's JSON syntax",
  "variable": {
    "region": {"type": "string", "default": "us-east-1"},
    "names": {
      "type": "list(string)",
      "default": ["a", "b"],
      "validation": {
        "condition": "${length(var.names) > 0}",
        "error_message": "At least one name."
      }
    }
  },
  "locals": {"prefix": "img-${var.region}"},
  "local": {"secret": {"expression": "s3cr3t-${var.region}", "sensitive": true}},
  "source": {
    "amazon-ebs": {
      "main": {
        "region": "${var.region}",
        "instance_type": "t3.micro",
        "ami_name": "${local.prefix}-{{timestamp}}",
        "ssh_username": "ec2-user",
        "source_ami": "ami-12345678",
        "tags": {"Name": "${local.prefix}"},
        "tag": [{"key": "k1", "value": "v1"}, {"key": "k2", "value": "${join(\",\", var.names)}"}],
        "source_ami_filter": {
          "filters": {"name": "al2023-*"},
          "owners": ["amazon"],
          "most_recent": true
        }
      }
    },
    "null": {"n": {"communicator": "none"}}
  },
  "build": {
    "name": "b",
    "sources": ["source.null.n"],
    "source": {"amazon-ebs.main": {"name": "second"}},
    "provisioner": [
      {"shell": {"inline": ["echo ${source.name}", "echo ${upper(var.region)}"], "only": ["amazon-ebs.second"]}},
      {"file": {"content": "x", "destination": "/tmp/x"}}
    ],
    "post-processors": {
      "post-processor": [
        {"manifest": {"output": "m.json"}},
        {"checksum": {"checksum_types": ["md5"]}}
      ]
    }
  }
}
"#;

#[test]
fn json_syntax_loads_the_same_plan_as_native() {
    let native = load_files(&[("t.pkr.hcl", NATIVE)], "t.pkr.hcl", &[]).unwrap();
    let json = load_files(&[("t.pkr.json", JSON)], "t.pkr.json", &[]).unwrap();
    assert_eq!(dump(&native), dump(&json));
    let d = dump(&json).to_string();
    assert!(
        d.contains(r#""tag":[{"key":"k1","value":"v1"},{"key":"k2","value":"a,b"}]"#),
        "{d}"
    );
    assert!(d.contains(r#""echo second","echo US-EAST-1""#), "{d}");
    assert_eq!(
        json.sensitive.get("secret").map(String::as_str),
        Some("s3cr3t-us-east-1")
    );
}

#[test]
fn json_and_native_files_mix_in_a_directory() {
    let vars = "variable \"region\" {\n  type = string\n}\n";
    let build = r#"{"source": {"null": {"n": {"communicator": "none"}}},
 "build": {"sources": ["source.null.n"],
   "provisioner": {"shell-local": {"inline": ["echo ${var.region}"]}}}}"#;
    let auto = r#"{"region": "eu-west-1"}"#;
    let l = load_files(
        &[
            ("vars.pkr.hcl", vars),
            ("build.pkr.json", build),
            ("x.auto.pkrvars.json", auto),
        ],
        "",
        &[],
    )
    .unwrap();
    let d = dump(&l).to_string();
    assert!(d.contains("echo eu-west-1"), "{d}");
    // -var-file=x.json wins over the automatic file.
    let l = load_files(
        &[
            ("vars.pkr.hcl", vars),
            ("build.pkr.json", build),
            ("x.auto.pkrvars.json", auto),
            (
                "y.json",
                "{\n  \"region\": \"ap-south-1\",\n  \"other\": 1\n}",
            ),
        ],
        "",
        &["y.json"],
    )
    .unwrap();
    let d = dump(&l).to_string();
    assert!(d.contains("echo ap-south-1"), "{d}");
    // The undeclared variable is a warning at its key in the JSON file.
    assert!(l.warnings.contains("y.json:3:4:"), "{}", l.warnings);
    assert!(l.warnings.contains("Undefined variable"), "{}", l.warnings);
}

#[test]
fn json_syntax_errors_name_the_json_file_line_and_column() {
    let e = load_files(
        &[(
            "t.pkr.json",
            "{\n  \"source\": {\"null\": {\"n\": {\n    \"communicator\": \"${nofunc(1)}\"}}},\n  \"build\": {\"sources\": [\"source.null.n\"], \"bogus\": 1}\n}\n",
        )],
        "t.pkr.json",
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("Call to unknown function"), "{e}");
    assert!(e.contains("on t.pkr.json:3:24:"), "{e}");
    assert!(
        e.contains("An argument named \"bogus\" is not expected here."),
        "{e}"
    );
    assert!(e.contains("on t.pkr.json:4:44:"), "{e}");
    // Syntax errors, wrong shapes, bad names.
    let e = load_files(&[("t.pkr.json", "{\"build\": [1]}")], "t.pkr.json", &[])
        .err()
        .unwrap();
    assert!(
        e.contains("Incorrect JSON value type") && e.contains("on t.pkr.json:1:12:"),
        "{e}"
    );
    let e = load_files(
        &[("t.pkr.json", "{\"locals\": {\"a\": }}")],
        "t.pkr.json",
        &[],
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Invalid JSON syntax") && e.contains("t.pkr.json:1:19"),
        "{e}"
    );
    let e = load_files(
        &[("t.pkr.json", "{\"locals\": {\"a b\": 1}}")],
        "t.pkr.json",
        &[],
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Invalid name") && e.contains("t.pkr.json:1:13"),
        "{e}"
    );
    let e = load_files(
        &[("t.pkr.json", "{\"locals\": {\"a\": \"${1 +}\"}}")],
        "t.pkr.json",
        &[],
    )
    .err()
    .unwrap();
    assert!(e.contains("t.pkr.json:1:"), "{e}");
}

#[test]
fn deep_json_nesting_is_a_positioned_error() {
    let depth = 5000;
    let text = format!(
        "{{\"locals\": {{\"a\": {}1{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let e = load_files(&[("t.pkr.json", &text)], "t.pkr.json", &[])
        .err()
        .unwrap();
    assert!(
        e.contains("Nesting too deep") && e.contains("on t.pkr.json:1:"),
        "{e}"
    );
}

#[test]
fn deep_native_nesting_is_a_positioned_error() {
    for (what, text) in [
        (
            "parens",
            format!(
                "locals {{\n  a = {}1{}\n}}\n",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
        ),
        (
            "unary",
            format!("locals {{\n  a = {}true\n}}\n", "!".repeat(100_000)),
        ),
        (
            "templates",
            format!("locals {{\n  a = {}\n}}\n", "\"${".repeat(50_000)),
        ),
        ("blocks", format!("{}\n", "a {\n".repeat(100_000))),
    ] {
        let e = load_files(&[("t.pkr.hcl", &text)], "t.pkr.hcl", &[])
            .err()
            .unwrap();
        assert!(
            e.contains("Nesting too deep") && e.contains("on t.pkr.hcl:"),
            "{what}: {e}"
        );
    }
}

#[test]
fn a_ten_megabyte_template_loads_in_bounded_time() {
    let big = "x".repeat(5 << 20); // twice: 10 MiB in all
    let text = format!(
        "# {big}\nvariable \"v\" {{\n  default = \"{big}\"\n}}\nsource \"null\" \"n\" {{\n  communicator = \"none\"\n}}\nbuild {{\n  sources = [\"source.null.n\"]\n}}\n"
    );
    let start = std::time::Instant::now();
    let l = load_files(&[("t.pkr.hcl", &text)], "t.pkr.hcl", &[]).unwrap();
    assert_eq!(l.template.builders.len(), 1);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

/// A fuzzer-found input (kept in src/fuzzing/regressions/hcl2/) of objects nested 26 levels
/// deep among `--` operators: hcl-edit's backtracking parser needed 7.4 s for its 1.1 KB. It is
/// refused before the parser runs.
#[test]
fn backtracking_nesting_is_refused_before_parsing() {
    let bytes = include_bytes!(
        "../../fuzzing/regressions/hcl2/timeout-c89dba83afcbd4f2241d5b9834163d0bce0fff96"
    );
    let text = String::from_utf8_lossy(&bytes[1..]).into_owned();
    let e = load_files(&[("t.pkr.hcl", &text)], "t.pkr.hcl", &[])
        .err()
        .unwrap();
    assert!(
        e.contains("Nesting too deep") && e.contains("on t.pkr.hcl:"),
        "{e}"
    );
}
