//! `shell` run logic against the fake communicator.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::provisioners::testing::{build_data as data, Call, FakeComm, Reply};
use crate::ui::testing::Recording;

fn cfg(inline: &[&str]) -> Config {
    Config {
        inline: Some(
            inline
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        ),
        inline_shebang: "/bin/sh -e".into(),
        scripts: vec![],
        environment_vars: vec!["FOO=bar".into()],
        env: vec![],
        env_var_format: "%s='%s' ".into(),
        execute_command: "chmod +x {{.Path}}; {{.Vars}} {{.Path}}".into(),
        use_env_var_file: false,
        remote_folder: "/tmp".into(),
        remote_file: "script_1.sh".into(),
        remote_path: "/tmp/script_1.sh".into(),
        skip_clean: false,
        expect_disconnect: false,
        start_retry_timeout: Duration::from_secs(5),
        valid_exit_codes: vec![0],
        pause_after: None,
        binary: false,
        warnings: vec![],
    }
}

/// Runs the provisioner `c` against `comm` with a throwaway UI.
async fn run(c: &Config, comm: &FakeComm) -> anyhow::Result<()> {
    provision(
        c,
        &Recording::default(),
        comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
}

#[tokio::test]
async fn inline_script_is_uploaded_chmodded_run_and_removed() {
    let comm = FakeComm::with_replies(vec![Reply::Status(
        0,
        vec!["hello".into(), "ERR:warn".into()],
    )]);
    let ui = Recording::default();
    provision(
        &cfg(&["echo hello"]),
        &ui,
        &comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let calls = comm.calls();
    assert_eq!(
        calls[0],
        Call::Upload(
            "/tmp/script_1.sh".into(),
            b"#!/bin/sh -e\necho hello\n".to_vec(),
            Some(0o755)
        )
    );
    assert_eq!(calls[1], Call::Start("chmod 0755 /tmp/script_1.sh".into()));
    let Call::Start(run) = &calls[2] else {
        panic!("{calls:?}")
    };
    assert!(
        run.contains("FOO='bar' PACKER_BUILDER_TYPE='amazon-ebs' PACKER_BUILD_NAME='web' "),
        "{run}"
    );
    assert_eq!(calls[3], Call::Start("rm -f /tmp/script_1.sh".into()));
    let lines = ui.lines();
    assert!(
        lines[0].starts_with("say: Provisioning with shell script: "),
        "{lines:?}"
    );
    assert_eq!(&lines[1..], ["message: hello", "error: warn"]);
}

#[tokio::test]
async fn bad_exit_code_fails_with_packers_message_and_valid_codes_pass() {
    let comm = FakeComm::with_replies(vec![Reply::Status(3, vec![])]);
    let err = run(&cfg(&["exit 3"]), &comm).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
    );

    let comm = FakeComm::with_replies(vec![Reply::Status(3, vec![])]);
    let mut c = cfg(&["exit 3"]);
    c.valid_exit_codes = vec![0, 3];
    run(&c, &comm).await.unwrap();
}

#[tokio::test]
async fn disconnect_fails_unless_expected() {
    let comm = FakeComm::with_replies(vec![Reply::Disconnect]);
    let err = run(&cfg(&["reboot"]), &comm).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Script disconnected unexpectedly."),
        "{err}"
    );

    let comm = FakeComm::with_replies(vec![Reply::Disconnect]);
    let mut c = cfg(&["reboot"]);
    c.expect_disconnect = true;
    run(&c, &comm).await.unwrap();
    assert_eq!(comm.commands().last().unwrap(), "rm -f /tmp/script_1.sh");
}

