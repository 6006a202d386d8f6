//! `chef-solo` decoding and run logic against the fake communicator: the exact uploads,
//! generated files and commands of Packer 1.6.6.

use super::*;
use crate::provisioners::testing::{Call, Fixture, Reply};

crate::provisioners::testing::config_decoder!("chef-solo", ChefSolo);

#[tokio::test]
async fn default_run_installs_stages_writes_solo_rb_and_node_json_then_runs_chef() {
    let dir = tempfile::tempdir().unwrap();
    let books = dir.path().join("cookbooks");
    let roles = dir.path().join("roles");
    std::fs::create_dir_all(&books).unwrap();
    std::fs::create_dir_all(&roles).unwrap();
    let (c, errs) = cfg(&format!(
        r#"{{"cookbook_paths": ["{}"], "roles_path": "{}", "run_list": ["recipe[web]"],
            "json": {{"zeta": 1, "alpha": {{"b": "{{{{user `x`}}}}", "a": true}}}},
            "remote_cookbook_paths": ["/opt/books"], "version": "16.1"}}"#,
        books.display(),
        roles.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let fx = Fixture::new();
    provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap();
    let st = "/tmp/packer-chef-solo";
    let solo = format!(
        "\nchef_license \t\t\"accept-silent\"\ncookbook_path \t[\"/opt/books\",\"{st}/cookbooks-0\"]\n\nrole_path\t\t\"{st}/roles\"\n\n\n\n\n"
    );
    let node = "{\n  \"alpha\": {\n    \"a\": true,\n    \"b\": \"\"\n  },\n  \"run_list\": [\n    \"recipe[web]\"\n  ],\n  \"zeta\": 1\n}";
    assert_eq!(
        fx.comm.calls(),
        vec![
            Call::Start(
                "curl -L https://omnitruck.chef.io/install.sh | sudo bash -s -- -v 16.1".into()
            ),
            Call::Start(format!("sudo mkdir -p '{st}'")),
            Call::Start(format!("sudo chmod 0777 '{st}'")),
            Call::Start(format!("sudo mkdir -p '{st}/cookbooks-0'")),
            Call::Start(format!("sudo chmod 0777 '{st}/cookbooks-0'")),
            Call::UploadDir(books.display().to_string(), format!("{st}/cookbooks-0")),
            Call::Start(format!("sudo mkdir -p '{st}/roles'")),
            Call::Start(format!("sudo chmod 0777 '{st}/roles'")),
            Call::UploadDir(roles.display().to_string(), format!("{st}/roles")),
            Call::Upload(format!("{st}/solo.rb"), solo.into_bytes(), Some(0o644)),
            Call::Upload(
                format!("{st}/node.json"),
                node.as_bytes().to_vec(),
                Some(0o644)
            ),
            Call::Start(format!(
                "sudo chef-solo --no-color -c {st}/solo.rb -j {st}/node.json"
            )),
        ]
    );
    let lines = fx.ui.lines();
    assert_eq!(lines[0], "say: Provisioning with chef-solo");
    assert!(lines.contains(&format!(
        "message: Executing Chef: sudo chef-solo --no-color -c {st}/solo.rb -j {st}/node.json"
    )));
}

#[tokio::test]
async fn skip_install_prevent_sudo_and_a_custom_execute_command() {
    let (c, errs) = cfg(
        r#"{"skip_install": true, "prevent_sudo": true, "staging_directory": "/var/chef",
            "execute_command": "{{if .Sudo}}sudo {{end}}/opt/chef/bin/chef-solo -c {{.ConfigPath}} -j {{.JsonPath}} -l debug"}"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    // A license is only defaulted when Packer's own installer runs.
    assert_eq!(c.chef_license, "");
    let fx = Fixture::new();
    provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap();
    let cmds = fx.comm.commands();
    assert_eq!(
        cmds,
        [
            "mkdir -p '/var/chef'",
            "chmod 0777 '/var/chef'",
            "/opt/chef/bin/chef-solo -c /var/chef/solo.rb -j /var/chef/node.json -l debug"
        ]
    );
}

#[tokio::test]
async fn failures_name_the_step_the_exit_status_and_the_last_lines() {
    let (c, _) = cfg(r"{}");
    let fx = Fixture::with_replies(vec![Reply::Status(
        7,
        vec!["curl: (6) Could not resolve host".into()],
    )]);
    let e = provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Error installing Chef: Install script exited with non-zero exit status 7\nLast output lines:\n  curl: (6) Could not resolve host"
    );

    let (c, _) = cfg(r#"{"skip_install": true}"#);
    let fx = Fixture::with_replies(vec![
        Reply::Status(0, vec![]),
        Reply::Status(0, vec![]),
        Reply::Status(
            1,
            vec!["ERR:FATAL: Chef::Exceptions::ChildConvergeError".into()],
        ),
    ]);
    let e = provision(&c, &fx.ui, &fx.comm, &fx.data, &fx.cancel)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Error executing Chef: Non-zero exit status: 1\n"),
        "{e}"
    );
    assert!(e.ends_with("ChildConvergeError"), "{e}");
}

#[test]
fn bad_paths_and_types_are_validate_errors() {
    let (_, errs) = cfg(
        r#"{"cookbook_paths": ["/nonexistent/books"], "roles_path": "/nonexistent/roles",
            "encrypted_data_bag_secret_path": "/nonexistent/secret", "json": "text",
            "guest_os_type": "beos"}"#,
    );
    assert_eq!(
        errs,
        [
            "Invalid guest_os_type: \"beos\"",
            "Bad cookbook path '/nonexistent/books': stat /nonexistent/books: no such file or directory",
            "Bad roles path '/nonexistent/roles': stat /nonexistent/roles: no such file or directory",
            "Bad encrypted data bag secret '/nonexistent/secret': stat /nonexistent/secret: no such file or directory",
            "json: expected a JSON object of node attributes, got string",
        ]
    );
    let (_, errs) = cfg(r#"{"run_lists": ["x"]}"#);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("run_lists"), "{errs:?}");
}
