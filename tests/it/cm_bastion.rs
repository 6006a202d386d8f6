//! The `ansible` provisioner through a build's SSH bastion (`ssh_bastion_*`): Ansible's ssh hops
//! through the bastion with strict checking of the bastion host key rpack pinned, and a bastion
//! whose key changed after pinning is refused. Same loopback stack as `cm.rs`.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::cm::{write, Instance};
use crate::support::paths::fresh_dir;
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// Adds a bastion (`bastion`, logging in with `bkey`) to the builder of template `t`.
fn add_bastion(t: &Path, bastion: &Sshd, bkey: &Path) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(t).unwrap()).unwrap();
    let b = &mut doc["builders"][0];
    b["ssh_bastion_host"] = json!(bastion.host());
    b["ssh_bastion_port"] = json!(bastion.port());
    b["ssh_bastion_username"] = json!(bastion.user());
    b["ssh_bastion_private_key_file"] = json!(bkey);
    std::fs::write(t, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// The start of the `ProxyCommand` rpack gives Ansible through `bastion`: strict host-key
/// checking against a private known_hosts file holding the bastion key rpack pinned.
const STRICT_HOP: &str =
    "-o ProxyCommand=\"ssh -W %h:%p -o StrictHostKeyChecking=yes -o UserKnownHostsFile=";

/// A build with a bastion: Ansible's ssh reaches the instance through the bastion (a
/// `ProxyCommand` with the bastion's user, port and key), proven by the bastion's sshd
/// accepting a second login (rpack's own connection is the first) for Ansible's hop. The hop
/// checks the bastion's host key strictly against the one rpack's connection pinned (ssh would
/// refuse the hop if the private known_hosts entry did not match how it looks the bastion up).
#[test]
fn ansible_reaches_the_instance_through_the_builds_bastion() {
    let inst = Instance::start("cm-ansible-bastion");
    let (bkey, bpublic) = ssh_keygen(KeyKind::Ed25519);
    let bastion = Sshd::start_static(&bpublic);
    let out = format!("/tmp/rpack-cm-bastion-{}.txt", inst.sshd.port());
    let play = inst.dir.join("bastion.yml");
    write(
        &play,
        &format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy: {{ dest: \"{out}\", content: \"via bastion\\n\" }}\n"
        ),
    );
    let t = inst.template(json!([{"type": "ansible", "playbook_file": play}]));
    add_bastion(&t, &bastion, &bkey);
    let (o, text) = inst.rpack("build", &t);
    assert!(o.status.success(), "{text}\n{}", bastion.log());
    let line = text
        .lines()
        .find(|l| l.contains("Executing Ansible:"))
        .unwrap_or_else(|| panic!("no ansible command line:\n{text}"));
    let hop = &line[line
        .find(STRICT_HOP)
        .unwrap_or_else(|| panic!("the hop is not strict: {line}"))..];
    let kh = hop[STRICT_HOP.len()..].split(' ').next().unwrap();
    assert!(
        kh.ends_with("/bastion_known_hosts") && kh.contains("rpack-ansible"),
        "{line}"
    );
    assert!(
        hop.starts_with(&format!(
            "{STRICT_HOP}{kh} -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i {} -p {} {}@{}\"",
            bkey.display(),
            bastion.port(),
            bastion.user(),
            bastion.host()
        )),
        "{line}"
    );
    assert!(
        !Path::new(kh).exists(),
        "the bastion's known_hosts is removed"
    );
    let logins = bastion.log().matches("Accepted publickey").count();
    assert!(
        logins >= 2,
        "bastion saw {logins} logins:\n{}",
        bastion.log()
    );
    assert_eq!(inst.ssh(&format!("cat {out}")), "via bastion\n");
    assert_eq!(inst.leftovers(), Vec::<String>::new());
    inst.ssh(&format!("rm -f {out}"));
}

/// The bastion's host key changes after rpack's connection pinned it (a shell-local step swaps
/// the bastion sshd's host keys and makes it reload): Ansible's hop through it is refused, the
/// playbook never reaches the instance, and the build fails.
#[test]
fn ansible_refuses_a_bastion_whose_host_key_changed_after_rpack_pinned_it() {
    let inst = Instance::start("cm-ansible-bastion-mitm");
    let (bkey, bpublic) = ssh_keygen(KeyKind::Ed25519);
    let mut bastion = Sshd::start_static(&bpublic);
    // Host keys of its own, so replacing them touches no other server.
    bastion.regenerate_host_key();
    let pid = bastion.pid().unwrap();
    // Replacement keys, made now so the swap is quick.
    let fresh = fresh_dir("cm-bastion-new-keys");
    let mut swap = String::new();
    let mut new_ed25519 = String::new();
    for old in bastion.host_key_files() {
        let name = old.file_name().unwrap().to_str().unwrap();
        let kind = name
            .trim_start_matches("ssh_host_")
            .trim_end_matches("_key");
        let new = fresh.join(name);
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", "swapped", "-f"])
            .arg(&new)
            .status()
            .unwrap();
        assert!(st.success());
        if kind == "ed25519" {
            let public = std::fs::read_to_string(new.with_extension("pub")).unwrap();
            new_ed25519 = public.split(' ').nth(1).unwrap().to_string();
        }
        swap.push_str(&format!(
            "cp '{}' '{}'; cp '{}.pub' '{}.pub'; ",
            new.display(),
            old.display(),
            new.display(),
            old.display()
        ));
    }
    let out = format!("/tmp/rpack-cm-bastion-mitm-{}.txt", inst.sshd.port());
    let play = inst.dir.join("bastion.yml");
    write(
        &play,
        &format!(
            "- hosts: default\n  gather_facts: false\n  tasks:\n    - copy: {{ dest: \"{out}\", content: \"reached\\n\" }}\n"
        ),
    );
    // sshd re-executes itself on SIGHUP and loads the (new) host keys; wait until it answers.
    swap.push_str(&format!(
        "kill -HUP {pid}; for i in $(seq 50); do sleep 0.1; \
         ssh-keyscan -t ed25519 -p {} {} 2>/dev/null | grep -qF '{new_ed25519}' && exit 0; \
         done; exit 1",
        bastion.port(),
        bastion.host()
    ));
    assert!(!new_ed25519.is_empty());
    let t = inst.template(json!([
        {"type": "shell-local", "inline": [swap]},
        {"type": "ansible", "playbook_file": play}
    ]));
    add_bastion(&t, &bastion, &bkey);
    let (o, text) = inst.rpack("build", &t);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains(STRICT_HOP), "{text}");
    assert!(
        text.contains("Error executing Ansible: Non-zero exit status"),
        "{text}"
    );
    assert!(text.contains("UNREACHABLE!"), "{text}");
    // The hop's ssh hung up before authenticating: after the reload the bastion accepted no
    // login (ssh-keyscan's and the hop's connections both end preauth).
    let log = bastion.log();
    let after = &log[log
        .find("Received SIGHUP")
        .unwrap_or_else(|| panic!("the bastion did not reload:\n{log}"))..];
    assert!(after.contains("[preauth]"), "{log}");
    assert!(!after.contains("Accepted publickey"), "{log}");
    assert_eq!(inst.ssh(&format!("cat {out} 2>/dev/null")), "");
    assert_eq!(inst.leftovers(), Vec::<String>::new());
}
