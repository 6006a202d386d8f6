//! Data blocks: the graph with locals, cycles, schemas, placeholders when not executed, and a
//! provider's outputs reaching sources.

use std::cell::RefCell;

use super::tests::{config_json, write};
use super::*;

/// A provider answering from a table and recording what it was asked.
struct Fake {
    calls: RefCell<Vec<(String, String)>>,
}

impl DataSources for Fake {
    fn run(
        &self,
        kind: &str,
        config: &crate::template::json::Object,
        execute: bool,
    ) -> Result<Option<hcl::Map<String, Value>>, Vec<DataError>> {
        let name = config
            .get("name")
            .or_else(|| config.get("url"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        self.calls
            .borrow_mut()
            .push((kind.to_string(), name.clone()));
        if name == "missing" {
            return Err(vec![(
                format!("The parameter name {name:?} not found"),
                None,
            )]);
        }
        if !execute {
            return Ok(None);
        }
        let mut m = hcl::Map::new();
        m.insert("value".into(), Value::String(format!("v-{name}")));
        m.insert("id".into(), Value::String("ami-123".into()));
        Ok(Some(m))
    }
}

fn load(text: &str, provider: Option<&Fake>, execute: bool) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.pkr.hcl", text);
    let data = DataOptions {
        provider: provider.map(|p| p as &dyn DataSources),
        execute,
        plugins: None,
    };
    load_with_env(&p, &[], &[], Vec::new(), data)
        .map_err(|e| e.replace(&dir.path().display().to_string(), "DIR"))
}

const T: &str = r#"
variable "stage" {
  default = "prod"
}
locals {
  param = "/app/${var.stage}/ami"
  both  = "${data.amazon-parameterstore.p.value}+${data.null.n.output}"
}
data "amazon-parameterstore" "p" {
  name   = local.param
  region = "us-east-1"
}
data "null" "n" {
  input = upper(data.amazon-parameterstore.p.value)
}
data "amazon-ami" "a" {
  owners  = ["self"]
  filters = { name = local.both }
}
source "file" "f" {
  content = "${local.both} ${data.amazon-ami.a.id} ${data.amazon-ami.a.tags == {} }"
  target  = "out.txt"
}
build {
  sources = ["source.file.f"]
}
"#;

#[test]
fn data_and_locals_evaluate_in_dependency_order() {
    let fake = Fake {
        calls: RefCell::new(Vec::new()),
    };
    let l = load(T, Some(&fake), true).unwrap();
    assert_eq!(
        config_json(&l, 0),
        r#"{"type":"file","name":"file.f","content":"v-/app/prod/ami+V-/APP/PROD/AMI ami-123 true","target":"out.txt"}"#
    );
    // Each data source ran once, after what it depends on.
    assert_eq!(
        *fake.calls.borrow(),
        [
            (
                "amazon-parameterstore".to_string(),
                "/app/prod/ami".to_string()
            ),
            ("amazon-ami".to_string(), String::new()),
        ]
    );
}

#[test]
fn not_executed_data_sources_are_placeholders() {
    let fake = Fake {
        calls: RefCell::new(Vec::new()),
    };
    let l = load(T, Some(&fake), false).unwrap();
    let u = data::UNKNOWN;
    assert_eq!(
        config_json(&l, 0),
        format!(
            r#"{{"type":"file","name":"file.f","content":"{u}+{} {u} true","target":"out.txt"}}"#,
            u.to_uppercase()
        )
    );
    assert_eq!(fake.calls.borrow().len(), 2, "configured, not executed");
    // Without a provider (the fuzz target) nothing is called at all.
    assert!(load(T, None, true).is_ok());
}

#[test]
fn cycles_name_both_ends_with_positions() {
    let e = load(
        "locals {\n  a = data.null.n.output\n}\ndata \"null\" \"n\" {\n  input = local.a\n}\nsource \"null\" \"s\" {}\nbuild { sources = [\"source.null.s\"] }\n",
        None,
        true,
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Error: Cycle among locals and data sources"),
        "{e}"
    );
    assert!(
        e.contains("(at DIR/t.pkr.hcl:2:3)") && e.contains("(at DIR/t.pkr.hcl:4:1)"),
        "{e}"
    );
}

#[test]
fn schema_and_execution_errors_have_positions() {
    let e = load(
        "data \"amazon-ami\" \"a\" {\n  owner = [\"self\"]\n}\ndata \"nope\" \"b\" {}\ndata \"amazon-parameterstore\" \"m\" {\n  name = \"missing\"\n}\nsource \"null\" \"s\" {}\nbuild { sources = [\"source.null.s\"] }\n",
        Some(&Fake {
            calls: RefCell::new(Vec::new()),
        }),
        true,
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Error: Unsupported argument\n\n  on DIR/t.pkr.hcl:2:3:"),
        "{e}"
    );
    assert!(
        e.contains("Error: Unknown data type nope\n\n  on DIR/t.pkr.hcl:4:6:"),
        "{e}"
    );
    assert!(e.contains("known data sources: [amazon-ami amazon-parameterstore amazon-secretsmanager http null]"), "{e}");
    assert!(
        e.contains("Error: The parameter name \"missing\" not found\n\n  on DIR/t.pkr.hcl:5:1:"),
        "{e}"
    );
    let e = load(
        "data \"null\" \"c\" {\n input = \"x\"\n}\ndata \"null\" \"c\" {\n input = \"x\"\n}\n",
        None,
        true,
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Error: Duplicate data \"null.c\"\n\n  on DIR/t.pkr.hcl:4:1:"),
        "{e}"
    );
}

#[test]
fn null_requires_its_input() {
    let e = load(
        "data \"null\" \"c\" {}\nsource \"null\" \"s\" {}\nbuild { sources = [\"source.null.s\"] }\n",
        None,
        true,
    )
    .err()
    .unwrap();
    assert!(
        e.contains("Error: The `input` must be specified\n\n  on DIR/t.pkr.hcl:1:1:"),
        "{e}"
    );
}

#[test]
fn json_syntax_data_blocks_read_nested_blocks_as_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "t.pkr.json",
        r#"{
  "data": {
    "amazon-parameterstore": {
      "p": {"name": "x", "assume_role": {"role_arn": "arn:aws:iam::1:role/r"}}
    },
    "null": {"n": {"input": "${data.amazon-parameterstore.p.value}!"}}
  },
  "source": {"file": {"f": {"content": "${data.null.n.output}", "target": "o"}}},
  "build": {"sources": ["source.file.f"]}
}"#,
    );
    let fake = Fake {
        calls: RefCell::new(Vec::new()),
    };
    let data = DataOptions {
        provider: Some(&fake),
        execute: true,
        plugins: None,
    };
    let l = load_with_env(&p, &[], &[], Vec::new(), data).unwrap();
    assert!(
        config_json(&l, 0).contains(r#""content":"v-x!""#),
        "{}",
        config_json(&l, 0)
    );
}
