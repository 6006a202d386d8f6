//! `rpack platform …` end to end through the real binary against moto extended with the EB
//! custom-platform API (tests/support-py/moto_eb.py): the workspace, create/status/list/events/
//! delete, version bumping (failed and deleting versions count), paged listings, bundle contents
//! (git, submodules, .ebignore, multipart uploads, the size limit), validation before upload
//! (source AMI included), builder log streaming, following events and logs, the interactive
//! prompts, --local-build on the sshd stack, publish, and parity with the real `ebp`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::paths::{fresh_dir, venv};
use crate::support::{http, Moto, Sshd};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "elasticbeanstalk-us-east-1-123456789012";

/// An AMI moto knows in us-east-1 (its built-in list), for templates that are only validated.
const SOURCE_AMI: &str = "ami-12c6146b";

struct Ws {
    moto: Moto,
    dir: PathBuf,
}

fn ws() -> Ws {
    let moto = Moto::start_with_eb();
    let dir = fresh_dir("platform");
    Ws { moto, dir }
}

const PLATFORM_YAML: &str = "version: \"1.0\"\nprovisioner:\n  type: packer\n  template: custom_platform.json\n  flavor: al2023\nmetadata:\n  maintainer: \"rpack tests\"\n  operating_system_name: \"Amazon Linux\"\noption_definitions:\n  - namespace: \"aws:elasticbeanstalk:container:custom:nodejs\"\n    option_name: \"NodeVersion\"\n    default_value: \"22\"\noption_settings:\n  - namespace: \"aws:elasticbeanstalk:application:environment\"\n    option_name: \"NODE_ENV\"\n    value: \"production\"\n";

fn template(region: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "variables": {"platform_name": "{{env `AWS_EB_PLATFORM_NAME`}}", "platform_version": "{{env `AWS_EB_PLATFORM_VERSION`}}"},
        "builders": [{
            "type": "amazon-ebs", "name": "HVM AMI builder", "region": region, "source_ami": SOURCE_AMI,
            "instance_type": "t3.micro", "ssh_username": "ec2-user",
            "ami_name": "{{user `platform_name`}}-{{user `platform_version`}}-{{timestamp}}"
        }],
        "provisioners": [{"type": "file", "source": "builder", "destination": "/tmp/"}, {"type": "shell", "scripts": ["builder/builder.sh"]}]
    }))
    .unwrap()
}

impl Ws {
    /// A platform definition folder `name` with platform.yaml, the template and builder/.
    fn definition(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(d.join("builder")).unwrap();
        std::fs::write(d.join("platform.yaml"), PLATFORM_YAML).unwrap();
        std::fs::write(d.join("custom_platform.json"), template(REGION)).unwrap();
        std::fs::write(
            d.join("builder/builder.sh"),
            "#!/bin/bash -xe\necho building\n",
        )
        .unwrap();
        d
    }

    fn env(&self, c: &mut Command) {
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            // Other tests in this binary set per-service endpoints in the process environment
            // (the ebs module points IAM at its own moto): never inherit them.
            .env_remove("AWS_ENDPOINT_URL_IAM")
            .env_remove("AWS_ENDPOINT_URL_EC2")
            .env_remove("AWS_ENDPOINT_URL_STS")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env_remove("AWS_ENDPOINT_URL_ELASTIC_BEANSTALK")
            .env_remove("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("RPACK_STATE_DIR", self.dir.join("state"))
            .env("RPACK_PLATFORM_POLL_SECONDS", "0.2")
            // The test folders live inside rpack's own checkout: git must not find it.
            .env("GIT_CEILING_DIRECTORIES", &self.dir)
            .env_remove("PACKER_LOG");
    }

    fn rpack(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.arg("platform").args(args).current_dir(cwd);
        self.env(&mut c);
        c.output().expect("running rpack")
    }

    fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let o = self.rpack(cwd, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success(),
            "rpack platform {args:?} failed:\n{text}"
        );
        text
    }

    fn fails(&self, cwd: &Path, args: &[&str]) -> String {
        let o = self.rpack(cwd, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !o.status.success(),
            "rpack platform {args:?} succeeded:\n{text}"
        );
        text
    }

