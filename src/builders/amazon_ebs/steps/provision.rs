//! StepProvision: hands the connected communicator and the build data to the
//! [`ProvisionHook`](crate::builders::amazon_ebs::ProvisionHook) (the provisioners), then
//! (Packer's StepCleanupTempKeys) removes the temporary key from `authorized_keys` when
//! `ssh_clear_authorized_keys` is set.

use crate::builders::amazon_ebs::context::BuildCtx;
use crate::builders::common::connect::HasComm as _;
use crate::communicator::host_key::scrub::Scrub;
use crate::communicator::host_key::{HostKey, Mode};
use crate::communicator::Communicator;
use crate::engine::{Step, StepEnv};
use crate::shell_local::{GeneratedData, SshFacts};

pub struct Provision;

#[async_trait::async_trait]
impl Step<BuildCtx> for Provision {
    fn name(&self) -> &'static str {
        "StepProvision"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        // The configuration the connection was made with: a user's key file, or the temporary
        // key's text (Packer's `SSHPrivateKey`, which `ansible` copies to a 0600 file).
        let comm_cfg = ctx.comm_config();
        let data = GeneratedData {
            host: crate::builders::amazon_ebs::steps::connect::host(ctx),
            port: Some(crate::builders::amazon_ebs::steps::connect::port(ctx)),
            user: Some(ctx.cfg.comm.username.clone()),
            conn_type: Some("ssh".into()),
            ssh: Some(SshFacts::new(
                &comm_cfg,
                comm_cfg.private_key_file.as_deref(),
                ctx.comm
                    .as_ref()
                    .and_then(crate::communicator::ssh::SshComm::host_key_blob),
                ctx.comm
                    .as_ref()
                    .and_then(crate::communicator::ssh::SshComm::bastion_host_key_blob),
            )),
            ..ctx.generated_data()
        };
        let comm = ctx.comm.clone();
        let comm_ref: Option<&dyn Communicator> = comm.as_ref().map(|c| c as &dyn Communicator);
        ctx.hook
            .provision(comm_ref, &data, env.ui.as_ref(), &env.cancel)
            .await?;
        // StepCleanupTempKeys: remove the temporary key from authorized_keys before imaging.
        if ctx.cfg.comm.clear_authorized_keys && ctx.key_pair.as_ref().is_some_and(|k| k.temporary)
        {
            if let Some(c) = &comm {
                env.ui
                    .say("Trying to remove ephemeral keys from authorized_keys files");
                c.clear_authorized_keys(&env.cancel)
                    .await
                    .map_err(|e| anyhow::anyhow!("Error cleaning up authorized_keys: {e}"))?;
            }
        }
        if let (Some(key), Some(c)) = (ctx.injected_host_key.clone(), &comm) {
            scrub_injected(ctx, env, c, &key).await?;
        }
        Ok(())
    }
}

/// Removes the host key rpack injected, and cloud-init's copies of the user data that carried
/// it, before the instance is imaged. With `ssh_host_key_check: inject` a failure stops the
/// build; with `auto` it is a warning (auto never fails a build Packer would finish).
async fn scrub_injected(
    ctx: &BuildCtx,
    env: &StepEnv,
    comm: &dyn Communicator,
    key: &HostKey,
) -> anyhow::Result<()> {
    let cfg = &ctx.cfg.comm;
    let scrub = Scrub {
        root: &cfg.host_key_scrub_root,
        injected: key,
        keep_host_key: cfg.host_key_keep_injected,
    };
    let problem = match scrub.run(comm, &env.cancel).await {
        Ok(r) if r.left.is_empty() => {
            if !r.removed.is_empty() {
                let kept = if cfg.host_key_keep_injected {
                    " (the host key itself stays: ssh_host_key_keep_injected)"
                } else {
                    ""
                };
                env.ui.say(&format!(
                    "Removed the injected SSH host key and cloud-init's copies of the user data from the instance: {} file(s){kept}",
                    r.removed.len()
                ));
            }
            return Ok(());
        }
        Ok(r) => format!("{} remain", r.left.join(", ")),
        Err(e) => e,
    };
    let msg = format!(
        "Could not remove the injected SSH host key and cloud-init's copies of the user data from the instance ({problem}); the image may contain them"
    );
    if cfg.host_key_check == Mode::Inject {
        anyhow::bail!("{msg}");
    }
    env.ui.error(&format!("Warning: {msg}."));
    Ok(())
}
