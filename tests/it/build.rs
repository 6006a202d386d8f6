//! `rpack build` and `rpack cleanup` end to end through the real binary on the test stack: the
//! seed EB template, machine-readable output, SIGINT/SIGTERM in each phase of an amazon-ebs build,
//! and SIGKILL in each phase followed by `rpack cleanup --yes`. Every case ends by checking moto
//! holds no instance, key pair, security group, AMI, snapshot or volume of the build.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::paths::{fresh_dir, repo_root};
use crate::support::{Ec2Stack, Ec2State, Moto};

pub(crate) const REGION: &str = "us-east-1";
pub(crate) const COPY_REGION: &str = "us-west-2";

/// The shared EC2 stack plus the directory the rpack processes run in.
pub(crate) struct Stack {
    ec2: Ec2Stack,
    pub(crate) dir: PathBuf,
}

impl std::ops::Deref for Stack {
    type Target = Ec2Stack;
    fn deref(&self) -> &Ec2Stack {
        &self.ec2
    }
}

pub(crate) fn stack() -> Stack {
    Stack {
        ec2: Ec2Stack::start(),
        dir: fresh_dir("build"),
    }
}

impl Stack {
    pub(crate) fn rpack(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.args(args)
            .current_dir(&self.dir)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("RPACK_STATE_DIR", self.dir.join("state"))
            .env_remove("AWS_PROFILE")
            // A safety net: anything not pointed elsewhere reaches moto, never real AWS.
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            // The ebs module sets AWS_ENDPOINT_URL_IAM in this process for its own moto.
            .env_remove("AWS_ENDPOINT_URL_IAM")
            .env_remove("PACKER_LOG");
        c
    }

    /// A small amazon-ebs template against this stack; `extra` is merged into the builder.
    /// `rpack build -machine-readable` of the seed EB template `template` (JSON, or an upgraded
    /// HCL2 copy) with `vars` (its `tara-local.vars.json`), pointed at this stack, staging on
    /// the instance under names tagged `tag`, with the EB platform variables `ebp` sets.
    pub(crate) fn seed_build(&self, template: &Path, vars: &Path, tag: &str) -> Command {
        let pid = std::process::id();
        let mut cmd = self.rpack(&[
            "build",
            "-machine-readable",
            &format!("-var-file={}", vars.display()),
            "-var",
            &format!("ec2_endpoint={}", self.proxy.endpoint()),
            "-var",
            &format!("ssh_port={}", self.sshd.port()),
            "-var",
            &format!("stage_dir=/home/ec2-user/rpack-it-{tag}-{pid}"),
            "-var",
            &format!("eb_builder_root=/home/ec2-user/rpack-it-{tag}-root-{pid}"),
            template.to_str().unwrap(),
        ]);
        cmd.env("AWS_EB_PLATFORM_NAME", "tara-node")
            .env("AWS_EB_PLATFORM_VERSION", "1.0.0")
            .env(
                "AWS_EB_PLATFORM_ARN",
                "arn:aws:elasticbeanstalk:us-east-1:123456789012:platform/tara-node/1.0.0",
            );
        cmd
    }

    pub(crate) fn template(&self, name: &str, extra: Value, provisioners: Value) -> PathBuf {
        let mut builder = json!({
            "type": "amazon-ebs",
            "region": REGION,
            "custom_endpoint_ec2": self.proxy.endpoint(),
            "skip_region_validation": true,
            "source_ami_filter": {
                "filters": {"name": "al2023-ami-2023.*-x86_64"},
                "owners": ["137112412989"],
                "most_recent": true
            },
            "instance_type": "t3.micro",
            "ssh_username": self.sshd.user(),
            "ssh_host": self.sshd.host(),
            "ssh_port": self.sshd.port(),
            "ssh_timeout": "60s",
            "ami_name": format!("rpack-it-{name}-{{{{timestamp}}}}"),
            "tags": {"Built": "{{ .SourceAMIName }}"}
        });
        for (k, v) in extra.as_object().expect("extra is an object") {
            builder[k] = v.clone();
        }
        let tpl = json!({"builders": [builder], "provisioners": provisioners});
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&tpl).unwrap()).unwrap();
        path
    }

    /// Everything of any build left in `regions` (moto is fresh for each test).
    pub(crate) fn leftovers(&self, regions: &[&str]) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for r in regions {
            let inv = rt
                .block_on(Ec2State::new(self.moto.endpoint(), r).inventory())
                .expect("reading moto state");
            out.extend(
                inv.live_instances()
                    .iter()
                    .map(|i| format!("instance {} ({}) in {r}", i.id, i.state)),
            );
            out.extend(
                inv.key_pairs
                    .iter()
                    .map(|k| format!("key pair {} in {r}", k.name)),
            );
            out.extend(
                inv.security_groups
                    .iter()
                    .filter(|g| g.name != "default")
                    .map(|g| format!("security group {} in {r}", g.id)),
            );
            out.extend(inv.images.iter().map(|i| format!("AMI {} in {r}", i.id)));
            out.extend(
                inv.snapshots
                    .iter()
                    .map(|s| format!("snapshot {} in {r}", s.id)),
            );
            out.extend(
                inv.volumes
                    .iter()
                    .map(|v| format!("volume {} ({}) in {r}", v.id, v.state)),
            );
        }
        out
    }
}

