//! `ansible-local` decoding and run logic against the fake communicator: Packer 1.6.6's
//! uploads and command lines.

use super::*;
use crate::provisioners::testing::{Call, Fixture, Reply};

crate::provisioners::testing::config_decoder!("ansible-local", AnsibleLocal);

#[tokio::test]
async fn uploads_and_runs_the_playbook_with_packers_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let play = dir.path().join("site.yml");
    let galaxy = dir.path().join("requirements.yml");
    let gv = dir.path().join("group_vars");
    let role = dir.path().join("web");
    std::fs::write(&play, "- hosts: all\n").unwrap();
    std::fs::write(&galaxy, "- src: x\n").unwrap();
    std::fs::create_dir(&gv).unwrap();
    std::fs::create_dir(&role).unwrap();
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_file": "{}", "galaxy_file": "{}", "group_vars": "{}", "role_paths": ["{}"],
            "staging_directory": "/tmp/st", "inventory_groups": ["web", "db"],
            "extra_arguments": ["--tags", "base"], "clean_staging_directory": true}}"#,
        play.display(),
        galaxy.display(),
        gv.display(),
        role.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let fx = Fixture::new();
    provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap();
    let calls = fx.comm.calls();
    let inventory = calls
        .iter()
        .find_map(|c| match c {
            Call::Upload(p, content, _)
                if p.starts_with("/tmp/st/packer-provisioner-ansible-local") =>
            {
                Some((p.clone(), content.clone()))
            }
            _ => None,
        })
        .expect("inventory uploaded");
    assert_eq!(inventory.1, b"[web]\n127.0.0.1\n[db]\n127.0.0.1\n");
    let run = format!(
        "cd /tmp/st && ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /tmp/st/site.yml \
         --extra-vars \"packer_build_name=web packer_builder_type=amazon-ebs packer_http_addr=ErrHTTPAddrNotImplemented -o IdentitiesOnly=yes\" \
         --tags base -c local -i {}",
        inventory.0
    );
    assert_eq!(
        calls,
        vec![
            Call::Start("mkdir -p '/tmp/st'".into()),
            Call::Upload("/tmp/st/site.yml".into(), b"- hosts: all\n".to_vec(), None),
            Call::Upload(
                "/tmp/st/requirements.yml".into(),
                b"- src: x\n".to_vec(),
                None
            ),
            Call::Upload(inventory.0.clone(), inventory.1.clone(), None),
            Call::Start("mkdir -p '/tmp/st/group_vars'".into()),
            Call::UploadDir(gv.display().to_string(), "/tmp/st/group_vars".into()),
            Call::Start("mkdir -p '/tmp/st/roles/web'".into()),
            Call::UploadDir(role.display().to_string(), "/tmp/st/roles/web".into()),
            Call::Start(
                "cd /tmp/st && ansible-galaxy install -r /tmp/st/requirements.yml -p /tmp/st/roles"
                    .into()
            ),
            Call::Start(run.clone()),
            Call::Start("rm -rf '/tmp/st'".into()),
        ]
    );
    assert!(fx
        .ui
        .lines()
        .contains(&format!("message: Executing Ansible: {run}")));
}

#[tokio::test]
async fn missing_ansible_on_the_instance_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let play = dir.path().join("site.yml");
    std::fs::write(&play, "").unwrap();
    let (c, _) = cfg(&format!(r#"{{"playbook_file": "{}"}}"#, play.display()));
    assert!(c
        .staging_directory
        .starts_with("/tmp/packer-provisioner-ansible-local/"));
    let fx = Fixture::with_replies(vec![
        Reply::Status(0, vec![]),
        Reply::Status(127, vec!["ERR:sh: 1: ansible-playbook: not found".into()]),
    ]);
    let e = provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Error executing Ansible: ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook could not be found. \
         Verify that it is available on the\nPATH after connecting to the machine."
    );
    let fx = Fixture::with_replies(vec![
        Reply::Status(0, vec![]),
        Reply::Status(2, vec!["fatal: [127.0.0.1]: FAILED!".into()]),
    ]);
    let e = provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Error executing Ansible: Non-zero exit status: 2\nLast output lines:\n  fatal: [127.0.0.1]: FAILED!"
    );
}

#[tokio::test]
async fn playbook_files_keep_their_local_path_under_the_staging_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yml");
    std::fs::write(&a, "").unwrap();
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_files": ["{}"], "staging_directory": "/s"}}"#,
        a.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let fx = Fixture::new();
    provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap();
    let cmds = fx.comm.commands();
    assert_eq!(cmds[1], format!("mkdir -p '/s{}'", dir.path().display()));
    assert!(
        cmds[2].starts_with(&format!(
            "cd /s && ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook /s{} ",
            a.display()
        )),
        "{cmds:?}"
    );
}

#[test]
fn playbook_checks_match_packer() {
    let (_, errs) = cfg(r"{}");
    assert_eq!(
        errs,
        ["Either playbook_file or playbook_files must be specified"]
    );
    let (_, errs) = cfg(
        r#"{"playbook_file": "/nonexistent/p.yml", "playbook_files": ["/tmp"], "role_paths": ["/nonexistent/r"]}"#,
    );
    assert_eq!(
        errs,
        [
            "Either playbook_file or playbook_files can be specified, not both",
            "playbook_file: /nonexistent/p.yml is invalid: stat /nonexistent/p.yml: no such file or directory",
            "playbook_files: /tmp must point to a file",
            "role_paths: /nonexistent/r is invalid: stat /nonexistent/r: no such file or directory",
        ]
    );
}
