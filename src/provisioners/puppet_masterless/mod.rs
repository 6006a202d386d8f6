//! The `puppet-masterless` provisioner: stages hiera config, manifests and modules under
//! `staging_directory` and runs `puppet apply` through `execute_command` with the facts as
//! `FACTER_*` variables — Packer 1.6.6's uploads and command line. Exit status 2 (changes
//! applied, `--detailed-exitcodes`) counts as success.

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
    ui.say("Provisioning with Puppet...");
    let g = Guest {
        comm,
        ui,
        cancel,
        sudo: !c.prevent_sudo,
        open_dirs: true,
    };
    let stage = &c.staging_directory;
    ui.message("Creating Puppet staging directory...");
    g.mkdir_open(stage)
        .await
        .map_err(|e| anyhow!("Error creating staging directory: {e}"))?;

    let mut hiera = String::new();
    if let Some(p) = &c.hiera_config_path {
        ui.message("Uploading hiera configuration...");
        hiera = format!("{stage}/hiera.yaml");
        g.upload_file(p, &hiera)
            .await
            .map_err(|e| anyhow!("Error uploading hiera config: {e}"))?;
    }
    let mut manifest_dir = String::new();
    if let Some(p) = &c.manifest_dir {
        ui.message(&format!(
            "Uploading manifest directory from: {}",
            p.display()
        ));
        manifest_dir = format!("{stage}/manifests");
        g.upload_dir(p, &manifest_dir)
            .await
            .map_err(|e| anyhow!("Error uploading manifest dir: {e}"))?;
    }
    let mut modules = Vec::new();
    for (i, p) in c.module_paths.iter().enumerate() {
        ui.message(&format!("Uploading local modules from: {}", p.display()));
        let target = format!("{stage}/module-{i}");
        g.upload_dir(p, &target)
            .await
            .map_err(|e| anyhow!("Error uploading modules: {e}"))?;
        modules.push(target);
    }
    let manifest = upload_manifests(c, &g)
        .await
        .map_err(|e| anyhow!("Error uploading manifests: {e}"))?;

    let dot = vec![
        ("Debug", Value::Bool(false)),
        ("ExtraArguments", s("")),
        ("FacterVars", s(&facter_vars(c, data))),
        ("HieraConfigPath", s(&hiera)),
        ("ManifestDir", s(&manifest_dir)),
        ("ManifestFile", s(&manifest)),
        ("ModulePath", s(&modules.join(":"))),
        ("ModulePathJoiner", s(":")),
        ("PuppetBinDir", s(&c.puppet_bin_dir)),
        ("Sudo", Value::Bool(!c.prevent_sudo)),
        ("WorkingDir", s(&c.working_directory)),
    ];
    let extra = render(data, &c.extra_arguments.join(" "), &dot)?;
    let dot: Vec<(&str, Value)> = dot
        .into_iter()
        .map(|(k, v)| {
            if k == "ExtraArguments" {
                (k, s(&extra))
            } else {
                (k, v)
            }
        })
        .collect();
    let cmd = render(data, &c.execute_command, &dot)?;
    ui.message(&format!("Running Puppet: {cmd}"));
    let (status, tail) = g
        .run(&cmd)
        .await
        .map_err(|e| anyhow!("Got an error starting command: {e}"))?;
    if status != 0 && status != 2 && !c.ignore_exit_codes {
        bail!("Puppet exited with a non-zero exit status: {status}{tail}");
    }
    if c.clean_staging_directory {
        g.remove_dir(stage)
            .await
            .map_err(|e| anyhow!("Error removing staging directory: {e}"))?;
    }
    Ok(())
}

/// `FACTER_k='v'` for every fact plus `packer_build_name`/`packer_builder_type`, sorted by name
/// (Packer iterates a Go map: random order). Single quotes in values are escaped for the shell.
pub(crate) fn facter_vars(c: &Config, data: &RunData) -> String {
    let mut facts: std::collections::BTreeMap<&str, &str> = c
        .facter
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    facts.insert("packer_build_name", &data.build_name);
    facts.insert("packer_builder_type", &data.builder_type);
    facts
        .iter()
        .map(|(k, v)| format!("FACTER_{k}='{}'", v.replace('\'', r#"'"'"'"#)))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn upload_manifests(c: &Config, g: &Guest<'_>) -> anyhow::Result<String> {
    g.ui.message("Uploading manifests...");
    let remote = format!("{}/manifests", c.staging_directory);
    g.mkdir_open(&remote)
        .await
        .map_err(|e| anyhow!("Error creating manifests directory: {e}"))?;
    if c.manifest_file.is_dir() {
        g.ui.message(&format!(
            "Uploading manifest directory from: {}",
            c.manifest_file.display()
        ));
        g.upload_dir(&c.manifest_file, &remote)
            .await
            .map_err(|e| anyhow!("Error uploading manifest dir: {e}"))?;
        return Ok(remote);
    }
    g.ui.message(&format!(
        "Uploading manifest file from: {}",
        c.manifest_file.display()
    ));
    let name = c
        .manifest_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dst = format!("{remote}/{name}");
    g.upload_file(&c.manifest_file, &dst).await?;
    Ok(dst)
}

#[cfg(test)]
mod tests;