/// A running `rpack build` whose output lines arrive on a channel.
pub(crate) struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    pub(crate) fn start(mut cmd: Command) -> Running {
        use std::os::unix::process::CommandExt;
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().expect("starting rpack");
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a line containing `marker` was printed.
    pub(crate) fn wait_for(&mut self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        if self.seen.iter().any(|l| l.contains(marker)) {
            return;
        }
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    let hit = l.contains(marker);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!(
            "rpack never printed {marker:?}; output:\n{}",
            self.seen.join("\n")
        );
    }

    pub(crate) fn signal(&self, sig: libc::c_int, group: bool) {
        let pid = self.child.id() as libc::pid_t;
        let target = if group { -pid } else { pid };
        assert_eq!(
            unsafe { libc::kill(target, sig) },
            0,
            "sending signal {sig} to {target}"
        );
    }

    /// Waits for exit (at most 2 minutes) and returns the exit code and all output.
    pub(crate) fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "rpack did not exit within 2 minutes; output:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        (status.code(), self.seen.join("\n"))
    }
}

pub(crate) fn run_to_end(cmd: Command) -> (Option<i32>, String) {
    Running::start(cmd).finish()
}

#[test]
fn seed_template_builds_an_ami_with_tags_manifest_and_machine_readable_output() {
    let st = stack();
    let repo = repo_root();
    let cmd = st.seed_build(
        &repo.join("templates/tara-ebcustom-platform.json"),
        &repo.join("templates/tara-local.vars.json"),
        "seed",
    );
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "build failed:\n{out}");

    // Packer's machine-readable artifact records, as EB's builder and CI scripts grep them.
    let records: Vec<Vec<&str>> = out.lines().map(|l| l.splitn(4, ',').collect()).collect();
    assert!(
        records
            .iter()
            .all(|r| r.len() >= 3 && r[0].parse::<i64>().is_ok()),
        "every line is ts,target,type,data:\n{out}"
    );
    let target = "HVM AMI builder";
    let data = |kind: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r[1] == target && r[2] == kind)
            .map(|r| r.get(3).copied().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        data("artifact-count"),
        vec!["2"],
        "builder artifact + manifest's:\n{out}"
    );
    let artifact = data("artifact");
    assert!(
        artifact.contains(&"0,builder-id,mitchellh.amazonebs".to_string()),
        "{artifact:?}"
    );
    let id_line = artifact
        .iter()
        .find(|a| a.starts_with("0,id,"))
        .expect("artifact 0 id");
    let ami_id = id_line
        .strip_prefix("0,id,us-east-1:")
        .expect("id is region:ami")
        .to_string();
    assert!(ami_id.starts_with("ami-"), "{id_line}");
    assert!(
        artifact.contains(&format!(
            "0,string,AMIs were created:\\nus-east-1: {ami_id}\\n"
        )),
        "{artifact:?}"
    );
    assert!(
        artifact.contains(&"0,files-count,0".to_string())
            && artifact.contains(&"0,end".to_string())
    );

    // The AMI with the template's tags; nothing else left.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = Ec2State::new(st.moto.endpoint(), REGION);
    let inv = rt.block_on(state.inventory()).unwrap();
    assert_eq!(inv.images.len(), 1, "{inv:?}");
    let img = &inv.images[0];
    assert_eq!(img.id, ami_id);
    assert!(
        img.name
            .as_deref()
            .unwrap_or("")
            .starts_with("tara-eb-tara-node-1.0.0-"),
        "{img:?}"
    );
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
        tag("rpack:build-id").is_some(),
        "every resource carries the build id: {:?}",
        img.tags
    );
    assert!(
        inv.live_instances().is_empty() && inv.key_pairs.is_empty(),
        "{inv:?}"
    );
    assert!(
        inv.security_groups.iter().all(|g| g.name == "default"),
        "{inv:?}"
    );

    // The manifest in Packer's shape.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(st.dir.join("manifest.json")).expect("manifest.json written"),
    )
    .unwrap();
    let b = &manifest["builds"][0];
    assert_eq!(b["name"], target);
    assert_eq!(b["builder_type"], "amazon-ebs");
    assert_eq!(b["artifact_id"], format!("us-east-1:{ami_id}"));
    assert_eq!(b["files"], Value::Null);
    assert_eq!(b["custom_data"]["platform_name"], "tara-node");
    assert_eq!(manifest["last_run_uuid"], b["packer_run_uuid"]);
}

