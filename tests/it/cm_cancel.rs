//! Cancellation of the configuration-management provisioners against the loopback sshd: a
//! SIGINT during an `ansible` playbook stops Ansible's whole process group, and SIGTERM or
//! SIGINT during shell, ansible-local, chef-solo, puppet-masterless and salt-masterless runs
//! stops the remote command too (the SSH `signal` request, then the session's end).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::cm::{chmod_tree, write, Instance};

/// SIGINT during a playbook: rpack stops Ansible's whole process group (no `ansible-playbook`
/// or its ssh left running), fails the build, and leaves no key or inventory file behind.
#[test]
fn an_interrupted_ansible_run_stops_ansible_and_cleans_up() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let inst = Instance::start("cm-ansible-int");
    let marker = format!("rpack-cm-int-{}", inst.sshd.port());
    let play = inst.dir.join("slow.yml");
    write(
        &play,
        &format!("- hosts: default\n  gather_facts: false\n  tasks:\n    - debug: {{ msg: started }}\n    - shell: echo $$ > /tmp/{marker}.pid; exec sleep 120\n"),
    );
    let t = inst.template(json!([{"type": "ansible", "playbook_file": play}]));
    let mut child = inst.spawn_build(&t, Stdio::piped());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen.push_str(&l);
        seen.push('\n');
        if l.contains("TASK [shell]") {
            break;
        }
    }
    assert!(seen.contains("\"msg\": \"started\""), "{seen}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let start = std::time::Instant::now();
    // SAFETY: kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{seen}{}", rest.join("\n"));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "rpack took {:?} to stop",
        start.elapsed()
    );
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains("ansible-playbook") && l.contains(&*inst.dir.display().to_string())),
        "ansible-playbook still running:\n{ps}"
    );
    assert_eq!(inst.leftovers(), Vec::<String>::new());
    // The remote command may outlive the ssh session that started it: stop it by its pid.
    inst.ssh(&format!(
        "kill $(cat /tmp/{marker}.pid) 2>/dev/null; rm -f /tmp/{marker}.pid"
    ));
}

