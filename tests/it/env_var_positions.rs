//! An `environment_vars` entry or an `env` name that is not a shell name (issue #19) is reported
//! at that entry's own file:line:col, in JSON and HCL2 templates, through `rpack validate`.

use std::process::Command;

use crate::support::paths::fresh_dir;

const JSON: &str = r#"{
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [
    {
      "type": "shell-local",
      "inline": ["true"],
      "environment_vars": [
        "OK=1",
        "A;id=2",
        "noeq"
      ],
      "env": {"GOOD": "1", "BAD-N": "x"}
    },
    {
      "type": "shell",
      "inline": ["true"],
      "environment_vars": ["OK=1", "1ST=x"]
    }
  ]
}
"#;

const HCL: &str = r#"source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["true"]
    environment_vars = [
      "OK=1",
      "A;id=2",
    ]
    env = {
      GOOD    = "1"
      "BAD-N" = "x"
    }
  }
}
"#;

fn validate(name: &str, text: &str) -> (Option<i32>, String) {
    let dir = fresh_dir("env-var-pos");
    std::fs::write(dir.join(name), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .current_dir(&dir)
        .args(["validate", name])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Undo the 80-column wrapping so each message is one line.
    (
        out.status.code(),
        text.replace("letters,\ndigits", "letters, digits"),
    )
}

const BAD: &str =
    "is not a valid shell variable name (letters, digits and _, not starting with a digit)";

#[test]
fn a_bad_environment_variable_is_reported_at_its_element_in_json() {
    let (code, out) = validate("t.json", JSON);
    assert_eq!(code, Some(1), "{out}");
    for line in [
        format!("* Environment variable name \"A;id\" {BAD} (t.json:9:9)"),
        "* Environment variable not in format 'key=value': noeq (t.json:10:9)".to_string(),
        format!("* Environment variable name \"BAD-N\" {BAD} (t.json:12:28)"),
        format!("* Environment variable name \"1ST\" {BAD} (t.json:17:36)"),
    ] {
        assert!(out.contains(&line), "{line}\n{out}");
    }
}

#[test]
fn a_bad_environment_variable_is_reported_at_its_element_in_hcl2() {
    let (code, out) = validate("t.pkr.hcl", HCL);
    assert_eq!(code, Some(1), "{out}");
    for line in [
        format!("* Environment variable name \"A;id\" {BAD} (t.pkr.hcl:10:7)"),
        format!("* Environment variable name \"BAD-N\" {BAD} (t.pkr.hcl:14:7)"),
    ] {
        assert!(out.contains(&line), "{line}\n{out}");
    }
}