#[test]
fn only_naming_no_build_is_an_error_not_a_silent_success() {
    let st = stack();
    let tpl = st.template("only", json!({}), json!([]));
    let (code, out) = run_to_end(st.rpack(&["build", "-only=doesnotexist", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("-only=doesnotexist"), "{out}");
    assert!(st.leftovers(&[REGION]).is_empty());
}

#[test]
fn null_builder_with_local_provisioner_and_post_processors() {
    let dir = fresh_dir("build-null");
    let tpl = json!({
        "variables": {"greet": "hello, world", "secret": "s3cr3t"},
        "sensitive-variables": ["secret"],
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [{"type": "shell-local", "inline": ["echo line1, {{user `secret`}}", "echo build={{build_name}} id={{build `ID`}}"]}],
        "post-processors": [
            {"type": "manifest", "output": "m.json", "strip_time": true, "custom_data": {"k": "{{user `greet`}}"}},
            {"type": "shell-local", "inline": ["echo pp-done"]}
        ]
    });
    let path = dir.join("t.json");
    std::fs::write(&path, tpl.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpack"));
    cmd.current_dir(&dir)
        .args(["build", "-machine-readable", "t.json"]);
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}");
    // Secrets are masked in machine-readable output too (Packer leaks them there).
    assert!(
        out.contains("ui,message,    null: line1%!(PACKER_COMMA) <sensitive>"),
        "{out}"
    );
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(
        out.contains("ui,message,    null: build=null id=Null"),
        "{out}"
    );
    assert!(
        out.contains("ui,message,    null (shell-local): pp-done"),
        "{out}"
    );
    assert!(
        out.contains(",null,artifact-count,3"),
        "builder + two chains:\n{out}"
    );
    assert!(
        out.contains(",null,artifact,0,builder-id,fnoeding.null"),
        "{out}"
    );
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("m.json")).unwrap()).unwrap();
    assert_eq!(m["builds"][0]["artifact_id"], "Null");
    assert!(
        m["builds"][0].get("build_time").is_none(),
        "strip_time drops build_time"
    );
    assert_eq!(m["builds"][0]["custom_data"]["k"], "hello, world");
}

/// An `environment_vars` key that is not a shell name is refused by `validate` and by `build`
/// before anything runs (rpack; Packer 1.6.6 pastes it into the command line, where
/// `BAD;touch …` runs `touch`): each names the key, the file, line and column, for `shell-local`
/// and `shell` alike, and the would-be command never ran.
#[test]
fn an_environment_variable_name_that_is_not_a_shell_name_is_refused() {
    let dir = fresh_dir("build-env-names");
    let pwned = dir.join("pwned");
    let tpl = json!({
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [
            {"type": "shell-local", "inline": ["echo hi"],
             "environment_vars": ["GOOD=1", format!("BAD;touch {}=1", pwned.display())]},
            {"type": "shell", "inline": ["echo hi"], "environment_vars": ["9LIVES=1"]}
        ]
    });
    let text = serde_json::to_string_pretty(&tpl).unwrap();
    std::fs::write(dir.join("t.json"), &text).unwrap();
    // The errors point at the offending elements of `environment_vars`.
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("\"BAD;touch") || l.contains("\"9LIVES=1\""))
        .map(|(i, _)| i + 1)
        .collect();
    let (bad_line, nine_line) = (lines[0], lines[1]);
    for cmd in ["validate", "build"] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.current_dir(&dir).args([cmd, "t.json"]);
        let (code, out) = run_to_end(c);
        assert_eq!(code, Some(1), "{cmd}: {out}");
        let flat = out.replace('\n', " ");
        assert!(
            flat.contains(&format!(
                "Environment variable name \"BAD;touch {}\" is not a valid shell variable name",
                pwned.display()
            )) && flat.contains(&format!("(t.json:{bad_line}:")),
            "{cmd}: {out}"
        );
        assert!(
            flat.contains(&format!(
                "Environment variable name \"9LIVES\" is not a valid shell variable name \
                 (letters, digits and _, not starting with a digit) (t.json:{nine_line}:"
            )),
            "{cmd}: {out}"
        );
        assert!(!pwned.exists(), "{cmd} ran the key as a command");
    }
}

