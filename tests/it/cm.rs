//! The configuration-management provisioners against the loopback sshd (a `null` build):
//! `ansible` with the real `ansible-playbook`/`ansible-galaxy` from the test venv (a role from a
//! galaxy requirements file resolved from a local tarball, extra vars, become via sudo),
//! `ansible-local` with Ansible available to the login user on the "instance", `puppet apply`
//! from Debian's puppet package, and `salt-call --local`. Chef cannot be installed here:
//! chef-solo runs a recording stand-in for the `chef-solo` binary, and the test checks the exact
//! files it was given and its command line. Bad input: validate errors with file:line:col, a
//! failing playbook, a missing tool.
//! Cancellation is tested in `cm_cancel.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::paths::{fresh_dir, salt_bin, venv_bin};
use crate::support::{ssh_keygen, KeyKind, Sshd};

/// A loopback "instance", a client key it accepts, and a work directory.
pub(crate) struct Instance {
    pub(crate) sshd: Sshd,
    pub(crate) key: PathBuf,
    pub(crate) dir: PathBuf,
}

impl Instance {
    pub(crate) fn start(name: &str) -> Instance {
        let (key, public) = ssh_keygen(KeyKind::Ed25519);
        let dir = fresh_dir(name);
        // The login user reads the fixtures (ansible-local's galaxy, chef's stand-in).
        chmod_tree(&dir);
        Instance {
            sshd: Sshd::start_static(&public),
            key,
            dir,
        }
    }

    /// Writes a template with a `null` builder connected to the sshd and `provisioners`.
    pub(crate) fn template(&self, provisioners: Value) -> PathBuf {
        let t = json!({
            "builders": [{
                "type": "null",
                "ssh_host": self.sshd.host(),
                "ssh_port": self.sshd.port(),
                "ssh_username": self.sshd.user(),
                "ssh_private_key_file": self.key,
                "ssh_timeout": "30s"
            }],
            "provisioners": provisioners
        });
        let p = self.dir.join("template.json");
        std::fs::write(&p, serde_json::to_string_pretty(&t).unwrap()).unwrap();
        p
    }

    /// `rpack <cmd> template.json` with the venv's Ansible first on PATH and a private TMPDIR.
    pub(crate) fn rpack(&self, cmd: &str, template: &Path) -> (Output, String) {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let path = self.path_with_venv();
        let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
            .args([cmd, &template.display().to_string()])
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("TMPDIR", &tmp)
            .env("RPACK_STATE_DIR", self.dir.join("state"))
            .env("ANSIBLE_LOCAL_TEMP", self.dir.join("ansible-tmp"))
            .env_remove("PACKER_LOG")
            .output()
            .expect("running rpack");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    }

