//! `ansible` decoding, the direct-connection plan (arguments, environment, key and
//! known_hosts files, inventory) and a run through a recording stand-in for ansible-playbook.

use std::os::unix::fs::PermissionsExt;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::provisioners::testing::decode;
use crate::provisioners::Provisioner;
use crate::ui::testing::Recording;

fn cfg(json: &str) -> (Config, Vec<String>) {
    match decode("ansible", json) {
        (Provisioner::Ansible(c), errs) => (*c, errs),
        _ => unreachable!(),
    }
}

fn data(extra: &[(&str, &str)]) -> RunData {
    let mut values: std::collections::BTreeMap<String, String> = [
        ("Host", "10.0.0.5"),
        ("Port", "2222"),
        ("User", "ec2-user"),
        ("ConnType", "ssh"),
        (
            "SSHPrivateKey",
            "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
        ),
        ("PackerHTTPAddr", HTTP_ADDR_NOT_IMPLEMENTED),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        values.insert(k.to_string(), v.to_string());
    }
    RunData {
        build_name: "web".into(),
        builder_type: "amazon-ebs".into(),
        values,
        ..Default::default()
    }
}

fn playbook() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("site.yml");
    std::fs::write(&p, "- hosts: all\n").unwrap();
    let s = p.display().to_string();
    (dir, s)
}

/// With a build work directory (amazon-ebs), the key copy lives inside it, so a build killed
/// while Ansible runs leaves it where `rpack cleanup` removes it; the directory is made 0700, and
/// one that is not private to this user is refused.
#[test]
fn the_key_copy_goes_in_the_builds_work_directory() {
    let (_d, pb) = playbook();
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("rpack-build-1");
    let mut d = data(&[]);
    d.work_dir = Some(work.clone());
    let p = plan(&c, &d, Target::Direct).unwrap();
    let key = p
        .args
        .iter()
        .find_map(|a| a.strip_prefix("ansible_ssh_private_key_file="))
        .map(PathBuf::from)
        .unwrap();
    assert_eq!(key.parent().unwrap().parent().unwrap(), work);
    assert_eq!(
        std::fs::metadata(&work).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    drop(p);
    assert!(!key.exists());
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);

    let open = root.path().join("rpack-build-2");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    d.work_dir = Some(open.clone());
    let e = plan(&c, &d, Target::Direct).err().unwrap().to_string();
    assert!(e.contains("not a private directory"), "{e}");
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
}

#[test]
fn direct_plan_writes_a_private_key_pins_the_host_key_and_cleans_up() {
    let (_d, pb) = playbook();
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true, "groups": ["web"], "empty_groups": ["db"],
            "extra_arguments": ["--tags", "{{{{ build `User` }}}}"], "ansible_env_vars": ["ANSIBLE_NOCOLOR=1"]}}"#
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let d = data(&[("SSHHostKey", "ssh-ed25519 AAAAC3Nz")]);
    let p = plan(&c, &d, Target::Direct).unwrap();
    let key = p
        .args
        .iter()
        .find_map(|a| a.strip_prefix("ansible_ssh_private_key_file="))
        .map(PathBuf::from)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    );
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir = key.parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let kh = dir.join("known_hosts");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        "[10.0.0.5]:2222 ssh-ed25519 AAAAC3Nz\n"
    );
    let inv = PathBuf::from(&p.args[p.args.len() - 2]);
    assert_eq!(
        std::fs::read_to_string(&inv).unwrap(),
        "default ansible_host=10.0.0.5 ansible_user=ec2-user ansible_port=2222\n\
         [web]\ndefault ansible_host=10.0.0.5 ansible_user=ec2-user ansible_port=2222\n[db]\n"
    );
    assert_eq!(
        p.args,
        [
            "-e".to_string(),
            "packer_build_name=\"web\"".into(),
            "-e".into(),
            "packer_builder_type=amazon-ebs".into(),
            "--ssh-extra-args".into(),
            format!(
                "-o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                kh.display()
            ),
            "--tags".into(),
            "ec2-user".into(),
            "-e".into(),
            format!("ansible_ssh_private_key_file={}", key.display()),
            "-i".into(),
            inv.display().to_string(),
            pb.clone(),
        ]
    );
    assert_eq!(
        env_without_control_dir(&p),
        [
            ("ANSIBLE_NOCOLOR".to_string(), "1".to_string()),
            ("ANSIBLE_SCP_IF_SSH".into(), "True".into()),
            ("ANSIBLE_PIPELINING".into(), "True".into())
        ]
    );
    drop(p);
    assert!(
        !dir.exists(),
        "the key, known_hosts and inventory are removed"
    );
}

