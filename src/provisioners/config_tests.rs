//! Provisioner and communicator configuration decoding with the real decoder: Packer's
//! defaults and exact validation messages.

use std::time::Duration;

use crate::communicator::config::{CommType, TransferMethod};
use crate::provisioners::testing::{decode, decode_comm};
use crate::provisioners::Provisioner;

#[test]
fn shell_errors_match_packer_in_order() {
    let (_, errs) = decode(
        "shell",
        r#"{"script":"x.sh","inline":["a"],"environment_vars":["=x","FOO"]}"#,
    );
    assert_eq!(
        errs,
        [
            "Only a script file or an inline script can be specified, not both.",
            "Bad script 'x.sh': stat x.sh: no such file or directory",
            "Environment variable not in format 'key=value': =x",
            "Environment variable not in format 'key=value': FOO",
        ]
    );
    let (_, errs) = decode("shell", r"{}");
    assert_eq!(
        errs,
        ["Either a script file or inline script must be specified."]
    );
    let (_, errs) = decode("shell", r#"{"script":"a.sh","scripts":["b.sh"]}"#);
    assert_eq!(errs[0], "Only one of script or scripts can be specified.");
}

#[test]
fn shell_defaults_and_env_var_file() {
    let (p, errs) = decode(
        "shell",
        r#"{"inline":["echo {{ build `Host` }}"],"expect_disconnect":"true","valid_exit_codes":[0,2300218]}"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    let Provisioner::Shell(c) = p else { panic!() };
    assert_eq!(c.execute_command, "chmod +x {{.Path}}; {{.Vars}} {{.Path}}");
    assert_eq!(c.inline_shebang, "/bin/sh -e");
    assert!(c.remote_path.starts_with("/tmp/script_") && c.remote_path.ends_with(".sh"));
    assert_eq!(c.start_retry_timeout, Duration::from_secs(300));
    assert!(c.expect_disconnect);
    assert_eq!(c.valid_exit_codes, [0, 2_300_218]);

    let (p, _) = decode(
        "shell",
        r#"{"inline":["true"],"use_env_var_file":true,"remote_folder":"/var/tmp"}"#,
    );
    let Provisioner::Shell(c) = p else { panic!() };
    assert_eq!(
        c.execute_command,
        "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
    );
    assert_eq!(c.env_var_format, "export %s='%s'\n");
    assert!(c.remote_path.starts_with("/var/tmp/script_"));
}

#[test]
fn shell_warns_about_crlf_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("win.sh");
    std::fs::write(&p, "echo hi\r\n").unwrap();
    let (prov, errs) = decode("shell", &format!(r#"{{"script":"{}"}}"#, p.display()));
    assert!(errs.is_empty(), "{errs:?}");
    let w = prov.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("CRLF") && w[0].contains("win.sh"), "{w:?}");
}

#[test]
fn file_errors_match_packer() {
    let (_, errs) = decode("file", r#"{"direction":"sideways"}"#);
    assert_eq!(
        errs,
        [
            "Direction must be one of: download, upload.",
            "Source must be specified.",
            "Destination must be specified."
        ]
    );
    let (_, errs) = decode("file", r#"{"source":"nope.txt","destination":"/tmp/"}"#);
    assert_eq!(
        errs,
        ["Bad source 'nope.txt': stat nope.txt: no such file or directory"]
    );
    let (_, errs) = decode(
        "file",
        r#"{"source":"nope.txt","destination":"/tmp/","generated":true}"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    let (_, errs) = decode(
        "file",
        r#"{"source":"nope.txt","destination":"out/","direction":"download"}"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn shell_local_errors_match_packer() {
    let (_, errs) = decode("shell-local", r"{}");
    assert_eq!(
        errs,
        ["Command, Inline, Script and Scripts options cannot all be empty."]
    );
    let (_, errs) = decode("shell-local", r#"{"command":"a","inline":["b"]}"#);
    assert!(
        errs[0].starts_with("You may only specify one of the following options"),
        "{errs:?}"
    );
    let (p, errs) = decode(
        "shell-local",
        r#"{"command":"echo hi","only_on":["linux"]}"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    let Provisioner::ShellLocal(c) = p else {
        panic!()
    };
    assert_eq!(c.inline, ["echo hi"]);
    assert_eq!(
        c.execute_command,
        ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
    );
    let (_, errs) = decode("shell-local", r#"{"inline":["x"],"only_on":["plan9"]}"#);
    assert_eq!(errs, ["Invalid OS specified in only_on: 'plan9'\nSupported OS names: darwin, freebsd, linux, openbsd, solaris, windows"]);
}

#[test]
fn unknown_keys_are_reported() {
    let (_, errs) = decode("breakpoint", r#"{"note":"n","bogus":1}"#);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("bogus"), "{errs:?}");
}

#[test]
fn communicator_defaults() {
    let (c, errs) = decode_comm(r#"{"ssh_username":"ec2-user"}"#);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(c.comm_type, CommType::Ssh);
    assert_eq!(c.port, 22);
    assert_eq!(c.timeout, Duration::from_secs(300));
    assert_eq!(c.handshake_attempts, 10);
    assert_eq!(c.keep_alive_interval, Some(Duration::from_secs(5)));
    assert_eq!(c.file_transfer_method, TransferMethod::Scp);
    let (c, _) = decode_comm(
        r#"{"ssh_username":"u","ssh_wait_timeout":"10m","ssh_timeout":"1m","ssh_keep_alive_interval":"-1s","ssh_port":"2222","ssh_pty":"true"}"#,
    );
    assert_eq!(
        c.timeout,
        Duration::from_secs(600),
        "the deprecated alias wins like in Packer"
    );
    assert_eq!(c.keep_alive_interval, None);
    assert_eq!(c.port, 2222);
    assert!(c.pty);
}

#[test]
fn communicator_errors_match_packer() {
    let (_, errs) = decode_comm(r#"{"communicator":"telnet"}"#);
    assert_eq!(errs, ["Communicator type telnet is invalid"]);
    let (_, errs) = decode_comm(r"{}");
    assert_eq!(errs, ["An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\"."]);
    let (_, errs) = decode_comm(r#"{"ssh_username":"u","ssh_file_transfer_method":"ftp"}"#);
    assert_eq!(
        errs,
        ["ssh_file_transfer_method ('ftp') is invalid, valid methods: sftp, scp"]
    );
    let (_, errs) = decode_comm(r#"{"ssh_username":"u","ssh_private_key_file":"no-such-key"}"#);
    assert_eq!(
        errs,
        ["ssh_private_key_file is invalid: stat no-such-key: no such file or directory"]
    );
    let (_, errs) = decode_comm(r#"{"ssh_username":"u","ssh_bastion_host":"b"}"#);
    assert_eq!(
        errs,
        ["ssh_bastion_password or ssh_bastion_private_key_file must be specified"]
    );
    let (_, errs) = decode_comm(r#"{"ssh_username":"u","ssh_keypair_name":"k"}"#);
    assert_eq!(errs, ["ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified."]);
    let (_, errs) = decode_comm(r#"{"communicator":"none"}"#);
    assert!(errs.is_empty(), "no ssh checks without ssh: {errs:?}");
}
