//! HCL2 and JSON build alike on the local stack (moto behind the recording proxy, a loopback
//! sshd): the shipped tara template (`templates/tara-ebcustom-platform.json` and its `.pkr.hcl`
//! twin, the seed build of `build::seed_template_builds_…`) and two null-builder twins (one
//! local, one uploading over SSH to the stack's sshd) are each built from JSON and from HCL2,
//! and the two builds must make the same EC2 calls in the same order, tag the AMI alike and
//! upload and print the same (times, ids, random names and the builds' own scratch names aside).
//! The HCL2 tara build is also the shared harness's build (a seed template build with the
//! local var file) run end to end from HCL2.

use std::collections::BTreeMap;

use crate::build::{run_to_end, stack, Stack, REGION};
use crate::support::paths::{fresh_dir, repo_root};
use crate::support::{ssh_keygen, Ec2State, KeyKind, Sshd};

/// What one build did.
#[derive(Debug)]
struct Record {
    /// The EC2 requests in order: Action and form parameters.
    requests: Vec<(String, BTreeMap<String, String>)>,
    /// Machine-readable output, normalized (see `normalize`).
    lines: Vec<String>,
    /// The AMIs created, by name (normalized), with their tags (normalized).
    images: Vec<(String, BTreeMap<String, String>)>,
    /// The manifest written, if any, normalized.
    manifest: Option<String>,
}

/// Values that differ between two builds by design, replaced by placeholders: EC2 ids, times,
/// durations, random names (temporary key pairs and security groups, script files), the build
/// name (HCL2 `type.name`, JSON the name alone) and the scratch tag of each build.
fn normalize(text: &str, build_names: &[&str], tags: &[&str]) -> String {
    let mut t = text.to_string();
    for n in build_names {
        t = t.replace(n, "<build>");
    }
    for tag in tags {
        t = t.replace(tag, "<tag>");
    }
    let rules: &[(&str, &str)] = &[
        (
            r"\b(ami|i|sg|snap|vol|key|r|vpc|subnet|eni)-[0-9a-f]{8,17}\b",
            "$1-<id>",
        ),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        (r"\b1\d{9}\b", "<unix>"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<uuid>",
        ),
        (r"packer_[0-9a-f]{24,}", "packer_<rand>"),
        (
            r"PublicKeyMaterial=[A-Za-z0-9+/=]+",
            "PublicKeyMaterial=<key>",
        ),
        (r"(script|packer-shell|packer-shell-local)[-_]?\d+", "$1<n>"),
        (
            r"\d+(\.\d+)? ?(seconds?|milliseconds?|microseconds?|minutes?|ms|µs|s)\b",
            "<dur>",
        ),
        (r"<dur>(,? <dur>)+", "<dur>"),
        (r"/tmp/[A-Za-z0-9._-]+", "/tmp/<tmp>"),
    ];
    for (re, with) in rules {
        t = regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, *with)
            .into_owned();
    }
    t
}

/// The machine-readable lines without their timestamp, normalized.
fn output_lines(out: &str, names: &[&str], tags: &[&str]) -> Vec<String> {
    out.lines()
        .map(|l| l.split_once(',').map_or(l, |(_, r)| r))
        .map(|l| normalize(l, names, tags))
        .collect()
}

fn build(st: &Stack, cmd: std::process::Command, names: &[&str], tags: &[&str]) -> Record {
    build_with(st, cmd, names, tags, "manifest.json")
}

fn build_with(
    st: &Stack,
    cmd: std::process::Command,
    names: &[&str],
    tags: &[&str],
    manifest: &str,
) -> Record {
    let before: Vec<String> = images(st).iter().map(|i| i.id.clone()).collect();
    st.proxy.reset_counts();
    let _ = std::fs::remove_file(st.dir.join(manifest));
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "build failed:\n{out}");
    let requests = st.proxy.requests();
    let images = images(st)
        .into_iter()
        .filter(|i| !before.contains(&i.id))
        .map(|i| {
            let image_tags: BTreeMap<String, String> = i
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), normalize(v, names, tags)))
                .collect();
            (
                normalize(i.name.as_deref().unwrap_or(""), names, tags),
                image_tags,
            )
        })
        .collect();
    let manifest = std::fs::read_to_string(st.dir.join(manifest))
        .ok()
        .map(|m| normalize(&m, names, tags));
    Record {
        requests,
        lines: output_lines(&out, names, tags),
        images,
        manifest,
    }
}

