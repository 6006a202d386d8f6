//! `puppet-masterless` decoding and run logic against the fake communicator: Packer 1.6.6's
//! uploads and `puppet apply` command line.

use tokio_util::sync::CancellationToken;

use super::*;
use crate::provisioners::testing::{build_data as data, decode, Call, FakeComm, Reply};
use crate::provisioners::Provisioner;
use crate::ui::testing::Recording;

fn cfg(json: &str) -> (Config, Vec<String>) {
    match decode("puppet-masterless", json) {
        (Provisioner::PuppetMasterless(c), errs) => (*c, errs),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn manifest_modules_hiera_facts_and_the_apply_command() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("site.pp");
    let hiera = dir.path().join("hiera.yaml");
    let modules = dir.path().join("modules");
    std::fs::write(&manifest, "notify { 'hi': }\n").unwrap();
    std::fs::write(&hiera, "---\n").unwrap();
    std::fs::create_dir(&modules).unwrap();
    let (c, errs) = cfg(&format!(
        r#"{{"manifest_file": "{}", "hiera_config_path": "{}", "module_paths": ["{}"],
            "facter": {{"role": "it's web"}}, "extra_arguments": ["--verbose", "--environment={{{{.WorkingDir}}}}"],
            "clean_staging_directory": true}}"#,
        manifest.display(),
        hiera.display(),
        modules.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
    // Status 2 = changes applied (--detailed-exitcodes): success.
    let comm = FakeComm::with_replies(vec![
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(2, vec!["Notice: hi".into()]),
    ]);
    let ui = Recording::default();
    provision(&c, &ui, &comm, &data(), &CancellationToken::new())
        .await
        .unwrap();
    let st = "/tmp/packer-puppet-masterless";
    let apply = format!(
        "cd {st} && FACTER_packer_build_name='web' FACTER_packer_builder_type='amazon-ebs' FACTER_role='it'\"'\"'s web' \
         sudo -E puppet apply --detailed-exitcodes --modulepath='{st}/module-0' --hiera_config='{st}/hiera.yaml' \
         --verbose --environment={st} {st}/manifests/site.pp"
    );
    assert_eq!(
        comm.calls(),
        vec![
            Call::Start(format!("sudo mkdir -p '{st}'")),
            Call::Start(format!("sudo chmod 0777 '{st}'")),
            Call::Upload(format!("{st}/hiera.yaml"), b"---\n".to_vec(), None),
            Call::Start(format!("sudo mkdir -p '{st}/module-0'")),
            Call::Start(format!("sudo chmod 0777 '{st}/module-0'")),
            Call::UploadDir(modules.display().to_string(), format!("{st}/module-0")),
            Call::Start(format!("sudo mkdir -p '{st}/manifests'")),
            Call::Start(format!("sudo chmod 0777 '{st}/manifests'")),
            Call::Upload(
                format!("{st}/manifests/site.pp"),
                b"notify { 'hi': }\n".to_vec(),
                None
            ),
            Call::Start(apply.clone()),
            Call::Start(format!("sudo rm -rf '{st}'")),
        ]
    );
    assert!(ui
        .lines()
        .contains(&format!("message: Running Puppet: {apply}")));
    assert!(ui.lines().contains(&"message: Notice: hi".to_string()));
}

#[tokio::test]
async fn exit_codes_other_than_0_and_2_fail_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("site.pp");
    std::fs::write(&manifest, "").unwrap();
    let json = |extra: &str| {
        format!(
            r#"{{"manifest_file": "{}", "prevent_sudo": true, "puppet_bin_dir": "/opt/puppetlabs/bin"{extra}}}"#,
            manifest.display()
        )
    };
    let (c, _) = cfg(&json(""));
    let replies = || {
        let mut r: Vec<Reply> = (0..4).map(|_| Reply::Status(0, vec![])).collect();
        r.push(Reply::Status(4, vec!["ERR:Error: failed".into()]));
        r
    };
    let comm = FakeComm::with_replies(replies());
    let e = provision(
        &c,
        &Recording::default(),
        &comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "Puppet exited with a non-zero exit status: 4\nLast output lines:\n  Error: failed"
    );
    let cmds = comm.commands();
    assert!(
        cmds.last().unwrap().starts_with(
            "cd /tmp/packer-puppet-masterless && FACTER_packer_build_name='web' FACTER_packer_builder_type='amazon-ebs' /opt/puppetlabs/bin/puppet apply --detailed-exitcodes /tmp/"
        ),
        "{cmds:?}"
    );
    assert_eq!(cmds[0], "mkdir -p '/tmp/packer-puppet-masterless'");

    let (c, _) = cfg(&json(r#", "ignore_exit_codes": true"#));
    let comm = FakeComm::with_replies(replies());
    provision(
        &c,
        &Recording::default(),
        &comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
}

#[test]
fn missing_manifest_and_bad_paths_are_validate_errors() {
    let (_, errs) =
        cfg(r#"{"module_paths": ["/nonexistent/m"], "hiera_config_path": "/nonexistent/h.yaml"}"#);
    assert_eq!(
        errs,
        [
            "hiera_config_path is invalid: stat /nonexistent/h.yaml: no such file or directory",
            "A manifest_file must be specified.",
            "module_path[0] is invalid: stat /nonexistent/m: no such file or directory",
        ]
    );
    let (_, errs) = cfg(r#"{"manifest_file": "/nonexistent/site.pp"}"#);
    assert_eq!(
        errs,
        ["manifest_file is invalid: stat /nonexistent/site.pp: no such file or directory"]
    );
}
