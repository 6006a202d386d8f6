//! StepModifyAMIAttributes: launch permissions (`ami_users`, `ami_groups`, `ami_org_arns`,
//! `ami_ou_arns`), product codes, snapshot create-volume permissions (`snapshot_users`,
//! `snapshot_groups`), `imds_support` and `deprecate_at`, in every region the AMI is in.
//! The description is set at creation/copy time instead of with an extra call.

use aws_sdk_ec2::types::{
    CreateVolumePermission, CreateVolumePermissionModifications, LaunchPermission,
    LaunchPermissionModifications, PermissionGroup,
};

use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Step, StepEnv};

pub struct AmiAttributes;

#[async_trait::async_trait]
impl Step<BuildCtx> for AmiAttributes {
    fn name(&self) -> &'static str {
        "StepModifyAMIAttributes"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let launch = !cfg.ami.ami_users.is_empty()
            || !cfg.ami.ami_groups.is_empty()
            || !cfg.ami.ami_org_arns.is_empty()
            || !cfg.ami.ami_ou_arns.is_empty();
        let snap = !cfg.ami.snapshot_users.is_empty() || !cfg.ami.snapshot_groups.is_empty();
        let any = launch
            || snap
            || !cfg.ami.ami_product_codes.is_empty()
            || cfg.ami.imds_support.is_some()
            || cfg.ami.deprecate_at.is_some();
        if !any {
            return Ok(());
        }
        for img in ctx.finals().cloned().collect::<Vec<_>>() {
            let ec2 = ctx.aws.ec2(&img.region);
            let (id, region) = (&img.id, &img.region);
            env.ui
                .say(&format!("Modifying attributes on AMI ({id})..."));
            if launch {
                let mut adds = Vec::new();
                for u in &cfg.ami.ami_users {
                    adds.push(LaunchPermission::builder().user_id(u).build());
                }
                for g in &cfg.ami.ami_groups {
                    adds.push(
                        LaunchPermission::builder()
                            .group(PermissionGroup::from(g.as_str()))
                            .build(),
                    );
                }
                for a in &cfg.ami.ami_org_arns {
                    adds.push(LaunchPermission::builder().organization_arn(a).build());
                }
                for a in &cfg.ami.ami_ou_arns {
                    adds.push(
                        LaunchPermission::builder()
                            .organizational_unit_arn(a)
                            .build(),
                    );
                }
                env.ui.message("Modifying: launchPermission");
                ec2.modify_image_attribute()
                    .image_id(id)
                    .launch_permission(
                        LaunchPermissionModifications::builder()
                            .set_add(Some(adds))
                            .build(),
                    )
                    .send()
                    .await
                    .aws_context(|| {
                        format!("granting launch permissions on AMI {id} in {region}")
                    })?;
            }
            if !cfg.ami.ami_product_codes.is_empty() {
                env.ui.message("Modifying: productCodes");
                ec2.modify_image_attribute()
                    .image_id(id)
                    .set_product_codes(Some(cfg.ami.ami_product_codes.clone()))
                    .send()
                    .await
                    .aws_context(|| format!("setting product codes on AMI {id} in {region}"))?;
            }
            if let Some(v) = &cfg.ami.imds_support {
                env.ui.message("Modifying: imdsSupport");
                ec2.modify_image_attribute()
                    .image_id(id)
                    .imds_support(
                        aws_sdk_ec2::types::AttributeValue::builder()
                            .value(v)
                            .build(),
                    )
                    .send()
                    .await
                    .aws_context(|| format!("setting imds_support on AMI {id} in {region}"))?;
            }
            if let Some(t) = &cfg.ami.deprecate_at {
                let when = chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|e| anyhow::anyhow!("deprecate_at {t:?}: {e}"))?;
                let dt = aws_sdk_ec2::primitives::DateTime::from_secs(when.timestamp());
                ec2.enable_image_deprecation()
                    .image_id(id)
                    .deprecate_at(dt)
                    .send()
                    .await
                    .aws_context(|| {
                        format!("setting the deprecation time of AMI {id} in {region}")
                    })?;
            }
            if snap {
                for s in &img.snapshots {
                    env.ui
                        .say(&format!("Modifying attributes on snapshot ({s})..."));
                    let mut adds = Vec::new();
                    for u in &cfg.ami.snapshot_users {
                        adds.push(CreateVolumePermission::builder().user_id(u).build());
                    }
                    for g in &cfg.ami.snapshot_groups {
                        adds.push(
                            CreateVolumePermission::builder()
                                .group(PermissionGroup::from(g.as_str()))
                                .build(),
                        );
                    }
                    ec2.modify_snapshot_attribute()
                        .snapshot_id(s)
                        .create_volume_permission(
                            CreateVolumePermissionModifications::builder()
                                .set_add(Some(adds))
                                .build(),
                        )
                        .send()
                        .await
                        .aws_context(|| {
                            format!(
                                "granting create-volume permissions on snapshot {s} in {region}"
                            )
                        })?;
                }
            }
        }
        Ok(())
    }
}
