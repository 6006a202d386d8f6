//! What amazon-ebs gives the shared connect step ([`crate::builders::common::connect`]): the
//! instance address (`ssh_host`, else by `ssh_interface`, else public IP, else private IP), or
//! with `ssh_interface: session_manager` the Session Manager route to the instance (its
//! sessions recorded in the build's ledger), and the communicator configuration with the
//! build's key pair filled in.

use anyhow::Context as _;

use crate::builders::amazon_ebs::context::BuildCtx;
use std::sync::Arc;

use super::console::Ec2Console;
use crate::builders::common::connect::{HasComm, SsmRoute};
use crate::builders::common::host_key::Evidence;
use crate::communicator::config::SshConfig;
use crate::communicator::host_key::ConsoleSource;
use crate::communicator::ssm::build_events::BuildSessions;
use crate::communicator::ssm::{Document, SessionTarget, SsmTransport};
use crate::communicator::SshComm;
use crate::engine::StepEnv;

/// The address SSH reaches the instance at. With `ssh_interface: session_manager` no address
/// does: it is the local port forward's (`127.0.0.1`, while it listens; see [`port`]).
pub fn host(ctx: &BuildCtx) -> Option<String> {
    if ctx.cfg.run.session_manager() {
        return ctx.ssm_forward_port.map(|_| "127.0.0.1".to_string());
    }
    if let Some(h) = &ctx.cfg.comm.host {
        return Some(h.clone());
    }
    let i = ctx.instance.as_ref()?;
    match ctx.cfg.run.ssh_interface.as_deref() {
        Some("public_ip") => i.public_ip.clone(),
        Some("private_ip") => i.private_ip.clone(),
        Some("public_dns") => i.public_dns.clone(),
        Some("private_dns") => i.private_dns.clone(),
        Some("ipv6") => i.ipv6.clone(),
        _ => i
            .public_ip
            .clone()
            .or_else(|| i.private_ip.clone())
            .or_else(|| i.public_dns.clone()),
    }
}

/// The port that goes with [`host`]: `ssh_port`, or the Session Manager forward's.
pub fn port(ctx: &BuildCtx) -> u16 {
    match ctx.ssm_forward_port {
        Some(p) if ctx.cfg.run.session_manager() => p,
        _ => ctx.cfg.comm.port,
    }
}

impl HasComm for BuildCtx {
    fn comm_config(&self) -> SshConfig {
        let mut comm_cfg = self.cfg.comm.clone();
        if let Some(kp) = &self.key_pair {
            if comm_cfg.private_key_file.is_none() {
                comm_cfg.private_key_file.clone_from(&kp.private_key_file);
            }
            if comm_cfg.private_key_file.is_none() {
                comm_cfg.private_key.clone_from(&kp.private_key);
            }
        }
        comm_cfg
    }

    fn host(&self) -> anyhow::Result<String> {
        host(self)
            .context("the instance has no address to connect to (set ssh_host or ssh_interface)")
    }

    /// `AWS-StartSSHSession` to `ssh_port`: one plain byte stream on every agent version (the
    /// port-forwarding document makes newer agents multiplex), which the opt-in
    /// `RPACK_SSM_PLUGIN` can carry over its stdin/stdout too.
    fn session_manager(&self, env: &StepEnv) -> anyhow::Result<Option<SsmRoute>> {
        if !self.cfg.run.session_manager() {
            return Ok(None);
        }
        let id = self
            .instance_id()
            .context("no instance to start a Session Manager session to")?;
        let events = Arc::new(BuildSessions {
            ledger: env.ledger.clone(),
            ui: env.ui.clone(),
            region: self.region.clone(),
        });
        let transport = SsmTransport::new(
            crate::aws::ssm::client(&self.aws.sdk, &self.region),
            &self.region,
            SessionTarget {
                instance_id: id.to_string(),
                document: Document::Ssh,
                port: self.cfg.comm.port,
            },
            self.cfg.comm.timeout,
            events,
        );
        Ok(Some(SsmRoute {
            transport: Arc::new(transport),
            pause: self.cfg.run.pause_before_ssm,
            local_port: u16::try_from(self.cfg.run.session_manager_port)
                .context("session_manager_port must be a port number")?,
        }))
    }

    fn set_session_manager_forward(&mut self, port: Option<u16>) {
        self.ssm_forward_port = port;
    }

    fn comm_slot(&mut self) -> &mut Option<SshComm> {
        &mut self.comm
    }

    fn login_hint(&self, user: &str) -> Option<String> {
        let s = self.source.as_ref()?;
        crate::builders::amazon_ebs::login_user::hint(&s.id, &s.name, &s.owner, user)
    }

    fn host_key_evidence(&self) -> Evidence {
        Evidence {
            injected: self.injected_host_key.clone(),
            console: self
                .instance_id()
                .map(|id| Arc::new(Ec2Console::new(self.ec2(), id)) as Arc<dyn ConsoleSource>),
        }
    }
}
