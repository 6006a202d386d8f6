//! StepSecurityGroup: the given `security_group_ids`, the groups matching
//! `security_group_filter`, or a temporary group that admits only the SSH port from
//! `temporary_security_group_source_cidrs`, or with `temporary_security_group_source_public_ip`
//! only from this host's public address/32 (looked up before anything is created, see
//! [`crate::aws::checkip`]). With `ssh_interface: session_manager` the temporary group admits
//! nothing (Packer's `SkipSSHRuleCreation`): the session reaches sshd through the SSM agent on
//! the instance. Owns the temporary group; its cleanup runs after the instance is terminated
//! (reverse order) and retries `DependencyViolation`.

use anyhow::bail;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType};

use crate::aws::checkip;
use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::aws::wait;
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::config::Config;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::communicator::config::CommType;
use crate::engine::{Outcome, Step, StepEnv};

pub struct SecurityGroup;

/// The CIDRs the temporary group admits: `temporary_security_group_source_cidrs`, else this
/// host's public address when `temporary_security_group_source_public_ip` is set. Like the
/// Packer plugin, given CIDRs win over the public-IP flag, with a message saying so.
async fn source_cidrs(cfg: &Config, env: &StepEnv) -> anyhow::Result<Vec<String>> {
    if !cfg.run.temporary_security_group_source_public_ip || cfg.comm.comm_type == CommType::None {
        return Ok(cfg.run.temporary_security_group_source_cidrs.clone());
    }
    if !cfg.run.temporary_security_group_source_cidrs.is_empty() {
        env.ui.say(PUBLIC_IP_IGNORED);
        return Ok(cfg.run.temporary_security_group_source_cidrs.clone());
    }
    env.ui.say("Checking current host's public IP...");
    let ip = checkip::public_ip(&checkip::url()).await?;
    env.ui.say(&format!("Current host's public IP: {ip}"));
    Ok(vec![checkip::host_cidr(ip)])
}

/// With SSH through the temporary group: which addresses may reach the port and how to narrow
/// them, when the group is open to the whole internet (Packer's default, kept because a
/// narrower guess breaks builds behind NAT or a VPN).
pub(crate) fn narrowing_hint(port: i32, cidrs: &[String]) -> Option<String> {
    let open: Vec<&str> = cidrs
        .iter()
        .map(String::as_str)
        .filter(|c| c.ends_with("/0"))
        .collect();
    if open.is_empty() {
        return None;
    }
    Some(format!(
        "Port {port} of the build instance is reachable from any address ({}) while the build runs. \
         To narrow it, set temporary_security_group_source_public_ip: true (this host's public IP \
         only) or temporary_security_group_source_cidrs (your own ranges).",
        open.join(", ")
    ))
}

/// The Packer plugin's words when both source settings are given.
pub const PUBLIC_IP_IGNORED: &str = "Using temporary_security_group_source_public_ip with temporary_security_group_source_cidrs is unsupported, ignoring temporary_security_group_source_public_ip.";

