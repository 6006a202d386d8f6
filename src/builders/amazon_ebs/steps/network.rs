//! StepNetworkInfo: resolves `vpc_filter`, `subnet_filter` (most_free / random) and derives the
//! VPC and availability zone from the subnet. Creates nothing.

use anyhow::bail;
use aws_sdk_ec2::types::Filter;
use rand::seq::SliceRandom;

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Step, StepEnv};

pub struct Network;

fn filters(f: &[(String, String)]) -> Vec<Filter> {
    f.iter()
        .map(|(k, v)| Filter::builder().name(k).values(v).build())
        .collect()
}

/// Filters as a person wrote them, for messages: `{tag:Name: web, vpc-id: vpc-1}`.
pub(crate) fn filters_text(f: &[(String, String)]) -> String {
    let pairs: Vec<String> = f.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[async_trait::async_trait]
impl Step<BuildCtx> for Network {
    fn name(&self) -> &'static str {
        "StepNetworkInfo"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let ec2 = ctx.ec2();
        ctx.vpc_id.clone_from(&cfg.run.vpc_id);
        ctx.subnet_id.clone_from(&cfg.run.subnet_id);
        ctx.availability_zone.clone_from(&cfg.run.availability_zone);
        if ctx.vpc_id.is_none() {
            if let Some(f) = &cfg.run.vpc_filter {
                let out = ec2
                    .describe_vpcs()
                    .set_filters(Some(filters(&f.filters)))
                    .send()
                    .await
                    .aws_context(|| format!("describing VPCs in {}", ctx.region))?;
                if out.vpcs().len() != 1 {
                    bail!("Exactly one VPC should match the filter, but {} VPC's was found matching filters: {}", out.vpcs().len(), filters_text(&f.filters));
                }
                ctx.vpc_id = out.vpcs()[0].vpc_id().map(str::to_string);
                env.ui.message(&format!(
                    "Found VPC ID: {}",
                    ctx.vpc_id.as_deref().unwrap_or("")
                ));
            }
        }
        if ctx.subnet_id.is_none() {
            if let Some(f) = &cfg.run.subnet_filter {
                let mut fs = filters(&f.filters);
                fs.push(Filter::builder().name("state").values("available").build());
                if let Some(v) = &ctx.vpc_id {
                    fs.push(Filter::builder().name("vpc-id").values(v).build());
                }
                if let Some(az) = &ctx.availability_zone {
                    fs.push(
                        Filter::builder()
                            .name("availabilityZone")
                            .values(az)
                            .build(),
                    );
                }
                let out = ec2
                    .describe_subnets()
                    .set_filters(Some(fs))
                    .send()
                    .await
                    .aws_context(|| format!("describing subnets in {}", ctx.region))?;
                let mut subnets = out.subnets().to_vec();
                if subnets.is_empty() {
                    bail!(
                        "No subnets found matching filters: {}",
                        filters_text(&f.filters)
                    );
                }
                if subnets.len() > 1 && !f.random && !f.most_free {
                    bail!("Your filter matched {} Subnets. Please try a more specific search, or set random or most_free to true.", subnets.len());
                }
                let chosen = if f.most_free {
                    subnets.sort_by_key(|s| s.available_ip_address_count().unwrap_or(0));
                    subnets.pop()
                } else {
                    subnets.choose(&mut rand::thread_rng()).cloned()
                };
                ctx.subnet_id = chosen.and_then(|s| s.subnet_id().map(str::to_string));
                env.ui.message(&format!(
                    "Found Subnet ID: {}",
                    ctx.subnet_id.as_deref().unwrap_or("")
                ));
            }
        }
        if let Some(subnet) = ctx.subnet_id.clone() {
            if ctx.vpc_id.is_none() || ctx.availability_zone.is_none() {
                let out = ec2
                    .describe_subnets()
                    .subnet_ids(&subnet)
                    .send()
                    .await
                    .aws_context(|| format!("describing subnet {subnet} in {}", ctx.region))?;
                let Some(s) = out.subnets().first() else {
                    bail!("subnet {subnet} not found in {}", ctx.region)
                };
                if ctx.vpc_id.is_none() {
                    ctx.vpc_id = s.vpc_id().map(str::to_string);
                }
                if ctx.availability_zone.is_none() {
                    ctx.availability_zone = s.availability_zone().map(str::to_string);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_read_as_written_not_as_rust_debug() {
        let f = vec![
            ("tag:Name".to_string(), "web".to_string()),
            ("vpc-id".to_string(), "vpc-1".to_string()),
        ];
        assert_eq!(super::filters_text(&f), "{tag:Name: web, vpc-id: vpc-1}");
    }
}
