//! amazon-ebs builds with `ssh_interface: session_manager`, end to end through the real binary:
//! moto plays EC2 and IAM, [`FakeSsm`] plays Systems Manager (its agent carries each session to
//! the loopback sshd), and `ssh_host` points at an address where nothing listens, so every byte
//! of SSH must go through the sessions. Each case ends by checking that nothing is left: no
//! instance, key pair, security group or volume in moto, no IAM role or instance profile, no
//! session that was not terminated.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::build::{run_to_end, stack, Running, Stack, REGION};
use crate::support::ssm::{FakeSsm, Faults};
use crate::support::FaultKind;

/// Loopback, but not where the sshd listens: a direct connection would be refused.
const NOWHERE: &str = "127.0.0.2";

pub(crate) fn ssm_template(
    st: &Stack,
    name: &str,
    extra: Value,
    provisioners: Value,
) -> std::path::PathBuf {
    let mut builder = json!({
        "ssh_interface": "session_manager",
        "ssh_host": NOWHERE,
    });
    for (k, v) in extra.as_object().expect("extra is an object") {
        builder[k] = v.clone();
    }
    st.template(name, builder, provisioners)
}

pub(crate) fn rpack_build(
    st: &Stack,
    fake: &FakeSsm,
    tpl: &std::path::Path,
) -> std::process::Command {
    let mut cmd = st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]);
    cmd.env("AWS_ENDPOINT_URL_SSM", fake.endpoint());
    cmd
}

/// The IAM roles and instance profiles in moto (moto starts with none).
pub(crate) fn iam_leftovers(st: &Stack) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(REGION))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(st.moto.endpoint())
        .build();
    let iam = aws_sdk_iam::Client::from_conf(conf);
    rt.block_on(async {
        let mut out = Vec::new();
        let roles = iam.list_roles().send().await.expect("ListRoles");
        out.extend(
            roles
                .roles()
                .iter()
                .map(|r| format!("role {}", r.role_name())),
        );
        let profiles = iam
            .list_instance_profiles()
            .send()
            .await
            .expect("ListInstanceProfiles");
        out.extend(
            profiles
                .instance_profiles()
                .iter()
                .map(|p| format!("instance profile {}", p.instance_profile_name())),
        );
        out
    })
}

/// Everything a build may leave, except the AMI and its snapshot a successful build delivers.
pub(crate) fn leftovers_but_the_ami(st: &Stack) -> Vec<String> {
    let mut left: Vec<String> = st
        .leftovers(&[REGION])
        .into_iter()
        .filter(|l| !l.starts_with("AMI ") && !l.starts_with("snapshot "))
        .collect();
    left.extend(iam_leftovers(st));
    left
}

/// Every session the fake started was terminated (TerminateSession), within a few seconds.
pub(crate) fn assert_sessions_terminated(fake: &FakeSsm, out: &str) -> crate::support::ssm::Record {
    let r = fake.wait_all_terminated(Duration::from_secs(10));
    for s in &r.started {
        assert!(
            r.terminated.contains(s),
            "session {s} was not terminated: {r:?}\n{out}"
        );
    }
    r
}