#[test]
fn timestamp_ui_parallel_builds_and_except_post_processor() {
    let dir = fresh_dir("build-flags");
    let tpl = json!({
        "builders": [
            {"type": "file", "name": "one", "target": "one.txt", "content": "first"},
            {"type": "file", "name": "two", "target": "two.txt", "content": "second"}
        ],
        "post-processors": [
            {"type": "checksum", "checksum_types": ["sha256", "md5"], "output": "{{.BuildName}}.{{.ChecksumType}}"},
            {"type": "manifest", "name": "skipme", "output": "m.json"}
        ]
    });
    std::fs::write(dir.join("t.json"), tpl.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpack"));
    cmd.current_dir(&dir).args([
        "build",
        "-color=false",
        "-timestamp-ui",
        "-parallel-builds=1",
        "-except=skipme",
        "t.json",
    ]);
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}");
    // -timestamp-ui: every line of a build (its steps and "Build 'x' finished") starts with an
    // RFC 3339 UTC time; the summary after all builds does not, as in Packer.
    let build_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("==> one:") || l.contains("==> two:") || l.contains("Build '"))
        .collect();
    assert_eq!(
        build_lines.iter().filter(|l| l.contains("Build '")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("\n==> Builds finished."), "{out}");
    for l in &build_lines {
        let ts = l.split(": ").next().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "no timestamp on {l:?}"
        );
    }
    // -parallel-builds=1: the second build starts only after the first finished.
    let first_done = out.find("Build 'one' finished").expect("one finished");
    let second_start = out.find("==> two:").expect("two ran");
    assert!(
        first_done < second_start,
        "builds overlapped with -parallel-builds=1:\n{out}"
    );
    // checksum: one file per type with the hash of the artifact's file; -except skipped the manifest.
    let sha = std::fs::read_to_string(dir.join("one.sha256")).unwrap();
    assert_eq!(
        sha,
        "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e\tone.txt\n"
    );
    let md5 = std::fs::read_to_string(dir.join("two.md5")).unwrap();
    assert_eq!(md5, "a9f0e61a137d86aa9db53465e0801612\ttwo.txt\n");
    assert!(
        !dir.join("m.json").exists(),
        "-except=skipme must skip the manifest"
    );
    assert!(
        out.contains("--> one: Created artifact from files: one.sha256, one.md5"),
        "{out}"
    );
    assert!(
        out.contains("--> one: Stored file: one.txt"),
        "the file builder's artifact is kept:\n{out}"
    );
}

#[test]
fn aws_secretsmanager_in_variable_defaults_reads_the_secret_and_names_a_missing_one() {
    let moto = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(moto.endpoint())
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        aws_sdk_secretsmanager::Client::new(&conf)
            .create_secret()
            .name("rpack/it")
            .secret_string(r#"{"user":"ci-bot","password":"hunter2"}"#)
            .send()
            .await
            .expect("creating the secret in moto");
    });
    let dir = fresh_dir("build-secrets");
    let write = |name: &str, vars: Value| {
        let tpl = json!({
            "variables": vars,
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["echo 'user={{user `user`}} raw={{user `raw`}}'"]}]
        });
        std::fs::write(dir.join(name), tpl.to_string()).unwrap();
    };
    write(
        "ok.json",
        json!({"user": "{{aws_secretsmanager `rpack/it` `user`}}", "raw": "{{aws_secretsmanager `rpack/it`}}"}),
    );
    write(
        "missing.json",
        json!({"user": "{{aws_secretsmanager `rpack/nope`}}", "raw": ""}),
    );
    let rpack = |file: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.current_dir(&dir)
            .args(["build", "-color=false", file])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env_remove("AWS_PROFILE");
        run_to_end(c)
    };
    let (code, out) = rpack("ok.json");
    assert_eq!(code, Some(0), "{out}");
    // Secrets Manager values are masked wherever they appear (an rpack extension): the
    // masked line shows both lookups succeeded.
    assert!(out.contains("user=<sensitive> raw=<sensitive>"), "{out}");
    assert!(!out.contains("ci-bot") && !out.contains("hunter2"), "{out}");
    let (code, out) = rpack("missing.json");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("rpack/nope"),
        "the error names the secret:\n{out}"
    );
}