/// Starts `rpack build template`, waits for the remote stand-in to write `pid_file` on the
/// instance, sends `signal` to rpack, and checks: rpack fails within 20 s, left nothing in its
/// TMPDIR (uploaded scripts, env files, keys), and the remote command is gone within 5 s of
/// rpack's exit: the stand-in's shell (its pid) and its `sleep <marker>` child, found by
/// pgrep (the "instance" is this machine).
fn interrupt_remote_run(
    inst: &Instance,
    template: &Path,
    pid_file: &str,
    marker: &str,
    signal: i32,
) {
    let mut child = inst.spawn_build(template, std::process::Stdio::null());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let pid = loop {
        let pid = inst
            .ssh(&format!("cat {pid_file} 2>/dev/null"))
            .trim()
            .to_string();
        if !pid.is_empty() && !remote_processes(marker).is_empty() {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the remote stand-in never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "rpack ended early");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let start = std::time::Instant::now();
    // SAFETY: kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "rpack took {:?} to stop",
        start.elapsed()
    );
    let leftovers = inst.leftovers();
    let gone_by = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut alive;
    loop {
        alive = remote_processes(marker);
        if process_alive(&pid) {
            alive.push(format!("{pid} (the stand-in's shell)"));
        }
        if alive.is_empty() || std::time::Instant::now() > gone_by {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Whatever happened, stop the stand-in so that a failure leaves nothing running.
    let _ = Command::new("pkill")
        .args(["-f", &format!("sleep {marker}")])
        .status();
    let _ = Command::new("kill").arg(&pid).status();
    inst.ssh(&format!("sudo rm -f {pid_file}"));
    assert_eq!(
        alive,
        Vec::<String>::new(),
        "the remote command outlived the build"
    );
    assert_eq!(leftovers, Vec::<String>::new());
}

/// The processes (pid and command line) running `sleep <marker>`.
fn remote_processes(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", &format!("^sleep {marker}$")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn process_alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A stand-in that records its pid in `pid_file` and runs `sleep <marker>`: as its child
/// (the signal must reach the whole process group), or, under sudo, in its place (`exec`):
/// sudo passes TERM on to the command it started, but that command's own children run as root,
/// out of the login user's reach. `marker` is a unique number of seconds, so pgrep can tell
/// this sleep from any other.
fn sleeper(inst: &Instance, name: &str, pid_file: &str, marker: &str, sudo: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = inst.dir.join("bin").join(name);
    let run = if sudo { "exec sleep" } else { "sleep" };
    write(
        &p,
        &format!("#!/bin/sh\necho $$ > {pid_file}\n{run} {marker}\necho the sleep ended\n"),
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    chmod_tree(p.parent().unwrap());
    p
}

/// Ctrl-C (SIGINT) or SIGTERM to rpack while a provisioner's remote command runs: rpack asks
/// sshd to signal the command (the SSH "signal" request, TERM then KILL), so the command and
/// its children end with the build, under sudo too; nothing is left in rpack's TMPDIR.
#[test]
fn sigterm_or_sigint_during_shell_ansible_local_chef_puppet_and_salt_stops_the_remote_command() {
    let inst = Instance::start("cm-cancel");
    let port = inst.sshd.port();
    let play = inst.dir.join("local.yml");
    write(&play, "- hosts: all\n  tasks: []\n");
    let books = inst.dir.join("cookbooks/web/recipes");
    write(&books.join("default.rb"), "log 'hi'\n");
    let manifest = inst.dir.join("site.pp");
    write(&manifest, "notice('x')\n");
    let tree = inst.dir.join("salt");
    write(&tree.join("top.sls"), "base: {}\n");
    for (i, (kind, signal)) in [
        ("shell", libc::SIGINT),
        ("ansible-local", libc::SIGTERM),
        ("chef-solo", libc::SIGINT),
        ("puppet-masterless", libc::SIGTERM),
        ("salt-masterless", libc::SIGINT),
    ]
    .into_iter()
    .enumerate()
    {
        let pid_file = format!("/tmp/rpack-cm-cancel-{port}-{kind}.pid");
        let marker = format!("3600.{port}{i}");
        let bin = sleeper(
            &inst,
            if kind == "salt-masterless" {
                "salt-call"
            } else {
                kind
            },
            &pid_file,
            &marker,
            matches!(kind, "chef-solo" | "puppet-masterless" | "salt-masterless"),
        );
        let p = match kind {
            "shell" => json!({
                "type": kind,
                "inline": [format!("echo $$ > {pid_file}; sleep {marker}; echo the sleep ended")]
            }),
            "ansible-local" => json!({
                "type": kind, "playbook_file": play, "command": bin,
                "staging_directory": format!("/tmp/rpack-cm-cancel-{port}-stage")
            }),
            "chef-solo" => json!({
                "type": kind, "skip_install": true, "cookbook_paths": [inst.dir.join("cookbooks")],
                "staging_directory": format!("/tmp/rpack-cm-cancel-{port}-chef"),
                "execute_command": format!("{{{{if .Sudo}}}}sudo {{{{end}}}}{} -c {{{{.ConfigPath}}}}", bin.display())
            }),
            "puppet-masterless" => json!({
                "type": kind, "manifest_file": manifest,
                "staging_directory": format!("/tmp/rpack-cm-cancel-{port}-puppet"),
                "execute_command": format!("{{{{if .Sudo}}}}sudo {{{{end}}}}{}", bin.display())
            }),
            _ => json!({
                "type": kind, "local_state_tree": tree, "skip_bootstrap": true,
                "temp_config_dir": format!("/tmp/rpack-cm-cancel-{port}-salt"),
                "salt_bin_dir": bin.parent().unwrap()
            }),
        };
        let t = inst.template(json!([p]));
        interrupt_remote_run(&inst, &t, &pid_file, &marker, signal);
    }
    inst.ssh(&format!("sudo rm -rf /tmp/rpack-cm-cancel-{port}-*"));
}