fn images(st: &Stack) -> Vec<crate::support::ec2_state::ImageInfo> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(Ec2State::new(st.moto.endpoint(), REGION).inventory())
        .unwrap()
        .images
}

/// The Actions in order, a run of the same Action (a waiter polling) counted once.
fn call_sequence(r: &Record) -> Vec<String> {
    let mut seq: Vec<String> = Vec::new();
    for (a, _) in &r.requests {
        if seq.last() != Some(a) {
            seq.push(a.clone());
        }
    }
    seq
}

/// The parameters of the calls that create or change something, normalized.
fn mutating_calls(r: &Record, names: &[&str], tags: &[&str]) -> Vec<String> {
    r.requests
        .iter()
        .filter(|(a, _)| {
            a.starts_with("Create")
                || a.starts_with("Run")
                || a.starts_with("Import")
                || a.starts_with("Modify")
                || a.starts_with("Authorize")
                || a.starts_with("Terminate")
                || a.starts_with("Delete")
                || a.starts_with("Copy")
                || a.starts_with("Register")
        })
        .map(|(a, p)| {
            let p: Vec<String> = p
                .iter()
                .filter(|(k, _)| k.as_str() != "Version")
                .map(|(k, v)| match k.as_str() {
                    "UserData" => format!("{k}={}", user_data(v)),
                    _ => format!("{k}={v}"),
                })
                .collect();
            normalize(&format!("{a} {}", p.join(" ")), names, tags)
        })
        .collect()
}

/// Two lists equal, or a panic showing where they part.
fn assert_lists(what: &str, json: &[String], hcl: &[String]) {
    let diff: Vec<String> = json
        .iter()
        .zip(hcl)
        .filter(|(a, b)| a != b)
        .take(10)
        .map(|(a, b)| format!("json: {a}\nhcl2: {b}"))
        .collect();
    assert!(
        diff.is_empty() && json.len() == hcl.len(),
        "{what} differ ({} / {} items):\n{}",
        json.len(),
        hcl.len(),
        diff.join("\n")
    );
}

/// Instance user data (base64) decoded, with the generated host key masked.
fn user_data(b64: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("UserData is not base64 ({e}): {b64}"));
    let text = String::from_utf8_lossy(&bytes);
    let private = regex::Regex::new(
        r"(?s)-----BEGIN OPENSSH PRIVATE KEY-----.*?-----END OPENSSH PRIVATE KEY-----",
    )
    .unwrap();
    let public = regex::Regex::new(r"(ssh-[a-z0-9-]+) [A-Za-z0-9+/=]+").unwrap();
    let t = private.replace_all(&text, "<private key>");
    public.replace_all(&t, "$1 <key>").into_owned()
}

fn assert_same(json: &Record, hcl: &Record, names: &[&str], tags: &[&str]) {
    assert_eq!(
        call_sequence(json),
        call_sequence(hcl),
        "EC2 call sequences"
    );
    assert_eq!(
        mutating_calls(json, names, tags),
        mutating_calls(hcl, names, tags),
        "EC2 calls that create or change things (normalized)"
    );
    assert_eq!(json.images, hcl.images, "AMIs and their tags");
    assert_eq!(json.manifest, hcl.manifest, "manifest");
    assert_lists("outputs", &json.lines, &hcl.lines);
}

