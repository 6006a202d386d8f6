//! The `salt-masterless` provisioner: bootstraps Salt (unless `skip_bootstrap`), stages the
//! minion config, grains, state tree and pillar roots through `temp_config_dir` into their
//! places, and runs `salt-call --local` — Packer 1.6.6's commands, with two of its bugs fixed:
//! `mv` gets one `sudo` (Packer wrote `sudo sudo mv`), and an existing remote state tree or
//! pillar root is replaced (Packer removed it only when it did *not* exist, so a second run
//! nested the new tree inside the old one).

pub mod config;
mod formulas;

use std::path::Path;

use anyhow::{anyhow, bail};
use tokio_util::sync::CancellationToken;

pub use config::Config;
use config::{BOOTSTRAP_FETCH, BOOTSTRAP_RUN, CONFIG_DIR, PILLAR_ROOT, STATE_ROOT};

use crate::communicator::Communicator;
use crate::provisioners::staging::Guest;
use crate::shell_local::RunData;
use crate::ui::Ui;

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    _data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    ui.say("Provisioning with Salt...");
    let g = Guest {
        comm,
        ui,
        cancel,
        sudo: !c.disable_sudo,
        open_dirs: false,
    };
    if !c.skip_bootstrap {
        ui.message("Downloading saltstack bootstrap to /tmp/install_salt.sh");
        g.run_ok(BOOTSTRAP_FETCH, "Unable to download Salt").await?;
        let cmd = format!("{} {}", g.sudo(BOOTSTRAP_RUN), c.bootstrap_args);
        ui.message(&format!("Installing Salt with command {cmd}"));
        g.run_ok(&cmd, "Unable to install Salt").await?;
    }
    let tmp = &c.temp_config_dir;
    ui.message(&format!("Creating remote temporary directory: {tmp}"));
    g.mkdir(tmp)
        .await
        .map_err(|e| anyhow!("Error creating remote temporary directory: {e}"))?;

    for (local, name, what) in [
        (&c.minion_config, "minion", "minion config"),
        (&c.grains_file, "grains", "grains file"),
    ] {
        let Some(local) = local else { continue };
        ui.message(&format!("Uploading {what}: {}", local.display()));
        let staged = format!("{tmp}/{name}");
        upload_file(&g, local, &staged)
            .await
            .map_err(|e| anyhow!("Error uploading local {what} to remote: {e}"))?;
        ui.message(&format!("Make sure directory {CONFIG_DIR} exists"));
        g.mkdir(CONFIG_DIR)
            .await
            .map_err(|e| anyhow!("Error creating remote salt configuration directory: {e}"))?;
        move_path(&g, &staged, &format!("{CONFIG_DIR}/{name}"))
            .await
            .map_err(|e| anyhow!("Unable to move {tmp}/{name} to {CONFIG_DIR}/{name}: {e}"))?;
    }

    formulas::fetch(&c.formulas, &c.local_state_tree, ui, cancel).await?;
    ui.message(&format!(
        "Uploading local state tree: {}",
        c.local_state_tree.display()
    ));
    let state_dst = if c.remote_state_tree.is_empty() {
        STATE_ROOT
    } else {
        &c.remote_state_tree
    };
    place_tree(&g, &c.local_state_tree, tmp, "states", state_dst)
        .await
        .map_err(|e| anyhow!("Error uploading local state tree to remote: {e}"))?;
    if let Some(p) = &c.local_pillar_roots {
        ui.message(&format!("Uploading local pillar roots: {}", p.display()));
        let dst = if c.remote_pillar_roots.is_empty() {
            PILLAR_ROOT
        } else {
            &c.remote_pillar_roots
        };
        place_tree(&g, p, tmp, "pillar", dst)
            .await
            .map_err(|e| anyhow!("Error uploading local pillar roots to remote: {e}"))?;
    }

    let salt_call = if c.salt_bin_dir.is_empty() {
        "salt-call".to_string()
    } else {
        format!("{}/salt-call", c.salt_bin_dir.trim_end_matches('/'))
    };
    ui.message(&format!("Running: salt-call --local {}", c.cmd_args));
    let cmd = g.sudo(&format!("{salt_call} --local {}", c.cmd_args));
    let (status, tail) = g.run(&cmd).await?;
    if status != 0 && !c.no_exit_on_failure {
        bail!("Error executing salt-call: Bad exit status: {status}{tail}");
    }
    Ok(())
}

/// Packer's `uploadFile`: upload to the login directory under the file's base name (the
/// staging directory belongs to root), then `mv` into place.
async fn upload_file(g: &Guest<'_>, local: &Path, dst: &str) -> anyhow::Result<()> {
    let base = base_name(dst);
    g.upload_file(local, base).await?;
    move_path(g, base, dst)
        .await
        .map_err(|e| anyhow!("Error moving file to destination: {e}"))
}

/// Uploads the contents of `local` to `<name>` in the login directory, moves it to
/// `<tmp>/<name>`, then replaces `dst` with it.
async fn place_tree(
    g: &Guest<'_>,
    local: &Path,
    tmp: &str,
    name: &str,
    dst: &str,
) -> anyhow::Result<()> {
    let staged = format!("{tmp}/{name}");
    // A leftover from an earlier run would receive the new tree inside it.
    g.run_ok(
        &g.sudo(&format!("rm -rf '{name}' '{staged}'")),
        "Non-zero exit status",
    )
    .await?;
    g.comm
        .upload_dir(local, name, g.cancel)
        .await
        .map_err(|e| anyhow!("uploading {}: {e}", local.display()))?;
    move_path(g, name, &staged).await?;
    g.ui.message(&format!("Verifying Path: {dst}"));
    let (status, _) = g.run(&g.sudo(&format!("stat '{dst}'"))).await?;
    if status == 0 {
        g.remove_dir(dst)
            .await
            .map_err(|e| anyhow!("Unable to clear {dst}: {e}"))?;
    }
    move_path(g, &staged, dst)
        .await
        .map_err(|e| anyhow!("Unable to move {staged} to {dst}: {e}"))
}

async fn move_path(g: &Guest<'_>, src: &str, dst: &str) -> anyhow::Result<()> {
    g.ui.message(&format!("Moving {src} to {dst}"));
    let (status, tail) = g.run(&g.sudo(&format!("mv '{src}' '{dst}'"))).await?;
    if status != 0 {
        bail!("Unable to move {src} to {dst}: Bad exit status: {status}{tail}");
    }
    Ok(())
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

#[cfg(test)]
mod tests;
