//! Secrets never leak: a canary secret is planted in every place a template can hold one
//! (variables, var-files, `-var`, the environment, AWS Secrets Manager, `ssh_password`; single-
//! and multi-line; with quotes, backslashes and spaces), printed by provisioners and put into
//! failing values, and then every output channel (human and machine-readable stdout and stderr,
//! the debug log) and every file rpack leaves behind (manifest, ledger, log, temp directory) is
//! searched for it. The password and Secrets Manager canaries are also planted with no
//! `sensitive-variables` at all, so their masking is proven on its own; the temporary EC2
//! private key's test needs the EC2 stack and is in `build.rs`
//! (`the_temporary_private_key_never_reaches_output_logs_or_files`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::paths::fresh_dir;
use crate::support::Moto;

const REGION: &str = "us-east-1";
/// Every planted secret contains this marker; no output may.
const MARK: &str = "CANARY";

const VAR_SECRET: &str = r#"var "q\uote' sp-CANARY-var"#;
const PEM_SECRET: &str = "-----BEGIN RPACK CANARY KEY-----\nCANARYline2abcdefghijklmnop\n\"CANARYline3\" \\ with spaces\n-----END RPACK CANARY KEY-----";
const FILE_SECRET: &str = r#"file "CANARY" \ back"#;
const CLI_SECRET: &str = "cli CANARY with spaces";
const ENV_SECRET: &str = r#"env "CANARY" $(id)"#;
const SM_SECRET: &str = r#"sm-CANARY-"json"-value"#;
const PASSWORD: &str = r#"pw "CANARY" \ pass"#;
/// A passphrase long enough that an 80-column diagnostic wraps inside it.
const PHRASE: &str = "correct horse battery staple CANARY is my very long passphrase for the ssh server of this build";

struct Case {
    input: PathBuf,
    work: PathBuf,
    moto: Moto,
}

impl Case {
    fn new() -> Case {
        let input = fresh_dir("secrets-in");
        let work = fresh_dir("secrets-work");
        std::fs::create_dir_all(work.join("tmp")).unwrap();
        Case {
            input,
            work,
            moto: Moto::start(),
        }
    }

    fn write(&self, name: &str, v: &Value) -> String {
        let p = self.input.join(name);
        std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
        p.display().to_string()
    }

    /// Runs rpack in the work directory with logs on; returns code, stdout, stderr.
    fn rpack(&self, args: &[&str], log: &str) -> (Option<i32>, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
            .current_dir(&self.work)
            .args(args)
            .env("RPACK_LOG", "1")
            .env("RPACK_LOG_PATH", self.work.join(log))
            .env("RPACK_STATE_DIR", self.work.join("state"))
            .env("TMPDIR", self.work.join("tmp"))
            .env("RPACK_CANARY_ENV", ENV_SECRET)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env_remove("AWS_PROFILE")
            .env_remove("PACKER_LOG")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Builds `template` with human and with machine-readable output (logs `PREFIX-human.log`,
    /// `PREFIX-machine.log`); each build must succeed and leak no canary to stdout, stderr or
    /// its debug log. Returns (stdout, debug log) of each.
    fn build_both_uis(&self, template: &str, prefix: &str) -> Vec<(String, String)> {
        let mut runs = Vec::new();
        for machine in [false, true] {
            let log = format!("{prefix}-{}.log", if machine { "machine" } else { "human" });
            let mut args = vec!["build", "-color=false"];
            if machine {
                args.insert(1, "-machine-readable");
            }
            args.push(template);
            let (code, out, err) = self.rpack(&args, &log);
            assert_eq!(code, Some(0), "{out}\n{err}");
            assert_clean("stdout", &out);
            assert_clean("stderr", &err);
            let text = std::fs::read_to_string(self.work.join(&log)).unwrap();
            assert_clean("the debug log", &text);
            runs.push((out, text));
        }
        runs
    }

    fn create_secret(&self) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(self.moto.endpoint())
                .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .load()
                .await;
            aws_sdk_secretsmanager::Client::new(&conf)
                .create_secret()
                .name("rpack/canary")
                .secret_string(SM_SECRET)
                .send()
                .await
                .expect("creating the secret in moto");
        });
    }
}