#[test]
fn session_manager_build_provisions_over_the_session_and_leaves_only_the_ami() {
    let st = stack();
    let fake = FakeSsm::start();
    // The agent registers a little after the instance runs.
    fake.set_faults(Faults {
        not_connected_calls: 2,
        ..Faults::default()
    });
    let src = crate::support::paths::fresh_dir("ssm-build-src");
    let payload: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(src.join("payload.txt"), &payload).unwrap();
    let remote = format!("/tmp/rpack-ssm-payload-{}.txt", std::process::id());
    let tpl = ssm_template(
        &st,
        "ssm",
        json!({"pause_before_ssm": "1s"}),
        json!([
            {"type": "shell", "inline": ["echo rpack-it: over the session as $(id -un)"]},
            {"type": "file", "source": src.join("payload.txt"), "destination": remote},
            {"type": "shell", "inline": [format!("echo rpack-it: uploaded $(wc -l < {remote}) lines; rm -f {remote}")]},
        ]),
    );
    let started = Instant::now();
    let (code, out) = run_to_end(rpack_build(&st, &fake, &tpl));
    assert_eq!(code, Some(0), "{out}");
    for want in [
        "Session Manager: no iam_instance_profile given, creating a temporary one with the AmazonSSMManagedInstanceCore permissions",
        "Creating temporary instance profile for this instance: packer-",
        "Waiting for instance profile packer-",
        "No inbound rule in the temporary security group: the instance is reached through Session Manager",
        "Using ssh communicator to connect over Session Manager (AWS-StartSSHSession) to i-",
        "Waiting 1s before establishing the SSM session...",
        "Waiting for the SSM agent on i-",
        "Session Manager session rpack-test-",
        "Host key verified from the console output: ED25519 SHA256:",
        "Connected to SSH!",
        &format!("rpack-it: over the session as {}", st.sshd.user()),
        "rpack-it: uploaded 20000 lines",
        "Deleting temporary role...",
        "Deleting temporary instance profile...",
        "us-east-1: ami-",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(
        !out.contains("Authorizing access to port"),
        "an SSH port was opened:\n{out}"
    );
    assert!(
        st.proxy
            .requests_of("AuthorizeSecurityGroupIngress")
            .is_empty(),
        "no ingress rule in Session Manager mode"
    );
    // The instance was launched with the temporary profile.
    let runs = st.proxy.requests_of("RunInstances");
    assert!(
        runs.iter().any(|r| r
            .get("IamInstanceProfile.Name")
            .is_some_and(|n| n.starts_with("packer-"))),
        "RunInstances without the temporary profile: {runs:?}"
    );
    let r = assert_sessions_terminated(&fake, &out);
    assert!(!r.started.is_empty() && !r.opened.is_empty(), "{r:?}");
    for id in &r.started {
        let line = format!("Session Manager session {id} terminated");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    // Each session went to the instance's sshd port, with the SSH document.
    for (op, body) in r.calls.iter().filter(|(op, _)| op == "StartSession") {
        assert_eq!(body["DocumentName"], "AWS-StartSSHSession", "{op}: {body}");
        assert_eq!(
            body["Parameters"]["portNumber"][0],
            st.sshd.port().to_string(),
            "{body}"
        );
        assert!(body["Target"].as_str().unwrap().starts_with("i-"), "{body}");
    }
    let left = leftovers_but_the_ami(&st);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let amis: Vec<String> = st
        .leftovers(&[REGION])
        .into_iter()
        .filter(|l| l.starts_with("AMI "))
        .collect();
    assert_eq!(amis.len(), 1, "{amis:?}");
    // Nothing for `rpack cleanup` either: the ledger has every session terminated.
    let (code, listing) = run_to_end(st.rpack(&["cleanup", "--region", REGION]));
    assert_eq!(code, Some(0), "{listing}");
    assert!(!listing.contains("would delete"), "{listing}");
    eprintln!("session manager build took {:?}", started.elapsed());
}

#[test]
fn an_agent_that_never_registers_fails_within_ssh_timeout_and_cleans_up() {
    let st = stack();
    let fake = FakeSsm::start();
    fake.set_faults(Faults {
        not_connected_calls: u32::MAX,
        ..Faults::default()
    });
    let tpl = ssm_template(
        &st,
        "ssm-unregistered",
        json!({"ssh_timeout": "6s"}),
        json!([{"type": "shell", "inline": ["echo never"]}]),
    );
    let started = Instant::now();
    let (code, out) = run_to_end(rpack_build(&st, &fake, &tpl));
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("did not register with Systems Manager within")
            && out.contains(
                "check the instance profile has the AmazonSSMManagedInstanceCore permissions"
            ),
        "{out}"
    );
    assert!(out.contains("Timeout waiting for SSH."), "{out}");
    assert!(took < Duration::from_secs(90), "took {took:?}:\n{out}");
    let r = fake.record();
    assert!(r.started.is_empty(), "{r:?}");
    assert!(
        r.calls
            .iter()
            .filter(|(op, _)| op == "StartSession")
            .count()
            >= 2,
        "StartSession was retried: {r:?}"
    );
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "left behind {iam:?}\n{out}");
}

