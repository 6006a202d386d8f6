//! `rpack console` on an HCL2 template: each line is an HCL expression over `var.*`,
//! `local.*`, `data.*` and the functions; values print as Packer's HCL2 console prints them;
//! sensitive values stay masked; a bad line is a positioned diagnostic and exit code 1.

use std::process::{Command, Stdio};

use crate::support::paths::fresh_dir;

const TEMPLATE: &str = r#"
variable "region" {
  default = "eu-west-1"
}
variable "password" {
  default   = "console-CANARY-pw"
  sensitive = true
}
locals {
  name = "img-${var.region}"
}
data "null" "n" {
  input = "from-${local.name}"
}
source "null" "s" {
  communicator = "none"
}
build {
  sources = ["source.null.s"]
}
"#;

/// Runs the console with `lines` as a file on standard input (each result printed).
fn console(dir: &std::path::Path, lines: &str) -> (i32, String, String) {
    let input = dir.join("input.txt");
    std::fs::write(&input, lines).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(["console", "t.pkr.hcl"])
        .current_dir(dir)
        .stdin(Stdio::from(std::fs::File::open(&input).unwrap()))
        .output()
        .expect("running rpack console");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hcl2_console_evaluates_vars_locals_data_and_functions() {
    let dir = fresh_dir("hcl2-console");
    std::fs::write(dir.join("t.pkr.hcl"), TEMPLATE).unwrap();
    let (code, out, err) = console(
        &dir,
        "var.region\nlocal.name\ndata.null.n.output\nupper(local.name)\n[var.region, 2]\n{ b = true }\nvar.password\nexit\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "eu-west-1\nimg-eu-west-1\nfrom-img-eu-west-1\nIMG-EU-WEST-1\n[\n  \"eu-west-1\",\n  2,\n]\n{\n  \"b\" = true\n}\n<sensitive>\n",
        "stderr: {err}"
    );
    let (code, out, err) = console(&dir, "nope(var.region)\nlocal.missing\n");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("Error: Call to unknown function"), "{err}");
    assert!(err.contains("Error: Unsupported attribute"), "{err}");
    assert!(err.contains("on <console-input>:1:1:"), "{err}");
    assert!(!format!("{out}{err}").contains("CANARY"));
    // -var reaches the console as it reaches a build.
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(["console", "-var", "region=us-east-2", "t.pkr.hcl"])
        .current_dir(&dir)
        .stdin(Stdio::from(
            std::fs::File::open(dir.join("input.txt")).unwrap(),
        ))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("local.missing"));
    std::fs::write(dir.join("input.txt"), "local.name\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(["console", "-var", "region=us-east-2", "t.pkr.hcl"])
        .current_dir(&dir)
        .stdin(Stdio::from(
            std::fs::File::open(dir.join("input.txt")).unwrap(),
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "img-us-east-2\n");
}
