//! The `ansible` provisioner without its proxy (`use_proxy: false`) in Session Manager mode:
//! Ansible's own ssh connects to the build's local port forward (127.0.0.1:`session_manager_port`,
//! `{{ build `Host` }}:{{ build `Port` }}`), whose every connection runs over its own session to
//! the instance. As in the other Session Manager builds, `ssh_host` points where nothing
//! listens, so the playbook can only have reached the sshd through the sessions.

use std::time::Duration;

use serde_json::json;

use crate::build::{run_to_end, stack, Running};
use crate::ssm_build::{
    assert_sessions_terminated, iam_leftovers, leftovers_but_the_ami, rpack_build, ssm_template,
};
use crate::support::ssm::FakeSsm;

#[test]
fn ansible_without_its_proxy_connects_through_the_local_forward_and_leaves_nothing() {
    let st = stack();
    let fake = FakeSsm::start();
    let port = crate::support::process::free_port();
    let dir = crate::support::paths::fresh_dir("ssm-ansible-direct");
    // Written by the sshd's user, which may not write into the test's directory.
    let out_file = format!("/tmp/rpack-ssm-ansible-direct-{}.txt", st.sshd.port());
    let play = dir.join("direct.yml");
    // Where Ansible connected: its inventory's host and port.
    std::fs::write(
        &play,
        format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: {out_file}\n        content: \"{{{{ ansible_host }}}}:{{{{ ansible_port }}}} {{{{ packer_builder_type }}}}\\n\"\n"
        ),
    )
    .unwrap();
    let tpl = ssm_template(
        &st,
        "ssm-ansible-direct",
        json!({"session_manager_port": port}),
        json!([
            {"type": "shell-local", "inline": ["echo forward at {{ build `Host` }}:{{ build `Port` }}"]},
            {"type": "ansible", "playbook_file": play, "use_proxy": false}
        ]),
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
    assert!(
        out.contains(&format!("forward at 127.0.0.1:{port}")),
        "{out}"
    );
    assert!(out.contains("Not using Proxy adapter"), "{out}");
    assert!(!out.contains("SSH proxy: serving"), "{out}");
    assert!(out.contains("PLAY RECAP"), "{out}");
    let written = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(written, format!("127.0.0.1:{port} amazon-ebs\n"), "{out}");

    // rpack's own connection had a session; Ansible's ssh had its own through the forward.
    let r = assert_sessions_terminated(&fake, &out);
    assert!(r.opened.len() >= 2, "{r:?}\n{out}");
    // The forward is gone with the build.
    let refused = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    );
    assert!(
        refused.is_err(),
        "127.0.0.1:{port} still accepts connections after the build\n{out}"
    );
    let left = leftovers_but_the_ami(&st);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
}

/// Ctrl-C while Ansible's ssh holds a connection through the forward: the build cancels
/// cleanly, that connection's session is terminated with the others and the port is closed.
#[test]
fn sigint_while_ansible_runs_through_the_forward_ends_its_session_and_closes_the_port() {
    let st = stack();
    let fake = FakeSsm::start();
    let port = crate::support::process::free_port();
    let dir = crate::support::paths::fresh_dir("ssm-ansible-sigint");
    let play = dir.join("long.yml");
    std::fs::write(
        &play,
        "- hosts: default\n  gather_facts: false\n  tasks:\n    - name: first\n      command: \"true\"\n    - name: rpack-it-long\n      command: sleep 60\n",
    )
    .unwrap();
    let tpl = ssm_template(
        &st,
        "ssm-ansible-sigint",
        json!({"session_manager_port": port}),
        json!([{"type": "ansible", "playbook_file": play, "use_proxy": false}]),
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
    let mut run = Running::start(cmd);
    // The first task is done: Ansible's ssh is connected through the forward.
    run.wait_for("TASK [rpack-it-long]");
    let during = fake.record();
    run.signal(libc::SIGINT, false);
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "interrupted build must exit 1:\n{out}");
    assert!(
        out.contains("Cleanly cancelled builds after being interrupted."),
        "{out}"
    );
    assert!(during.opened.len() >= 2, "{during:?}\n{out}");
    assert_sessions_terminated(&fake, &out);
    let refused = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    );
    assert!(refused.is_err(), "127.0.0.1:{port} still open\n{out}");
    let left = st.leftovers(&[crate::build::REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "left behind {iam:?}\n{out}");
}