#[tokio::test(start_paused = true)]
async fn upload_is_retried_while_the_host_is_down() {
    // Paused time: the retry delay passes at once instead of sleeping a real second.
    let comm = FakeComm::default();
    *comm.failing_uploads.lock().unwrap() = 1;
    run(&cfg(&["true"]), &comm).await.unwrap();
    // The failing attempt happened (the counter ran down) and exactly one upload then succeeded.
    assert_eq!(*comm.failing_uploads.lock().unwrap(), 0);
    let uploads = comm
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Upload(..)))
        .count();
    assert_eq!(uploads, 1, "{:?}", comm.calls());
    assert!(matches!(comm.calls()[0], Call::Upload(..)));
}

#[tokio::test]
async fn env_var_file_is_uploaded_and_cleaned() {
    let comm = FakeComm::default();
    let mut c = cfg(&["true"]);
    c.use_env_var_file = true;
    c.env_var_format = "export %s='%s'\n".into();
    c.execute_command = "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}".into();
    run(&c, &comm).await.unwrap();
    let calls = comm.calls();
    let Call::Upload(path, body, mode) = &calls[0] else {
        panic!("{calls:?}")
    };
    assert!(
        path.starts_with("/tmp/varfile_") && path.ends_with(".sh"),
        "{path}"
    );
    assert_eq!(String::from_utf8_lossy(body), "export FOO='bar'\nexport PACKER_BUILDER_TYPE='amazon-ebs'\nexport PACKER_BUILD_NAME='web'\n");
    assert_eq!(*mode, Some(0o600));
    assert_eq!(comm.commands().last().unwrap(), &format!("rm -f {path}"));
}

#[tokio::test]
async fn scripts_are_uploaded_with_lf_endings_unless_binary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sh");
    std::fs::write(&p, "echo a\r\necho b\r\n").unwrap();
    let mut c = cfg(&[]);
    c.inline = None;
    c.scripts = vec![p.to_string_lossy().into_owned()];
    c.skip_clean = true;
    let comm = FakeComm::default();
    run(&c, &comm).await.unwrap();
    assert_eq!(
        comm.calls()[0],
        Call::Upload(
            "/tmp/script_1.sh".into(),
            b"echo a\necho b\n".to_vec(),
            Some(0o755)
        )
    );
    assert!(
        !comm.commands().iter().any(|c| c.starts_with("rm ")),
        "skip_clean leaves the script"
    );

    c.binary = true;
    let comm = FakeComm::default();
    run(&c, &comm).await.unwrap();
    assert_eq!(
        comm.calls()[0],
        Call::Upload(
            "/tmp/script_1.sh".into(),
            b"echo a\r\necho b\r\n".to_vec(),
            Some(0o755)
        )
    );
    assert!(crate::shell_local::script::crlf_warning(&p.to_string_lossy(), true).is_some());
}

#[tokio::test]
async fn pause_after_is_announced() {
    let mut c = cfg(&["true"]);
    c.pause_after = Some(Duration::from_millis(20));
    let ui = Recording::default();
    provision(
        &c,
        &ui,
        &FakeComm::default(),
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        ui.lines().last().unwrap(),
        "say: Pausing 20ms after this provisioner..."
    );
}

/// rpack quotes the remote path where Packer does not: with a `remote_folder` holding a space
/// Packer chmods, runs and deletes `/tmp/x/decoy` instead of the script.
#[tokio::test]
async fn remote_paths_with_spaces_are_one_shell_word() {
    let comm = FakeComm::with_replies(vec![Reply::Status(0, vec![])]);
    let mut c = cfg(&["true"]);
    c.remote_folder = "/tmp/x/decoy x".into();
    c.remote_path = "/tmp/x/decoy x/script_1.sh".into();
    run(&c, &comm).await.unwrap();
    let calls = comm.calls();
    assert_eq!(
        calls[1],
        Call::Start("chmod 0755 '/tmp/x/decoy x/script_1.sh'".into())
    );
    let Call::Start(line) = &calls[2] else {
        panic!("{calls:?}")
    };
    assert!(
        line.starts_with("chmod +x '/tmp/x/decoy x/script_1.sh'; ")
            && line.ends_with(" '/tmp/x/decoy x/script_1.sh'"),
        "{line}"
    );
    assert_eq!(
        calls[3],
        Call::Start("rm -f '/tmp/x/decoy x/script_1.sh'".into())
    );

    // A template's own execute_command gets the path as is (it may quote it itself).
    let comm = FakeComm::with_replies(vec![Reply::Status(0, vec![])]);
    c.execute_command = "sh \"{{.Path}}\"".into();
    run(&c, &comm).await.unwrap();
    assert_eq!(
        comm.calls()[2],
        Call::Start("sh \"/tmp/x/decoy x/script_1.sh\"".into())
    );
}

