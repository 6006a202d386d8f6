//! StepConnect: picks the instance address (`ssh_host`, else by `ssh_interface`, else public IP,
//! else private IP) and connects the SSH communicator with the build's key. Owns the connection.

use anyhow::Context as _;

use crate::builders::amazon_ebs::context::BuildCtx;
use crate::communicator::config::CommType;
use crate::communicator::SshComm;
use crate::engine::{Outcome, Step, StepEnv};

pub struct Connect;

pub fn host(ctx: &BuildCtx) -> Option<String> {
    if let Some(h) = &ctx.cfg.comm.host {
        return Some(h.clone());
    }
    let i = ctx.instance.as_ref()?;
    match ctx.cfg.ssh_interface.as_deref() {
        Some("public_ip") => i.public_ip.clone(),
        Some("private_ip") => i.private_ip.clone(),
        Some("public_dns") => i.public_dns.clone(),
        Some("private_dns") => i.private_dns.clone(),
        _ => i
            .public_ip
            .clone()
            .or_else(|| i.private_ip.clone())
            .or_else(|| i.public_dns.clone()),
    }
}

#[async_trait::async_trait]
impl Step<BuildCtx> for Connect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        if ctx.cfg.comm.comm_type != CommType::Ssh {
            return Ok(());
        }
        if ctx.cfg.ssh_interface.as_deref() == Some("session_manager") {
            anyhow::bail!("ssh_interface \"session_manager\" is not supported by rpack yet; use public_ip, private_ip, public_dns or private_dns");
        }
        let host = host(ctx)
            .context("the instance has no address to connect to (set ssh_host or ssh_interface)")?;
        let mut comm_cfg = ctx.cfg.comm.clone();
        if let Some(kp) = &ctx.key_pair {
            if comm_cfg.private_key_file.is_none() {
                comm_cfg.private_key_file = kp.private_key_file.clone();
            }
        }
        let comm = SshComm::connect(&comm_cfg, &host, env.ui.as_ref(), &env.cancel).await?;
        ctx.comm = Some(comm);
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        _env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        if let Some(c) = ctx.comm.take() {
            c.disconnect();
        }
        Ok(())
    }
}
