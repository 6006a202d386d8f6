//! `Ec2State`: what exists in moto, read through aws-sdk-ec2, so tests can assert what a build
//! created and what it cleaned up. Optionally restricted to one build (tag `rpack:build-id`).
//! Filtering happens here rather than with EC2 filters, so it does not depend on which filters
//! moto implements.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::Tag;
use aws_sdk_ec2::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

/// The account moto assigns to any unknown access key.
pub(crate) const MOTO_ACCOUNT: &str = "123456789012";
/// The tag rpack puts on everything it creates.
pub(crate) const BUILD_ID_TAG: &str = "rpack:build-id";

/// An EC2 client for `endpoint` in `region` with static dummy credentials (moto accepts any).
pub(crate) fn client(endpoint: &str, region: &str) -> Client {
    client_with_retries(endpoint, region, RetryConfig::standard())
}

/// As `client`, but every error reaches the caller on the first attempt (to see injected faults).
pub(crate) fn client_without_retries(endpoint: &str, region: &str) -> Client {
    client_with_retries(endpoint, region, RetryConfig::disabled())
}

fn client_with_retries(endpoint: &str, region: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .retry_config(retry)
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "AKIDRPACKTEST",
            "rpack-test-secret",
            None,
            None,
            "rpack-tests",
        ))
        .build();
    Client::from_conf(config)
}

pub(crate) type Tags = BTreeMap<String, String>;