    /// `rpack build template` started in the background (same environment as [`Self::rpack`],
    /// stderr discarded).
    pub(crate) fn spawn_build(
        &self,
        template: &Path,
        stdout: std::process::Stdio,
    ) -> std::process::Child {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        Command::new(env!("CARGO_BIN_EXE_rpack"))
            .args(["build", &template.display().to_string()])
            .current_dir(&self.dir)
            .env("PATH", self.path_with_venv())
            .env("TMPDIR", &tmp)
            .env("RPACK_STATE_DIR", self.dir.join("state"))
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// PATH with the venv's Ansible first.
    pub(crate) fn path_with_venv(&self) -> String {
        format!(
            "{}:{}",
            venv_bin("ansible-playbook").parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Runs `cmd` on the instance as the login user; its stdout.
    pub(crate) fn ssh(&self, cmd: &str) -> String {
        let out = self.sshd.ssh(&self.key, cmd);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Files rpack left in its TMPDIR (keys, inventories): none is allowed.
    pub(crate) fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.join("tmp"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) fn chmod_tree(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut cur = Some(p);
    while let Some(d) = cur {
        if let Ok(m) = std::fs::metadata(d) {
            let mode = m.permissions().mode();
            let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755));
        }
        cur = d.parent();
    }
}

pub(crate) fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A role `greet` packed as a galaxy tarball and a requirements file pointing at it.
fn galaxy_role(dir: &Path) -> PathBuf {
    let src = dir.join("role-src");
    write(
        &src.join("greet/tasks/main.yml"),
        "- name: greet\n  copy:\n    dest: \"{{ out_dir }}/role.txt\"\n    content: \"{{ greeting }} from role\\n\"\n",
    );
    write(
        &src.join("greet/meta/main.yml"),
        "galaxy_info:\n  author: rpack\n  description: test role\n  license: MIT\n  min_ansible_version: '2.9'\n  platforms: []\ndependencies: []\n",
    );
    let tarball = dir.join("greet.tar.gz");
    let st = Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .arg("greet")
        .status()
        .unwrap();
    assert!(st.success());
    let req = dir.join("requirements.yml");
    write(
        &req,
        &format!("- src: file://{}\n  name: greet\n", tarball.display()),
    );
    req
}

/// A real playbook with a role from a galaxy requirements file (resolved from a local
/// tarball), extra variables, facts and `become` via sudo; directly over ssh or, with
/// `use_proxy`, through rpack's SSH proxy. Checks what landed on the instance.
fn galaxy_role_with_extra_vars_and_become(use_proxy: bool) {
    let name = if use_proxy {
        "cm-ansible-proxy-role"
    } else {
        "cm-ansible"
    };
    let inst = Instance::start(name);
    let out_dir = format!("/tmp/rpack-{name}-{}", inst.sshd.port());
    let req = galaxy_role(&inst.dir);
    let play = inst.dir.join("site.yml");
    write(
        &play,
        &format!(
            r#"- hosts: default
  gather_facts: true
  vars:
    out_dir: "{out_dir}"
  pre_tasks:
    - file: {{ path: "{out_dir}", state: directory, mode: "0755" }}
      become: true
  roles:
    - role: greet
      become: true
  tasks:
    - copy:
        dest: "{out_dir}/vars.txt"
        content: "{{{{ packer_build_name }}}} {{{{ packer_builder_type }}}} {{{{ greeting }}}} {{{{ ansible_user_id }}}}\n"
      become: true
"#
        ),
    );
    let mut p = json!({
        "type": "ansible",
        "playbook_file": play,
        "galaxy_file": req,
        "roles_path": inst.dir.join("roles"),
        "ansible_env_vars": [format!("ANSIBLE_ROLES_PATH={}", inst.dir.join("roles").display())],
        "extra_arguments": ["--extra-vars", "greeting=hello"]
    });
    if use_proxy {
        p["use_proxy"] = json!(true);
    }
    let t = inst.template(json!([p]));
    let (out, text) = inst.rpack("build", &t);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Executing Ansible Galaxy"), "{text}");
    assert!(text.contains("greet was installed successfully"), "{text}");
    assert!(text.contains("PLAY RECAP"), "{text}");
    if use_proxy {
        assert!(text.contains("SSH proxy: serving on 127.0.0.1:"), "{text}");
        assert!(!text.contains("Not using Proxy adapter"), "{text}");
    } else {
        // The host key rpack's own connection saw is pinned for Ansible's ssh.
        assert!(
            text.contains(
                "-o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="
            ),
            "{text}"
        );
    }
    assert_eq!(
        inst.ssh(&format!(
            "cat {out_dir}/vars.txt {out_dir}/role.txt; stat -c %U {out_dir}/role.txt"
        )),
        "null null hello ec2-user\nhello from role\nroot\n"
    );
    assert_eq!(
        inst.leftovers(),
        Vec::<String>::new(),
        "key/inventory files left behind"
    );
    inst.ssh(&format!("sudo rm -rf {out_dir}"));
}

#[test]
fn ansible_runs_a_galaxy_role_with_extra_vars_and_become_directly_over_ssh() {
    galaxy_role_with_extra_vars_and_become(false);
}

#[test]
fn ansible_runs_a_galaxy_role_with_extra_vars_and_become_through_the_proxy() {
    galaxy_role_with_extra_vars_and_become(true);
}

#[test]
fn a_failing_playbook_fails_the_build_with_the_status_and_last_lines() {
    let inst = Instance::start("cm-ansible-fail");
    let play = inst.dir.join("fail.yml");
    write(
        &play,
        "- hosts: default\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n",
    );
    let t = inst.template(json!([{"type": "ansible", "playbook_file": play}]));
    let (out, text) = inst.rpack("build", &t);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("Error executing Ansible: Non-zero exit status: exit status 2"),
        "{text}"
    );
    assert!(text.contains("Last output lines:"), "{text}");
    assert_eq!(inst.leftovers(), Vec::<String>::new());
}

#[test]
fn ansible_local_runs_the_playbook_on_the_instance() {
    let inst = Instance::start("cm-ansible-local");
    let out_dir = format!("/tmp/rpack-cm-local-{}", inst.sshd.port());
    let play = inst.dir.join("local.yml");
    write(
        &play,
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: \"{out_dir}.txt\"\n        content: \"{{{{ packer_build_name }}}} {{{{ who }}}}\\n\"\n"
        ),
    );
    let playbook_cmd = format!(
        "PYTHONUNBUFFERED=1 {}",
        venv_bin("ansible-playbook").display()
    );
    let t = inst.template(json!([{
        "type": "ansible-local",
        "playbook_file": play,
        "command": playbook_cmd,
        "extra_arguments": ["--extra-vars", "who=local"],
        "clean_staging_directory": true,
        "staging_directory": format!("/tmp/rpack-cm-stage-{}", inst.sshd.port())
    }]));
    let (out, text) = inst.rpack("build", &t);
    assert!(out.status.success(), "{text}");
    assert_eq!(inst.ssh(&format!("cat {out_dir}.txt")), "null local\n");
    assert_eq!(
        inst.ssh(&format!(
            "test -e /tmp/rpack-cm-stage-{} && echo left",
            inst.sshd.port()
        )),
        "",
        "staging directory cleaned"
    );
    inst.ssh(&format!("rm -f {out_dir}.txt"));
}

#[test]
fn puppet_apply_runs_for_real_with_facts() {
    let inst = Instance::start("cm-puppet");
    let out = format!("/tmp/rpack-cm-puppet-{}.txt", inst.sshd.port());
    let manifest = inst.dir.join("site.pp");
    write(
        &manifest,
        &format!("file {{ '{out}': content => \"${{facts['role']}} ${{facts['packer_build_name']}}\\n\" }}\n"),
    );
    let t = inst.template(json!([{
        "type": "puppet-masterless",
        "manifest_file": manifest,
        "facter": {"role": "web"},
        "clean_staging_directory": true
    }]));
    let (o, text) = inst.rpack("build", &t);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains(
            "Running Puppet: cd /tmp/packer-puppet-masterless && FACTER_packer_build_name='null'"
        ),
        "{text}"
    );
    assert_eq!(inst.ssh(&format!("cat {out}")), "web null\n");
    inst.ssh(&format!("sudo rm -f {out}"));
}