/// Starts a build, waits for `marker`, sends `sig` to its pid, and checks the build cancelled
/// cleanly and left nothing.
fn interrupted(name: &str, faults: Faults, provisioners: Value, marker: &str, sig: libc::c_int) {
    let st = stack();
    let fake = FakeSsm::start();
    fake.set_faults(faults);
    let tpl = ssm_template(&st, name, json!({}), provisioners);
    let mut run = Running::start(rpack_build(&st, &fake, &tpl));
    run.wait_for(marker);
    run.signal(sig, false);
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "interrupted build must exit 1:\n{out}");
    assert!(
        out.contains("Cleanly cancelled builds after being interrupted."),
        "{out}"
    );
    assert_sessions_terminated(&fake, &out);
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "{name}: left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "{name}: left behind {iam:?}\n{out}");
}

#[test]
fn sigterm_while_waiting_for_the_agent_leaves_nothing() {
    interrupted(
        "ssm-sigterm-wait",
        Faults {
            not_connected_calls: u32::MAX,
            ..Faults::default()
        },
        json!([{"type": "shell", "inline": ["echo never"]}]),
        "Waiting for the SSM agent on i-",
        libc::SIGTERM,
    );
}

#[test]
fn sigint_while_provisioning_over_the_session_leaves_nothing() {
    interrupted(
        "ssm-sigint-provision",
        Faults::default(),
        json!([{"type": "shell", "inline": ["echo rpack-it: provisioning", "sleep 60"]}]),
        "rpack-it: provisioning",
        libc::SIGINT,
    );
}

#[test]
fn sigkill_while_provisioning_then_cleanup_ends_the_session_and_removes_the_profile() {
    let st = stack();
    let fake = FakeSsm::start();
    let tpl = ssm_template(
        &st,
        "ssm-sigkill",
        json!({}),
        json!([{"type": "shell", "inline": ["echo rpack-it: provisioning", "sleep 60"]}]),
    );
    let mut run = Running::start(rpack_build(&st, &fake, &tpl));
    run.wait_for("rpack-it: provisioning");
    run.signal(libc::SIGKILL, true);
    let (code, out) = run.finish();
    assert_eq!(code, None, "killed by a signal:\n{out}");
    let r = fake.record();
    let open: Vec<&String> = r
        .started
        .iter()
        .filter(|s| !r.terminated.contains(s))
        .collect();
    assert!(!open.is_empty(), "the kill left no session open: {r:?}");
    assert!(!iam_leftovers(&st).is_empty(), "the kill left no profile");

    let mut cleanup = st.rpack(&["cleanup", "--yes", "--region", REGION]);
    cleanup.env("AWS_ENDPOINT_URL_SSM", fake.endpoint());
    let (code, done) = run_to_end(cleanup);
    assert_eq!(code, Some(0), "{done}");
    let r = fake.record();
    for s in open {
        assert!(r.terminated.contains(s), "{s} still open:\n{done}");
    }
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{done}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "left behind {iam:?}\n{done}");
}