fn tag_map(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceInfo {
    pub id: String,
    /// "pending", "running", "shutting-down", "terminated", "stopping", "stopped".
    pub state: String,
    pub key_name: Option<String>,
    pub image_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPairInfo {
    pub name: String,
    pub id: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    /// "pending", "available", ...
    pub state: String,
    pub snapshot_ids: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotInfo {
    pub id: String,
    pub volume_id: Option<String>,
    pub description: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumeInfo {
    pub id: String,
    /// "creating", "available", "in-use", ...
    pub state: String,
    pub attached_to: Vec<String>,
    pub tags: Tags,
}

/// Everything `Ec2State` lists, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inventory {
    pub instances: Vec<InstanceInfo>,
    pub key_pairs: Vec<KeyPairInfo>,
    pub security_groups: Vec<SecurityGroupInfo>,
    pub images: Vec<ImageInfo>,
    pub snapshots: Vec<SnapshotInfo>,
    pub volumes: Vec<VolumeInfo>,
}

impl Inventory {
    /// Instances not terminated (EC2 keeps terminated ones visible for a while).
    pub(crate) fn live_instances(&self) -> Vec<&InstanceInfo> {
        self.instances
            .iter()
            .filter(|i| i.state != "terminated")
            .collect()
    }
}

/// Reads moto's state in one region.
#[derive(Debug, Clone)]
pub(crate) struct Ec2State {
    client: Client,
    region: String,
    endpoint: String,
    build_id: Option<String>,
}

impl Ec2State {
    pub(crate) fn new(endpoint: &str, region: &str) -> Ec2State {
        Ec2State {
            client: client(endpoint, region),
            region: region.to_string(),
            endpoint: endpoint.to_string(),
            build_id: None,
        }
    }

    /// Only resources tagged `rpack:build-id` = `build_id` from now on.
    pub(crate) fn for_build(mut self, build_id: &str) -> Ec2State {
        self.build_id = Some(build_id.to_string());
        self
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    fn keep(&self, tags: &Tags) -> bool {
        match &self.build_id {
            Some(id) => tags.get(BUILD_ID_TAG) == Some(id),
            None => true,
        }
    }

    fn context(&self, what: &str) -> String {
        format!("describing {what} in {} at {}", self.region, self.endpoint)
    }

    /// All instances, terminated ones included.
    pub(crate) async fn instances(&self) -> Result<Vec<InstanceInfo>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_instances()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .with_context(|| self.context("instances"))?;
            for inst in page
                .reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
            {
                let info = InstanceInfo {
                    id: inst.instance_id().unwrap_or_default().to_string(),
                    state: inst
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    key_name: inst.key_name().map(str::to_string),
                    image_id: inst.image_id().map(str::to_string),
                    security_group_ids: inst
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_string))
                        .collect(),
                    tags: tag_map(inst.tags()),
                };
                if self.keep(&info.tags) {
                    out.push(info);
                }
            }
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    pub(crate) async fn key_pairs(&self) -> Result<Vec<KeyPairInfo>> {
        let resp = self
            .client
            .describe_key_pairs()
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| self.context("key pairs"))?;
        Ok(resp
            .key_pairs()
            .iter()
            .map(|k| KeyPairInfo {
                name: k.key_name().unwrap_or_default().to_string(),
                id: k.key_pair_id().map(str::to_string),
                tags: tag_map(k.tags()),
            })
            .filter(|k| self.keep(&k.tags))
            .collect())
    }

    /// Security groups other than the VPCs' "default" groups.
    pub(crate) async fn security_groups(&self) -> Result<Vec<SecurityGroupInfo>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_security_groups()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .with_context(|| self.context("security groups"))?;
            out.extend(
                page.security_groups()
                    .iter()
                    .filter(|g| g.group_name() != Some("default"))
                    .map(|g| SecurityGroupInfo {
                        id: g.group_id().unwrap_or_default().to_string(),
                        name: g.group_name().unwrap_or_default().to_string(),
                        tags: tag_map(g.tags()),
                    })
                    .filter(|g| self.keep(&g.tags)),
            );
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Images owned by this account (not moto's catalogue of public AMIs).
    pub(crate) async fn images(&self) -> Result<Vec<ImageInfo>> {
        let resp = self
            .client
            .describe_images()
            .owners("self")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| self.context("images"))?;
        Ok(resp
            .images()
            .iter()
            .map(|i| ImageInfo {
                id: i.image_id().unwrap_or_default().to_string(),
                name: i.name().map(str::to_string),
                state: i
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                snapshot_ids: i
                    .block_device_mappings()
                    .iter()
                    .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_string))
                    .collect(),
                tags: tag_map(i.tags()),
            })
            .filter(|i| self.keep(&i.tags))
            .collect())
    }

    /// Snapshots owned by this account. moto ignores `OwnerIds=self` and would also list the
    /// ~1300 snapshots behind its public AMIs (half a megabyte per call, most of the suite's moto
    /// time); the `owner-id` filter, which moto honours, leaves them out on its side.
    pub(crate) async fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_snapshots()
                .owner_ids("self")
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("owner-id")
                        .values(MOTO_ACCOUNT)
                        .build(),
                )
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .with_context(|| self.context("snapshots"))?;
            out.extend(
                page.snapshots()
                    .iter()
                    .filter(|s| s.owner_id() == Some(MOTO_ACCOUNT))
                    .map(|s| SnapshotInfo {
                        id: s.snapshot_id().unwrap_or_default().to_string(),
                        volume_id: s.volume_id().map(str::to_string),
                        description: s.description().map(str::to_string),
                        tags: tag_map(s.tags()),
                    })
                    .filter(|s| self.keep(&s.tags)),
            );
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    pub(crate) async fn volumes(&self) -> Result<Vec<VolumeInfo>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_volumes()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .with_context(|| self.context("volumes"))?;
            out.extend(
                page.volumes()
                    .iter()
                    .map(|v| VolumeInfo {
                        id: v.volume_id().unwrap_or_default().to_string(),
                        state: v
                            .state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        attached_to: v
                            .attachments()
                            .iter()
                            .filter_map(|a| a.instance_id().map(str::to_string))
                            .collect(),
                        tags: tag_map(v.tags()),
                    })
                    .filter(|v| self.keep(&v.tags)),
            );
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The tags of any resource (DescribeTags filtered by resource id).
    pub(crate) async fn tags(&self, resource_id: &str) -> Result<Tags> {
        let resp = self
            .client
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(resource_id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| self.context(&format!("tags of {resource_id}")))?;
        Ok(resp
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    /// Everything at once.
    pub(crate) async fn inventory(&self) -> Result<Inventory> {
        Ok(Inventory {
            instances: self.instances().await?,
            key_pairs: self.key_pairs().await?,
            security_groups: self.security_groups().await?,
            images: self.images().await?,
            snapshots: self.snapshots().await?,
            volumes: self.volumes().await?,
        })
    }
}
