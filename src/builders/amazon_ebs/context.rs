//! The typed state of one amazon-ebs build, filled in step by step. Every id that exists in AWS
//! is here (and in the ledger) from the moment its create call returned, so cleanups know
//! exactly what to remove.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::access::{Clients, ResolvedPolling};
use crate::builders::amazon_ebs::config::Config;
use crate::builders::amazon_ebs::ProvisionHook;
use crate::communicator::SshComm;
use crate::shell_local::{GeneratedData, SourceAmi};
use crate::template::interp::{self, Value};

pub use crate::ledger::BUILD_ID_TAG;

/// What `source_ami`/`source_ami_filter` resolved to.
#[derive(Debug, Clone, Default)]
pub struct SourceImage {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub owner: String,
    pub owner_alias: String,
    pub tags: BTreeMap<String, String>,
    pub virtualization_type: String,
    pub root_device_name: Option<String>,
    pub ena_support: bool,
    /// The source AMI's EBS block devices (the root first when it is one of them): what an
    /// encrypted launch (`encrypt_boot`) must map again with encryption on.
    pub ebs_devices: Vec<SourceDevice>,
}

/// One EBS device of the source AMI's block device mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceDevice {
    pub device_name: String,
    pub snapshot_id: Option<String>,
    pub volume_size: Option<i64>,
    pub delete_on_termination: bool,
    pub encrypted: bool,
}

/// How `encrypt_boot: true` is delivered (decided by the launch step).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum BootEncryption {
    /// `encrypt_boot` is not `true`: nothing to do.
    #[default]
    Off,
    /// The instance is launched with encrypted volumes (this key, or the account's default EBS
    /// key), so CreateImage makes the encrypted AMI: no intermediary, no copy.
    Launch { kms_key_id: Option<String> },
    /// Packer's way: an unencrypted intermediary AMI that CopyImage encrypts; why.
    Copy { reason: String },
}

#[derive(Debug, Clone)]
pub struct KeyPair {
    pub name: String,
    /// `true` = rpack created it and deletes it again.
    pub temporary: bool,
    /// The user's private key file (`ssh_private_key_file`; `None` with agent auth and for a
    /// temporary key).
    pub private_key_file: Option<PathBuf>,
    /// The temporary key's private half, in memory only.
    pub private_key: Option<crate::communicator::keys::KeyText>,
    /// With `-debug`, the copy of a temporary key saved as `ec2_<build>.pem` in the working
    /// directory (as Packer does); removed with the key pair.
    pub debug_key_file: Option<PathBuf>,
}

/// The temporary IAM role + instance profile.
#[derive(Debug, Clone, Default)]
pub struct TempIam {
    pub role: Option<String>,
    pub policy_attached: bool,
    pub profile: Option<String>,
    pub role_in_profile: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Instance {
    pub id: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
    /// The instance's primary IPv6 address (`ssh_interface: ipv6`).
    pub ipv6: Option<String>,
    /// Set once TerminateInstances has been sent and the wait finished.
    pub terminated: bool,
}

/// One AMI in one region, with its snapshots.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub region: String,
    pub id: String,
    pub snapshots: Vec<String>,
    /// Removed again at the end even on success (the unencrypted source of encrypt_boot's copy
    /// path, or the build-region AMI with `skip_save_build_region`).
    pub intermediary: bool,
    /// Deregistration protection was turned on (`deregistration_protection`): a cleanup turns
    /// it off before deregistering.
    pub protected: bool,
    /// Windows fast launch was enabled (`fast_launch`): a failed build's cleanup disables it
    /// (and with it EC2's pre-provisioned snapshots) before the AMI is deregistered.
    pub fast_launch: bool,
}

pub struct BuildCtx {
    pub cfg: Arc<Config>,
    pub build_id: String,
    pub region: String,
    pub aws: Arc<Clients>,
    pub polling: ResolvedPolling,
    pub hook: Arc<dyn ProvisionHook>,
    /// `-debug`: steps that help debugging (saving the SSH key) do so.
    pub debug: bool,

    pub source: Option<SourceImage>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub key_pair: Option<KeyPair>,
    /// Groups the instance is launched into (given or the temporary one).
    pub security_group_ids: Vec<String>,
    pub temp_security_group: Option<String>,
    pub instance_profile: Option<String>,
    pub temp_iam: TempIam,
    /// The launch template of a spot build (CreateFleet needs one); deleted after the instance.
    pub launch_template: Option<String>,
    pub instance: Option<Instance>,
    pub comm: Option<SshComm>,
    /// With `ssh_interface: session_manager`: the port of the local forward on 127.0.0.1
    /// (`{{ build `Port` }}`), while it listens.
    pub ssm_forward_port: Option<u16>,
    /// Every AMI rpack registered, in creation order (build region first).
    pub images: Vec<Image>,
    /// The `encrypt_boot` path the launch took.
    pub boot_encryption: BootEncryption,
    /// The SSH host key rpack sent in the user data (`ssh_host_key_check` inject/auto); removed
    /// from the instance again before it is imaged.
    pub(crate) injected_host_key: Option<crate::communicator::host_key::HostKey>,
    /// amazon-ebsvolume: the volumes (and their snapshots) the build delivers. The volume
    /// cleanup spares them after a successful build.
    pub kept: KeptVolumes,
}

