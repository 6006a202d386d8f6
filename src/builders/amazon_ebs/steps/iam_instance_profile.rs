//! StepIamInstanceProfile: checks a given `iam_instance_profile` (unless
//! `skip_profile_validation`), or creates a temporary role + inline policy + instance profile
//! from `temporary_iam_instance_profile_policy_document`. With `ssh_interface:
//! session_manager` and neither key, the temporary profile gets the permissions of AWS's
//! `AmazonSSMManagedInstanceCore` (inline, [`SSM_CORE_POLICY`]), which the instance's SSM agent
//! needs to register (Packer refuses such a template). A new profile is polled until IAM lists
//! its role (RunInstances then retries while EC2 does not know it yet). Owns the temporary IAM
//! resources; every one is in the ledger and tagged `rpack:build-id` from the moment it exists.

use anyhow::Context as _;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::aws::wait::{self, Check, PollPolicy};
use crate::builders::amazon_ebs::config::timeouts;
use crate::builders::amazon_ebs::context::BuildCtx;
use crate::engine::{Outcome, Step, StepEnv};

pub struct IamInstanceProfile;

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The permissions of AWS's managed policy `AmazonSSMManagedInstanceCore` (as of 2024), given
/// inline so that the role needs no partition-specific ARN and is deleted like any other.
pub const SSM_CORE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:DescribeAssociation","ssm:GetDeployablePatchSnapshotForInstance","ssm:GetDocument","ssm:DescribeDocument","ssm:GetManifest","ssm:GetParameter","ssm:GetParameters","ssm:ListAssociations","ssm:ListInstanceAssociations","ssm:PutInventory","ssm:PutComplianceItems","ssm:PutConfigurePackageResult","ssm:UpdateAssociationStatus","ssm:UpdateInstanceAssociationStatus","ssm:UpdateInstanceInformation"],"Resource":"*"},{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"},{"Effect":"Allow","Action":["ec2messages:AcknowledgeMessage","ec2messages:DeleteMessage","ec2messages:FailMessage","ec2messages:GetEndpoint","ec2messages:GetMessages","ec2messages:SendReply"],"Resource":"*"}]}"#;

/// What an access-denied answer while creating the Session Manager profile adds.
const SSM_PROFILE_HINT: &str = "ssh_interface \"session_manager\" without iam_instance_profile makes rpack create a temporary instance profile (iam:CreateInstanceProfile, iam:CreateRole, iam:PutRolePolicy, iam:AddRoleToInstanceProfile, iam:PassRole, iam:GetInstanceProfile, and for cleanup iam:RemoveRoleFromInstanceProfile, iam:DeleteRolePolicy, iam:DeleteRole, iam:DeleteInstanceProfile, iam:ListInstanceProfilesForRole, iam:ListRolePolicies). Hint: grant these, or set iam_instance_profile to a profile with the AmazonSSMManagedInstanceCore policy";

/// Adds [`SSM_PROFILE_HINT`] to an access-denied error of the Session Manager profile.
fn ssm_hint(ssm_default: bool, e: crate::aws::error::AwsError) -> anyhow::Error {
    let denied = e.code().is_some_and(crate::aws::explain::is_access_denied);
    if ssm_default && denied {
        anyhow::Error::new(e).context(SSM_PROFILE_HINT)
    } else {
        e.into()
    }
}

/// Polls GetInstanceProfile until IAM lists `role` in profile `name` (IAM is eventually
/// consistent: a profile used before it propagated fails RunInstances with "Invalid IAM
/// Instance Profile name").
async fn wait_propagated(
    iam: &aws_sdk_iam::Client,
    name: &str,
    role: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), wait::WaitError> {
    let what = format!("instance profile {name} to list role {role}");
    wait::wait_for(
        &what,
        &PollPolicy::new(timeouts::NEW_INSTANCE_PROFILE_RETRY),
        cancel,
        || async {
            let out = iam
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .aws_context(|| format!("reading instance profile {name}"))?;
            let listed = out
                .instance_profile()
                .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == role));
            Ok(if listed {
                Check::Done(())
            } else {
                Check::Pending("the profile lists no role yet".into())
            })
        },
    )
    .await
}

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
        let (policy, ssm_default) = match &cfg.run.temporary_iam_instance_profile_policy_document {
            Some(doc) => (doc.to_json(), false),
            None if cfg.run.session_manager() => (SSM_CORE_POLICY.to_string(), true),
            None => return Ok(()),
        };
        let iam = ctx.aws.iam();
        let name = format!("packer-{}", ctx.build_id);
        // As the current plugin: run_tags on the role and the profile, in the calls that create
        // them (with the build-id tag, and Name = the resource's name unless run_tags set one).
        let tags = iam_tags(&ctx.temp_resource_tags(&name)?)?;

        if ssm_default {
            env.ui.say(
                "Session Manager: no iam_instance_profile given, creating a temporary one with the AmazonSSMManagedInstanceCore permissions",
            );
        }
        env.ui.say(&format!(
            "Creating temporary instance profile for this instance: {name}"
        ));
        iam.create_instance_profile()
            .instance_profile_name(&name)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .aws_context(|| format!("creating temporary instance profile {name}"))
            .map_err(|e| ssm_hint(ssm_default, e))?;
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
            .aws_context(|| format!("creating temporary role {name}"))
            .map_err(|e| ssm_hint(ssm_default, e))?;
        env.ledger.created(ResourceKind::Role, &name, "global");
        ctx.temp_iam.role = Some(name.clone());

        env.ui
            .say(&format!("Attaching policy to the temporary role: {name}"));
        iam.put_role_policy()
            .role_name(&name)
            .policy_name(&name)
            .policy_document(policy)
            .send()
            .await
            .aws_context(|| format!("attaching the policy to role {name}"))
            .map_err(|e| ssm_hint(ssm_default, e))?;
        ctx.temp_iam.policy_attached = true;

        iam.add_role_to_instance_profile()
            .instance_profile_name(&name)
            .role_name(&name)
            .send()
            .await
            .aws_context(|| format!("adding role {name} to instance profile {name}"))
            .map_err(|e| ssm_hint(ssm_default, e))?;
        ctx.temp_iam.role_in_profile = true;
        env.ui.say(&format!(
            "Waiting for instance profile {name} to propagate..."
        ));
        wait_propagated(&iam, &name, &name, &env.cancel)
            .await
            .map_err(|e| match e {
                wait::WaitError::Api(aws) => ssm_hint(ssm_default, aws),
                e => e.into(),
            })?;
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
