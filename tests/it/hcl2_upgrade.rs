//! `hcl2_upgrade`: every JSON template of the conformance fixtures and `templates/` that rpack
//! validates upgrades to HCL2 that rpack checks into the same plan (`plan::describe` of each
//! build); an upgraded shipped template builds on the local stack; bad input gets Packer's
//! errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use rpack::plan;
use rpack::template::parse;
use rpack::template::upgrade::{self, Options};
use rpack::ui::testing::Recording;

use crate::support::paths::{fresh_dir, repo_root};

/// The parts of the repository templates refer to, copied under `to` (so the upgraded file can
/// be written next to each JSON template, as the command does, without touching the tree).
fn copy_repo(to: &Path) {
    for part in ["templates", "builders", "provisioners", "tests/fixtures"] {
        copy_tree(&repo_root().join(part), &to.join(part));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn json_templates(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_templates(&p, out);
        } else if p.extension().is_some_and(|x| x == "json")
            && !p.to_string_lossy().contains(".vars.")
            && !p.to_string_lossy().ends_with(".pkr.json")
        {
            out.push(p);
        }
    }
}

/// The var-file that goes with a template: `t.vars.json` next to `t.json`, and the shipped
/// template's local one.
fn var_files(tpl: &Path) -> Vec<String> {
    let stem = tpl.file_stem().unwrap().to_string_lossy().to_string();
    let own = tpl.with_file_name(format!("{stem}.vars.json"));
    if own.is_file() {
        return vec![own.display().to_string()];
    }
    if stem == "tara-ebcustom-platform" {
        return vec![tpl
            .with_file_name("tara-local.vars.json")
            .display()
            .to_string()];
    }
    Vec::new()
}

