//! `rpack platform …` end to end through the real binary against moto extended with the EB
//! custom-platform API (tests/support-py/moto_eb.py): the workspace, create/status/list/events/
//! delete, version bumping (failed versions count), bundle contents (git, .ebignore), validation
//! before upload, --local-build on the sshd stack, publish, and parity with the real `ebp`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

    let out = w.fails(&d, &["delete", "1.0.0"]);
    assert!(out.contains("needs --force"), "{out}");
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
    let conf = aws_sdk_elasticbeanstalk::Config::builder()
        .behavior_version(aws_sdk_elasticbeanstalk::config::BehaviorVersion::latest())
        .region(aws_sdk_elasticbeanstalk::config::Region::new(REGION))
        .endpoint_url(w.moto.endpoint())
        .credentials_provider(aws_sdk_elasticbeanstalk::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let eb = aws_sdk_elasticbeanstalk::Client::from_conf(conf);
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

/// ebp against the same moto: the requests it sends and its bundle, next to rpack's.
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
    let e = w.definition("ebp-side");
    run_ebp(&e, &["init", "twin", "-k", "kp"]);
    let ebp_config = std::fs::read_to_string(e.join(".elasticbeanstalk/config.yml")).unwrap();
    let out = run_ebp(&e, &["create", "--timeout", "1"]);
    assert!(
        out.contains("Successfully created platform version"),
        "{out}"
    );
    let listed = run_ebp(&e, &["list"]);
    assert!(
        listed.contains("platform/twin/1.0.0  Status: Ready"),
        "{listed}"
    );
    let ebp_requests = w.requests();
    w.moto.reset();

    let r = w.definition("rpack-side");
    w.ok(&r, &["init", "twin", "-k", "kp"]);
    let rpack_config = std::fs::read_to_string(r.join(".elasticbeanstalk/config.yml")).unwrap();
    w.ok(&r, &["create"]);
    assert_eq!(w.ok(&r, &["list"]).trim(), listed.trim());
    let rpack_requests = w.requests();

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
        sorted(&b["bundle_files"]),
        sorted(&a["bundle_files"]),
        "bundle file lists"
    );
}
