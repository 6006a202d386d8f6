//! One deletion path for everything rpack creates in AWS. The amazon-ebs step cleanups, the
//! Session Manager transport and `rpack cleanup`'s sweep all delete through these functions, so
//! an in-build cleanup and a later sweep cannot drift apart.
//!
//! Each function deletes one resource of one [`ResourceKind`]: "already gone" counts as done,
//! and the answers EC2 gives while something still holds the resource (`DependencyViolation`,
//! `*.InUse`) are retried within a named budget. What was deleted is reported through a
//! `deleted(kind, id)` callback the moment it is gone, so the caller's ledger stays exact even
//! when a later part fails (an AMI deregistered, one of its snapshots not yet deletable).
//!
//! There is no spot-request kind: spot instances come from an `instant` EC2 Fleet, which holds
//! nothing once its instance is terminated; its launch template is [`ResourceKind::LaunchTemplate`].
//! A fleet that launched nothing is deleted by the spot step right away ([`delete_fleet`]).

use std::fmt;
use std::time::Duration;

use aws_sdk_ec2::types::InstanceStateName;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::aws::error::{AwsError, AwsResultExt, GoneIsDone};
use crate::aws::wait::{self, Check, PollPolicy, WaitError};

/// Retrying DeleteSecurityGroup while EC2 answers `DependencyViolation`: EC2 refuses while a
/// terminating instance's network interface still uses the group, which can last a few minutes.
pub const SECURITY_GROUP_RETRY: Duration = Duration::from_secs(5 * 60);
/// Retrying DeleteSnapshot on `InvalidSnapshot.InUse`: right after DeregisterImage EC2 can
/// still count the snapshot as used by the image for a short while.
pub const SNAPSHOT_RETRY: Duration = Duration::from_secs(60);
/// Retrying DeleteVolume on `VolumeInUse`: a volume of a just-terminated instance is detached
/// a moment after the instance is gone.
pub const VOLUME_RETRY: Duration = Duration::from_secs(60);
/// Retrying DeleteRole / DeleteInstanceProfile on IAM's `DeleteConflict`: right after a role
/// leaves its instance profile (or loses its inline policy) IAM can still see the link for a
/// few seconds (IAM is eventually consistent).
pub const IAM_CONFLICT_RETRY: Duration = Duration::from_secs(60);

/// Every kind of resource rpack creates, in deletion order: what depends on others comes
/// first (a session before its instance, an instance before its security group, an instance
/// profile before its role). The serde names are the build ledger's `kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A Session Manager session (its id).
    SsmSession,
    /// An EC2 instance (its id).
    Instance,
    /// The launch template of a spot build (its id).
    LaunchTemplate,
    /// An AMI (its id); deleting it deletes its snapshots too.
    Image,
    /// An EBS snapshot (its id).
    Snapshot,
    /// An EBS volume (its id).
    Volume,
    /// A temporary security group (its id).
    SecurityGroup,
    /// A temporary key pair (its name).
    KeyPair,
    /// A temporary IAM instance profile (its name; IAM is global).
    InstanceProfile,
    /// A temporary IAM role (its name; IAM is global).
    Role,
}

impl ResourceKind {
    /// Every kind, in deletion order.
    pub const ALL: [ResourceKind; 10] = [
        ResourceKind::SsmSession,
        ResourceKind::Instance,
        ResourceKind::LaunchTemplate,
        ResourceKind::Image,
        ResourceKind::Snapshot,
        ResourceKind::Volume,
        ResourceKind::SecurityGroup,
        ResourceKind::KeyPair,
        ResourceKind::InstanceProfile,
        ResourceKind::Role,
    ];

