//! Template fidelity (issue #21): the real `rpack` binary side by side with Packer 1.6.6 on the
//! cases in `tests/fixtures/fidelity` (weak decoding, undefined user variables, …).
//!
//! `cases.tsv` lists each case's arguments, `EXPECTED.tsv` and `expected/<id>.txt` hold what
//! Packer 1.6.6 printed (recorded by `record.sh`). Every test also runs the real `packer`
//! (installed by `scripts/test-deps.sh`) to show the recording still holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fidelity")
}

pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) text: String,
}

/// Runs `bin args` in `dir` like the recording did: empty HOME, dummy credentials, no network.
pub(crate) fn run(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let home = tempfile::tempdir().expect("temp HOME");
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "AKIDFIDELITY")
        .env("AWS_SECRET_ACCESS_KEY", "fidelity")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("starting the program");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Out {
        code: out.status.code().unwrap_or(-1),
        text,
    }
}

pub(crate) fn rpack(args: &[&str], env: &[(&str, &str)]) -> Out {
    run(
        Path::new(env!("CARGO_BIN_EXE_rpack")),
        &fixtures(),
        args,
        env,
    )
}

/// The peer: Debian's Packer 1.6.6 (scripts/test-deps.sh installs it).
pub(crate) fn packer() -> PathBuf {
    let out = Command::new("packer")
        .arg("version")
        .output()
        .expect("packer is not installed: run scripts/test-deps.sh (Debian's packer 1.6.6)");
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(
        v.starts_with("Packer v1.6.6"),
        "the peer must be Packer 1.6.6, found {v:?}"
    );
    PathBuf::from("packer")
}

/// Packer 1.6.6 writes a flag parse error ("flag provided but not defined: -x") through a pipe
/// that a goroutine copies to stdout while the command prints its usage, and exits without
/// waiting for it: the line usually comes after the usage, sometimes before it, and it is lost
/// in about one run in thirty with `fix` and `validate`, nine in ten with `inspect` and
/// `console` (their usage is shorter, so Packer exits sooner). rpack always prints it last.
/// This runs Packer until its output ends with the line, so a comparison checks the order
/// Packer prints when its race goes the usual way.
pub(crate) fn packer_flag_error(
    packer: &Path,
    dir: &Path,
    args: &[&str],
    flag: &str,
    run_once: impl FnMut(&Path, &Path, &[&str]) -> String,
) -> String {
    let line = format!("flag provided but not defined: {flag}\n");
    packer_until_line(packer, dir, args, &line, run_once)
}

/// Runs Packer (`run_once`) until its output ends with `line` (any flag parse error, see
/// [`packer_flag_error`]), at most 300 times; returns that output.
pub(crate) fn packer_until_line(
    packer: &Path,
    dir: &Path,
    args: &[&str],
    line: &str,
    mut run_once: impl FnMut(&Path, &Path, &[&str]) -> String,
) -> String {
    const RUNS: usize = 300;
    let mut last = String::new();
    for _ in 0..RUNS {
        last = run_once(packer, dir, args);
        if last.ends_with(line) {
            return last;
        }
    }
    panic!("Packer never ended with {line:?} in {RUNS} runs of {args:?}; last output:\n{last}");
}

struct Case {
    id: String,
    args: Vec<String>,
    packer_code: i32,
}

fn cases() -> Vec<Case> {
    let dir = fixtures();
    let tsv = std::fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let expected = std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    tsv.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (id, args) = l.split_once('\t').expect("id<TAB>args");
            let code = expected
                .lines()
                .find_map(|e| e.strip_prefix(&format!("{id}\t")))
                .unwrap_or_else(|| panic!("{id} has no recorded verdict: run record.sh"))
                .trim()
                .parse()
                .expect("exit code");
            Case {
                id: id.to_string(),
                args: args.split_whitespace().map(str::to_string).collect(),
                packer_code: code,
            }
        })
        .collect()
}