    /// rpack in the background, its output piped.
    fn spawn(&self, cwd: &Path, args: &[&str]) -> Child {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.arg("platform")
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut c);
        c.spawn().expect("starting rpack")
    }

    /// rpack answering its prompts from `stdin`: (succeeded, stdout + stderr).
    fn answering(&self, cwd: &Path, args: &[&str], stdin: &str) -> (bool, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
        c.arg("platform")
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut c);
        c.env("HOME", &self.dir);
        let mut child = c.spawn().expect("starting rpack");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let o = finish(child, Duration::from_secs(30));
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// Sets moto_eb's knobs (build_seconds, delete_seconds, page_size) until the next reset.
    fn knobs(&self, json: Value) {
        let r = http::post(self.moto.endpoint(), "/moto-eb/config", &json.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }

    fn eb(&self) -> aws_sdk_elasticbeanstalk::Client {
        let conf = aws_sdk_elasticbeanstalk::Config::builder()
            .behavior_version(aws_sdk_elasticbeanstalk::config::BehaviorVersion::latest())
            .region(aws_sdk_elasticbeanstalk::config::Region::new(REGION))
            .endpoint_url(self.moto.endpoint())
            .credentials_provider(aws_sdk_elasticbeanstalk::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        aws_sdk_elasticbeanstalk::Client::from_conf(conf)
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .endpoint_url(self.moto.endpoint())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Every EB/S3/IAM request moto saw, in order.
    fn requests(&self) -> Vec<Value> {
        let r = http::get(self.moto.endpoint(), "/moto-eb/requests").unwrap();
        serde_json::from_str::<Value>(&r.body)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn actions(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r["action"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn state(&self) -> Value {
        serde_json::from_str(
            &http::get(self.moto.endpoint(), "/moto-eb/state")
                .unwrap()
                .body,
        )
        .unwrap()
    }

    fn create_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["action"] == "CreatePlatformVersion")
            .collect()
    }
}

/// Waits for `child` (killing it after `timeout`) and collects its output.
fn finish(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "rpack did not finish within {timeout:?}:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Bytes deflate cannot shrink (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn init_create_status_list_events_delete() {
    let w = ws();
    let d = w.definition("p1");
    w.ok(&d, &["init", "p1", "-k", "my-key", "-r", REGION]);
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "application_name: Custom Platform Builder",
        "default_region: us-east-1",
        "workspace_type: Platform",
        "platform_name: p1",
        "default_ec2_keyname: my-key",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }

    // ebp 3.27.1 crashes on --tags (it validates the already converted list again).
    let out = w.ok(&d, &["create", "--tags", "team=web,env=ci"]);
    assert!(out.contains("createPlatform is starting."), "{out}");
    assert!(
        out.contains("Successfully created platform version 'p1/1.0.0'."),
        "{out}"
    );
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(
        config.contains("platform_version: 1.0.0")
            && config.contains("instance_profile: aws-elasticbeanstalk-custom-platform-ec2-role"),
        "{config}"
    );
    assert!(
        config.contains("environment: eb-custom-platform-builder-packer"),
        "{config}"
    );
    assert!(
        !d.join(".elasticbeanstalk/app_versions")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the local zip is deleted after upload"
    );

    let creates = w.create_requests();
    assert_eq!(creates.len(), 1);
    let p = &creates[0]["params"];
    assert_eq!(p["PlatformName"], "p1");
    assert_eq!(p["PlatformVersion"], "1.0.0");
    assert_eq!(p["PlatformDefinitionBundle.S3Bucket"], BUCKET);
    let key = p["PlatformDefinitionBundle.S3Key"].as_str().unwrap();
    assert!(key.starts_with("p1/app-") && key.ends_with(".zip"), "{key}");
    assert_eq!(
        p["OptionSettings.member.1.OptionName"],
        "IamInstanceProfile"
    );
    assert_eq!(p["OptionSettings.member.2.OptionName"], "EC2KeyName");
    assert_eq!(p["OptionSettings.member.2.Value"], "my-key");
    assert_eq!(p["OptionSettings.member.3.Value"], "enhanced");
    assert_eq!(
        p["OptionSettings.member.4.Value"],
        "aws-elasticbeanstalk-service-role"
    );
    assert_eq!(
        (&p["Tags.member.1.Key"], &p["Tags.member.1.Value"]),
        (&"team".into(), &"web".into())
    );
    assert_eq!(
        (&p["Tags.member.2.Key"], &p["Tags.member.2.Value"]),
        (&"env".into(), &"ci".into())
    );
    assert_eq!(
        sorted(&creates[0]["bundle_files"]),
        vec![
            "./",
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
    let actions = w.actions();
    for a in [
        "CreateInstanceProfile",
        "CreateRole",
        "AttachRolePolicy",
        "AddRoleToInstanceProfile",
        "CreateStorageLocation",
        "PutObject",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not in {actions:?}");
    }

    let status = w.ok(&d, &["status"]);
    assert!(
        status.contains("Status: Ready")
            && status.contains("Maintainer: rpack tests")
            && status.contains("AMI: ami-"),
        "{status}"
    );
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/p1/1.0.0");
    assert_eq!(w.ok(&d, &["list"]).trim(), format!("{arn}  Status: Ready"));
    let events = w.ok(&d, &["events"]);
    let first = events.lines().next().unwrap();
    assert!(
        first.ends_with("INFO    createPlatform is starting."),
        "{events}"
    );
    assert!(
        events
            .lines()
            .last()
            .unwrap()
            .contains("Successfully created platform version 'p1/1.0.0'."),
        "{events}"
    );

    let logs = w.ok(&d, &["logs"]);
    assert!(
        logs.contains(
            "build.rb: Creating CloudWatch log group '/aws/elasticbeanstalk/platform/p1'."
        ),
        "{logs}"
    );
    assert!(
        logs.contains("==> HVM AMI builder: Creating the AMI: p1"),
        "{logs}"
    );
    assert!(
        logs.contains("build.rb: Successfully built AMI(s): 'ami-"),
        "{logs}"
    );

    // Without --force it asks (and there is no answer here).
    let out = w.fails(&d, &["delete", "1.0.0"]);
    assert!(out.contains(&format!("The platform \"{arn}\" and all associated resources will be deleted.\nTo confirm, type the platform arn: ")), "{out}");
    assert!(
        !w.actions().iter().any(|a| a == "DeletePlatformVersion"),
        "nothing deleted without an answer"
    );
    let out = w.ok(&d, &["delete", "1.0.0", "--force"]);
    assert!(
        out.contains("Successfully deleted platform version 'p1/1.0.0'."),
        "{out}"
    );
    assert_eq!(w.ok(&d, &["list"]).trim(), "");
}

#[test]
fn versions_bump_like_ebp_and_failed_versions_count() {
    let w = ws();
    let d = w.definition("bump");
    w.ok(&d, &["init", "bump"]);
    let created = |args: &[&str]| {
        let out = w.ok(&d, args);
        let line = out
            .lines()
            .find(|l| l.contains("Successfully created platform version"))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        line.split("'bump/")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(created(&["create"]), "1.0.0");
    assert_eq!(created(&["create"]), "1.0.1");
    assert_eq!(created(&["create", "-p"]), "1.0.2");
    assert_eq!(created(&["create", "-m"]), "1.1.0");
    assert_eq!(created(&["create", "-M", "-p"]), "2.0.1");
    assert_eq!(created(&["create", "-M", "-m"]), "3.1.0");
    assert_eq!(created(&["create", "7.0.0", "-M"]), "7.0.0");
    let out = w.fails(&d, &["create", "7.0"]);
    assert!(out.contains("Invalid version format"), "{out}");

    // A bundle without platform.yaml fails on EB's side; the failed version still counts.
    std::fs::write(d.join(".ebignore"), "platform.yaml\n").unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("Failed to create platform version 'bump/7.0.1'."),
        "{out}"
    );
    assert!(out.contains("cannot find platform.yaml in bundle"), "{out}");
    std::fs::remove_file(d.join(".ebignore")).unwrap();
    assert_eq!(created(&["create"]), "7.0.2");
    let list = w.ok(&d, &["list", "-s", "Failed"]);
    assert_eq!(
        list.trim(),
        format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/bump/7.0.1  Status: Failed")
    );
    // `use` selects a version for status/events; `status X` looks one up without selecting it.
    let out = w.ok(&d, &["use", "bump/1.0.1"]);
    assert!(
        out.contains("Version: 1.0.1") && out.contains("Status: Ready"),
        "{out}"
    );
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(config.contains("platform_version: 1.0.1"), "{config}");
    assert!(w.ok(&d, &["status"]).contains("Version: 1.0.1"));
    let out = w.ok(&d, &["status", "7.0.1"]);
    assert!(out.contains("Status: Failed"), "{out}");
    let out = w.ok(&d, &["delete", "--cleanup", "--force"]);
    assert!(
        out.contains("Successfully deleted platform version 'bump/7.0.1'."),
        "{out}"
    );
}

#[test]
fn bundles_follow_git_and_ebignore_rules() {
    let w = ws();
    // git: only what HEAD has; the uncommitted file is left out, with a warning.
    let d = w.definition("gitp");
    git(&d, &["init", "-q"]);
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    git(
        &d,
        &["add", "platform.yaml", "custom_platform.json", "builder"],
    );
    git(&d, &["commit", "-q", "-m", "definition"]);
    w.ok(&d, &["init", "gitp"]);
    let gi = std::fs::read_to_string(d.join(".gitignore")).unwrap();
    assert!(
        gi.contains("# Elastic Beanstalk Files\n.elasticbeanstalk/*\n"),
        "{gi}"
    );
    let out = w.ok(&d, &["create"]);
    assert!(out.contains("You have uncommitted changes"), "{out}");
    let c = &w.create_requests()[0];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec![
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
    let key = c["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap();
    assert!(
        key.starts_with("gitp/app-") && key.len() > "gitp/app-261128_000000000000.zip".len(),
        "a git label has the describe part: {key}"
    );

    // .ebignore wins over git and is gitwildmatch.
    let e = w.definition("ebi");
    std::fs::write(e.join("big.log"), "x").unwrap();
    std::fs::create_dir_all(e.join("builder/tmp")).unwrap();
    std::fs::write(e.join("builder/tmp/a"), "x").unwrap();
    std::fs::write(e.join("builder/keep.sh~"), "x").unwrap();
    std::fs::write(e.join(".ebignore"), "*.log\nbuilder/tmp/\n").unwrap();
    w.ok(&e, &["init", "ebi"]);
    w.ok(&e, &["create"]);
    let c = &w.create_requests()[1];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec![
            "./",
            "builder/",
            "builder/builder.sh",
            "custom_platform.json",
            "platform.yaml"
        ]
    );
}

#[test]
fn invalid_definitions_stop_before_any_upload() {
    let w = ws();
    let d = w.definition("bad");
    w.ok(&d, &["init", "bad"]);
    std::fs::write(
        d.join("platform.yaml"),
        PLATFORM_YAML
            .replace("type: packer", "type: chef")
            .replace("custom:nodejs", "nodejs"),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("platform.yaml:3: provisioner.type: must be packer, not \"chef\""),
        "{out}"
    );
    assert!(
        out.contains("platform.yaml:10: option_definitions[0].namespace:"),
        "{out}"
    );

    std::fs::write(d.join("platform.yaml"), PLATFORM_YAML).unwrap();
    std::fs::write(d.join("custom_platform.json"), template("eu-west-1")).unwrap();
    std::fs::write(d.join("builder/builder.sh"), "#!/bin/bash\r\necho hi\r\n").unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(
        out.contains("builds in region \"eu-west-1\", but the platform is created in us-east-1"),
        "{out}"
    );
    assert!(
        out.contains("builder/builder.sh:1: the script has Windows (CRLF) line ends"),
        "{out}"
    );

    // The source AMI must exist in the EB region (DescribeImages there).
    std::fs::write(d.join("builder/builder.sh"), "#!/bin/bash\necho hi\n").unwrap();
    std::fs::write(
        d.join("custom_platform.json"),
        template(REGION).replace(SOURCE_AMI, "ami-0000000000deadbee"),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("custom_platform.json:11: builders[0].source_ami: ami-0000000000deadbee does not exist in us-east-1"), "{out}");
    let describes: Vec<Value> = w
        .requests()
        .into_iter()
        .filter(|r| r["action"] == "DescribeImages")
        .collect();
    assert_eq!(describes.len(), 1, "{describes:?}");
    assert_eq!(describes[0]["region"], REGION);
    assert_eq!(describes[0]["params"]["ImageId.1"], "ami-0000000000deadbee");
    let mut tpl: Value = serde_json::from_str(&template(REGION)).unwrap();
    let b = tpl["builders"][0].as_object_mut().unwrap();
    b.remove("source_ami");
    b.insert(
        "source_ami_filter".into(),
        serde_json::json!({"filters": {"name": "no-such-image-*"}, "owners": ["137112412989"]}),
    );
    std::fs::write(
        d.join("custom_platform.json"),
        serde_json::to_string_pretty(&tpl).unwrap(),
    )
    .unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("builders[0].source_ami_filter: no image in us-east-1 matches {name: no-such-image-*} (owners: 137112412989)"), "{out}");

    std::fs::remove_file(d.join("custom_platform.json")).unwrap();
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("custom_platform.json does not exist"), "{out}");
    let actions = w.actions();
    for a in [
        "PutObject",
        "CreatePlatformVersion",
        "CreateStorageLocation",
        "CreateInstanceProfile",
    ] {
        assert!(!actions.iter().any(|x| x == a), "{a} was sent: {actions:?}");
    }
}

#[test]
fn local_build_makes_the_ami_and_registers_a_thin_bundle() {
    let w = ws();
    let sshd = Sshd::start_ec2(w.moto.endpoint());
    let d = w.definition("local");
    let tpl = serde_json::json!({
        "variables": {"platform_name": "{{env `AWS_EB_PLATFORM_NAME`}}", "platform_version": "{{env `AWS_EB_PLATFORM_VERSION`}}", "platform_arn": "{{env `AWS_EB_PLATFORM_ARN`}}"},
        "builders": [{
            "type": "amazon-ebs", "name": "HVM AMI builder", "region": REGION,
            "custom_endpoint_ec2": w.moto.endpoint(), "skip_region_validation": true,
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"}, "owners": ["137112412989"], "most_recent": true},
            "instance_type": "t3.micro", "ssh_username": sshd.user(), "ssh_host": sshd.host(), "ssh_port": sshd.port(), "ssh_timeout": "60s",
            "ami_name": "{{user `platform_name`}}-{{user `platform_version`}}-{{timestamp}}",
            "tags": {"eb_platform_arn": "{{user `platform_arn`}}"}
        }],
        "provisioners": [{"type": "shell", "inline": ["echo \"platform=$EB_NAME\""], "environment_vars": ["EB_NAME={{user `platform_name`}}/{{user `platform_version`}}"]}]
    });
    std::fs::write(
        d.join("custom_platform.json"),
        serde_json::to_string_pretty(&tpl).unwrap(),
    )
    .unwrap();
    w.ok(&d, &["init", "local"]);
    let out = w.ok(&d, &["create", "--local-build"]);
    assert!(
        out.contains("platform=local/1.0.0"),
        "AWS_EB_PLATFORM_* reach the template:\n{out}"
    );
    assert!(
        out.contains("Successfully created platform version 'local/1.0.0'."),
        "{out}"
    );

    let built = w.state()["platforms"][0]["source_ami"]
        .as_str()
        .expect("the thin template names the built AMI")
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ec2 = crate::support::client(w.moto.endpoint(), REGION);
    let image = rt
        .block_on(ec2.describe_images().image_ids(&built).send())
        .unwrap();
    let tags = image.images()[0].tags();
    assert!(
        tags.iter().any(|t| t.key() == Some("eb_platform_arn")
            && t.value()
                == Some(&format!(
                    "arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/local/1.0.0"
                ))),
        "{tags:?}"
    );
    let c = &w.create_requests()[0];
    assert_eq!(
        sorted(&c["bundle_files"]),
        vec!["./", "custom_platform.json", "platform.yaml"]
    );
    let status = w.ok(&d, &["status"]);
    assert!(status.contains("Status: Ready"), "{status}");
}

#[test]
fn publish_creates_a_saved_configuration_and_updates_the_environment() {
    let w = ws();
    let d = w.definition("pub");
    w.ok(&d, &["init", "pub"]);
    w.ok(&d, &["create"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eb = w.eb();
    rt.block_on(eb.create_application().application_name("web").send())
        .unwrap();
    rt.block_on(
        eb.create_environment()
            .application_name("web")
            .environment_name("web-prod")
            .solution_stack_name("64bit Amazon Linux 2023 v6.6.0 running Node.js 22")
            .send(),
    )
    .unwrap();

    let stack = "64bit Amazon Linux 2023 v6.6.0 running Node.js 22";
    let out = w.ok(
        &d,
        &[
            "publish",
            "--application",
            "web",
            "--solution-stack",
            stack,
            "--environment",
            "web-prod",
        ],
    );
    assert!(
        out.contains("Created saved configuration 'pub-1-0-0'"),
        "{out}"
    );
    let state = w.state();
    let t = &state["configuration_templates"][0];
    assert_eq!(t["TemplateName"], "pub-1-0-0");
    assert_eq!(t["SolutionStackName"], stack);
    let settings: Vec<(String, String, String)> = t["OptionSettings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Namespace"].as_str().unwrap().into(),
                s["OptionName"].as_str().unwrap().into(),
                s["Value"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let ami = state["platforms"][0]["CustomAmiList"][1]["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        settings,
        vec![
            (
                "aws:autoscaling:launchconfiguration".into(),
                "ImageId".into(),
                ami
            ),
            (
                "aws:elasticbeanstalk:application:environment".into(),
                "NodeVersion".into(),
                "22".into()
            ),
            (
                "aws:elasticbeanstalk:application:environment".into(),
                "NODE_ENV".into(),
                "production".into()
            ),
        ]
    );
    assert_eq!(
        state["environment_updates"][0]["EnvironmentName"],
        "web-prod"
    );
    assert_eq!(state["environment_updates"][0]["TemplateName"], "pub-1-0-0");

    // A platform an environment runs on cannot be deleted.
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/pub/1.0.0");
    rt.block_on(
        eb.create_environment()
            .application_name("web")
            .environment_name("on-custom")
            .platform_arn(&arn)
            .send(),
    )
    .unwrap();
    let out = w.fails(&d, &["delete", "1.0.0", "--force"]);
    assert!(
        out.contains("is in use by environment(s) on-custom"),
        "{out}"
    );
    assert!(
        !w.actions().iter().any(|a| a == "DeletePlatformVersion"),
        "refused before asking EB"
    );
}

#[test]
fn a_rejected_create_points_to_publish() {
    let w = ws();
    let d = w.definition("retired");
    w.ok(&d, &["init", "retired"]);
    let r = http::post(w.moto.endpoint(), "/moto-eb/reject-create", "").unwrap();
    assert_eq!(r.status, 200);
    let out = w.fails(&d, &["create"]);
    assert!(out.contains("creating platform version retired/1.0.0 in us-east-1: ElasticBeanstalkServiceException:"), "{out}");
    assert!(out.contains("rpack platform publish"), "{out}");
}

/// EB requests as a set for comparing two clients: time stamps and request ids differ from
/// run to run, and how often a wait polls does not matter.
fn request_set(reqs: &[Value]) -> std::collections::BTreeSet<String> {
    reqs.iter()
        .filter(|r| r["service"] == "elasticbeanstalk")
        .map(|r| {
            // Sorted keys: the order of parameters on the wire does not matter.
            let mut p: std::collections::BTreeMap<String, Value> = r["params"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            for (k, placeholder) in [("StartTime", "<time>"), ("RequestId", "<request id>")] {
                if p.contains_key(k) {
                    p.insert(k.into(), placeholder.into());
                }
            }
            format!(
                "{} {}",
                r["action"].as_str().unwrap_or(""),
                serde_json::to_string(&p).unwrap()
            )
        })
        .collect()
}

/// ebp against the same moto: the requests it sends and its bundle, next to rpack's, for
/// init/create (with -i and --vpc.*)/list/status/events/delete.
#[test]
fn ebp_parity() {
    let ebp = venv().join("bin/ebp");
    assert!(
        ebp.is_file(),
        "{} is missing: run scripts/test-deps.sh",
        ebp.display()
    );
    let w = ws();
    let run_ebp = |dir: &Path, args: &[&str]| {
        let mut c = Command::new(&ebp);
        c.args(args)
            .arg("--endpoint-url")
            .arg(w.moto.endpoint())
            .current_dir(dir)
            .env("HOME", &w.dir)
            .stdin(std::process::Stdio::null());
        w.env(&mut c);
        let o = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "ebp {args:?} failed:\n{text}");
        text
    };
    // The requests a command sends.
    let sent = |run: &mut dyn FnMut()| {
        let before = w.requests().len();
        run();
        w.requests()[before..].to_vec()
    };
    let create_flags = [
        "-i",
        "t3.large",
        "--vpc.id",
        "vpc-0abc",
        "--vpc.subnets",
        "subnet-1,subnet-2",
        "--vpc.publicip",
    ];
    // Both sides see the same EB: deletion takes a moment, as on AWS.
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));

    let e = w.definition("ebp-side");
    run_ebp(&e, &["init", "twin", "-k", "kp"]);
    let ebp_config = std::fs::read_to_string(e.join(".elasticbeanstalk/config.yml")).unwrap();
    let out = run_ebp(
        &e,
        &[&["create", "--timeout", "1"][..], &create_flags].concat(),
    );
    assert!(
        out.contains("Successfully created platform version"),
        "{out}"
    );
    let mut listed = String::new();
    let ebp_list = sent(&mut || listed = run_ebp(&e, &["list"]));
    assert!(
        listed.contains("platform/twin/1.0.0  Status: Ready"),
        "{listed}"
    );
    let ebp_requests = w.requests();
    let ebp_status = sent(&mut || {
        run_ebp(&e, &["status"]);
    });
    let ebp_status_v = sent(&mut || {
        run_ebp(&e, &["status", "1.0.0"]);
    });
    let ebp_events = sent(&mut || {
        run_ebp(&e, &["events"]);
    });
    let ebp_delete = sent(&mut || {
        let out = run_ebp(&e, &["delete", "1.0.0", "--force"]);
        assert!(
            out.contains("Successfully deleted platform version 'twin/1.0.0'."),
            "{out}"
        );
    });
    w.moto.reset();
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));

    let r = w.definition("rpack-side");
    w.ok(&r, &["init", "twin", "-k", "kp"]);
    let rpack_config = std::fs::read_to_string(r.join(".elasticbeanstalk/config.yml")).unwrap();
    w.ok(&r, &[&["create"][..], &create_flags].concat());
    let rpack_list = sent(&mut || assert_eq!(w.ok(&r, &["list"]).trim(), listed.trim()));
    let rpack_requests = w.requests();
    let rpack_status = sent(&mut || {
        w.ok(&r, &["status"]);
    });
    let rpack_status_v = sent(&mut || {
        w.ok(&r, &["status", "1.0.0"]);
    });
    let rpack_events = sent(&mut || {
        w.ok(&r, &["events"]);
    });
    let rpack_delete = sent(&mut || {
        let out = w.ok(&r, &["delete", "1.0.0", "--force"]);
        assert!(
            out.contains("Successfully deleted platform version 'twin/1.0.0'."),
            "{out}"
        );
    });

    // The same config.yml keys (values may differ only in order of writing).
    let keys = |t: &str| {
        let mut k: Vec<String> = t
            .lines()
            .filter(|l| l.starts_with("  ") && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().trim().to_string())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    assert_eq!(
        keys(&rpack_config),
        keys(&ebp_config),
        "ebp:\n{ebp_config}\nrpack:\n{rpack_config}"
    );

    // The mutating calls, in order (reads like DescribeEvents polls differ in number).
    let mutating = |reqs: &[Value]| -> Vec<String> {
        reqs.iter()
            .filter_map(|r| r["action"].as_str())
            .filter(|a| {
                ["Create", "Attach", "Add", "Put", "Delete", "Update"]
                    .iter()
                    .any(|p| a.starts_with(p))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(mutating(&rpack_requests), mutating(&ebp_requests));
    assert_eq!(
        mutating(&ebp_requests),
        [
            "CreateInstanceProfile",
            "CreateRole",
            "AttachRolePolicy",
            "AttachRolePolicy",
            "AddRoleToInstanceProfile",
            "CreateStorageLocation",
            "PutObject",
            "CreatePlatformVersion"
        ]
    );

    let create = |reqs: &[Value]| {
        reqs.iter()
            .find(|r| r["action"] == "CreatePlatformVersion")
            .cloned()
            .unwrap()
    };
    let (a, b) = (create(&ebp_requests), create(&rpack_requests));
    let mut pa = a["params"].as_object().unwrap().clone();
    let mut pb = b["params"].as_object().unwrap().clone();
    // The key carries a time-stamped label, different on every run.
    for p in [&mut pa, &mut pb] {
        let key = p.remove("PlatformDefinitionBundle.S3Key").unwrap();
        assert!(key.as_str().unwrap().starts_with("twin/app-"), "{key}");
    }
    assert_eq!(pb, pa, "CreatePlatformVersion parameters");
    assert_eq!(
        pa["OptionSettings.member.3.OptionName"], "InstanceType",
        "-i reached ebp's request: {pa:?}"
    );
    assert_eq!(
        sorted(&b["bundle_files"]),
        sorted(&a["bundle_files"]),
        "bundle file lists"
    );

    // list, status, events and delete: the same EB requests with the same parameters.
    assert_eq!(request_set(&rpack_list), request_set(&ebp_list), "list");
    assert_eq!(
        request_set(&rpack_status),
        request_set(&ebp_status),
        "status"
    );
    assert_eq!(
        request_set(&rpack_status_v),
        request_set(&ebp_status_v),
        "status 1.0.0"
    );
    assert_eq!(
        request_set(&rpack_events),
        request_set(&ebp_events),
        "events"
    );
    // The one deliberate difference: ebcli's private DeleteResources=true parameter, which the
    // public service model lacks.
    let ebp_deletes: Vec<&Value> = ebp_delete
        .iter()
        .filter(|r| r["action"] == "DeletePlatformVersion")
        .collect();
    assert_eq!(ebp_deletes.len(), 1);
    assert_eq!(ebp_deletes[0]["params"]["DeleteResources"], "true");
    let ebp_delete: Vec<Value> = ebp_delete
        .into_iter()
        .map(|mut r| {
            if let Some(p) = r["params"].as_object_mut() {
                p.remove("DeleteResources");
            }
            r
        })
        .collect();
    assert_eq!(
        request_set(&rpack_delete),
        request_set(&ebp_delete),
        "delete"
    );
    assert!(
        request_set(&rpack_delete)
            .iter()
            .any(|r| r.starts_with("DescribeEvents") && r.contains("<time>")),
        "the delete was waited for: {:?}",
        request_set(&rpack_delete)
    );
}

/// moto's EB answers like AWS: DeletePlatformVersion leaves the version `Deleting` for a while
/// (listed, still counted by version bumping) before it is gone; ListPlatformVersions pages
/// (MaxRecords/NextToken, checked against botocore's model) and rpack follows every page.
#[test]
fn deleting_versions_linger_and_listings_are_paged() {
    let w = ws();
    w.knobs(serde_json::json!({"page_size": 2}));
    let d = w.definition("pg");
    w.ok(&d, &["init", "pg"]);
    w.ok(&d, &["create"]);
    // Four more versions straight through the API, from the bundle rpack uploaded.
    let bundle = w.create_requests()[0]["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eb = w.eb();
    let location = aws_sdk_elasticbeanstalk::types::S3Location::builder()
        .s3_bucket(BUCKET)
        .s3_key(&bundle)
        .build();
    for v in ["1.0.1", "1.0.2", "1.0.3", "1.0.4"] {
        rt.block_on(
            eb.create_platform_version()
                .platform_name("pg")
                .platform_version(v)
                .platform_definition_bundle(location.clone())
                .send(),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));

    let arn = |v: &str| format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/pg/{v}");
    let before = w.requests().len();
    let listed = w.ok(&d, &["list"]);
    let want: Vec<String> = ["1.0.4", "1.0.3", "1.0.2", "1.0.1", "1.0.0"]
        .iter()
        .map(|v| format!("{}  Status: Ready", arn(v)))
        .collect();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        want,
        "every page, sorted like ebp"
    );
    let lists: Vec<Value> = w.requests()[before..]
        .iter()
        .filter(|r| r["action"] == "ListPlatformVersions")
        .cloned()
        .collect();
    assert_eq!(lists.len(), 3, "5 versions, 2 a page: {lists:?}");
    assert!(lists[0]["params"].get("NextToken").is_none());
    assert!(
        lists[1]["params"]["NextToken"].is_string() && lists[2]["params"]["NextToken"].is_string()
    );

    // The model's limits and the token's binding to its request.
    let first = rt
        .block_on(eb.list_platform_versions().max_records(3).send())
        .unwrap();
    assert_eq!(first.platform_summary_list().len(), 3);
    let token = first.next_token().unwrap().to_string();
    let rest = rt
        .block_on(
            eb.list_platform_versions()
                .max_records(3)
                .next_token(&token)
                .send(),
        )
        .unwrap();
    assert_eq!(rest.platform_summary_list().len(), 2);
    assert!(rest.next_token().is_none());
    let e = rt
        .block_on(
            eb.list_platform_versions()
                .max_records(2)
                .next_token(&token)
                .send(),
        )
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("InvalidParameterValue"),
        "a token only continues its own request: {e:?}"
    );
    let e = rt
        .block_on(eb.list_platform_versions().max_records(0).send())
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("ValidationError"),
        "PlatformMaxRecords has min 1: {e:?}"
    );

    // Deleting: answered and listed as such, then gone; it still counts when bumping. (Long
    // enough here for the checks below to see it on a loaded machine.)
    w.knobs(serde_json::json!({"delete_seconds": 4.0}));
    let out = rt
        .block_on(
            eb.delete_platform_version()
                .platform_arn(arn("1.0.4"))
                .send(),
        )
        .unwrap();
    assert_eq!(
        out.platform_summary()
            .unwrap()
            .platform_status()
            .unwrap()
            .as_str(),
        "Deleting"
    );
    assert!(w
        .ok(&d, &["list"])
        .contains(&format!("{}  Status: Deleting", arn("1.0.4"))));
    let out = w.ok(&d, &["status", "1.0.4"]);
    assert!(out.contains("Status: Deleting"), "{out}");
    let created = w.ok(&d, &["create"]);
    assert!(
        created.contains("Successfully created platform version 'pg/1.0.5'."),
        "{created}"
    );
    // rpack's delete waits until the version is gone.
    w.knobs(serde_json::json!({"delete_seconds": 1.0}));
    let started = Instant::now();
    let out = w.ok(&d, &["delete", "1.0.3", "--force"]);
    assert!(
        out.contains("Deleting platform version 'pg/1.0.3'.")
            && out.contains("Successfully deleted platform version 'pg/1.0.3'."),
        "{out}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the delete took its time on the EB side"
    );
    let listed = w.ok(&d, &["list"]);
    assert!(!listed.contains("pg/1.0.3"), "{listed}");
    // 1.0.4 goes too, once its time is up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.ok(&d, &["list"]).contains("pg/1.0.4") {
        assert!(Instant::now() < deadline, "1.0.4 is never deleted");
        std::thread::sleep(Duration::from_millis(250));
    }
    let state = w.state();
    let status_of = |v: &str| {
        state["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["PlatformVersion"] == v)
            .unwrap()["PlatformStatus"]
            .clone()
    };
    assert_eq!(status_of("1.0.3"), "Deleted");
    assert_eq!(status_of("1.0.4"), "Deleted");
    let out = w.fails(&d, &["status", "1.0.3"]);
    assert!(
        out.contains("No such version exists for the current platform."),
        "{out}"
    );
}

/// create's builder-environment options reach CreatePlatformVersion as ebp sends them; the
/// wait gives up after --timeout minutes with ebp's message, and --timeout 0 does not wait.
#[test]
fn create_sends_instance_type_and_vpc_and_honours_timeout() {
    let w = ws();
    let d = w.definition("opts");
    w.ok(&d, &["init", "opts", "-k", "builder-key"]);
    w.ok(
        &d,
        &[
            "create",
            "-i",
            "c5.large",
            "--vpc.id",
            "vpc-0123",
            "--vpc.subnets",
            "subnet-a,subnet-b",
            "--vpc.publicip",
            "-ip",
            "my-profile",
        ],
    );
    let p = &w.create_requests()[0]["params"];
    let settings: Vec<(String, String, String)> = (1..)
        .map_while(|i| {
            let ns = p.get(format!("OptionSettings.member.{i}.Namespace"))?;
            Some((
                ns.as_str()?.to_string(),
                p[format!("OptionSettings.member.{i}.OptionName")]
                    .as_str()?
                    .to_string(),
                p[format!("OptionSettings.member.{i}.Value")]
                    .as_str()?
                    .to_string(),
            ))
        })
        .collect();
    let s = |ns: &str, n: &str, v: &str| (ns.to_string(), n.to_string(), v.to_string());
    assert_eq!(
        settings,
        vec![
            s(
                "aws:autoscaling:launchconfiguration",
                "IamInstanceProfile",
                "my-profile"
            ),
            s(
                "aws:autoscaling:launchconfiguration",
                "EC2KeyName",
                "builder-key"
            ),
            s(
                "aws:autoscaling:launchconfiguration",
                "InstanceType",
                "c5.large"
            ),
            s("aws:ec2:vpc", "VPCId", "vpc-0123"),
            s("aws:ec2:vpc", "Subnets", "subnet-a,subnet-b"),
            s("aws:ec2:vpc", "AssociatePublicIpAddress", "true"),
            s(
                "aws:elasticbeanstalk:healthreporting:system",
                "SystemType",
                "enhanced"
            ),
            s(
                "aws:elasticbeanstalk:environment",
                "ServiceRole",
                "aws-elasticbeanstalk-service-role"
            ),
        ]
    );
    assert!(
        !w.actions().iter().any(|a| a == "CreateInstanceProfile"),
        "a profile of the user's own is not created"
    );

    // A build that outlasts --timeout.
    w.knobs(serde_json::json!({"build_seconds": 120}));
    let started = Instant::now();
    let out = w.fails(&d, &["create", "--timeout", "0.02"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up after about 1.2 s, took {:?}",
        started.elapsed()
    );
    assert!(out.contains("ERROR: rpack timed out after 0.02 minute(s). The operation might still be running. To keep viewing events, run 'rpack platform events -f'."), "{out}");
    assert!(
        out.contains("createPlatform is starting."),
        "events were shown while waiting: {out}"
    );
    // --timeout 0: ebp does not wait at all.
    let started = Instant::now();
    let out = w.ok(&d, &["create", "--timeout", "0"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!out.contains("createPlatform is starting."), "{out}");
    assert!(w.ok(&d, &["status"]).contains("Status: Creating"));
    let out = w.fails(&d, &["create", "--timeout", "soon"]);
    assert!(out.contains("is not a number of minutes"), "{out}");
}

/// An archive of 7 MiB or more goes up in parts, as ebcli uploads it; the object in S3 is the
/// archive. Past the size limit nothing is uploaded and the error names the limit and folder.
#[test]
fn big_bundles_upload_in_parts_and_the_size_limit_names_the_folder() {
    let w = ws();
    let d = w.definition("big");
    let blob = noise(8 * 1024 * 1024 + 4321, 7);
    std::fs::write(d.join("builder/payload.bin"), &blob).unwrap();
    w.ok(&d, &["init", "big"]);
    w.ok(&d, &["create"]);
    let reqs = w.requests();
    let s3: Vec<&str> = reqs
        .iter()
        .filter(|r| r["service"] == "s3")
        .filter_map(|r| r["action"].as_str())
        .filter(|a| *a != "ListObjects")
        .collect();
    assert_eq!(
        s3,
        [
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPart",
            "CompleteMultipartUpload"
        ],
        "{s3:?}"
    );
    let key = w.create_requests()[0]["params"]["PlatformDefinitionBundle.S3Key"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let object = rt.block_on(async {
        w.s3()
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
    });
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(object.to_vec())).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("builder/payload.bin").unwrap(), &mut got).unwrap();
    assert!(
        got == blob,
        "the uploaded archive holds the payload byte for byte"
    );
    assert!(
        w.ok(&d, &["status"]).contains("Status: Ready"),
        "EB read the multipart object"
    );

    // The limit (lowered through the test seam; the real one is 512 MiB, see bundle.rs).
    w.moto.reset();
    let mut c = Command::new(env!("CARGO_BIN_EXE_rpack"));
    c.args(["platform", "create"]).current_dir(&d);
    w.env(&mut c);
    let o = c
        .env(
            "RPACK_PLATFORM_MAX_BUNDLE_BYTES",
            (4 * 1024 * 1024).to_string(),
        )
        .output()
        .unwrap();
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "the platform definition archive of {} is larger than 4 MiB (4194304 bytes)",
            d.display()
        )),
        "{out}"
    );
    let actions = w.actions();
    for a in [
        "PutObject",
        "CreateMultipartUpload",
        "CreatePlatformVersion",
        "CreateStorageLocation",
    ] {
        assert!(!actions.iter().any(|x| x == a), "{a} was sent: {actions:?}");
    }
    assert!(
        !d.join(".elasticbeanstalk/app_versions")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "no partial archive is left"
    );
}

/// include_git_submodules: the submodule's committed files join the git archive, as ebcli adds
/// each submodule's `git archive HEAD`.
#[test]
fn git_submodules_are_bundled_when_configured() {
    let w = ws();
    let lib = w.dir.join("hooks-lib");
    std::fs::create_dir_all(lib.join("hooks")).unwrap();
    std::fs::write(lib.join("hooks/10-nginx.sh"), "#!/bin/bash\necho nginx\n").unwrap();
    git(&lib, &["init", "-q"]);
    git(&lib, &["add", "."]);
    git(&lib, &["commit", "-q", "-m", "hooks"]);
    let d = w.definition("subm");
    git(&d, &["init", "-q"]);
    git(&d, &["add", "."]);
    git(
        &d,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            lib.to_str().unwrap(),
            "builder/lib",
        ],
    );
    git(&d, &["commit", "-q", "-m", "definition"]);
    w.ok(&d, &["init", "subm"]);
    git(&d, &["add", ".gitignore"]);
    git(&d, &["commit", "-q", "-m", "ignore eb files"]);

    w.ok(&d, &["create"]);
    let without = sorted(&w.create_requests()[0]["bundle_files"]);
    assert!(
        without.contains(&"builder/lib/".to_string())
            && !without.iter().any(|f| f.ends_with("10-nginx.sh")),
        "{without:?}"
    );

    let config = d.join(".elasticbeanstalk/config.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("global:\n", "global:\n  include_git_submodules: true\n", 1),
    )
    .unwrap();
    w.ok(&d, &["create"]);
    let with = sorted(&w.create_requests()[1]["bundle_files"]);
    for f in [
        "builder/lib/",
        "builder/lib/hooks/",
        "builder/lib/hooks/10-nginx.sh",
        "platform.yaml",
        ".gitmodules",
    ] {
        assert!(with.contains(&f.to_string()), "{f} missing from {with:?}");
    }
    assert_eq!(
        with.iter().filter(|f| *f == "builder/lib/").count(),
        1,
        "the submodule folder once: {with:?}"
    );
}

/// create streams the builder's log beside its events (as ebp does); `events -f` and
/// `logs --stream` follow a version that is still being built until it is ready.
#[test]
fn create_streams_the_builder_log_and_followers_stop_when_the_version_is_final() {
    let w = ws();
    let d = w.definition("stream");
    w.ok(&d, &["init", "stream"]);
    let out = w.ok(&d, &["create"]);
    let banner = out
        .find("============= 1.0.0 - /aws/elasticbeanstalk/platform/stream ==============")
        .unwrap_or_else(|| panic!("no log banner:\n{out}"));
    for line in [
        "build.rb: Creating CloudWatch log group '/aws/elasticbeanstalk/platform/stream'.",
        "build.rb: Invoking 'packer build'...",
        "==> HVM AMI builder: Creating the AMI: stream",
        "build.rb: Successfully built AMI(s): 'ami-",
    ] {
        assert!(out[banner..].contains(line), "{line} not streamed:\n{out}");
    }
    let done = out
        .find("Successfully created platform version 'stream/1.0.0'.")
        .unwrap();
    assert!(
        out.rfind("build.rb: Successfully built AMI(s)").unwrap() < done,
        "the whole log before the final event:\n{out}"
    );
    let logs: Vec<&str> = w
        .requests()
        .iter()
        .filter(|r| r["service"] == "logs")
        .filter_map(|r| r["action"].as_str())
        .map(|_| "logs")
        .collect();
    assert!(!logs.is_empty(), "CloudWatch Logs was read");

    // A version still building: both followers start now and end when it is Ready.
    w.knobs(serde_json::json!({"build_seconds": 3.0}));
    w.ok(&d, &["create", "--timeout", "0"]);
    assert!(w.ok(&d, &["status"]).contains("Status: Creating"));
    let started = Instant::now();
    let events = w.spawn(&d, &["events", "-f"]);
    let logs = w.spawn(&d, &["logs", "--stream"]);
    let (events, logs) = (
        finish(events, Duration::from_secs(30)),
        finish(logs, Duration::from_secs(30)),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "they followed the build: {:?}",
        started.elapsed()
    );
    let (e, l) = (text(&events), text(&logs));
    assert!(events.status.success() && logs.status.success(), "{e}\n{l}");
    assert!(
        e.contains("createPlatform is starting.")
            && e.trim_end()
                .ends_with("Successfully created platform version 'stream/1.0.1'."),
        "{e}"
    );
    assert_eq!(
        e.matches("createPlatform is starting.").count(),
        1,
        "each event once: {e}"
    );
    assert!(
        l.contains("build.rb: Downloading EB bootstrap script")
            && l.contains("build.rb: Successfully built AMI(s): 'ami-"),
        "{l}"
    );
    assert_eq!(
        l.matches("Invoking 'packer build'").count(),
        1,
        "each line once: {l}"
    );
    // A final version: nothing to wait for.
    let started = Instant::now();
    w.ok(&d, &["events", "-f", "1.0.0"]);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// ebp's prompts, answered on stdin: `init` without a name (region, name, key pair),
/// `init -i` picking an existing platform and a new key pair, `use` without a platform, and
/// delete/cleanup asking to type the ARN or name.
#[test]
fn prompts_for_init_use_and_delete() {
    let w = ws();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ec2 = crate::support::client(w.moto.endpoint(), REGION);
    rt.block_on(ec2.create_key_pair().key_name("kp-one").send())
        .unwrap();

    let d = w.definition("iplat");
    let (ok, out) = w.answering(&d, &["init"], "1\n\ny\n1\n");
    assert!(ok, "{out}");
    for shown in [
        "Select a default region\n1) us-east-1 : US East (N. Virginia)\n2) us-west-1 : US West (N. California)\n",
        "34) ap-southeast-5 : Asia Pacific (Malaysia)\n(default is 3): \n",
        "Enter Platform Name\n(default is \"iplat\"): ",
        "Would you like to be able to log into your platform packer environment?\n(Y/n): ",
        "Select a keypair.\n1) kp-one\n2) [ Create new KeyPair ]\n(default is 1): ",
    ] {
        assert!(out.contains(shown), "{shown:?} not in:\n{out}");
    }
    let config = std::fs::read_to_string(d.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "default_region: us-east-1",
        "platform_name: iplat",
        "default_ec2_keyname: kp-one",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }
    w.ok(&d, &["create"]);

    // init -i elsewhere: the existing platform, then a new key pair.
    let o = w.definition("other");
    let (ok, out) = w.answering(&o, &["init", "-i", "-r", REGION], "1\ny\n2\n\n");
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "Select a platform to use\n1) iplat\n2) [ Create new Platform ]\n(default is 2): "
        ),
        "{out}"
    );
    assert!(
        out.contains("Type a keypair name.\n(Default is aws-eb): "),
        "{out}"
    );
    assert!(
        !out.contains("Select a default region"),
        "--region was given: {out}"
    );
    let config = std::fs::read_to_string(o.join(".elasticbeanstalk/config.yml")).unwrap();
    for line in [
        "platform_name: iplat",
        "platform_version: 1.0.0",
        "default_ec2_keyname: aws-eb",
    ] {
        assert!(config.contains(line), "{line} missing from:\n{config}");
    }
    let key = std::fs::read_to_string(w.dir.join(".ssh/aws-eb")).unwrap();
    assert!(
        key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{key}"
    );
    let pairs = rt.block_on(ec2.describe_key_pairs().send()).unwrap();
    assert!(
        pairs
            .key_pairs()
            .iter()
            .any(|k| k.key_name() == Some("aws-eb")),
        "imported: {pairs:?}"
    );

    // use without a platform: the list again, or a new name.
    let (ok, out) = w.answering(&o, &["use"], "1\n");
    assert!(
        ok && out.contains("Setting workspace platform version to:")
            && out.contains("Version: 1.0.0"),
        "{out}"
    );
    let (ok, out) = w.answering(&o, &["use"], "2\n\n");
    assert!(ok, "{out}");
    assert!(
        out.contains("Enter Platform Name\n(default is \"other\"): ")
            && out.contains("New platform \"other\""),
        "{out}"
    );
    let config = std::fs::read_to_string(o.join(".elasticbeanstalk/config.yml")).unwrap();
    assert!(
        config.contains("platform_name: other") && config.contains("platform_version: null"),
        "{config}"
    );

    // delete asks for the ARN; a wrong answer deletes nothing.
    let arn = format!("arn:aws:elasticbeanstalk:{REGION}:{ACCOUNT}:platform/iplat/1.0.0");
    let (ok, out) = w.answering(&d, &["delete", "1.0.0"], "iplat\n");
    assert!(!ok && out.contains("Names do not match. Exiting."), "{out}");
    assert!(!w.actions().iter().any(|a| a == "DeletePlatformVersion"));
    let (ok, out) = w.answering(&d, &["delete", "1.0.0"], &format!("{arn}\n"));
    assert!(
        ok && out.contains("Successfully deleted platform version 'iplat/1.0.0'."),
        "{out}"
    );

    // --cleanup asks for the platform name. (1.0.0 is gone, so the failed version is 1.0.0.)
    std::fs::write(d.join(".ebignore"), "platform.yaml\n").unwrap();
    w.fails(&d, &["create"]);
    let (ok, out) = w.answering(&d, &["delete", "--cleanup"], "iplat\n");
    assert!(ok, "{out}");
    assert!(out.contains("Failed platform versions for \"iplat\" will be removed.\nTo confirm, type the platform name: "), "{out}");
    assert!(
        out.contains("Successfully deleted platform version 'iplat/1.0.0'."),
        "{out}"
    );
}

/// The transcripts of `rpack platform init`, `status`, `list` and `events` around a `create`,
/// as a person sees them, against moto's EB custom-platform API. (`create` itself interleaves
/// events and builder log lines as the polls find them, so its own output is not pinned.)
#[test]
fn transcripts_of_init_status_list_and_events() {
    let w = ws();
    let d = w.definition("snap");
    let mut all = String::new();
    for args in [
        &["init", "snap", "-k", "my-key", "-r", REGION][..],
        &["create"][..],
        &["status"][..],
        &["list"][..],
        &["events"][..],
    ] {
        let out = w.rpack(&d, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        if args[0] == "create" {
            continue;
        }
        all.push_str(&format!(
            "$ rpack platform {}\n{}",
            args.join(" "),
            crate::support::transcript::transcript(&out)
        ));
    }
    let filters = crate::support::transcript::filters(&w.dir);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(p, r)| (p.as_str(), *r)).collect();
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("transcripts_platform_init_status_list_events", all);
    });
}