    /// The ledger's name of the kind (`key_pair`, `instance_profile`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::SsmSession => "ssm_session",
            ResourceKind::Instance => "instance",
            ResourceKind::LaunchTemplate => "launch_template",
            ResourceKind::Image => "image",
            ResourceKind::Snapshot => "snapshot",
            ResourceKind::Volume => "volume",
            ResourceKind::SecurityGroup => "security_group",
            ResourceKind::KeyPair => "key_pair",
            ResourceKind::InstanceProfile => "instance_profile",
            ResourceKind::Role => "role",
        }
    }

    /// The kind a ledger line names, if rpack knows it.
    pub fn parse(name: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// IAM resources are global: the ledger records them in region `global`.
    pub fn is_global(self) -> bool {
        matches!(self, ResourceKind::InstanceProfile | ResourceKind::Role)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The clients a deletion in one region may need (for [`delete`]).
pub struct Apis {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
}

/// Deletes one resource of any kind (the sweep's entry point; the steps call the function of
/// their kind). An instance is terminated and waited for within `instance_wait`, observing
/// `cancel`. Every deletion is reported to `deleted` as it happens.
pub async fn delete(
    apis: &Apis,
    kind: ResourceKind,
    id: &str,
    instance_wait: &PollPolicy,
    cancel: &CancellationToken,
    mut deleted: impl FnMut(ResourceKind, &str),
) -> anyhow::Result<()> {
    let (ec2, region) = (&apis.ec2, apis.region.as_str());
    match kind {
        ResourceKind::SsmSession => terminate_session(&apis.ssm, id).await?,
        ResourceKind::Instance => {
            terminate_instance(ec2, region, id).await?;
            wait_terminated(ec2, region, id, instance_wait, cancel).await?;
        }
        ResourceKind::LaunchTemplate => delete_launch_template(ec2, region, id).await?,
        ResourceKind::Image => return Ok(delete_image(ec2, region, id, &[], false, deleted).await?),
        ResourceKind::Snapshot => delete_snapshot(ec2, region, id).await?,
        ResourceKind::Volume => delete_volume(ec2, region, id).await?,
        ResourceKind::SecurityGroup => delete_security_group(ec2, region, id).await?,
        ResourceKind::KeyPair => delete_key_pair(ec2, region, id).await?,
        ResourceKind::InstanceProfile => delete_instance_profile(&apis.iam, id).await?,
        ResourceKind::Role => delete_role(&apis.iam, id).await?,
    }
    deleted(kind, id);
    Ok(())
}

/// TerminateInstances (not waiting). An instance that is already gone counts as terminated.
pub async fn terminate_instance(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    ec2.terminate_instances()
        .instance_ids(id)
        .send()
        .await
        .aws_context(|| format!("terminating instance {id} in {region}"))
        .ok_if_gone()
}

/// Waits until instance `id` is `terminated` or no longer known to EC2.
pub async fn wait_terminated(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    policy: &PollPolicy,
    cancel: &CancellationToken,
) -> Result<(), WaitError> {
    let what = format!("instance {id} to become terminated in {region}");
    wait::wait_for(&what, policy, cancel, || async move {
        let out = match ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .aws_context(|| format!("describing instance {id} in {region}"))
        {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(Check::Done(())),
            Err(e) => return Err(e),
        };
        let state = out
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .find_map(|i| i.state().and_then(|s| s.name()).cloned());
        match state {
            None | Some(InstanceStateName::Terminated) => Ok(Check::Done(())),
            Some(s) => Ok(Check::Pending(s.as_str().to_string())),
        }
    })
    .await
}

/// DeleteLaunchTemplate.
pub async fn delete_launch_template(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    ec2.delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .aws_context(|| format!("deleting launch template {id} in {region}"))
        .ok_if_gone()
}

/// Deletes the `instant` EC2 Fleet `id` of a spot request that launched nothing (EC2 keeps
/// such a fleet's record and errors; an instant fleet is deleted with `TerminateInstances`).
/// A fleet EC2 no longer knows counts as done.
pub async fn delete_fleet(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    let out = match ec2
        .delete_fleets()
        .fleet_ids(id)
        .terminate_instances(true)
        .send()
        .await
        .aws_context(|| format!("deleting EC2 fleet {id} in {region}"))
    {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    match out.unsuccessful_fleet_deletions().first() {
        Some(u) => {
            let err = u.error();
            let code = err.and_then(|e| e.code()).map(|c| c.as_str().to_string());
            if code.as_deref() == Some("fleetIdDoesNotExist") {
                return Ok(());
            }
            Err(AwsError {
                context: format!("deleting EC2 fleet {id} in {region}"),
                code,
                message: err
                    .and_then(|e| e.message())
                    .unwrap_or_default()
                    .to_string(),
                encoded: None,
            })
        }
        None => Ok(()),
    }
}

/// Deregisters AMI `id` and deletes its snapshots: `known` ones, else those the image lists (a
/// build killed while waiting for the AMI has not recorded them yet). Reports the image, then
/// each snapshot, to `deleted`. Deregistration protection is disabled first when `protected`
/// (the caller turned it on) or when the image's description says it is on (looked up only
/// when the snapshots are not known): EC2 refuses to deregister a protected AMI. With AWS's
/// cooldown the deregistration still fails for 24 hours, and the error says so.
pub async fn delete_image(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    known: &[String],
    protected: bool,
    mut deleted: impl FnMut(ResourceKind, &str),
) -> Result<(), AwsError> {
    let mut snapshots = known.to_vec();
    let mut protected = protected;
    if snapshots.is_empty() {
        if let Ok(out) = ec2.describe_images().image_ids(id).send().await {
            snapshots = out
                .images()
                .iter()
                .flat_map(aws_sdk_ec2::types::Image::block_device_mappings)
                .filter_map(|b| b.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
                .collect();
            protected |= out
                .images()
                .iter()
                .any(|i| is_protected(i.deregistration_protection()));
        }
    }
    if protected {
        disable_deregistration_protection(ec2, region, id).await?;
    }
    match ec2
        .deregister_image()
        .image_id(id)
        .send()
        .await
        .aws_context(|| format!("deregistering AMI {id} in {region}"))
    {
        Ok(_) => {}
        // Gone, or already on its way out.
        Err(e) if e.is_not_found() || e.code() == Some("InvalidAMIID.Unavailable") => {}
        Err(e) => return Err(e),
    }
    deleted(ResourceKind::Image, id);
    for s in &snapshots {
        delete_snapshot(ec2, region, s).await?;
        deleted(ResourceKind::Snapshot, s);
    }
    Ok(())
}

/// Whether DescribeImages' `DeregistrationProtection` (`disabled`, `enabled`,
/// `enabled-with-cooldown`, or `disabled-until <time>` while a cooldown runs) means it is on.
pub fn is_protected(state: Option<&str>) -> bool {
    state.is_some_and(|s| s.starts_with("enabled"))
}

/// DisableImageDeregistrationProtection; an AMI already gone is fine.
pub async fn disable_deregistration_protection(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    ec2.disable_image_deregistration_protection()
        .image_id(id)
        .send()
        .await
        .aws_context(|| format!("disabling deregistration protection of AMI {id} in {region}"))
        .ok_if_gone()
}

/// DeleteSnapshot, retried while the snapshot is still in use (see [`SNAPSHOT_RETRY`]).
pub async fn delete_snapshot(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    wait::retry_codes(&["InvalidSnapshot.InUse"], SNAPSHOT_RETRY, || async {
        ec2.delete_snapshot()
            .snapshot_id(id)
            .send()
            .await
            .aws_context(|| format!("deleting snapshot {id} in {region}"))
    })
    .await
    .ok_if_gone()
}

/// DeleteVolume, retried while the volume is still attached (see [`VOLUME_RETRY`]).
pub async fn delete_volume(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    wait::retry_codes(&["VolumeInUse"], VOLUME_RETRY, || async {
        ec2.delete_volume()
            .volume_id(id)
            .send()
            .await
            .aws_context(|| format!("deleting volume {id} in {region}"))
    })
    .await
    .ok_if_gone()
}

/// DeleteSecurityGroup, retried while an instance still uses the group (see
/// [`SECURITY_GROUP_RETRY`]).
pub async fn delete_security_group(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<(), AwsError> {
    wait::retry_codes(&["DependencyViolation"], SECURITY_GROUP_RETRY, || async {
        ec2.delete_security_group()
            .group_id(id)
            .send()
            .await
            .aws_context(|| format!("deleting security group {id} in {region}"))
    })
    .await
    .ok_if_gone()
}

/// DeleteKeyPair (by name).
pub async fn delete_key_pair(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    name: &str,
) -> Result<(), AwsError> {
    ec2.delete_key_pair()
        .key_name(name)
        .send()
        .await
        .aws_context(|| format!("deleting key pair {name} in {region}"))
        .ok_if_gone()
}

/// Removes every role from instance profile `name`, then deletes the profile.
pub async fn delete_instance_profile(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<(), AwsError> {
    let profile = match iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .aws_context(|| format!("reading instance profile {name}"))
    {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for role in profile
        .instance_profile()
        .map(aws_sdk_iam::types::InstanceProfile::roles)
        .unwrap_or_default()
    {
        let r = role.role_name();
        iam.remove_role_from_instance_profile()
            .instance_profile_name(name)
            .role_name(r)
            .send()
            .await
            .aws_context(|| format!("removing role {r} from instance profile {name}"))
            .ok_if_gone()?;
    }
    wait::retry_codes(&["DeleteConflict"], IAM_CONFLICT_RETRY, || async {
        iam.delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .aws_context(|| format!("deleting instance profile {name}"))
    })
    .await
    .ok_if_gone()
}

/// Takes role `name` out of its instance profiles, deletes its inline policies, then the role.
pub async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    let profiles = match iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .send()
        .await
        .aws_context(|| format!("listing the instance profiles of role {name}"))
    {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for p in profiles.instance_profiles() {
        let pn = p.instance_profile_name();
        iam.remove_role_from_instance_profile()
            .instance_profile_name(pn)
            .role_name(name)
            .send()
            .await
            .aws_context(|| format!("removing role {name} from instance profile {pn}"))
            .ok_if_gone()?;
    }
    let policies = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .aws_context(|| format!("listing the policies of role {name}"));
    match policies {
        Ok(out) => {
            for policy in out.policy_names() {
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .aws_context(|| format!("deleting policy {policy} of role {name}"))
                    .ok_if_gone()?;
            }
        }
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    }
    wait::retry_codes(&["DeleteConflict"], IAM_CONFLICT_RETRY, || async {
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .aws_context(|| format!("deleting role {name}"))
    })
    .await
    .ok_if_gone()
}

/// TerminateSession; a session that is already gone counts as terminated.
pub async fn terminate_session(ssm: &aws_sdk_ssm::Client, id: &str) -> Result<(), AwsError> {
    match ssm
        .terminate_session()
        .session_id(id)
        .send()
        .await
        .aws_context(|| format!("terminating Session Manager session {id}"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.code() == Some("DoesNotExistException") => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_states_that_block_deregistration() {
        assert!(is_protected(Some("enabled")));
        assert!(is_protected(Some("enabled-with-cooldown")));
        assert!(!is_protected(Some("disabled")));
        assert!(!is_protected(Some("disabled-until 2026-12-06T10:00:00Z")));
        assert!(!is_protected(None));
    }

    #[test]
    fn kinds_sort_in_deletion_order_and_round_trip_their_ledger_names() {
        let mut kinds = [
            ResourceKind::Role,
            ResourceKind::KeyPair,
            ResourceKind::Image,
            ResourceKind::Instance,
            ResourceKind::SecurityGroup,
            ResourceKind::Snapshot,
            ResourceKind::SsmSession,
            ResourceKind::InstanceProfile,
        ];
        kinds.sort();
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "ssm_session",
                "instance",
                "image",
                "snapshot",
                "security_group",
                "key_pair",
                "instance_profile",
                "role"
            ]
        );
        for k in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(ResourceKind::parse("spaceship"), None);
        assert!(ResourceKind::Role.is_global() && !ResourceKind::Volume.is_global());
    }
}