/// Whitespace-insensitive text (Packer and rpack wrap at 80 columns, rpack adds positions).
pub(crate) fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The list headers of Packer's output, with their counts taken off: mapstructure's
/// `error(s) decoding:` (values of the wrong type) or Packer's `error(s) occurred:` (a
/// plugin's own checks).
fn list_headers(s: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for line in s.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| *w == "error(s)") else {
            continue;
        };
        if i == 0 || words[i - 1].parse::<usize>().is_err() {
            continue;
        }
        match words.get(i + 1) {
            Some(&"decoding:") => out.push("error(s) decoding:"),
            Some(&"occurred:") => out.push("error(s) occurred:"),
            _ => {}
        }
    }
    out
}

/// The `* …` items of a Packer error list, unwrapped.
fn bullet_items(s: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("* ") {
            items.push(rest.to_string());
        } else if !line.trim().is_empty() && !line.starts_with("Error") {
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        }
    }
    items
}

#[test]
fn weak_decoding_verdicts_agree_with_packer_1_6_6() {
    let packer = packer();
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.id.starts_with("weak-")) {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let live = run(&packer, &fixtures(), &args, &[]);
        assert_eq!(
            live.code, case.packer_code,
            "{}: packer's verdict changed: {}",
            case.id, live.text
        );
        let ours = rpack(&args, &[]);
        assert_eq!(
            ours.code, case.packer_code,
            "{}: rpack exit {} where Packer 1.6.6 exits {}\nrpack:\n{}\npacker:\n{}",
            case.id, ours.code, case.packer_code, ours.text, live.text
        );
        // Under the same header (mapstructure's for values of the wrong type).
        let ours_headers = list_headers(&ours.text);
        for header in list_headers(&live.text) {
            assert!(
                ours_headers.contains(&header),
                "{}: rpack has no {header:?} list:\n{}",
                case.id,
                ours.text
            );
        }
        // The same problem, in Packer's words (rpack only adds where it is).
        for item in bullet_items(&live.text) {
            let item = flat(&item);
            assert!(
                flat(&ours.text).contains(&item),
                "{}: rpack does not say {item:?}:\n{}",
                case.id,
                ours.text
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} weak-decoding cases ran");
}

#[test]
fn weak_decoding_edges_read_as_packer_1_6_6_also_as_packer() {
    let (dir, link) = as_packer();
    let _ = dir;
    for (id, wants) in [
        (
            "weak-duration-pause-empty",
            &["error decoding 'pause_before': time: invalid duration \"\" (weak-duration-pause-empty.json:16:23)"][..],
        ),
        (
            "weak-duration-timeout-empty",
            &["error decoding 'timeout': time: invalid duration \"\" (weak-duration-timeout-empty.json:16:18)"],
        ),
        (
            "weak-duration-list",
            &[
                "2 error(s) decoding:",
                "'ssh_timeout' expected type 'time.Duration', got unconvertible type '[]interface {}', value: '[5m]' (weak-duration-list.json:10:22)",
            ],
        ),
        (
            "weak-int-underscore-bad",
            &[
                "3 error(s) decoding:",
                "parsing \"1__000\": invalid syntax (weak-int-underscore-bad.json:13:26)",
                "parsing \"_100\": invalid syntax",
                "parsing \"125_\": invalid syntax",
            ],
        ),
        (
            "weak-int64-list",
            &[
                "5 error(s) decoding:",
                "'launch_block_device_mappings[0].volume_size' expected type 'int64', got unconvertible type '[]interface {}', value: '[5]' (weak-int64-list.json:13:26)",
                "'launch_block_device_mappings[0].iops' expected type 'int64'",
                "'launch_block_device_mappings[0].throughput' expected type 'int64'",
                "'block_duration_minutes' expected type 'int64'",
                "'ssh_port' expected type 'int', got",
            ],
        ),
    ] {
        let case = cases().into_iter().find(|c| c.id == id).unwrap();
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        for (who, out) in [
            ("rpack", rpack(&args, &[])),
            ("as packer", run(&link, &fixtures(), &args, &[])),
        ] {
            assert_eq!(out.code, 1, "{id} {who}: {}", out.text);
            let text = flat(&out.text);
            for want in wants {
                assert!(text.contains(want), "{id} {who}: missing {want:?} in:\n{}", out.text);
            }
            assert!(!text.contains("error(s) occurred"), "{id} {who}: {}", out.text);
        }
    }
    // Go's base-0 underscores: `1_000`, `0x_C_8`, `0_26` are numbers, for Packer and rpack.
    let ok = rpack(&["validate", "weak-int-underscore.json"], &[]);
    assert_eq!((ok.code, ok.text.as_str()), (0, ""));
}

#[test]
fn undefined_variables_in_plugin_configs_render_empty_with_a_warning() {
    let packer = packer();
    let args = ["validate", "undef-builder.json"];
    let live = run(&packer, &fixtures(), &args, &[]);
    assert_eq!(live.code, 0, "{}", live.text);
    assert_eq!(live.text, "", "Packer 1.6.6 says nothing");

    let ours = rpack(&args, &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    let text = flat(&ours.text);
    assert!(
        text.starts_with("Warning: Undefined user variables"),
        "{text}"
    );
    // Every reference, each with its file:line:col and key, in one run.
    for want in [
        "user variable \"suffix\" is not defined (undef-builder.json:12:19, in ami_name:",
        "user variable \"nope\" is not defined (undef-builder.json:13:26, in ami_description:",
        "user variable \"team\" is not defined (undef-builder.json:15:17, in tags[Team]:",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{}", ours.text);
    }
    // Called as `packer`, the output stays Packer's.
    let dir = tempfile::tempdir().unwrap();
    let as_packer = dir.path().join("packer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpack"), &as_packer).unwrap();
    let same = run(&as_packer, &fixtures(), &args, &[]);
    assert_eq!((same.code, same.text.as_str()), (0, ""));
}

#[test]
fn an_undefined_variable_in_a_builder_name_is_located() {
    let args = ["validate", "undef-builder-name.json"];
    let live = run(&packer(), &fixtures(), &args, &[]);
    assert_eq!(
        (live.code, live.text.as_str()),
        (0, ""),
        "Packer renders \"\" silently"
    );
    let ours = rpack(&args, &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    let want = "user variable \"u0\" is not defined (undef-builder-name.json:8:15, in name: \"fid-{{user `u0`}}\")";
    assert!(
        flat(&ours.text).contains(want),
        "missing {want:?} in:\n{}",
        ours.text
    );
}

#[test]
fn strict_mode_turns_the_warnings_into_errors() {
    for (args, env) in [
        (vec!["validate", "-strict", "undef-builder.json"], vec![]),
        (
            vec!["validate", "undef-builder.json"],
            vec![("RPACK_STRICT", "1")],
        ),
    ] {
        let ours = rpack(&args, &env);
        assert_eq!(ours.code, 1, "{:?} {:?}: {}", args, env, ours.text);
        let text = flat(&ours.text);
        assert!(
            text.starts_with("Error: Undefined user variables"),
            "{text}"
        );
        for name in ["suffix", "nope", "team"] {
            assert!(
                text.contains(&format!("user variable \"{name}\" is not defined")),
                "{text}"
            );
        }
    }
}

#[test]
fn undefined_variables_inside_variables_are_errors_like_packer() {
    let packer = packer();
    // (case, variable, where its value is written, the undefined variables it names)
    for (id, var, at, names) in [
        (
            "undef-in-variable",
            "a",
            "undef-in-variable.json:3:10",
            "variable \"nope\", which is not defined",
        ),
        (
            "undef-varfile",
            "a",
            "undef-varfile.vars.json:1:6",
            "variable \"nope\", which is not defined",
        ),
        (
            "undef-varfile-two",
            "c",
            "undef-varfile-two.vars.json:3:8",
            "variables \"m4\" and \"m5\", which are not defined",
        ),
    ] {
        let case = cases().into_iter().find(|c| c.id == id).unwrap();
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let live = run(&packer, &fixtures(), &args, &[]);
        assert_eq!(live.code, 1, "{}", live.text);
        assert!(flat(&live.text).contains(&format!("Failed to interpolate \"{var}\"")));
        let ours = rpack(&args, &[]);
        assert_eq!(ours.code, 1, "{id}: {}", ours.text);
        let text = flat(&ours.text);
        assert!(
            text.contains(&format!("Failed to interpolate \"{var}\" ({at}): ")),
            "{id}: {text}"
        );
        assert!(
            text.contains(&format!("refers to {names};")),
            "{id}: {text}"
        );
    }
}

#[test]
fn messages_never_paste_a_whole_long_value() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(5000);
    let tpl = format!(
        r#"{{"variables":{{"big":"{long}{{{{user `missing`}}}}{long}"}},
            "builders":[{{"type":"amazon-ebs","region":"us-east-1","source_ami":"ami-12345678",
            "instance_type":"t2.micro","ssh_username":"ec2-user","ami_name":"fid-{{{{timestamp}}}}",
            "ami_description":"{long}{{{{user `nope`}}}}{long}"}}]}}"#
    );
    std::fs::write(dir.path().join("big.json"), &tpl).unwrap();
    let out = run(
        Path::new(env!("CARGO_BIN_EXE_rpack")),
        dir.path(),
        &["validate", "big.json"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.text);
    assert!(out.text.contains("missing"), "{}", out.text);
    assert!(
        out.text.len() < 1000,
        "{} bytes:\n{}",
        out.text.len(),
        out.text
    );
    // Without the failing variable, the builder's warning is short too.
    let tpl = tpl.replace("{{user `missing`}}", "");
    std::fs::write(dir.path().join("big.json"), &tpl).unwrap();
    let out = run(
        Path::new(env!("CARGO_BIN_EXE_rpack")),
        dir.path(),
        &["validate", "big.json"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.text);
    assert!(out.text.contains("\"nope\" is not defined"), "{}", out.text);
    assert!(
        out.text.len() < 1000,
        "{} bytes:\n{}",
        out.text.len(),
        out.text
    );
}

/// Cases where rpack's verdict deliberately differs from Packer 1.6.6's (README, "Where rpack
/// deliberately differs"): (case, rpack's exit code, why).
const DIFFERS: &[(&str, i32, &str)] = &[
    (
        "file-content",
        0,
        "the file provisioner's `content` key is newer than 1.6.6",
    ),
    (
        "unlimited-credits-t3",
        0,
        "`enable_unlimited_credits` is newer than 1.6.6",
    ),
    (
        "refuse-winrm",
        1,
        "rpack speaks SSH only: refused before anything is launched",
    ),
    (
        "refuse-key-pair-type",
        1,
        "EC2 key pairs are rsa or ed25519 (as the current plugin checks)",
    ),
    (
        "refuse-ssh-options",
        1,
        "a certificate without ssh_private_key_file is refused at validate; Packer fails at connect",
    ),
    (
        "refuse-key-pair-dsa",
        1,
        "EC2 key pairs are rsa or ed25519: dsa is one error",
    ),
    (
        "refuse-mfa-code",
        1,
        "mfa_code is not implemented: refused at validate with its position",
    ),
];

#[test]
fn every_case_has_packers_verdict_or_a_documented_difference() {
    let packer = packer();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for case in cases() {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let live = run(&packer, &fixtures(), &args, &[]);
        assert_eq!(
            live.code, case.packer_code,
            "{}: packer's verdict changed: {}",
            case.id, live.text
        );
        let want = match DIFFERS.iter().find(|(id, _, _)| *id == case.id) {
            Some((_, code, why)) => {
                assert_ne!(*code, case.packer_code, "{}: no longer differs", case.id);
                assert!(!why.is_empty());
                *code
            }
            None => case.packer_code,
        };
        let ours = rpack(&args, &[]);
        assert_eq!(
            ours.code, want,
            "{}: rpack exit {}\n{}\npacker:\n{}",
            case.id, ours.code, ours.text, live.text
        );
    }
    for key in [
        "content",
        "enable_unlimited_credits",
        "winrm",
        "temporary_key_pair_type",
        "ssh_proxy_host",
        "ssh_local_tunnels",
        "mfa_code",
        "vault_aws_engine",
    ] {
        assert!(
            readme.contains(key),
            "README's differences do not mention {key}"
        );
    }
}

#[test]
fn unimplemented_plugin_types_are_not_mistaken_for_typos() {
    let ours = rpack(&["validate", "plugin-not-implemented.json"], &[]);
    assert_eq!(ours.code, 1);
    let text = flat(&ours.text);
    for want in [
        "builder 1: builder type \"docker\" (a Packer 1.6.6 built-in) is not implemented by rpack (plugin-not-implemented.json:2:67); rpack implements: amazon-ebs, amazon-ebsvolume, amazon-ebssurrogate, null, file",
        "provisioner 1: provisioner type \"converge\" (a Packer 1.6.6 built-in) is not implemented by rpack (plugin-not-implemented.json:5:14); rpack implements: shell, file",
        "post-processor 0.0: post-processor type \"vagrant\" (a Packer 1.6.6 built-in) is not implemented by rpack",
        // A name Packer does not know either keeps Packer's wording.
        "error initializing provisioner 'chef-sollo': Unknown provisioner chef-sollo",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{}", ours.text);
    }
    // The implemented list comes from the registry: every provisioner rpack decodes is named.
    let live = run(
        &packer(),
        &fixtures(),
        &["validate", "plugin-not-implemented.json"],
        &[],
    );
    assert!(flat(&live.text).contains("Unknown provisioner chef-sollo"));
}

/// rpack's built-in list is upstream Packer v1.6.6's; Debian's packer 1.6.6 is built without a
/// few of those plugins and calls them unknown (README says so). Both exit 1.
#[test]
fn upstream_builtins_debian_leaves_out_are_not_implemented_not_unknown() {
    let live = run(
        &packer(),
        &fixtures(),
        &["validate", "plugin-upstream-only.json"],
        &[],
    );
    assert!(
        flat(&live.text).contains("Unknown builder linode"),
        "{}",
        live.text
    );
    let ours = rpack(&["validate", "plugin-upstream-only.json"], &[]);
    assert_eq!(ours.code, 1);
    let text = flat(&ours.text);
    for want in [
        "builder 0: builder type \"linode\" (a Packer 1.6.6 built-in) is not implemented by rpack (plugin-upstream-only.json:4:15)",
        "post-processor 0.0: post-processor type \"yandex-export\" (a Packer 1.6.6 built-in) is not implemented by rpack (plugin-upstream-only.json:9:15)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{}", ours.text);
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let readme = flat(&readme);
    for name in ["`linode`", "`yandex-export`", "Debian's `packer` 1.6.6"] {
        assert!(readme.contains(name), "README does not name {name}");
    }
}

#[test]
fn what_cannot_be_built_is_refused_with_key_position_and_hint() {
    for (case, wants) in [
        (
            "refuse-winrm",
            vec![
                "communicator: \"winrm\" is not implemented by rpack",
                "(refuse-winrm.json:",
                "Hint:",
            ],
        ),
        (
            "refuse-session-manager",
            vec![
                "ssh_interface: \"session_manager\" is not implemented by rpack",
                "(refuse-session-manager.json:",
                "Hint:",
            ],
        ),
        (
            "refuse-key-pair-type",
            vec![
                "temporary_key_pair_type ('ecdsa') is invalid, valid types: rsa, ed25519",
                "(refuse-key-pair-type.json:",
            ],
        ),
        (
            "refuse-key-pair-dsa",
            vec![
                "temporary_key_pair_type ('dsa') is invalid, valid types: rsa, ed25519 (EC2 key pairs are RSA or ED25519; dsa is not implemented by rpack) (refuse-key-pair-dsa.json:10:34)",
            ],
        ),
        (
            "refuse-mfa-code",
            vec![
                "mfa_code: an MFA code in the template is not implemented by rpack. Hint: get MFA session credentials before the build",
                "or use assume_role (refuse-mfa-code.json:10:19)",
            ],
        ),
        (
            "refuse-vault-aws-engine",
            vec![
                "vault_aws_engine: reading AWS credentials from HashiCorp Vault is not implemented by rpack. Hint: read them before the build (`vault read aws/creds/<role>`)",
                "(refuse-vault-aws-engine.json:10:27)",
            ],
        ),
        (
            "refuse-ssh-options",
            vec![
                "ssh_certificate_file is invalid: it certifies the key in ssh_private_key_file, which is not set. Hint: set ssh_private_key_file to the key the certificate was issued for (refuse-ssh-options.json:11:31)",
            ],
        ),
    ] {
        let ours = rpack(&["validate", &format!("{case}.json")], &[]);
        assert_eq!(ours.code, 1, "{case}: {}", ours.text);
        let text = flat(&ours.text);
        for want in wants {
            assert!(
                text.contains(want),
                "{case}: missing {want:?} in:\n{}",
                ours.text
            );
        }
    }
    // One error per refusal: dsa is not also reported by the key size check.
    let dsa = rpack(&["validate", "refuse-key-pair-dsa.json"], &[]);
    assert_eq!(
        bullet_items(&dsa.text).len(),
        1,
        "one error expected:\n{}",
        dsa.text
    );
    // Refused by build too, before any AWS call (the endpoint here does not exist).
    for case in ["refuse-mfa-code", "refuse-vault-aws-engine"] {
        let b = rpack(
            &["build", &format!("{case}.json")],
            &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
        );
        assert_eq!(b.code, 1, "{case}: {}", b.text);
        assert!(
            flat(&b.text).contains("Error: Failed to prepare build"),
            "{case}: {}",
            b.text
        );
        assert!(
            !b.text.contains("127.0.0.1:9"),
            "{case}: build reached AWS: {}",
            b.text
        );
    }
}

#[test]
fn small_decode_gaps_are_closed() {
    // vpc/subnet/security group filters in the list form, as Packer 1.6.6 accepts them.
    assert_eq!(rpack(&["validate", "netfilter-list.json"], &[]).code, 0);
    // enable_unlimited_credits: every burstable family; only spot on t2 is refused.
    assert_eq!(
        rpack(&["validate", "unlimited-credits-t3.json"], &[]).code,
        0
    );
    let spot = rpack(&["validate", "unlimited-credits-t2-spot.json"], &[]);
    assert_eq!(spot.code, 1);
    assert!(
        flat(&spot.text)
            .contains("Unlimited credits cannot be used in conjuction with Spot Instances"),
        "{}",
        spot.text
    );
    // Packer 1.6.6's enable_t2_unlimited keeps its 1.6.6 check.
    let t2 = rpack(&["validate", "t2-unlimited-t3.json"], &[]);
    assert!(
        flat(&t2.text).contains("T2 Unlimited enabled with a non-T2 Instance Type: t3.micro"),
        "{}",
        t2.text
    );
    // The file provisioner's content key.
    assert_eq!(rpack(&["validate", "file-content.json"], &[]).code, 0);
}

/// The program under the name `packer` (a symlink in a temp dir).
pub(crate) fn as_packer() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("packer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpack"), &link).unwrap();
    (dir, link)
}