#[tokio::test]
async fn a_failed_script_using_imdsv1_says_http_tokens_optional() {
    // The script's own text uses the metadata address without a token.
    let comm = FakeComm::with_replies(vec![Reply::Status(22, vec![])]);
    let err = run(
        &cfg(&["curl -sf http://169.254.169.254/latest/meta-data/instance-id"]),
        &comm,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            "Script exited with non-zero exit status: 22.Allowed exit codes are: [0]. Hint:"
        ),
        "{err}"
    );
    assert!(err.contains("http_tokens: optional"), "{err}");
    // A helper the script calls shows the 401 in its output, and the output still reaches the UI.
    let comm = FakeComm::with_replies(vec![Reply::Status(
        1,
        vec![
            "ERR:* Connected to 169.254.169.254 (169.254.169.254) port 80".into(),
            "ERR:< HTTP/1.1 401 Unauthorized".into(),
        ],
    )]);
    let ui = Recording::default();
    let err = provision(
        &cfg(&["/opt/fetch-config"]),
        &ui,
        &comm,
        &data(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("http_tokens: optional"), "{err}");
    assert!(ui
        .lines()
        .contains(&"error: < HTTP/1.1 401 Unauthorized".to_string()));
    // Other failures get no hint.
    let comm = FakeComm::with_replies(vec![Reply::Status(3, vec!["ERR:nope".into()])]);
    let err = run(&cfg(&["exit 3"]), &comm).await.unwrap_err().to_string();
    assert!(!err.contains("Hint"), "{err}");
}

/// `environment_vars` keys and `env` names must be shell names in `shell` and `shell-local`
/// (rpack: Packer pastes them into the command line, where `A;id=1` runs `id`); each bad one is
/// named, and a valid set decodes with no error.
#[test]
fn environment_variable_names_must_be_shell_names() {
    let bad = |k: &str| {
        format!(
            "Environment variable name {k:?} is not a valid shell variable name (letters, \
             digits and _, not starting with a digit)"
        )
    };
    for kind in ["shell", "shell-local"] {
        let (_, errs) = crate::provisioners::testing::decode(
            kind,
            r#"{"inline": ["true"],
                "environment_vars": ["OK_1=a", "_x=b", "1ST=c", "A;id=d", "SP ACE=e", "=f", "noeq"],
                "env": {"GOOD": "1", "BAD-NAME": "2"}}"#,
        );
        let joined = errs.join("\n");
        for k in ["1ST", "A;id", "SP ACE", "BAD-NAME"] {
            assert!(joined.contains(&bad(k)), "{kind}: {k}:\n{joined}");
        }
        for k in ["OK_1", "_x", "GOOD"] {
            assert!(
                !joined.contains(&format!("{k:?}")),
                "{kind}: {k}:\n{joined}"
            );
        }
        assert!(
            joined.contains("Environment variable not in format 'key=value': =f")
                && joined.contains("Environment variable not in format 'key=value': noeq"),
            "{kind}:\n{joined}"
        );
        let (_, errs) = crate::provisioners::testing::decode(
            kind,
            r#"{"inline": ["true"], "environment_vars": ["OK_1=a", "_x=b=c"], "env": {"GOOD": "1"}}"#,
        );
        assert_eq!(errs, Vec::<String>::new(), "{kind}");
    }
}