#[test]
fn without_a_host_key_checking_is_off_and_a_bastion_becomes_a_proxy_command() {
    let (_d, pb) = playbook();
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true, "user": "deploy", "use_sftp": true,
            "host_alias": "box", "inventory_file_template": "{{{{ .HostAlias }}}} ansible_host={{{{ .Host }}}} ansible_user={{{{ .User }}}} id={{{{ .ID }}}}\n"}}"#
    ));
    let d = data(&[
        ("SSHPrivateKeyFile", "/keys/id_rsa"),
        ("SSHBastionHost", "bastion.example"),
        ("SSHBastionPort", "2200"),
        ("SSHBastionUser", "jump"),
        ("SSHBastionPrivateKeyFile", "/keys/jump"),
        ("ID", "i-123"),
    ]);
    let p = plan(&c, &d, Target::Direct).unwrap();
    assert_eq!(
        env_without_control_dir(&p),
        [
            ("ANSIBLE_HOST_KEY_CHECKING".to_string(), "False".to_string()),
            ("ANSIBLE_PIPELINING".into(), "True".into())
        ]
    );
    assert!(p
        .args
        .contains(&"ansible_ssh_private_key_file=/keys/id_rsa".to_string()));
    let ssh = &p.args[p.args.iter().position(|a| a == "--ssh-extra-args").unwrap() + 1];
    assert_eq!(
        ssh,
        "-o IdentitiesOnly=yes -o ProxyCommand=\"ssh -W %h:%p -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i /keys/jump -p 2200 jump@bastion.example\""
    );
    let inv = &p.args[p.args.len() - 2];
    assert_eq!(
        std::fs::read_to_string(inv).unwrap(),
        "box ansible_host=10.0.0.5 ansible_user=deploy id=i-123\n"
    );
}

/// With the bastion's pinned key, the hop through it is checked strictly against a private
/// 0600 known_hosts that names the bastion as ssh looks it up (`[host]:port` off port 22,
/// the bare host on 22; lower case), and that file goes with the plan.
#[test]
fn the_bastion_hop_checks_the_pinned_bastion_key() {
    let (_d, pb) = playbook();
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastionKey";
    for (port, name) in [
        ("2200", "[bastion.example]:2200"),
        ("22", "bastion.example"),
    ] {
        let d = data(&[
            ("SSHPrivateKeyFile", "/keys/id_rsa"),
            ("SSHBastionHost", "Bastion.Example"),
            ("SSHBastionPort", port),
            ("SSHBastionUser", "jump"),
            ("SSHBastionHostKey", key),
        ]);
        let p = plan(&c, &d, Target::Direct).unwrap();
        let ssh = &p.args[p.args.iter().position(|a| a == "--ssh-extra-args").unwrap() + 1];
        let kh = p.private.path().join("bastion_known_hosts");
        assert_eq!(
            ssh,
            &format!(
                "-o IdentitiesOnly=yes -o ProxyCommand=\"ssh -W %h:%p -o StrictHostKeyChecking=yes \
                 -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
                 -p {port} jump@Bastion.Example\"",
                kh.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&kh).unwrap(),
            format!("{name} {key}\n")
        );
        assert_eq!(
            std::fs::metadata(&kh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(p);
        assert!(!kh.exists(), "the bastion's known_hosts goes with the plan");
    }
}

#[test]
fn a_control_path_the_user_sets_is_kept_and_the_private_one_goes_with_the_plan() {
    let (_d, pb) = playbook();
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true,
            "ansible_env_vars": ["ANSIBLE_SSH_CONTROL_PATH_DIR=/home/me/cp"]}}"#
    ));
    let p = plan(&c, &data(&[]), Target::Direct).unwrap();
    let cp: Vec<_> = p
        .env
        .iter()
        .filter(|(k, _)| k == "ANSIBLE_SSH_CONTROL_PATH_DIR")
        .collect();
    assert_eq!(
        cp,
        [&(
            "ANSIBLE_SSH_CONTROL_PATH_DIR".to_string(),
            "/home/me/cp".to_string()
        )]
    );
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    let p = plan(&c, &data(&[]), Target::Direct).unwrap();
    env_without_control_dir(&p);
    let dir = p.control_dir.as_ref().unwrap().path.clone();
    drop(p);
    assert!(!dir.exists(), "the control socket directory is removed");
}