/// Each build's name and described plan, or why the template does not check.
///
/// Keys a plugin renders only at run time (amazon-ebs's `ami_description` and tags, a
/// manifest's `custom_data` …) keep their Go template in a JSON template's plan, where HCL2
/// already put the variable's value in; so `{{user `x`}}`, `{{build_name}}` and `{{build_type}}`
/// are replaced by what they render to before comparing.
pub(crate) fn plan_of(path: &Path, var_files: &[String]) -> Result<Vec<(String, String)>, String> {
    let ui = Recording::new();
    let loaded = plan::load(&ui, &path.display().to_string(), var_files, &[])
        .map_err(|_| ui.lines().join("\n"))?;
    let (checked, _) = plan::load::check_builds(&loaded, &plan::Options::default());
    if checked.has_errors() {
        return Err(checked
            .diags
            .iter()
            .map(|d| format!("{d:?}"))
            .collect::<Vec<_>>()
            .join("\n"));
    }
    let user = regex::Regex::new(r#"\{\{-? *user +(?:`([^`]*)`|\\"([^"\\]*)\\") *-?\}\}"#).unwrap();
    Ok(checked
        .builds
        .iter()
        .map(|b| {
            let text = plan::describe::describe(b);
            let text = user.replace_all(&text, |c: &regex::Captures| {
                let name = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
                let v = checked.user_vars.get(name).cloned().unwrap_or_default();
                let quoted = format!("{v:?}");
                quoted[1..quoted.len() - 1].to_string()
            });
            let short = b.name.rsplit('.').next().unwrap_or(&b.name).to_string();
            let text = text
                .replace("{{build_name}}", &short)
                .replace("{{ build_name }}", &short)
                .replace("{{build_type}}", &b.builder_kind)
                .replace("{{ build_type }}", &b.builder_kind);
            (b.name.clone(), masked(&text))
        })
        .collect())
}

/// Values that differ between two checks by design: times (both sides read the clock), random
/// UUIDs and script names.
fn masked(text: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let iso = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    let unix = regex::Regex::new(r"\b1\d{9}\b").unwrap();
    let script = regex::Regex::new(r"script_\d+").unwrap();
    // A late-rendered `{{isotime}}` is the template's start time, as HCL2's was.
    let late_iso = regex::Regex::new(r"\{\{ *isotime *\}\}").unwrap();
    let text = late_iso.replace_all(text, "<time>");
    let t = script.replace_all(&text, "script_N");
    let t = uuid.replace_all(&t, "<uuid>");
    let t = iso.replace_all(&t, "<time>");
    unix.replace_all(&t, "<unix>").into_owned()
}

/// Fixtures left out, with why.
const SKIPPED: &[(&str, &str)] = &[(
    "fidelity/undef-builder.json",
    "an undefined variable in a key amazon-ebs renders at run time: the JSON plan keeps the \
     call (\"\" once rendered), HCL2 has \"\" at once, which the decoder reads as unset",
)];

#[test]
fn every_valid_json_template_upgrades_to_the_same_plan() {
    let dir = fresh_dir("hcl2-upgrade-plans");
    copy_repo(&dir);
    let mut templates = Vec::new();
    json_templates(&dir.join("tests/fixtures"), &mut templates);
    json_templates(&dir.join("templates"), &mut templates);
    let mut compared = Vec::new();
    let mut failures = Vec::new();
    for json in &templates {
        let rel = json.strip_prefix(&dir).unwrap().display().to_string();
        if SKIPPED.iter().any(|(f, _)| rel.ends_with(f)) {
            continue;
        }
        let vf = var_files(json);
        let Ok(want) = plan_of(json, &vf) else {
            continue;
        };
        let tpl = parse::parse_file(&json.display().to_string()).unwrap();
        let text = upgrade::upgrade(&tpl, Options::default());
        let hcl = PathBuf::from(format!("{}.pkr.hcl", json.display()));
        std::fs::write(&hcl, &text).unwrap();
        match plan_of(&hcl, &vf) {
            Err(e) => failures.push(format!("{rel}: the HCL2 does not check:\n{e}\n{text}")),
            Ok(got) => {
                let names =
                    |p: &[(String, String)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
                if got.len() != want.len() {
                    failures.push(format!(
                        "{rel}: builds {:?} became {:?}",
                        names(&want),
                        names(&got)
                    ));
                    continue;
                }
                for ((wn, w), (gn, g)) in want.iter().zip(&got) {
                    // HCL2 names a build `type.name`; a JSON name that cannot be a label
                    // (a template) becomes `autogenerated_N`, as with Packer.
                    // Spaces become `_` (labels are identifiers in Packer).
                    let label = wn.replace(' ', "_");
                    if !gn.ends_with(&format!(".{label}")) && !gn.contains(".autogenerated_") {
                        failures.push(format!("{rel}: build {wn} became {gn}"));
                    }
                    if w != g {
                        let diff: Vec<String> = w
                            .lines()
                            .zip(g.lines())
                            .filter(|(a, b)| a != b)
                            .take(5)
                            .map(|(a, b)| format!("  json: {a}\n  hcl2: {b}"))
                            .collect();
                        failures.push(format!(
                            "{rel}: build {wn} differs:\n{}\n{text}",
                            diff.join("\n")
                        ));
                    }
                }
                compared.push(rel);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!(
        "{} templates upgraded to the same plan: {compared:?}",
        compared.len()
    );
    // The property is only worth something over a real corpus: the shipped template and the
    // fixtures that validate.
    assert!(
        compared.contains(&"templates/tara-ebcustom-platform.json".to_string()),
        "{compared:?}"
    );
    for must in [
        "tests/fixtures/upgrade/features.json",
        "tests/fixtures/upgrade/amazon.json",
        "tests/fixtures/upgrade/amazon-others.json",
    ] {
        assert!(compared.contains(&must.to_string()), "{must}: {compared:?}");
    }
    assert!(
        compared.len() >= 15,
        "only {} compared: {compared:?}",
        compared.len()
    );

    // The comparison sees a difference: the upgraded features fixture with one default changed.
    let json = dir.join("tests/fixtures/upgrade/features.json");
    let hcl = dir.join("tests/fixtures/upgrade/features.json.pkr.hcl");
    let text = std::fs::read_to_string(&hcl).unwrap();
    assert!(text.contains("default = \"Hello\""), "{text}");
    std::fs::write(
        &hcl,
        text.replace("default = \"Hello\"", "default = \"Bye\""),
    )
    .unwrap();
    let want = plan_of(&json, &[]).unwrap();
    let got = plan_of(&hcl, &[]).unwrap();
    assert_eq!(want.len(), got.len());
    assert!(want.iter().zip(&got).any(|(w, g)| w.1 != g.1));
}

/// stdout and stderr together, and the exit code.
fn merged(bin: &Path, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn rpack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rpack"))
}

#[test]
fn bad_input_gets_packers_messages_and_writes_nothing() {
    let packer = crate::fidelity::packer();
    let (_link_dir, link) = crate::fidelity::as_packer();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // rpack adds the position (README, "Positions").
    let at = regex::Regex::new(r" \([a-z]+\.json:\d+:\d+\)").unwrap();
    std::fs::write(d.join("bad.json"), "{\"builders\":[{\"type\":\"null\"\n").unwrap();
    std::fs::write(d.join("dup.json"), "{\"builders\":[],\"builders\":[]}").unwrap();
    std::fs::write(
        d.join("root.json"),
        "{\"nope\":1,\"builders\":[{\"type\":\"null\"}]}",
    )
    .unwrap();
    for (args, text) in [
        (
            &["nope.json"][..],
            "Failed to parse template: open nope.json: no such file or directory\n",
        ),
        (
            &["bad.json"],
            "Failed to parse template: Error parsing JSON: unexpected end of JSON input\n",
        ),
        (
            &["root.json"],
            "Failed to parse template: 1 error occurred:\n\t* Unknown root level key in template: 'nope'\n",
        ),
    ] {
        let mut full = vec!["hcl2_upgrade"];
        full.extend_from_slice(args);
        let theirs = merged(&packer, d, &full);
        assert_eq!(theirs.0, 1, "{theirs:?}");
        assert!(theirs.1.starts_with(text), "packer: {theirs:?}");
        // Packer 1.6.6 creates the output file (with its header only) even so; rpack does not.
        let out = d.join(format!("{}.pkr.hcl", args[0]));
        std::fs::remove_file(&out).unwrap();
        for bin in [&link, &rpack_bin()] {
            let ours = merged(bin, d, &full);
            assert_eq!(ours.0, 1, "{ours:?}");
            let text_ours = at.replace_all(&ours.1, "");
            if bin == &link {
                assert_eq!(text_ours, theirs.1, "{full:?}");
            } else {
                assert!(text_ours.starts_with(text), "rpack: {ours:?}");
            }
            assert!(!out.exists(), "{} written", out.display());
        }
    }
    // An output path that cannot be written.
    std::fs::write(
        d.join("ok.json"),
        "{\"builders\":[{\"type\":\"null\",\"communicator\":\"none\"}]}",
    )
    .unwrap();
    std::fs::write(d.join("afile"), "").unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    for (args, text) in [
        (
            &[
                "hcl2_upgrade",
                "-output-file=afile/sub/o.pkr.hcl",
                "ok.json",
            ][..],
            "Failed to create output directory: mkdir afile: not a directory\n",
        ),
        (
            &["hcl2_upgrade", "-output-file=adir", "ok.json"],
            "Failed to create output file: open adir: is a directory\n",
        ),
    ] {
        let theirs = merged(&packer, d, args);
        assert_eq!(theirs, (1, text.to_string()), "packer {args:?}");
        assert_eq!(merged(&link, d, args), theirs, "{args:?}");
        assert_eq!(merged(&rpack_bin(), d, args), theirs, "{args:?}");
    }
    // Called as packer, a builder type Packer 1.6.6 does not know is refused (rpack converts it).
    std::fs::write(d.join("foo.json"), "{\"builders\":[{\"type\":\"foo\"}]}").unwrap();
    let args = ["hcl2_upgrade", "-output-file=foo.pkr.hcl", "foo.json"];
    let theirs = merged(&packer, d, &args);
    assert_eq!(theirs, (1, "unknown builder type: \"foo\"\n\n".to_string()));
    std::fs::remove_file(d.join("foo.pkr.hcl")).unwrap();
    assert_eq!(merged(&link, d, &args), theirs);
    assert!(!d.join("foo.pkr.hcl").exists());
    assert_eq!(merged(&rpack_bin(), d, &args).0, 0);
    // Usage: no template, two templates.
    for args in [&["hcl2_upgrade"][..], &["hcl2_upgrade", "a.json", "b.json"]] {
        let theirs = merged(&packer, d, args);
        let ours = merged(&link, d, args);
        assert_eq!(ours, theirs, "{args:?}");
        assert_eq!(ours.0, 1);
        let as_rpack = merged(&rpack_bin(), d, args);
        assert_eq!(as_rpack.0, 1);
        assert!(as_rpack.1.contains("-with-annotations"), "{as_rpack:?}");
    }
}

#[test]
fn output_file_annotations_and_the_success_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("t.json"),
        r#"{"variables": {"v": "x"}, "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["echo {{user `v`}} {{timestamp}}"]}]}"#,
    )
    .unwrap();
    let (code, text) = merged(&rpack_bin(), d, &["hcl2_upgrade", "t.json"]);
    assert_eq!(
        (code, text.as_str()),
        (0, "Successfully created t.json.pkr.hcl\n")
    );
    let plain = std::fs::read_to_string(d.join("t.json.pkr.hcl")).unwrap();
    assert!(
        plain.starts_with("variable \"v\" {\n  type    = string\n  default = \"x\"\n}\n"),
        "{plain}"
    );
    assert!(
        plain.contains("inline = [\"echo ${var.v} {{timestamp}}\"]"),
        "{plain}"
    );
    // The Go template that stays is explained where it is.
    assert!(
        plain.contains("# {{timestamp}} stays a Go template"),
        "{plain}"
    );

    let (code, text) = merged(
        &rpack_bin(),
        d,
        &[
            "hcl2_upgrade",
            "-with-annotations",
            "-output-file",
            "out/x.pkr.hcl",
            "t.json",
        ],
    );
    assert_eq!(
        (code, text.as_str()),
        (0, "Successfully created out/x.pkr.hcl\n")
    );
    let annotated = std::fs::read_to_string(d.join("out/x.pkr.hcl")).unwrap();
    assert!(
        annotated.starts_with("# This file was autogenerated by the 'rpack hcl2_upgrade' command."),
        "{annotated}"
    );
    assert!(
        annotated.contains("# a build block invokes sources"),
        "{annotated}"
    );
    // Comments aside, the same file.
    let code_lines = |t: &str| {
        t.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(code_lines(&plain), code_lines(&annotated));

    // `-output-file=-`: the same HCL2 on stdout, nothing else.
    let (code, text) = merged(
        &rpack_bin(),
        d,
        &["hcl2_upgrade", "-output-file=-", "t.json"],
    );
    assert_eq!((code, text.as_str()), (0, plain.as_str()));
    assert!(!d.join("-").exists());

    // Called as packer: 1.6.6's header always, its success line (with its trailing space).
    let (_link_dir, link) = crate::fidelity::as_packer();
    let (code, text) = merged(&link, d, &["hcl2_upgrade", "t.json"]);
    assert_eq!(
        (code, text.as_str()),
        (0, "Successfully created t.json.pkr.hcl \n")
    );
    let as_packer = std::fs::read_to_string(d.join("t.json.pkr.hcl")).unwrap();
    assert!(
        as_packer.starts_with(
            "# This file was autogenerated by the BETA 'packer hcl2_upgrade' command. We\n"
        ),
        "{as_packer}"
    );
    let (code, text) = merged(&link, d, &["hcl2_upgrade", "-with-annotations", "t.json"]);
    assert_eq!(code, 1);
    assert!(
        text.contains("flag provided but not defined: -with-annotations"),
        "{text}"
    );
}

/// The shipped template, upgraded by the command, builds on the local stack (moto + loopback
/// sshd) as the JSON one does (`build::seed_template_builds_…`): one AMI with the template's
/// tags and name, the manifest, nothing left behind.
#[test]
fn upgraded_shipped_template_builds_on_the_local_stack() {
    use crate::build::{run_to_end, stack, REGION};
    use crate::support::Ec2State;

    let st = stack();
    // A copy of the repository parts the template reads, so the HCL2 file sits next to the
    // JSON one (`path.root` is where `{{template_dir}}` was).
    let tree = st.dir.join("tree");
    copy_repo(&tree);
    let json = tree.join("templates/tara-ebcustom-platform.json");
    let (code, text) = merged(
        &rpack_bin(),
        &st.dir,
        &["hcl2_upgrade", json.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{text}");
    let hcl = tree.join("templates/tara-ebcustom-platform.json.pkr.hcl");
    let cmd = st.seed_build(&hcl, &tree.join("templates/tara-local.vars.json"), "upg");
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "build failed:\n{out}");
    // HCL2 names the build `type.name` (the JSON name's spaces became `_`).
    let target = "amazon-ebs.HVM_AMI_builder";
    let artifact: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, ',').collect();
            (f.len() == 4 && f[1] == target && f[2] == "artifact").then_some(f[3])
        })
        .collect();
    let id = artifact
        .iter()
        .find_map(|a| a.strip_prefix("0,id,us-east-1:"))
        .unwrap_or_else(|| panic!("no AMI id:\n{out}"))
        .to_string();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inv = rt
        .block_on(Ec2State::new(st.moto.endpoint(), REGION).inventory())
        .unwrap();
    assert_eq!(inv.images.len(), 1, "{inv:?}");
    let img = &inv.images[0];
    assert_eq!(img.id, id);
    let name = img.name.as_deref().unwrap_or("");
    assert!(name.starts_with("tara-eb-tara-node-1.0.0-"), "{img:?}");
    // `{{timestamp}}` stayed a Go template: still Unix seconds.
    let stamp = name.rsplit('-').next().unwrap_or("");
    assert!(stamp.len() == 10 && stamp.parse::<u64>().is_ok(), "{name}");
    let tag = |k: &str| img.tags.get(k).cloned();
    assert_eq!(tag("eb_platform_name").as_deref(), Some("tara-node"));
    assert_eq!(tag("eb_platform_version").as_deref(), Some("1.0.0"));
    assert!(
        tag("Base_AMI_Name")
            .unwrap_or_default()
            .starts_with("al2023-ami-2023"),
        "{:?}",
        img.tags
    );
    assert!(
        inv.live_instances().is_empty() && inv.key_pairs.is_empty(),
        "{inv:?}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(st.dir.join("manifest.json")).expect("manifest.json written"),
    )
    .unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["artifact_id"], format!("us-east-1:{id}"));
    assert_eq!(b["custom_data"]["platform_name"], "tara-node");
}