#[async_trait::async_trait]
impl Step<BuildCtx> for SecurityGroup {
    fn name(&self) -> &'static str {
        "StepSecurityGroup"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let ec2 = ctx.ec2();
        if !cfg.run.security_group_ids.is_empty() {
            ctx.security_group_ids
                .clone_from(&cfg.run.security_group_ids);
            return Ok(());
        }
        if let Some(f) = &cfg.run.security_group_filter {
            let mut fs: Vec<Filter> = f
                .filters
                .iter()
                .map(|(k, v)| Filter::builder().name(k).values(v).build())
                .collect();
            if let Some(vpc) = &ctx.vpc_id {
                fs.push(Filter::builder().name("vpc-id").values(vpc).build());
            }
            let out = ec2
                .describe_security_groups()
                .set_filters(Some(fs))
                .send()
                .await
                .aws_context(|| format!("describing security groups in {}", ctx.region))?;
            let ids: Vec<String> = out
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect();
            if ids.is_empty() {
                bail!(
                    "No Security Group was found matching filters: {}",
                    super::network::filters_text(&f.filters)
                );
            }
            env.ui
                .message(&format!("Found Security Group(s): {}", ids.join(", ")));
            ctx.security_group_ids = ids;
            return Ok(());
        }
        let ssm = cfg.run.session_manager();
        let cidrs = if ssm {
            Vec::new()
        } else {
            source_cidrs(&cfg, env).await?
        };
        let name = format!("packer_{}", uuid::Uuid::new_v4());
        env.ui.say(&format!(
            "Creating temporary security group for this instance: {name}"
        ));
        // As the current plugin: run_tags on the group, in the call that creates it.
        let tags = ctx.temp_resource_tags(&name)?;
        let mut req = ec2
            .create_security_group()
            .group_name(&name)
            .description("Temporary group for Packer")
            .tag_specifications(BuildCtx::tag_spec(ResourceType::SecurityGroup, &tags));
        if let Some(vpc) = &ctx.vpc_id {
            req = req.vpc_id(vpc);
        }
        let out = req.send().await.aws_context(|| {
            format!("creating temporary security group {name} in {}", ctx.region)
        })?;
        let id = out.group_id().unwrap_or_default().to_string();
        env.ledger
            .created(ResourceKind::SecurityGroup, &id, &ctx.region);
        ctx.temp_security_group = Some(id.clone());
        ctx.security_group_ids = vec![id.clone()];

        if cfg.comm.comm_type == CommType::None {
            return Ok(());
        }
        if ssm {
            if !crate::ui::voice::as_packer() {
                env.ui.message(
                    "No inbound rule in the temporary security group: the instance is reached through Session Manager",
                );
            }
            return Ok(());
        }
        let port = i32::from(cfg.comm.port);
        env.ui.say(&format!(
            "Authorizing access to port {port} from [{}] in the temporary security groups...",
            cidrs.join(" ")
        ));
        if let Some(hint) = narrowing_hint(port, &cidrs) {
            if !crate::ui::voice::as_packer() {
                env.ui.message(&hint);
            }
        }
        let mut perm = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port);
        for c in &cidrs {
            if c.contains(':') {
                perm = perm.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build());
            } else {
                perm = perm.ip_ranges(IpRange::builder().cidr_ip(c).build());
            }
        }
        let perm = perm.build();
        // A brand-new group can briefly be unknown to the API (eventual consistency).
        wait::retry_codes(
            &["InvalidGroup.NotFound"],
            timeouts::AUTHORIZE_NEW_GROUP_RETRY,
            || async {
                ec2.authorize_security_group_ingress()
                    .group_id(&id)
                    .ip_permissions(perm.clone())
                    .send()
                    .await
                    .aws_context(|| {
                        format!(
                            "authorizing port {port} in security group {id} in {}",
                            ctx.region
                        )
                    })
            },
        )
        .await?;
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        let Some(id) = ctx.temp_security_group.clone() else {
            return Ok(());
        };
        env.ui.say("Deleting temporary security group...");
        // Retried while a (terminating) instance still uses the group.
        delete::delete_security_group(&ctx.ec2(), &ctx.region, &id)
            .await
            .map_err(|e| {
                e.prefixed("Error cleaning up security group. Please delete the group manually")
            })?;
        env.ledger
            .deleted(ResourceKind::SecurityGroup, &id, &ctx.region);
        ctx.temp_security_group = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::narrowing_hint;

    #[test]
    fn an_open_group_says_which_cidr_and_how_to_narrow_it() {
        let h = narrowing_hint(22, &["0.0.0.0/0".into()]).unwrap();
        assert!(
            h.starts_with(
                "Port 22 of the build instance is reachable from any address (0.0.0.0/0)"
            ),
            "{h}"
        );
        assert!(
            h.contains("temporary_security_group_source_public_ip: true"),
            "{h}"
        );
        assert!(h.contains("temporary_security_group_source_cidrs"), "{h}");
        let h = narrowing_hint(2222, &["10.0.0.0/8".into(), "::/0".into()]).unwrap();
        assert!(h.contains("(::/0)"), "{h}");
        assert_eq!(narrowing_hint(22, &["203.0.113.7/32".into()]), None);
        assert_eq!(narrowing_hint(22, &[]), None);
    }
}