#[test]
fn chef_solo_gets_packers_files_and_command_through_a_recording_stand_in() {
    // Chef is not installable here: a stand-in records the arguments and the two files.
    let inst = Instance::start("cm-chef");
    let rec = format!("/tmp/rpack-cm-chef-{}", inst.sshd.port());
    let stand_in = inst.dir.join("chef-solo");
    write(
        &stand_in,
        &format!(
            "#!/bin/sh\nmkdir -p {rec}\necho \"$@\" > {rec}/args\nwhile [ $# -gt 0 ]; do case $1 in -c) cp $2 {rec}/solo.rb;; -j) cp $2 {rec}/node.json;; esac; shift; done\nid -un > {rec}/user\n"
        ),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let books = inst.dir.join("cookbooks/web/recipes");
    write(&books.join("default.rb"), "log 'hi'\n");
    let st = format!("/tmp/rpack-cm-chef-stage-{}", inst.sshd.port());
    let t = inst.template(json!([{
        "type": "chef-solo",
        "skip_install": true,
        "staging_directory": st,
        "cookbook_paths": [inst.dir.join("cookbooks")],
        "run_list": ["recipe[web]"],
        "json": {"app": {"port": 8080}},
        "execute_command": format!("{{{{if .Sudo}}}}sudo {{{{end}}}}{} --no-color -c {{{{.ConfigPath}}}} -j {{{{.JsonPath}}}}", stand_in.display())
    }]));
    let (o, text) = inst.rpack("build", &t);
    assert!(o.status.success(), "{text}");
    assert_eq!(
        inst.ssh(&format!("cat {rec}/args {rec}/user")),
        format!("--no-color -c {st}/solo.rb -j {st}/node.json\nroot\n")
    );
    assert_eq!(
        inst.ssh(&format!("cat {rec}/solo.rb")),
        format!("\nchef_license \t\t\"\"\ncookbook_path \t[\"{st}/cookbooks-0\"]\n\n\n\n\n")
    );
    assert_eq!(
        inst.ssh(&format!("cat {rec}/node.json")),
        "{\n  \"app\": {\n    \"port\": 8080\n  },\n  \"run_list\": [\n    \"recipe[web]\"\n  ]\n}"
    );
    assert_eq!(
        inst.ssh(&format!("cat {st}/cookbooks-0/web/recipes/default.rb")),
        "log 'hi'\n"
    );
    inst.ssh(&format!("sudo rm -rf {rec} {st}"));
}

#[test]
fn salt_call_local_runs_a_state_tree() {
    let inst = Instance::start("cm-salt");
    let out = format!("/tmp/rpack-cm-salt-{}.txt", inst.sshd.port());
    let tree = inst.dir.join("salt");
    write(&tree.join("top.sls"), "base:\n  '*':\n    - web\n");
    // The `web` state comes from a formula: a git repository tagged v1 (a later commit on the
    // branch must not be what is fetched).
    let repo = inst.dir.join("web-formula.git");
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=rpack", "-c", "user.email=rpack@localhost"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(st.status.success(), "git {args:?}: {st:?}");
    };
    write(
        &repo.join("web/init.sls"),
        &format!("{out}:\n  file.managed:\n    - contents: salted\n"),
    );
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "v1"]);
    git(&["tag", "v1"]);
    write(&repo.join("web/init.sls"), "broken: [\n");
    git(&["commit", "-q", "-am", "later"]);
    let t = inst.template(json!([{
        "type": "salt-masterless",
        "local_state_tree": tree,
        "formulas": [format!("git::file://{}//web?ref=v1", repo.display())],
        "skip_bootstrap": true,
        "salt_bin_dir": salt_bin("salt-call").parent().unwrap()
    }]));
    let (o, text) = inst.rpack("build", &t);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("Downloading Salt formulas..."), "{text}");
    assert_eq!(inst.ssh(&format!("cat {out}")), "salted\n");
    assert!(
        tree.join("web/init.sls").is_file(),
        "formula not in the state tree"
    );
    inst.ssh(&format!("sudo rm -f {out}"));
}