#[test]
fn tara_builds_alike_from_json_and_hcl2() {
    let st = stack();
    let repo = repo_root();
    let vars = repo.join("templates/tara-local.vars.json");
    let names = ["amazon-ebs.HVM AMI builder", "HVM AMI builder"];
    let tags = ["rpack-it-eqj", "rpack-it-eqh"];
    let json = build(
        &st,
        st.seed_build(
            &repo.join("templates/tara-ebcustom-platform.json"),
            &vars,
            "eqj",
        ),
        &names,
        &tags,
    );
    let hcl = build(
        &st,
        st.seed_build(
            &repo.join("templates/tara-ebcustom-platform.pkr.hcl"),
            &vars,
            "eqh",
        ),
        &names,
        &tags,
    );
    assert_same(&json, &hcl, &names, &tags);
    // What was compared is the whole amazon-ebs build: the calls from the AMI lookup to the
    // cleanup, the uploads and the provisioning script's steps, one new AMI with the tags.
    let seq = call_sequence(&hcl);
    for action in [
        "RunInstances",
        "CreateImage",
        "CreateTags",
        "TerminateInstances",
    ] {
        assert!(seq.iter().any(|a| a == action), "{action}: {seq:?}");
    }
    assert_eq!(hcl.images.len(), 1, "{:?}", hcl.images);
    let (name, tags) = &hcl.images[0];
    assert!(name.starts_with("tara-eb-tara-node-1.0.0-"), "{name}");
    assert_eq!(
        tags.get("eb_platform_name").map(String::as_str),
        Some("tara-node")
    );
    assert!(
        hcl.lines
            .iter()
            .any(|l| l.contains("Uploading") && l.contains("/builders/common")),
        "{:#?}",
        hcl.lines
    );
    assert!(
        hcl.lines
            .iter()
            .any(|l| l.contains("[eb_builder] ==> verify")),
        "{:#?}",
        hcl.lines
    );
}

/// A null build over SSH to a loopback sshd (`tests/fixtures/hcl2/twins/null-ssh.*`): the
/// same uploads, remote and local command output and manifest from JSON and HCL2, and no EC2
/// call from either.
#[test]
fn null_ssh_twin_builds_alike_from_json_and_hcl2() {
    let st = stack();
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let dir = fresh_dir("hcl2-null-ssh");
    let twins = repo_root().join("tests/fixtures/hcl2/twins");
    for f in ["null-ssh.json", "null-ssh.pkr.hcl", "null-ssh.txt"] {
        std::fs::copy(twins.join(f), dir.join(f)).unwrap();
    }
    let pid = std::process::id();
    let run = |template: &str, tag: &str| {
        let stage = format!("/tmp/rpack-it-null-ssh-{tag}-{pid}");
        let args = [
            "build".to_string(),
            "-machine-readable".to_string(),
            format!("-var=ssh_host={}", sshd.host()),
            format!("-var=ssh_port={}", sshd.port()),
            format!("-var=ssh_user={}", sshd.user()),
            format!("-var=ssh_key={}", key.display()),
            format!("-var=stage={stage}"),
            "-var=greeting=hi there".to_string(),
            dir.join(template).display().to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        build(
            &st,
            st.rpack(&args),
            &["null.remote", "remote"],
            &[&format!("null-ssh-{tag}")],
        )
    };
    let json = run("null-ssh.json", "j");
    let hcl = run("null-ssh.pkr.hcl", "h");
    assert_same(&json, &hcl, &[], &[]);
    assert!(hcl.requests.is_empty(), "{:?}", hcl.requests);
    for want in [
        "Uploading",
        "uploaded from the template directory",
        "hi there from a null build",
        "hi there from ec2-user",
        "local hi there",
    ] {
        assert!(
            hcl.lines.iter().any(|l| l.contains(want)),
            "{want}: {:#?}",
            hcl.lines
        );
    }
    let manifest = hcl.manifest.as_deref().unwrap_or("");
    assert!(
        manifest.contains("\"greeting\": \"hi there\""),
        "{manifest}"
    );
}

/// The local null twin (`tests/fixtures/hcl2/null_twin.*`: shell-local and a manifest).
#[test]
fn null_twin_builds_alike_from_json_and_hcl2() {
    let st = stack();
    let h = repo_root().join("tests/fixtures/hcl2");
    let run = |template: &str, greeting: &str| {
        let t = h.join(template).display().to_string();
        let var = format!("-var=greeting={greeting}");
        build_with(
            &st,
            st.rpack(&["build", "-machine-readable", &var, &t]),
            &["null.only"],
            &[],
            "m.json",
        )
    };
    let json = run("null_twin.json", "bonjour");
    let mut hcl = run("null_twin.pkr.hcl", "bonjour");
    // The manifest's `name` is the name the plugins see: in HCL2 the source's ("only"), as in
    // Packer; the JSON builder is named "null.only". The rest of the manifest is the same.
    let m = hcl.manifest.take().unwrap_or_default();
    assert!(m.contains("\"name\": \"only\""), "{m}");
    hcl.manifest = Some(m.replace("\"name\": \"only\"", "\"name\": \"<build>\""));
    assert_same(&json, &hcl, &[], &[]);
    // The comparison sees a difference in what a provisioner printed.
    let other = run("null_twin.pkr.hcl", "hola");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_same(&json, &other, &[], &[]);
    }));
    assert!(caught.is_err());
    assert!(
        hcl.lines.iter().any(|l| l.ends_with("bonjour")),
        "{:#?}",
        hcl.lines
    );
    let manifest = hcl.manifest.as_deref().unwrap_or("");
    assert!(
        manifest.contains("\"name\": \"<build>\"")
            && manifest.contains("\"builder_type\": \"null\""),
        "{manifest}"
    );
}

