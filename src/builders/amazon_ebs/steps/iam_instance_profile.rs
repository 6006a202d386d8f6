//! StepIamInstanceProfile: checks a given `iam_instance_profile` (unless
//! `skip_profile_validation`), or creates a temporary role + inline policy + instance profile
//! from `temporary_iam_instance_profile_policy_document`. Owns the temporary IAM resources.

use anyhow::Context as _;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Outcome, Step, StepEnv};

pub struct IamInstanceProfile;

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Key/value pairs as IAM tags.
fn iam_tags(tags: &[(String, String)]) -> anyhow::Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .with_context(|| format!("building the IAM tag {k:?}"))
        })
        .collect()
}

#[async_trait::async_trait]
impl Step<BuildCtx> for IamInstanceProfile {
    fn name(&self) -> &'static str {
        "StepIamInstanceProfile"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        if let Some(p) = &cfg.run.iam_instance_profile {
            if !cfg.run.skip_profile_validation {
                ctx.aws
                    .iam()
                    .get_instance_profile()
                    .instance_profile_name(p)
                    .send()
                    .await
                    .aws_context(|| format!("checking IAM instance profile {p}"))?;
            }
            ctx.instance_profile = Some(p.clone());
            return Ok(());
        }
        let Some(doc) = &cfg.run.temporary_iam_instance_profile_policy_document else {
            return Ok(());
        };
        let iam = ctx.aws.iam();
        let name = format!("packer-{}", ctx.build_id);
        // As the current plugin: run_tags on the role and the profile, in the calls that create
        // them (with the build-id tag, and Name = the resource's name unless run_tags set one).
        let tags = iam_tags(&ctx.temp_resource_tags(&name)?)?;

        env.ui.say(&format!(
            "Creating temporary instance profile for this instance: {name}"
        ));
        iam.create_instance_profile()
            .instance_profile_name(&name)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .aws_context(|| format!("creating temporary instance profile {name}"))?;
        env.ledger
            .created(ResourceKind::InstanceProfile, &name, "global");
        ctx.temp_iam.profile = Some(name.clone());

        env.ui.say(&format!(
            "Creating temporary role for this instance: {name}"
        ));
        iam.create_role()
            .role_name(&name)
            .assume_role_policy_document(TRUST_POLICY)
            .set_tags(Some(tags))
            .send()
            .await
            .aws_context(|| format!("creating temporary role {name}"))?;
        env.ledger.created(ResourceKind::Role, &name, "global");
        ctx.temp_iam.role = Some(name.clone());

        env.ui
            .say(&format!("Attaching policy to the temporary role: {name}"));
        iam.put_role_policy()
            .role_name(&name)
            .policy_name(&name)
            .policy_document(doc.to_json())
            .send()
            .await
            .aws_context(|| format!("attaching the policy to role {name}"))?;
        ctx.temp_iam.policy_attached = true;

        iam.add_role_to_instance_profile()
            .instance_profile_name(&name)
            .role_name(&name)
            .send()
            .await
            .aws_context(|| format!("adding role {name} to instance profile {name}"))?;
        ctx.temp_iam.role_in_profile = true;
        ctx.instance_profile = Some(name);
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        let t = ctx.temp_iam.clone();
        if t.profile.is_none() && t.role.is_none() {
            return Ok(());
        }
        let iam = ctx.aws.iam();
        let mut errors = Vec::new();
        // Deleting the role takes it out of the profile and deletes its policy first.
        if let Some(r) = &t.role {
            if t.role_in_profile && t.profile.is_some() {
                env.ui.say("Removing role from instance profile...");
            }
            env.ui.say("Deleting temporary role...");
            match delete::delete_role(&iam, r).await {
                Ok(()) => env.ledger.deleted(ResourceKind::Role, r, "global"),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if let Some(p) = &t.profile {
            env.ui.say("Deleting temporary instance profile...");
            match delete::delete_instance_profile(&iam, p).await {
                Ok(()) => env
                    .ledger
                    .deleted(ResourceKind::InstanceProfile, p, "global"),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}