/// Every file under `dir` (recursively) whose content holds `MARK`.
fn files_with_mark(dir: &Path, found: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_with_mark(&p, found);
        } else if let Ok(bytes) = std::fs::read(&p) {
            let text = String::from_utf8_lossy(&bytes);
            if text.contains(MARK) {
                found.push(format!("{}:\n{text}", p.display()));
            }
        }
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(MARK), "a secret leaked into {what}:\n{text}");
}

fn variables() -> Value {
    json!({
        "var": VAR_SECRET,
        "pem": PEM_SECRET,
        "file": "",
        "cli": "",
        "env": "{{env `RPACK_CANARY_ENV`}}",
        "sm": "{{aws_secretsmanager `rpack/canary`}}",
        "password": PASSWORD
    })
}

const SENSITIVE: [&str; 7] = ["var", "pem", "file", "cli", "env", "sm", "password"];

#[test]
fn a_canary_secret_reaches_no_output_channel_and_no_file() {
    let case = Case::new();
    case.create_secret();
    let var_file = case.write("vars.json", &json!({ "file": FILE_SECRET }));
    let mut echo: Vec<String> = SENSITIVE
        .iter()
        .map(|n| format!("echo \"{n}=$S_{}\"", n.to_uppercase()))
        .collect();
    echo.push("echo 'build password={{build `Password`}}'".into());
    echo.push("echo 'inline var={{user `cli`}}'".into());
    let env: Vec<String> = SENSITIVE
        .iter()
        .map(|n| format!("S_{}={{{{user `{n}`}}}}", n.to_uppercase()))
        .collect();
    let ok = case.write(
        "ok.json",
        &json!({
            "variables": variables(),
            "sensitive-variables": SENSITIVE,
            "builders": [{
                "type": "null",
                "communicator": "none",
                "ssh_password": "{{user `password`}}"
            }],
            "provisioners": [
                {"type": "shell-local", "environment_vars": env, "inline": echo},
                {
                    "type": "shell-local",
                    "environment_vars": ["K={{user `pem`}}"],
                    "inline": ["printf '%s\\n' \"$K\" >&2"]
                }
            ],
            "post-processors": [{"type": "manifest", "output": "manifest.json"}]
        }),
    );
    let var_arg = format!("-var-file={var_file}");
    let cli_arg = format!("cli={CLI_SECRET}");
    for (machine, log) in [(false, "human.log"), (true, "machine.log")] {
        let mut args = vec!["build", "-color=false", &var_arg, "-var", &cli_arg];
        if machine {
            args.insert(1, "-machine-readable");
        }
        args.push(&ok);
        let (code, out, err) = case.rpack(&args, log);
        assert_eq!(code, Some(0), "{out}\n{err}");
        assert!(
            out.contains("<sensitive>"),
            "the canaries were printed:\n{out}"
        );
        assert_clean("stdout", &out);
        assert_clean("stderr", &err);
    }

    // Failures: a sensitive value in a retried provisioner error (Go-quoted), in a config error
    // wrapped at 80 columns, and in a variable that fails to interpolate.
    let fail = case.write(
        "fail.json",
        &json!({
            "variables": variables(),
            "sensitive-variables": SENSITIVE,
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{
                "type": "file",
                "source": "/nonexistent/{{user `var`}}/{{user `file`}}",
                "destination": "/tmp/x",
                "generated": true,
                "max_retries": 1
            }]
        }),
    );
    let (code, out, err) = case.rpack(
        &["build", "-color=false", &var_arg, "-var", &cli_arg, &fail],
        "fail.log",
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("retrying"), "{out}");
    assert_clean("stdout of a failing build", &out);
    assert_clean("stderr of a failing build", &err);

    let mut vars = variables();
    vars["phrase"] = json!(PHRASE);
    vars["broken"] = json!("broken-CANARY-{{user `nope`}}");
    let invalid = case.write(
        "invalid.json",
        &json!({
            "variables": vars,
            "sensitive-variables": ["phrase", "broken"],
            "builders": [{
                "type": "null",
                "ssh_host": "127.0.0.1",
                "ssh_username": "u",
                "ssh_password": "{{user `password`}}",
                "ssh_timeout": "{{user `phrase`}}"
            }]
        }),
    );
    for machine in [false, true] {
        let mut args = vec!["validate"];
        if machine {
            args.push("-machine-readable");
        }
        args.push(&invalid);
        let (code, out, err) = case.rpack(&args, "validate.log");
        assert_eq!(code, Some(1), "{out}\n{err}");
        assert!(
            format!("{out}{err}").contains("broken"),
            "the failing variable is named:\n{out}\n{err}"
        );
        assert_clean("validate stdout", &out);
        assert_clean("validate stderr", &err);
    }
    vars.as_object_mut().unwrap().remove("broken");
    let invalid = case.write(
        "invalid2.json",
        &json!({
            "variables": vars,
            "sensitive-variables": ["phrase"],
            "builders": [{
                "type": "null",
                "ssh_host": "127.0.0.1",
                "ssh_username": "u",
                "ssh_password": "x",
                "ssh_timeout": "{{user `phrase`}}"
            }]
        }),
    );
    let (code, out, err) = case.rpack(&["validate", &invalid], "validate2.log");
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("<sensitive>"), "{err}");
    assert_clean("wrapped diagnostics", &err);

    // Every file rpack wrote: manifest, ledger, logs, and nothing left in its temp directory.
    let mut found = Vec::new();
    files_with_mark(&case.work, &mut found);
    assert!(found.is_empty(), "secrets in files:\n{}", found.join("\n"));
    let log = std::fs::read_to_string(case.work.join("human.log")).unwrap();
    assert!(
        log.contains("<sensitive>"),
        "the log recorded the UI:\n{log}"
    );
    assert!(case.work.join("manifest.json").exists());
    let left: Vec<_> = std::fs::read_dir(case.work.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

#[test]
fn the_debug_log_file_is_owner_only_and_never_a_symlink() {
    use std::os::unix::fs::PermissionsExt as _;
    let case = Case::new();
    let tpl = case.write(
        "t.json",
        &json!({"builders": [{"type": "null", "communicator": "none"}]}),
    );
    let (code, out, err) = case.rpack(&["validate", &tpl], "mode.log");
    assert_eq!(code, Some(0), "{out}\n{err}");
    let mode = std::fs::metadata(case.work.join("mode.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // An existing world-readable log is narrowed to 0600 and appended to.
    let old = case.work.join("old.log");
    std::fs::write(&old, "earlier line\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = case.rpack(&["validate", &tpl], "old.log");
    assert_eq!(code, Some(0), "{out}\n{err}");
    let meta = std::fs::metadata(&old).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&old)
        .unwrap()
        .starts_with("earlier line\n"));

    // A log path that is a symbolic link is not followed: rpack says so and logs to stderr;
    // the link's target is not touched.
    let target = case.work.join("elsewhere.txt");
    std::fs::write(&target, "").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&target, case.work.join("link.log")).unwrap();
    let (code, out, err) = case.rpack(&["validate", &tpl], "link.log");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains("cannot open log file") && err.contains("is a symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
}

/// A builder whose configuration fails to decode never had its password decoded, yet its error
/// may quote the password (used through a variable in another key, here `ssh_timeout`). The
/// password-like keys of the raw configuration are masked all the same, with no
/// `sensitive-variables` at all: in human and machine-readable output (and the debug log
/// stays clean).
#[test]
fn a_password_quoted_in_a_config_error_is_masked_without_sensitive_variables() {
    let case = Case::new();
    for (key, secret) in [
        ("ssh_password", r#"my "SEKRIT-CANARY" pass"#),
        ("ssh_bastion_password", r#"jump \ CANARY "pw""#),
    ] {
        let mut b = json!({
            "type": "null",
            "ssh_host": "127.0.0.1",
            "ssh_username": "u",
            "ssh_timeout": "{{user `pw`}}"
        });
        b[key] = json!("{{user `pw`}}");
        if key == "ssh_bastion_password" {
            b["ssh_bastion_host"] = json!("127.0.0.1");
            b["ssh_bastion_username"] = json!("j");
        }
        let tpl = case.write(
            &format!("{key}.json"),
            &json!({"variables": {"pw": secret}, "builders": [b]}),
        );
        for machine in [false, true] {
            let log = format!("{key}-{machine}.log");
            let mut args = vec!["validate"];
            if machine {
                args.push("-machine-readable");
            }
            args.push(&tpl);
            let (code, out, err) = case.rpack(&args, &log);
            assert_eq!(code, Some(1), "{out}\n{err}");
            let all = format!("{out}{err}");
            assert!(
                all.contains("error decoding 'ssh_timeout'") && all.contains("<sensitive>"),
                "{all}"
            );
            assert_clean("stdout", &out);
            assert_clean("stderr", &err);
            let text = std::fs::read_to_string(case.work.join(&log)).unwrap();
            assert_clean("the debug log", &text);
        }
    }
}

/// Planted only in `ssh_password` (so `{{build `Password`}}`).
const PW_ONLY: &str = r#"only-pw "CANARY" \ x"#;
/// Planted only in Secrets Manager, read through a variable default.
const SM_VAR_ONLY: &str = r#"sm-var "CANARY" only"#;
/// Planted only in Secrets Manager as one key of a JSON secret, read with
/// `{{aws_secretsmanager `name` `key`}}` (the value alone, not the whole secret string).
const SM_KEY_ONLY: &str = "sm-key CANARY only-value";
/// Planted only in Secrets Manager, read by an HCL2 template's `aws_secretsmanager_raw` local.
const SM_HCL_ONLY: &str = "sm-hcl CANARY only-value";

/// Masking that does not rest on `sensitive-variables` (the template has none): the password
/// (`ssh_password` and `{{build `Password`}}`) and Secrets Manager values (a variable default
/// and one key of a JSON secret; an HCL2 local), each planted in that one place only, are
/// printed by provisioners and put into a failing value; no output channel (human and
/// machine-readable stdout and stderr, the debug log) and no file rpack writes (manifest,
/// ledger, logs, temp files) holds them.
#[test]
fn canaries_outside_sensitive_variables_are_masked_on_their_own() {
    let case = Case::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(case.moto.endpoint())
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let sm = aws_sdk_secretsmanager::Client::new(&conf);
        let json_secret = json!({"user": "visible", "k": SM_KEY_ONLY}).to_string();
        for (name, value) in [
            ("rpack/var-only", SM_VAR_ONLY),
            ("rpack/json-only", json_secret.as_str()),
            ("rpack/hcl-only", SM_HCL_ONLY),
        ] {
            sm.create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .expect("creating the secret in moto");
        }
    });
    let vars = json!({
        "pw": PW_ONLY,
        "sm": "{{aws_secretsmanager `rpack/var-only`}}",
        "smk": "{{aws_secretsmanager `rpack/json-only` `k`}}"
    });
    let ok = case.write(
        "only.json",
        &json!({
            "variables": vars,
            "builders": [{
                "type": "null",
                "communicator": "none",
                "ssh_password": "{{user `pw`}}"
            }],
            "provisioners": [
                {
                    "type": "shell-local",
                    "environment_vars": [
                        "P={{build `Password`}}",
                        "S={{user `sm`}}",
                        "D={{user `smk`}}"
                    ],
                    "inline": [
                        "echo \"env password=$P\"",
                        "echo \"env sm=$S\" >&2",
                        "echo \"env direct=$D\"",
                        "echo 'inline password={{build `Password`}}'",
                        "echo 'inline key={{user `smk`}}'"
                    ]
                }
            ],
            "post-processors": [{"type": "manifest", "output": "only-manifest.json"}]
        }),
    );
    for (machine, log) in [(false, "only-human.log"), (true, "only-machine.log")] {
        let mut args = vec!["build", "-color=false"];
        if machine {
            args.insert(1, "-machine-readable");
        }
        args.push(&ok);
        let (code, out, err) = case.rpack(&args, log);
        assert_eq!(code, Some(0), "{out}\n{err}");
        let all = format!("{out}{err}");
        for line in [
            "env password=<sensitive>",
            "env sm=<sensitive>",
            "env direct=<sensitive>",
            "inline password=<sensitive>",
            "inline key=<sensitive>",
        ] {
            assert!(all.contains(line), "{line} was not printed masked:\n{all}");
        }
        assert_clean("stdout", &out);
        assert_clean("stderr", &err);
        let text = std::fs::read_to_string(case.work.join(log)).unwrap();
        assert!(
            text.contains("<sensitive>"),
            "the log recorded the UI:\n{text}"
        );
        assert_clean("the debug log", &text);
    }

    // A failing value holding each (Go-quoted in the retry message and the error).
    let fail = case.write(
        "only-fail.json",
        &json!({
            "variables": vars,
            "builders": [{"type": "null", "communicator": "none", "ssh_password": "{{user `pw`}}"}],
            "provisioners": [{
                "type": "file",
                "source": "/nonexistent/{{build `Password`}}/{{user `sm`}}/{{user `smk`}}",
                "destination": "/tmp/x",
                "generated": true,
                "max_retries": 1
            }]
        }),
    );
    for machine in [false, true] {
        let mut args = vec!["build", "-color=false"];
        if machine {
            args.insert(1, "-machine-readable");
        }
        args.push(&fail);
        let (code, out, err) = case.rpack(&args, "only-fail.log");
        assert_eq!(code, Some(1), "{out}\n{err}");
        assert!(out.contains("retrying"), "{out}");
        assert!(
            format!("{out}{err}").contains("<sensitive>"),
            "{out}\n{err}"
        );
        assert_clean("stdout of a failing build", &out);
        assert_clean("stderr of a failing build", &err);
    }

    // HCL2: a local read from Secrets Manager, printed by a provisioner.
    let hcl = case.input.join("only.pkr.hcl");
    std::fs::write(
        &hcl,
        r#"locals {
  sm = aws_secretsmanager_raw("rpack/hcl-only")
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["echo 'hcl sm=${local.sm}'"]
  }
}
"#,
    )
    .unwrap();
    let hcl = hcl.display().to_string();
    for (out, _) in case.build_both_uis(&hcl, "hcl") {
        assert!(out.contains("hcl sm=<sensitive>"), "{out}");
    }

    let mut found = Vec::new();
    files_with_mark(&case.work, &mut found);
    assert!(found.is_empty(), "secrets in files:\n{}", found.join("\n"));
    assert!(case.work.join("only-manifest.json").exists());
    let left: Vec<_> = std::fs::read_dir(case.work.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

/// The elements of a sensitive list, map or object variable are masked one by one: a provisioner
/// that prints `var.keys[0]` or `var.creds.user` prints `<sensitive>`, not the element (the whole
/// value's JSON text, which is all a single secret would cover, never appears on its own).
#[test]
fn elements_of_sensitive_collections_are_masked_each() {
    let case = Case::new();
    let hcl = case.input.join("coll.pkr.hcl");
    std::fs::write(
        &hcl,
        r#"variable "keys" {
  type      = list(string)
  default   = ["first-CANARY-key", "second-CANARY-key"]
  sensitive = true
}
variable "creds" {
  type      = object({ user = string, pin = number, nested = map(string) })
  default   = { user = "user-CANARY", pin = 98765432101, nested = { deep = "deep-CANARY" } }
  sensitive = true
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = [
      "echo 'k0=${var.keys[0]} k1=${var.keys[1]}'",
      "echo 'u=${var.creds.user} d=${var.creds.nested.deep} pin=${var.creds.pin}'",
      "echo 'all=${join(",", var.keys)}'",
    ]
  }
}
"#,
    )
    .unwrap();
    let hcl = hcl.display().to_string();
    for (out, text) in case.build_both_uis(&hcl, "coll") {
        assert!(out.contains("k0=<sensitive> k1=<sensitive>"), "{out}");
        assert!(
            out.contains("u=<sensitive> d=<sensitive> pin=<sensitive>"),
            "{out}"
        );
        // `,` is `%!(PACKER_COMMA)` in machine-readable output.
        assert!(
            out.contains("all=<sensitive>,<sensitive>")
                || out.contains("all=<sensitive>%!(PACKER_COMMA)<sensitive>"),
            "{out}"
        );
        assert!(!out.contains("98765432101"), "{out}");
        assert!(!text.contains("98765432101"), "{text}");
    }
}