/// Missing paths, wrong types and an unknown tool: validate errors with the template position.
#[test]
fn bad_input_is_reported_at_validate_with_the_position() {
    let inst = Instance::start("cm-bad");
    let t = inst.template(json!([
        {"type": "ansible", "playbook_file": "missing.yml", "skip_version_check": true},
        {"type": "ansible", "playbook_file": "missing.yml", "command": "rpack-no-ansible-here"},
        {"type": "ansible-local", "playbook_files": "x.yml", "playbook_file": "y.yml"},
        {"type": "chef-solo", "cookbook_paths": ["no-books"], "prevent_sudo": "maybe"},
        {"type": "puppet-masterless"},
        {"type": "salt-masterless", "local_state_tree": 5},
        {"type": "ansible", "playbook_file": "missing.yml", "skip_version_check": true, "use_proxy": true, "local_port": 65536}
    ]));
    let (o, text) = inst.rpack("validate", &t);
    assert!(!o.status.success(), "{text}");
    // Long lines are wrapped like Packer's; compare on one line.
    let text = text.replace('\n', " ");
    for want in [
        "playbook_file: missing.yml is invalid: stat missing.yml: no such file or directory (template.json:15:24)",
        "Error running \"rpack-no-ansible-here --version\": rpack-no-ansible-here is not installed or not on PATH",
        "Either playbook_file or playbook_files can be specified, not both",
        "Bad cookbook path 'no-books': stat no-books: no such file or directory (template.json:",
        "cannot parse 'prevent_sudo' as bool",
        "local_state_tree: path '5' is invalid",
        "A manifest_file must be specified.",
        "local_port: 65536 must be a valid port",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// `use_proxy: true`: Ansible's ssh talks to rpack's loopback SSH proxy, which relays every
/// command and SFTP transfer over rpack's own connection to the instance: module uploads, a
/// `copy` of a local file, `become`, a `fetch` back to this machine, a failing command's status.
#[test]
fn ansible_through_the_proxy_runs_commands_and_moves_files_both_ways() {
    let inst = Instance::start("cm-ansible-proxy");
    let out_dir = format!("/tmp/rpack-cm-proxy-{}", inst.sshd.port());
    let payload = inst.dir.join("payload.txt");
    let body: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    write(&payload, &body);
    let fetched = inst.dir.join("fetched");
    let play = inst.dir.join("proxy.yml");
    write(
        &play,
        &format!(
            r#"- hosts: default
  gather_facts: false
  tasks:
    - file: {{ path: "{out_dir}", state: directory, mode: "0755" }}
    - copy: {{ src: "{payload}", dest: "{out_dir}/payload.txt", mode: "0640" }}
    - shell: "id -un > {out_dir}/root.txt"
      become: true
    - command: "cat /proc/self/loginuid"
      register: who
    - fetch: {{ src: "{out_dir}/payload.txt", dest: "{fetched}/", flat: true }}
    - shell: "exit 3"
      register: three
      failed_when: three.rc != 3
"#,
            payload = payload.display(),
            fetched = fetched.display()
        ),
    );
    let t = inst.template(json!([{
        "type": "ansible",
        "playbook_file": play,
        "use_proxy": true
    }]));
    let (out, text) = inst.rpack("build", &t);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SSH proxy: serving on 127.0.0.1:"), "{text}");
    assert!(
        text.contains("ansible_host=127.0.0.1") || text.contains("PLAY RECAP"),
        "{text}"
    );
    assert!(text.contains("ok=6") && text.contains("failed=0"), "{text}");
    assert_eq!(
        inst.ssh(&format!(
            "stat -c %a {out_dir}/payload.txt; cat {out_dir}/root.txt; md5sum < {out_dir}/payload.txt"
        )),
        format!("640\nroot\n{}", md5_line(&body))
    );
    assert_eq!(
        std::fs::read_to_string(fetched.join("payload.txt")).unwrap(),
        body
    );
    assert_eq!(inst.leftovers(), Vec::<String>::new());
    inst.ssh(&format!("sudo rm -rf {out_dir}"));
}

/// The proxy relays a command's standard input: with pipelining (rpack's default) every module
/// reaches the remote Python through it, `ANSIBLE_SSH_TRANSFER_METHOD=piped` copies files with
/// `dd` fed through it, and a task's `stdin:` reaches its command. The data is checked on the
/// instance byte for byte.
#[test]
fn ansible_through_the_proxy_forwards_standard_input() {
    let inst = Instance::start("cm-ansible-proxy-stdin");
    let out_dir = format!("/tmp/rpack-cm-proxy-stdin-{}", inst.sshd.port());
    let payload = inst.dir.join("payload.txt");
    let body: String = (0..20000).map(|i| format!("stdin line {i}\n")).collect();
    write(&payload, &body);
    let play = inst.dir.join("stdin.yml");
    write(
        &play,
        &format!(
            r#"- hosts: default
  gather_facts: false
  tasks:
    - file: {{ path: "{out_dir}", state: directory, mode: "0755" }}
    - copy: {{ src: "{payload}", dest: "{out_dir}/copied.txt" }}
    - shell: "cat > {out_dir}/piped.txt"
      args:
        stdin: "{{{{ lookup('file', '{payload}') }}}}"
    - command: "md5sum"
      args:
        stdin: "through the proxy"
      register: sum
    - copy: {{ dest: "{out_dir}/sum.txt", content: "{{{{ sum.stdout }}}}\n" }}
"#,
            payload = payload.display(),
        ),
    );
    let t = inst.template(json!([{
        "type": "ansible",
        "playbook_file": play,
        "use_proxy": true,
        "ansible_env_vars": ["ANSIBLE_SSH_TRANSFER_METHOD=piped"]
    }]));
    let (out, text) = inst.rpack("build", &t);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok=5") && text.contains("failed=0"), "{text}");
    // `lookup('file')` drops the final newline; `stdin:` adds one back.
    assert_eq!(
        inst.ssh(&format!(
            "md5sum < {out_dir}/copied.txt; md5sum < {out_dir}/piped.txt; cat {out_dir}/sum.txt"
        )),
        format!(
            "{}{}{}",
            md5_line(&body),
            md5_line(&body),
            md5_line("through the proxy\n")
        )
    );
    assert_eq!(inst.leftovers(), Vec::<String>::new());
    inst.ssh(&format!("rm -rf {out_dir}"));
}

fn md5_line(body: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// The configuration-management provisioners stream their tools' output through the build's
/// masking: a sensitive variable passed as an extra variable (`ansible`, `ansible-local`) or a
/// fact (`puppet-masterless`) and printed by the play or the manifest shows as `<sensitive>`,
/// and the command lines rpack prints hold it masked too.
#[test]
fn cm_provisioners_mask_sensitive_variables_in_their_output() {
    const SECRET: &str = "cmSEKRIT-4e1b-CANARYvalue";
    let inst = Instance::start("cm-mask");
    let play = inst.dir.join("show.yml");
    write(
        &play,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"the secret is {{ secret }}\"\n",
    );
    let manifest = inst.dir.join("show.pp");
    write(
        &manifest,
        "notify { \"puppet says ${facts['secret']}\": }\n",
    );
    let playbook_cmd = format!(
        "PYTHONUNBUFFERED=1 {}",
        venv_bin("ansible-playbook").display()
    );
    let t = inst.template(json!([
        {
            "type": "ansible",
            "playbook_file": play,
            "extra_arguments": ["--extra-vars", "secret={{user `secret`}}"]
        },
        {
            "type": "ansible-local",
            "playbook_file": play,
            "command": playbook_cmd,
            "extra_arguments": ["--extra-vars", "secret={{user `secret`}}"],
            "staging_directory": format!("/tmp/rpack-cm-mask-{}", inst.sshd.port()),
            "clean_staging_directory": true
        },
        {
            "type": "puppet-masterless",
            "manifest_file": manifest,
            "facter": {"secret": "{{user `secret`}}"},
            "staging_directory": format!("/tmp/rpack-cm-mask-puppet-{}", inst.sshd.port()),
            "clean_staging_directory": true
        }
    ]));
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap();
    doc["variables"] = json!({ "secret": SECRET });
    doc["sensitive-variables"] = json!(["secret"]);
    std::fs::write(&t, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let (o, text) = inst.rpack("build", &t);
    assert!(o.status.success(), "{text}");
    assert_eq!(
        text.matches("\"msg\": \"the secret is <sensitive>\"")
            .count(),
        2,
        "ansible and ansible-local each printed it masked:\n{text}"
    );
    assert!(text.contains("puppet says <sensitive>"), "{text}");
    assert!(text.contains("secret=<sensitive>"), "{text}");
    assert!(!text.contains("CANARY"), "a secret leaked:\n{text}");
    assert_eq!(inst.leftovers(), Vec::<String>::new());
}