/// `{{build "PackerRunUUID"}}` has one writer: an amazon-ebs provisioner sees the run UUID the
/// manifest records (it used to see the build's id instead).
#[test]
fn amazon_ebs_provisioners_see_the_run_uuid_the_manifest_records() {
    let st = stack();
    let tpl = st.template(
        "run-uuid",
        json!({}),
        json!([{"type": "shell-local", "inline": ["echo prov-uuid={{build `PackerRunUUID`}}"]}]),
    );
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&tpl).unwrap()).unwrap();
    doc["post-processors"] = json!([[
        {"type": "manifest", "output": st.dir.join("uuid-manifest.json").to_str().unwrap()}
    ]]);
    std::fs::write(&tpl, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let (code, out) = run_to_end(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(st.dir.join("uuid-manifest.json")).unwrap())
            .unwrap();
    let uuid = manifest["last_run_uuid"]
        .as_str()
        .expect("run uuid")
        .to_string();
    assert_eq!(uuid.len(), 36, "{uuid}");
    let seen = |marker: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.split_once(marker).map(|(_, v)| v.trim().to_string()))
            .collect()
    };
    assert_eq!(seen("prov-uuid="), vec![uuid], "{out}");
}

/// A full amazon-ebs build with the `ansible` provisioner (the real ansible-playbook from the
/// test venv): Ansible connects straight to the "instance" with the build's temporary key and
/// the host key rpack pinned; the build makes its AMI and leaves no instance, key pair, security
/// group or key file behind.
#[test]
fn amazon_ebs_with_ansible_builds_the_ami_and_leaves_nothing_behind() {
    let st = stack();
    let out_file = format!("/tmp/rpack-ebs-ansible-{}.txt", st.sshd.port());
    let play = st.dir.join("ebs-ansible.yml");
    std::fs::write(
        &play,
        format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: {out_file}\n        content: \"{{{{ packer_builder_type }}}} {{{{ packer_build_name }}}}\\n\"\n"
        ),
    )
    .unwrap();
    let tpl = st.template(
        "ebs-ansible",
        json!({}),
        json!([{"type": "ansible", "playbook_file": play}]),
    );
    let tmp = st.dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let venv_bin = crate::support::paths::venv_bin("ansible-playbook");
    let mut cmd = st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]);
    cmd.env("TMPDIR", &tmp).env(
        "PATH",
        format!(
            "{}:{}",
            venv_bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PLAY RECAP"), "{out}");
    assert!(out.contains("StrictHostKeyChecking=yes"), "{out}");
    assert!(out.contains("AMIs were created"), "{out}");
    let written = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(written, "amazon-ebs amazon-ebs\n");
    let left: Vec<String> = st
        .leftovers(&[REGION])
        .into_iter()
        .filter(|l| !l.starts_with("AMI ") && !l.starts_with("snapshot "))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    let files: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(files.is_empty(), "left in TMPDIR: {files:?}");
}

/// The full transcript of `rpack build` of a null builder with a shell-local provisioner and a
/// manifest + shell-local post-processor chain, as a person sees it (no terminal: plain lines).
#[test]
fn transcript_of_a_null_build_with_shell_local() {
    let dir = fresh_dir("transcript-null");
    let tpl = json!({
        "variables": {"greet": "hello"},
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [{"type": "shell-local", "inline": ["echo {{user `greet`}} from {{build_name}} id={{build `ID`}}", "echo to-stderr >&2"]}],
        "post-processors": [[
            {"type": "manifest", "output": "m.json", "strip_time": true},
            {"type": "shell-local", "inline": ["echo pp-done"]}
        ]]
    });
    std::fs::write(dir.join("t.json"), tpl.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .current_dir(&dir)
        .args(["build", "-color=false", "t.json"])
        .env_remove("PACKER_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("running rpack");
    crate::assert_transcript!("transcript_null_shell_local", &dir, &out);
}

/// The full transcript of an amazon-ebs build on the local stack (moto + sshd), every step
/// from the source AMI lookup to the artifact, with a shell-local provisioner.
#[test]
fn transcript_of_an_amazon_ebs_build() {
    let st = stack();
    let tpl = st.template(
        "transcript",
        json!({"ami_name": "rpack-transcript-{{timestamp}}"}),
        json!([{"type": "shell-local", "inline": ["echo provisioned {{build `ID`}}"]}]),
    );
    let mut cmd = st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]);
    let out = cmd.stdin(Stdio::null()).output().expect("running rpack");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::transcript::transcript(&out)
    );
    crate::assert_transcript!("transcript_amazon_ebs", &st.dir, &out);
    assert!(st
        .leftovers(&[REGION])
        .iter()
        .all(|l| l.starts_with("AMI ") || l.starts_with("snapshot ")));
}