/// A build's work directory can be deep (amazon-ebs: the ledger's directory): the socket
/// directory then goes to a short private one in the temp dir, still removed with the run, and
/// never to Ansible's shared ~/.ansible/cp.
#[test]
fn a_deep_work_directory_still_gets_a_private_control_directory() {
    let (_d, pb) = playbook();
    let deep = tempfile::tempdir().unwrap();
    let work = deep
        .path()
        .join("a-long-directory-name-for-a-build-work-dir-0123456789abcdef");
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    let mut d = data(&[]);
    d.work_dir = Some(work.clone());
    let p = plan(&c, &d, Target::Direct).unwrap();
    let dir = p.control_dir.as_ref().unwrap().path.clone();
    assert!(!dir.starts_with(&work), "{}", dir.display());
    assert!(dir.as_os_str().len() <= super::MAX_CONTROL_DIR);
    assert!(dir.is_dir());
    let env: Vec<_> = p
        .env
        .iter()
        .filter(|(k, _)| k == "ANSIBLE_SSH_CONTROL_PATH_DIR")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(env, [dir.display().to_string()]);
    drop(p);
    assert!(!dir.exists(), "the control socket directory is removed");
}

#[test]
fn no_ssh_connection_is_a_clear_error() {
    let (_d, pb) = playbook();
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    let e = plan(&c, &data(&[("ConnType", "none")]), Target::Direct)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("the ansible provisioner needs the build's SSH connection"),
        "{e}"
    );
}

#[test]
fn validate_errors_match_packer() {
    let (_, errs) = cfg(
        r#"{"skip_version_check": true, "local_port": 70000, "inventory_directory": "/nonexistent/inv",
            "galaxy_file": "/nonexistent/req.yml", "use_proxy": true}"#,
    );
    assert_eq!(
        errs,
        [
            "playbook_file must be specified.",
            "galaxy_file: /nonexistent/req.yml is invalid: stat /nonexistent/req.yml: no such file or directory",
            "local_port: 70000 must be a valid port",
            "inventory_directory: /nonexistent/inv is invalid: stat /nonexistent/inv: no such file or directory",
        ]
    );
    let (_d, pb) = playbook();
    let (_, errs) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "command": "rpack-no-such-ansible-playbook"}}"#
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("Error running \"rpack-no-such-ansible-playbook --version\": rpack-no-such-ansible-playbook is not installed"),
        "{errs:?}"
    );
}

#[test]
fn versions_are_read_like_packer() {
    assert_eq!(
        config::parse_version("ansible-playbook [core 2.17.14]\n  config file = None").as_deref(),
        Some("2.17.14")
    );
    assert_eq!(
        config::parse_version("ansible-playbook 2.9.27\n").as_deref(),
        Some("2.9.27")
    );
    assert_eq!(config::parse_version("no version here"), None);
}

/// A stand-in ansible-playbook that records its arguments and the key file's content.
fn stand_in(dir: &Path, body: &str) -> String {
    let p = dir.join("ansible-playbook");
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn provision_streams_output_and_reports_the_exit_status_with_the_tail() {
    let (d, pb) = playbook();
    let rec = d.path().join("args");
    let cmd = stand_in(
        d.path(),
        &format!(
            "echo \"$@\" > {}; echo 'PLAY [all]'; sleep 0.2; echo 'fatal: [default]: FAILED!' >&2; exit 2",
            rec.display()
        ),
    );
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "command": "{cmd}", "skip_version_check": true}}"#
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let ui = Recording::default();
    let e = provision(
        &c,
        &ui,
        &crate::communicator::NoneComm,
        &data(&[]),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "Error executing Ansible: Non-zero exit status: exit status 2\nLast output lines:\n  PLAY [all]\n  fatal: [default]: FAILED!"
    );
    let lines = ui.lines();
    assert_eq!(lines[0], "say: Provisioning with Ansible...");
    assert!(lines[2].starts_with(&format!(
        "say: Executing Ansible: {cmd} -e packer_build_name=\"web\""
    )));
    assert_eq!(
        lines[3..],
        [
            "message: PLAY [all]".to_string(),
            "error: fatal: [default]: FAILED!".into()
        ]
    );
    let args = std::fs::read_to_string(&rec).unwrap();
    let key = args
        .split(' ')
        .find_map(|a| a.strip_prefix("ansible_ssh_private_key_file="))
        .unwrap();
    assert!(
        !Path::new(key).exists(),
        "the key copy is gone after the run"
    );
}

