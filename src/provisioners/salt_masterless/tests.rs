//! `salt-masterless` decoding and run logic against the fake communicator.

use tokio_util::sync::CancellationToken;

use super::*;
use crate::provisioners::testing::{decode, Call, FakeComm, Reply};
use crate::provisioners::Provisioner;
use crate::ui::testing::Recording;

fn cfg(json: &str) -> (Config, Vec<String>) {
    match decode("salt-masterless", json) {
        (Provisioner::SaltMasterless(c), errs) => (*c, errs),
        _ => unreachable!(),
    }
}

#[test]
fn salt_call_arguments_follow_packer() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().display();
    let (c, errs) = cfg(&format!(r#"{{"local_state_tree": "{t}"}}"#));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        c.cmd_args,
        " state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar --retcode-passthrough -l info"
    );
    let (c, _) = cfg(&format!(
        r#"{{"local_state_tree": "{t}", "custom_state": "web", "no_exit_on_failure": true,
            "log_level": "debug", "salt_call_args": "--state-output=mixed", "remote_state_tree": "/srv/x"}}"#
    ));
    assert_eq!(
        c.cmd_args,
        " state.sls web --file-root=/srv/x --pillar-root=/srv/pillar -l debug --state-output=mixed"
    );
}

#[test]
fn bad_input_is_a_validate_error() {
    let (_, errs) = cfg(r"{}");
    assert_eq!(errs, ["local_state_tree cannot be empty"]);
    let (_, errs) = cfg(
        r#"{"local_state_tree": "/nonexistent/salt", "formulas": ["https://example.com/x"],
            "minion_config": "/nonexistent/minion", "remote_state_tree": "/srv/x"}"#,
    );
    assert_eq!(
        errs,
        [
            "local_state_tree: path '/nonexistent/salt' is invalid: stat /nonexistent/salt: no such file or directory",
            "Invalid formula URL. Please verify the git URLs also contain a '//' subdir",
            "minion_config: path '/nonexistent/minion' is invalid: stat /nonexistent/minion: no such file or directory",
            "remote_state_tree and remote_pillar_roots only apply when minion_config is not used",
        ]
    );
    assert!(valid_formula_url_for_test(
        "https://github.com/saltstack-formulas/nginx-formula.git//nginx?ref=v1"
    ));
}

fn valid_formula_url_for_test(u: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (_, errs) = cfg(&format!(
        r#"{{"local_state_tree": "{}", "formulas": ["{u}"]}}"#,
        dir.path().display()
    ));
    errs.is_empty()
}

#[tokio::test]
async fn bootstrap_staging_moves_and_salt_call() {
    let dir = tempfile::tempdir().unwrap();
    let states = dir.path().join("states");
    let minion = dir.path().join("minion");
    std::fs::create_dir(&states).unwrap();
    std::fs::write(&minion, "file_client: local\n").unwrap();
    let (c, errs) = cfg(&format!(
        r#"{{"local_state_tree": "{}", "minion_config": "{}", "bootstrap_args": "-P stable"}}"#,
        states.display(),
        minion.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
    // stat of /srv/salt succeeds: the old tree is removed before the new one moves in.
    let comm = FakeComm::default();
    let ui = Recording::default();
    provision(
        &c,
        &ui,
        &comm,
        &RunData::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        comm.calls(),
        vec![
            Call::Start(config::BOOTSTRAP_FETCH.into()),
            Call::Start("sudo sh /tmp/install_salt.sh -P stable".into()),
            Call::Start("sudo mkdir -p '/tmp/salt'".into()),
            Call::Upload("minion".into(), b"file_client: local\n".to_vec(), None),
            Call::Start("sudo mv 'minion' '/tmp/salt/minion'".into()),
            Call::Start("sudo mkdir -p '/etc/salt'".into()),
            Call::Start("sudo mv '/tmp/salt/minion' '/etc/salt/minion'".into()),
            Call::Start("sudo rm -rf 'states' '/tmp/salt/states'".into()),
            Call::UploadDir(states.display().to_string(), "states".into()),
            Call::Start("sudo mv 'states' '/tmp/salt/states'".into()),
            Call::Start("sudo stat '/srv/salt'".into()),
            Call::Start("sudo rm -rf '/srv/salt'".into()),
            Call::Start("sudo mv '/tmp/salt/states' '/srv/salt'".into()),
            Call::Start(
                "sudo salt-call --local  state.highstate --retcode-passthrough -l info".into()
            ),
        ]
    );
}

#[tokio::test]
async fn a_failing_state_run_reports_status_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = cfg(&format!(
        r#"{{"local_state_tree": "{}", "skip_bootstrap": true, "disable_sudo": true, "salt_bin_dir": "/opt/salt/bin"}}"#,
        dir.path().display()
    ));
    let mut replies: Vec<Reply> = (0..3).map(|_| Reply::Status(0, vec![])).collect();
    replies.push(Reply::Status(1, vec![])); // stat: no tree yet
    replies.push(Reply::Status(0, vec![])); // mv
    replies.push(Reply::Status(2, vec!["Failed:    1".into()]));
    let comm = FakeComm::with_replies(replies);
    let e = provision(
        &c,
        &Recording::default(),
        &comm,
        &RunData::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "Error executing salt-call: Bad exit status: 2\nLast output lines:\n  Failed:    1"
    );
    let cmds = comm.commands();
    assert!(
        !cmds.iter().any(|c| c.starts_with("rm -rf '/srv/salt'")),
        "{cmds:?}"
    );
    assert_eq!(
        cmds.last().unwrap(),
        "/opt/salt/bin/salt-call --local  state.highstate --file-root=/srv/salt --pillar-root=/srv/pillar --retcode-passthrough -l info"
    );
}
