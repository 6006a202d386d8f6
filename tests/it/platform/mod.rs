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

mod ebp;
mod follow;
mod lifecycle;
mod uploads;