#[tokio::test]
async fn cancelling_stops_ansible_and_removes_the_key() {
    let (d, pb) = playbook();
    let rec = d.path().join("args");
    let cmd = stand_in(
        d.path(),
        &format!("echo \"$@\" > {}; sleep 30 & wait", rec.display()),
    );
    let (c, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "command": "{cmd}", "skip_version_check": true}}"#
    ));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        c2.cancel();
    });
    let start = std::time::Instant::now();
    let e = provision(
        &c,
        &Recording::default(),
        &crate::communicator::NoneComm,
        &data(&[]),
        &cancel,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.ends_with("was interrupted (cancelled)"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    let args = std::fs::read_to_string(&rec).unwrap();
    let key = args
        .split(' ')
        .find_map(|a| a.strip_prefix("ansible_ssh_private_key_file="))
        .unwrap();
    assert!(!Path::new(key).exists());
}

#[tokio::test]
async fn the_proxy_plan_points_ansible_at_loopback_with_the_proxys_keys() {
    let (_d, pb) = playbook();
    let (c, errs) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true, "use_proxy": true,
            "ansible_env_vars": ["ANSIBLE_SSH_TRANSFER_METHOD=smart"]}}"#
    ));
    assert_eq!(errs, Vec::<String>::new());
    let d = data(&[("ConnType", "ssh")]);
    assert!(wants_proxy(&c, &d).unwrap());
    // Without `use_proxy`, a build without an SSH address goes through the proxy.
    let (auto, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true}}"#
    ));
    assert!(!wants_proxy(&auto, &d).unwrap());
    assert!(wants_proxy(&auto, &data(&[("Host", "")])).unwrap());
    // Ansible's ssh would bypass the build's SOCKS5 proxy and leave its certificate out.
    assert!(wants_proxy(&auto, &data(&[("SSHProxy", "127.0.0.1:1080")])).unwrap());
    assert!(wants_proxy(&auto, &data(&[("SSHCertificateFile", "/k/id-cert.pub")])).unwrap());
    let (direct, _) = cfg(&format!(
        r#"{{"playbook_file": "{pb}", "skip_version_check": true, "use_proxy": false}}"#
    ));
    assert!(!wants_proxy(&direct, &data(&[("SSHProxy", "127.0.0.1:1080")])).unwrap());
    assert!(wants_proxy(&auto, &data(&[("ConnType", "none")])).is_err());

    let proxy = Proxy::start(&ProxyOptions::default()).await.unwrap();
    let p = plan(&c, &d, Target::Proxy(&proxy)).unwrap();
    let key = proxy.client_key.clone().unwrap();
    assert!(p
        .args
        .contains(&format!("ansible_ssh_private_key_file={}", key.display())));
    let ssh = &p.args[p.args.iter().position(|a| a == "--ssh-extra-args").unwrap() + 1];
    assert_eq!(
        ssh,
        &format!(
            "-o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
            proxy.known_hosts.display()
        )
    );
    let kh = std::fs::read_to_string(&proxy.known_hosts).unwrap();
    assert!(
        kh.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", proxy.port)),
        "{kh}"
    );
    let inv = &p.args[p.args.len() - 2];
    assert_eq!(
        std::fs::read_to_string(inv).unwrap(),
        format!(
            "default ansible_host=127.0.0.1 ansible_user=ec2-user ansible_port={}\n",
            proxy.port
        )
    );
    // The user's transfer method stands; pipelining is on (the proxy relays standard input).
    assert_eq!(
        env_without_control_dir(&p),
        [
            (
                "ANSIBLE_SSH_TRANSFER_METHOD".to_string(),
                "smart".to_string()
            ),
            ("ANSIBLE_SCP_IF_SSH".into(), "True".into()),
            ("ANSIBLE_PIPELINING".into(), "True".into())
        ]
    );
    let dir = key.parent().unwrap().to_path_buf();
    drop(p);
    drop(proxy);
    assert!(!dir.exists(), "the proxy's keys are removed");
}

/// The plan's environment without `ANSIBLE_SSH_CONTROL_PATH_DIR`, which must name an existing
/// `cp` directory inside the run's private 0700 directory.
fn env_without_control_dir(p: &Plan) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let (cp, rest): (Vec<_>, Vec<_>) = p
        .env
        .iter()
        .cloned()
        .partition(|(k, _)| k == "ANSIBLE_SSH_CONTROL_PATH_DIR");
    assert_eq!(cp.len(), 1, "{:?}", p.env);
    let dir = Path::new(&cp[0].1);
    assert!(dir.is_dir() && dir.ends_with("cp"), "{dir:?}");
    let parent = std::fs::metadata(dir.parent().unwrap()).unwrap();
    assert_eq!(parent.permissions().mode() & 0o777, 0o700);
    rest
}
