//! The `ansible-local` provisioner: uploads the playbook(s), playbook directory, roles,
//! group/host vars, galaxy file and an inventory into `staging_directory` and runs
//! `ansible-playbook -c local` on the instance — Packer 1.6.6's uploads and command line.

pub mod config;

use std::path::Path;

use anyhow::{anyhow, bail};
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::communicator::Communicator;
use crate::provisioners::staging::{Guest, PrivateDir};
use crate::shell_local::RunData;
use crate::ui::Ui;

fn base(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    ui.say("Provisioning with Ansible...");
    let g = Guest {
        comm,
        ui,
        cancel,
        sudo: false,
        open_dirs: false,
    };
    let stage = c.staging_directory.as_str();
    if let Some(dir) = &c.playbook_dir {
        ui.message("Uploading Playbook directory to Ansible staging directory...");
        g.upload_dir(dir, stage)
            .await
            .map_err(|e| anyhow!("Error uploading playbook_dir directory: {e}"))?;
    } else {
        ui.message("Creating Ansible staging directory...");
        g.mkdir(stage)
            .await
            .map_err(|e| anyhow!("Error creating staging directory: {e}"))?;
    }

    // Remote playbook paths relative to the staging directory.
    let mut playbooks: Vec<String> = Vec::new();
    if let Some(f) = &c.playbook_file {
        ui.message("Uploading main Playbook file...");
        let dst = format!("{stage}/{}", base(f));
        g.upload_file(f, &dst)
            .await
            .map_err(|e| anyhow!("Error uploading main playbook: {e}"))?;
        playbooks.push(dst);
    } else {
        for f in &c.playbook_files {
            if let Some(rel) = c.playbook_dir.as_ref().and_then(|d| f.strip_prefix(d).ok()) {
                playbooks.push(format!("{stage}/{}", rel.display()));
                continue;
            }
            ui.message(&format!("Uploading playbook file: {}", f.display()));
            let remote = format!("{stage}{}", f.display());
            let remote_dir = format!(
                "{stage}{}",
                f.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            g.mkdir(&remote_dir)
                .await
                .map_err(|e| anyhow!("Error uploading playbook file: {} [{e}]", f.display()))?;
            g.upload_file(f, &remote)
                .await
                .map_err(|e| anyhow!("Error uploading playbook: {} [{e}]", f.display()))?;
            playbooks.push(remote);
        }
    }

    // The generated inventory lives only for this run.
    let mut _inventory_dir = None;
    let inventory_local = if let Some(f) = &c.inventory_file {
        f.clone()
    } else {
        let dir = PrivateDir::new("rpack-ansible-local")
            .map_err(|e| anyhow!("Error preparing inventory file: {e}"))?;
        let name = format!("packer-provisioner-ansible-local{}", rand::random::<u32>());
        let p = dir
            .write(&name, inventory(&c.inventory_groups).as_bytes(), 0o600)
            .map_err(|e| anyhow!("Error preparing inventory file: {e}"))?;
        _inventory_dir = Some(dir);
        p
    };
    if let Some(f) = &c.galaxy_file {
        ui.message("Uploading galaxy file...");
        g.upload_file(f, &format!("{stage}/{}", base(f)))
            .await
            .map_err(|e| anyhow!("Error uploading galaxy file: {e}"))?;
    }
    ui.message("Uploading inventory file...");
    let inventory_remote = format!("{stage}/{}", base(&inventory_local));
    g.upload_file(&inventory_local, &inventory_remote)
        .await
        .map_err(|e| anyhow!("Error uploading inventory file: {e}"))?;
    for (dir, name) in [(&c.group_vars, "group_vars"), (&c.host_vars, "host_vars")] {
        if let Some(dir) = dir {
            ui.message(&format!("Uploading {name} directory..."));
            g.upload_dir(dir, &format!("{stage}/{name}"))
                .await
                .map_err(|e| anyhow!("Error uploading {name} directory: {e}"))?;
        }
    }
    if !c.role_paths.is_empty() {
        ui.message("Uploading role directories...");
        for src in &c.role_paths {
            g.upload_dir(src, &format!("{stage}/roles/{}", base(src)))
                .await
                .map_err(|e| anyhow!("Error uploading roles: {e}"))?;
        }
    }
    if !c.playbook_paths.is_empty() {
        ui.message("Uploading additional Playbooks...");
        let dir = format!("{stage}/playbooks");
        g.mkdir(&dir)
            .await
            .map_err(|e| anyhow!("Error creating playbooks directory: {e}"))?;
        for src in &c.playbook_paths {
            g.upload_dir(src, &format!("{dir}/{}", base(src)))
                .await
                .map_err(|e| anyhow!("Error uploading playbooks: {e}"))?;
        }
    }

    execute(c, &g, data, &playbooks, &inventory_remote)
        .await
        .map_err(|e| anyhow!("Error executing Ansible: {e}"))?;

    if c.clean_staging_directory {
        ui.message("Removing staging directory...");
        g.remove_dir(stage)
            .await
            .map_err(|e| anyhow!("Error removing staging directory: {e}"))?;
    }
    Ok(())
}

/// The generated inventory: `127.0.0.1`, or the host in each of `inventory_groups`.
pub(crate) fn inventory(groups: &[String]) -> String {
    if groups.is_empty() {
        return "127.0.0.1".into();
    }
    groups
        .iter()
        .map(|g| format!("[{g}]\n127.0.0.1\n"))
        .collect()
}

/// Packer's extra arguments (its `-o IdentitiesOnly=yes` inside `--extra-vars` included, which
/// Ansible reads as a stray word and ignores), then `extra_arguments`.
pub(crate) fn extra_args(c: &Config, data: &RunData) -> String {
    let http = data
        .values
        .get("PackerHTTPAddr")
        .cloned()
        .unwrap_or_else(|| crate::provisioners::ansible::HTTP_ADDR_NOT_IMPLEMENTED.into());
    let mut s = format!(
        " --extra-vars \"packer_build_name={} packer_builder_type={} packer_http_addr={http} -o IdentitiesOnly=yes\" ",
        data.build_name, data.builder_type
    );
    s.push_str(&c.extra_arguments.join(" "));
    s
}

async fn execute(
    c: &Config,
    g: &Guest<'_>,
    data: &RunData,
    playbooks: &[String],
    inventory: &str,
) -> anyhow::Result<()> {
    let stage = &c.staging_directory;
    let extra = extra_args(c, data);
    if let Some(f) = &c.galaxy_file {
        let cmd = format!(
            "cd {stage} && {} install -r {stage}/{} -p {stage}/roles",
            c.galaxy_command,
            base(f)
        );
        g.ui.message(&format!("Executing Ansible Galaxy: {cmd}"));
        let (status, tail) = g.run(&cmd).await?;
        if status != 0 {
            bail!("Error executing Ansible Galaxy: Non-zero exit status: {status}{tail}");
        }
    }
    for playbook in playbooks {
        let cmd = format!(
            "cd {stage} && {} {playbook}{extra} -c local -i {inventory}",
            c.command
        );
        g.ui.message(&format!("Executing Ansible: {cmd}"));
        let (status, tail) = g.run(&cmd).await?;
        match status {
            0 => {}
            127 => bail!(
                "{} could not be found. Verify that it is available on the\nPATH after connecting to the machine.",
                c.command
            ),
            s => bail!("Non-zero exit status: {s}{tail}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
