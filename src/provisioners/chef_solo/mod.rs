//! The `chef-solo` provisioner: installs Chef (unless `skip_install`), stages cookbooks, roles,
//! data bags and environments under `staging_directory`, writes `solo.rb` and `node.json`
//! there, and runs `execute_command` — the same commands and files as Packer 1.6.6.

pub mod config;

use anyhow::{anyhow, bail};
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::communicator::Communicator;
use crate::provisioners::staging::{render, s, Guest};
use crate::shell_local::RunData;
use crate::template::interp::Value;
use crate::ui::Ui;

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    ui.say("Provisioning with chef-solo");
    let g = Guest {
        comm,
        ui,
        cancel,
        sudo: !c.prevent_sudo,
        open_dirs: true,
    };
    let sudo = Value::Bool(!c.prevent_sudo);
    if !c.skip_install {
        ui.message("Installing Chef...");
        let cmd = render(
            data,
            &c.install_command,
            &[("Sudo", sudo.clone()), ("Version", s(&c.version))],
        )?;
        let (status, tail) = g.run(&cmd).await?;
        if status != 0 {
            bail!(
                "Error installing Chef: Install script exited with non-zero exit status {status}{tail}"
            );
        }
    }
    let stage = &c.staging_directory;
    g.mkdir_open(stage)
        .await
        .map_err(|e| anyhow!("Error creating staging directory: {e}"))?;

    let mut cookbooks: Vec<String> = Vec::new();
    for (i, p) in c.cookbook_paths.iter().enumerate() {
        let target = format!("{stage}/cookbooks-{i}");
        g.upload_dir(p, &target)
            .await
            .map_err(|e| anyhow!("Error uploading cookbooks: {e}"))?;
        cookbooks.push(target);
    }
    let mut roles = String::new();
    if let Some(p) = &c.roles_path {
        roles = format!("{stage}/roles");
        g.upload_dir(p, &roles)
            .await
            .map_err(|e| anyhow!("Error uploading roles: {e}"))?;
    }
    let mut data_bags = String::new();
    if let Some(p) = &c.data_bags_path {
        data_bags = format!("{stage}/data_bags");
        g.upload_dir(p, &data_bags)
            .await
            .map_err(|e| anyhow!("Error uploading data bags: {e}"))?;
    }
    let mut secret = String::new();
    if let Some(p) = &c.encrypted_data_bag_secret_path {
        secret = format!("{stage}/encrypted_data_bag_secret");
        g.upload_file(p, &secret)
            .await
            .map_err(|e| anyhow!("Error uploading encrypted data bag secret: {e}"))?;
    }
    let mut environments = String::new();
    if let Some(p) = &c.environments_path {
        environments = format!("{stage}/environments");
        g.upload_dir(p, &environments)
            .await
            .map_err(|e| anyhow!("Error uploading environments: {e}"))?;
    }

    ui.message("Creating configuration file 'solo.rb'");
    let all_cookbooks: Vec<String> = c
        .remote_cookbook_paths
        .iter()
        .chain(cookbooks.iter())
        .map(|p| format!("\"{p}\""))
        .collect();
    let solo = render(
        data,
        &c.config_template,
        &[
            ("CookbookPaths", s(&all_cookbooks.join(","))),
            ("RolesPath", s(&roles)),
            ("DataBagsPath", s(&data_bags)),
            ("EncryptedDataBagSecretPath", s(&secret)),
            ("EnvironmentsPath", s(&environments)),
            ("HasRolesPath", Value::Bool(!roles.is_empty())),
            ("HasDataBagsPath", Value::Bool(!data_bags.is_empty())),
            (
                "HasEncryptedDataBagSecretPath",
                Value::Bool(!secret.is_empty()),
            ),
            ("HasEnvironmentsPath", Value::Bool(!environments.is_empty())),
            ("ChefEnvironment", s(&c.chef_environment)),
            ("ChefLicense", s(&c.chef_license)),
        ],
    )
    .map_err(|e| anyhow!("Error creating Chef config file: {e}"))?;
    let config_path = format!("{stage}/solo.rb");
    g.upload_bytes(solo.as_bytes(), &config_path)
        .await
        .map_err(|e| anyhow!("Error creating Chef config file: {e}"))?;

    ui.message("Creating JSON attribute file");
    let json_path = format!("{stage}/node.json");
    g.upload_bytes(node_json(c).as_bytes(), &json_path)
        .await
        .map_err(|e| anyhow!("Error creating JSON attributes: {e}"))?;

    let cmd = render(
        data,
        &c.execute_command,
        &[
            ("ConfigPath", s(&config_path)),
            ("JsonPath", s(&json_path)),
            ("Sudo", sudo),
        ],
    )?;
    ui.message(&format!("Executing Chef: {cmd}"));
    let (status, tail) = g.run(&cmd).await?;
    if status != 0 {
        bail!("Error executing Chef: Non-zero exit status: {status}{tail}");
    }
    Ok(())
}

/// `node.json`: the `json` attributes plus `run_list` when given, keys sorted, two-space
/// indented (Go's `json.MarshalIndent`).
pub(crate) fn node_json(c: &Config) -> String {
    let mut m = c.json.clone();
    if !c.run_list.is_empty() {
        m.insert(
            "run_list".into(),
            serde_json::Value::Array(
                c.run_list
                    .iter()
                    .map(|r| serde_json::Value::String(r.clone()))
                    .collect(),
            ),
        );
    }
    m.sort_keys();
    serde_json::to_string_pretty(&serde_json::Value::Object(m)).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests;