#[test]
fn no_permission_to_create_the_role_names_the_iam_action_and_leaves_nothing() {
    let st = stack();
    let fake = FakeSsm::start();
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["CreateRole"]);
    let tpl = ssm_template(
        &st,
        "ssm-denied",
        json!({}),
        json!([{"type": "shell", "inline": ["echo never"]}]),
    );
    let mut cmd = rpack_build(&st, &fake, &tpl);
    // IAM through the proxy, which answers CreateRole with AccessDenied.
    cmd.env("AWS_ENDPOINT_URL_IAM", st.proxy.endpoint());
    let (code, out) = run_to_end(cmd);
    st.proxy.clear_fault();
    assert_eq!(code, Some(1), "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "creating temporary role packer-",
        "AccessDenied: not allowed to iam:CreateRole on arn:aws:iam::123456789012:role/packer-x",
        "ssh_interface \"session_manager\" without iam_instance_profile makes rpack create a temporary instance profile",
        "Hint: grant these, or set iam_instance_profile to a profile with the AmazonSSMManagedInstanceCore policy",
    ] {
        assert!(flat.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(
        st.proxy.requests_of("RunInstances").is_empty(),
        "nothing is launched"
    );
    assert!(fake.record().calls.is_empty(), "no session was asked for");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(
        iam.is_empty(),
        "the instance profile made before the denial is left: {iam:?}\n{out}"
    );
}

#[test]
fn sigint_while_waiting_for_the_agent_leaves_nothing() {
    interrupted(
        "ssm-sigint-wait",
        Faults {
            not_connected_calls: u32::MAX,
            ..Faults::default()
        },
        json!([{"type": "shell", "inline": ["echo never"]}]),
        "Waiting for the SSM agent on i-",
        libc::SIGINT,
    );
}

#[test]
fn sigterm_while_provisioning_over_the_session_leaves_nothing() {
    interrupted(
        "ssm-sigterm-provision",
        Faults::default(),
        json!([{"type": "shell", "inline": ["echo rpack-it: provisioning", "sleep 60"]}]),
        "rpack-it: provisioning",
        libc::SIGTERM,
    );
}

#[test]
fn an_unreachable_stream_url_fails_within_ssh_timeout_and_terminates_every_session() {
    let st = stack();
    let fake = FakeSsm::start();
    let closed = crate::support::process::free_port();
    fake.set_faults(Faults {
        stream_url: Some(format!("ws://127.0.0.1:{closed}/v1/data-channel/x")),
        ..Faults::default()
    });
    let tpl = ssm_template(
        &st,
        "ssm-no-stream",
        json!({"ssh_timeout": "5s"}),
        json!([{"type": "shell", "inline": ["echo never"]}]),
    );
    let started = Instant::now();
    let (code, out) = run_to_end(rpack_build(&st, &fake, &tpl));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Timeout waiting for SSH."), "{out}");
    assert!(out.contains("session rpack-test-"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(90), "{out}");
    let r = assert_sessions_terminated(&fake, &out);
    assert!(!r.started.is_empty() && r.opened.is_empty(), "{r:?}");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "left behind {iam:?}\n{out}");
}

#[test]
fn ansible_in_proxy_mode_runs_over_the_session() {
    let st = stack();
    let fake = FakeSsm::start();
    let dir = crate::support::paths::fresh_dir("ssm-ansible");
    let out_file = format!("/tmp/rpack-ssm-ansible-{}.txt", st.sshd.port());
    let play = dir.join("ssm-ansible.yml");
    std::fs::write(
        &play,
        format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: {out_file}\n        content: \"{{{{ packer_builder_type }}}} over ssm\\n\"\n"
        ),
    )
    .unwrap();
    let tpl = ssm_template(
        &st,
        "ssm-ansible",
        json!({}),
        json!([{"type": "ansible", "playbook_file": play, "use_proxy": true}]),
    );
    let venv_bin = crate::support::paths::venv_bin("ansible-playbook");
    let mut cmd = rpack_build(&st, &fake, &tpl);
    cmd.env(
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
    assert!(out.contains("SSH proxy: serving on 127.0.0.1"), "{out}");
    let written = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(written, "amazon-ebs over ssm\n", "{out}");
    let r = assert_sessions_terminated(&fake, &out);
    assert!(!r.opened.is_empty(), "{r:?}");
    let left = leftovers_but_the_ami(&st);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
}