/// The shipped HCL2 tara template run as the shared harness runs a template: from a fresh copy
/// of its directory (with `builders/` and `provisioners/` beside it, where `repo_dir` points),
/// by its file name alone, with every setting in the environment (`PKR_VAR_*` and EB's
/// `AWS_EB_PLATFORM_*`) and no flags; then checked as the harness checks a build: one AMI
/// with the expected name and tags, the manifest, nothing left running.
#[test]
fn shipped_hcl2_tara_builds_end_to_end_the_harness_way() {
    let st = stack();
    let work = fresh_dir("hcl2-harness");
    for part in ["templates", "builders", "provisioners"] {
        let out = std::process::Command::new("cp")
            .arg("-r")
            .arg(repo_root().join(part))
            .arg(work.join(part))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let pid = std::process::id();
    let mut cmd = st.rpack(&["build", "tara-ebcustom-platform.pkr.hcl"]);
    cmd.current_dir(work.join("templates"))
        .env("PKR_VAR_ec2_endpoint", st.proxy.endpoint())
        .env("PKR_VAR_ssh_host", st.sshd.host())
        .env("PKR_VAR_ssh_port", st.sshd.port().to_string())
        .env("PKR_VAR_instance_type", "t2.micro")
        .env(
            "PKR_VAR_stage_dir",
            format!("/home/ec2-user/rpack-it-harness-{pid}"),
        )
        .env(
            "PKR_VAR_eb_builder_root",
            format!("/home/ec2-user/rpack-it-harness-root-{pid}"),
        )
        .env("PKR_VAR_skip_packages", "1")
        .env("AWS_EB_PLATFORM_NAME", "tara-node")
        .env("AWS_EB_PLATFORM_VERSION", "1.0.0")
        .env(
            "AWS_EB_PLATFORM_ARN",
            "arn:aws:elasticbeanstalk:us-east-1:123456789012:platform/tara-node/1.0.0",
        );
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "build failed:\n{out}");
    assert!(out.contains("[eb_builder] ==> verify"), "{out}");
    // PKR_VAR_ec2_endpoint was read: the calls went through the proxy.
    assert_eq!(st.proxy.count("RunInstances"), 1);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inv = rt
        .block_on(Ec2State::new(st.moto.endpoint(), REGION).inventory())
        .unwrap();
    assert_eq!(inv.images.len(), 1, "{inv:?}");
    let img = &inv.images[0];
    let name = img.name.as_deref().unwrap_or("");
    assert!(
        regex::Regex::new(r"^tara-eb-tara-node-1\.0\.0-\d{10}$")
            .unwrap()
            .is_match(name),
        "{name}"
    );
    let tag = |k: &str| img.tags.get(k).map(String::as_str);
    assert_eq!(tag("eb_platform_name"), Some("tara-node"));
    assert_eq!(tag("eb_platform_version"), Some("1.0.0"));
    assert_eq!(
        tag("eb_platform_arn"),
        Some("arn:aws:elasticbeanstalk:us-east-1:123456789012:platform/tara-node/1.0.0")
    );
    assert!(
        tag("Base_AMI_Name")
            .unwrap_or("")
            .starts_with("al2023-ami-2023"),
        "{:?}",
        img.tags
    );
    assert!(
        inv.live_instances().is_empty() && inv.key_pairs.is_empty(),
        "{inv:?}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("templates/manifest.json"))
            .expect("manifest.json written in the working directory"),
    )
    .unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["artifact_id"], format!("us-east-1:{}", img.id));
    assert_eq!(b["custom_data"]["platform_version"], "1.0.0");
}