/// The EBS volumes an amazon-ebsvolume build keeps, and the snapshots made of them.
#[derive(Debug, Clone, Default)]
pub struct KeptVolumes {
    /// Every EBS volume attached to the instance: (device name, volume id).
    pub attached: Vec<(String, String)>,
    pub volumes: Vec<String>,
    pub snapshots: Vec<String>,
}

impl BuildCtx {
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        self.aws.ec2(&self.region)
    }

    pub fn instance_id(&self) -> Option<&str> {
        self.instance.as_ref().map(|i| i.id.as_str())
    }

    /// The AMIs the build delivers: every registered one except intermediaries.
    pub fn finals(&self) -> impl Iterator<Item = &Image> {
        self.images.iter().filter(|i| !i.intermediary)
    }

    /// The final AMIs (not intermediaries), region → id.
    pub fn final_images(&self) -> BTreeMap<String, String> {
        self.finals()
            .map(|i| (i.region.clone(), i.id.clone()))
            .collect()
    }

    /// `{{ .BuildRegion }}`, `{{ .SourceAMI* }}` data for late-rendered keys.
    pub fn template_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "BuildRegion".to_string(),
            Value::String(self.region.clone()),
        );
        let s = self.source.clone().unwrap_or_default();
        m.insert("SourceAMI".to_string(), Value::String(s.id));
        m.insert("SourceAMIName".to_string(), Value::String(s.name));
        m.insert(
            "SourceAMICreationDate".to_string(),
            Value::String(s.creation_date),
        );
        m.insert("SourceAMIOwner".to_string(), Value::String(s.owner));
        m.insert(
            "SourceAMIOwnerName".to_string(),
            Value::String(s.owner_alias),
        );
        m.insert(
            "SourceAMITags".to_string(),
            Value::Map(
                s.tags
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
        Value::Map(m)
    }

    /// The `build` function's data known before connecting (`ID`, `BuildRegion`,
    /// `SourceAMI*`); the provision step adds the connection's.
    pub fn generated_data(&self) -> GeneratedData {
        let s = self.source.clone().unwrap_or_default();
        GeneratedData {
            id: Some(self.instance_id().unwrap_or("").to_string()),
            build_region: Some(self.region.clone()),
            source_ami: Some(SourceAmi {
                id: s.id,
                name: s.name,
                creation_date: s.creation_date,
                owner: s.owner,
                owner_name: s.owner_alias,
            }),
            ..Default::default()
        }
    }

    /// Renders one late key (`tags`, `ami_description`, …) with the build data.
    pub fn render(&self, key: &str, s: &str) -> anyhow::Result<String> {
        let mut ctx = self.cfg.render_ctx.clone();
        ctx.data = Some(self.template_data());
        ctx.amazon_funcs = true;
        interp::render(s, &ctx).map_err(|e| anyhow::anyhow!("rendering {key}: {e}"))
    }

    /// Renders a tag list and adds the Packer `Name` default (if given) and the build-id tag.
    pub fn render_tags(
        &self,
        key: &str,
        tags: &[(String, String)],
        default_name: Option<&str>,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (k, v) in tags {
            out.push((self.render(key, k)?, self.render(key, v)?));
        }
        if let Some(name) = default_name {
            if !out.iter().any(|(k, _)| k == "Name") {
                out.insert(0, ("Name".to_string(), name.to_string()));
            }
        }
        out.retain(|(k, _)| k != BUILD_ID_TAG);
        out.push((BUILD_ID_TAG.to_string(), self.build_id.clone()));
        Ok(out)
    }

    /// A TagSpecification for `rt` with `tags`.
    pub fn tag_spec(
        rt: aws_sdk_ec2::types::ResourceType,
        tags: &[(String, String)],
    ) -> aws_sdk_ec2::types::TagSpecification {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(rt)
            .set_tags(Some(ec2_tags(tags)))
            .build()
    }

    /// The tags of a temporary resource the current plugin tags with `run_tags` (key pair,
    /// security group, IAM role and profile): `Name` = the resource's name unless `run_tags`
    /// set one, then the rendered `run_tags`, then the build-id tag.
    pub fn temp_resource_tags(&self, name: &str) -> anyhow::Result<Vec<(String, String)>> {
        self.render_tags("run_tags", &self.cfg.run.run_tags, Some(name))
    }

    /// Only the build-id tag (plus a Name) for resources Packer does not tag.
    pub fn id_tags(&self, name: &str) -> Vec<(String, String)> {
        vec![
            ("Name".to_string(), name.to_string()),
            (BUILD_ID_TAG.to_string(), self.build_id.clone()),
        ]
    }
}

pub fn ec2_tags(tags: &[(String, String)]) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}
