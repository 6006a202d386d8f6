//! amazon-ebs configuration: every key of Packer 1.6.6 plus the later plugin keys users write,
//! decoded with Packer's weak typing and validated with Packer's exact messages (the order of
//! AccessConfig → AMIConfig → block devices → RunConfig → builder checks is Packer's).
//!
//! Keys in [`NO_RENDER`] are only syntax-checked here and rendered per region at run time with
//! `{{ .BuildRegion }}` and the `{{ .SourceAMI* }}` data.

use std::path::PathBuf;
use std::time::Duration;

use crate::aws::access::{self, AccessConfig};
use crate::communicator::config::SshConfig;
use crate::config::Decoder;
use crate::template::interp::Context;

/// Keys rendered later with build data (Packer's `InterpolateFilter.Exclude`).
pub const NO_RENDER: &[&str] = &[
    "ami_description",
    "run_tags",
    "run_tag",
    "run_volume_tags",
    "run_volume_tag",
    "spot_tags",
    "spot_tag",
    "snapshot_tags",
    "snapshot_tag",
    "tags",
    "tag",
];

/// A `filters` + `owners` + `most_recent` block (`source_ami_filter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmiFilter {
    pub filters: Vec<(String, String)>,
    pub owners: Vec<String>,
    pub most_recent: bool,
    pub include_deprecated: bool,
}

/// `vpc_filter` / `subnet_filter` / `security_group_filter`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetFilter {
    pub filters: Vec<(String, String)>,
    pub most_free: bool,
    pub random: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockDevice {
    pub device_name: String,
    pub delete_on_termination: bool,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub iops: Option<i64>,
    pub throughput: Option<i64>,
    pub no_device: bool,
    pub snapshot_id: Option<String>,
    pub virtual_name: Option<String>,
    pub volume_type: Option<String>,
    pub volume_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataOptions {
    pub http_endpoint: Option<String>,
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub instance_metadata_tags: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyStatement {
    pub effect: String,
    pub action: Vec<String>,
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyDocument {
    pub version: String,
    pub statement: Vec<PolicyStatement>,
}

impl PolicyDocument {
    pub fn to_json(&self) -> String {
        let st: Vec<serde_json::Value> = self
            .statement
            .iter()
            .map(|s| serde_json::json!({"Effect": s.effect, "Action": s.action, "Resource": s.resource}))
            .collect();
        serde_json::json!({"Version": self.version, "Statement": st}).to_string()
    }
}

/// The checked amazon-ebs configuration.
#[derive(Clone, Default)]
pub struct Config {
    pub access: AccessConfig,
    pub comm: SshConfig,
    /// The render context for the late keys (user variables, functions); dot data is added
    /// per region at run time.
    pub render_ctx: Context,
    /// The build name (template `name`, else `amazon-ebs`), for messages.
    pub build_name: String,

    // AMI config
    pub ami_name: String,
    pub ami_description: Option<String>,
    pub ami_virtualization_type: Option<String>,
    pub ami_users: Vec<String>,
    pub ami_groups: Vec<String>,
    pub ami_org_arns: Vec<String>,
    pub ami_ou_arns: Vec<String>,
    pub ami_product_codes: Vec<String>,
    /// Deduplicated, without the build region.
    pub ami_regions: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub ena_support: Option<bool>,
    pub sriov_support: bool,
    pub force_deregister: bool,
    pub force_delete_snapshot: bool,
    pub encrypt_boot: Option<bool>,
    pub kms_key_id: Option<String>,
    pub region_kms_key_ids: Vec<(String, String)>,
    pub skip_save_build_region: bool,
    pub snapshot_tags: Vec<(String, String)>,
    pub snapshot_users: Vec<String>,
    pub snapshot_groups: Vec<String>,
    pub imds_support: Option<String>,
    /// RFC 3339 time the AMI is deprecated at.
    pub deprecate_at: Option<String>,
    pub skip_create_ami: bool,

    // Block devices
    pub ami_block_device_mappings: Vec<BlockDevice>,
    pub launch_block_device_mappings: Vec<BlockDevice>,
    pub run_volume_tags: Vec<(String, String)>,
    pub no_ephemeral: bool,

    // Run config
    pub instance_type: Option<String>,
    pub spot_instance_types: Vec<String>,
    pub source_ami: Option<String>,
    pub source_ami_filter: Option<AmiFilter>,
    pub associate_public_ip_address: Option<bool>,
    pub availability_zone: Option<String>,
    pub subnet_id: Option<String>,
    pub subnet_filter: Option<NetFilter>,
    pub vpc_id: Option<String>,
    pub vpc_filter: Option<NetFilter>,
    pub security_group_ids: Vec<String>,
    pub security_group_filter: Option<NetFilter>,
    pub temporary_security_group_source_cidrs: Vec<String>,
    pub temporary_security_group_source_public_ip: bool,
    pub iam_instance_profile: Option<String>,
    pub skip_profile_validation: bool,
    pub temporary_iam_instance_profile_policy_document: Option<PolicyDocument>,
    pub shutdown_behavior: String,
    pub ebs_optimized: bool,
    pub enable_t2_unlimited: bool,
    pub tenancy: Option<String>,
    pub run_tags: Vec<(String, String)>,
    pub user_data: Option<String>,
    pub user_data_file: Option<PathBuf>,
    pub spot_price: Option<String>,
    pub spot_tags: Vec<(String, String)>,
    pub block_duration_minutes: i64,
    pub disable_stop_instance: bool,
    pub ssh_interface: Option<String>,
    pub metadata_options: MetadataOptions,
    /// `temporary_key_pair_type` as written by the user (`None` → rpack's ed25519 default).
    pub temporary_key_pair_type: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The render context holds closures and secrets; it is left out on purpose.
        f.debug_struct("Config")
            .field("build_name", &self.build_name)
            .field("region", &self.access.region)
            .field("ami_name", &self.ami_name)
            .field("ami_regions", &self.ami_regions)
            .field("source_ami", &self.source_ami)
            .field("source_ami_filter", &self.source_ami_filter)
            .field("instance_type", &self.instance_type)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn is_spot(&self) -> bool {
        self.spot_price
            .as_deref()
            .is_some_and(|p| !p.is_empty() && p != "0")
    }
    /// The temporary key type rpack creates: ed25519 unless the template says otherwise
    /// (Packer 1.6.6 always made RSA, which OpenSSH ≥ 8.8 images reject with SHA-1).
    pub fn key_type(&self) -> &str {
        self.temporary_key_pair_type.as_deref().unwrap_or("ed25519")
    }
    /// Every region the AMI ends up in: the build region first, then `ami_regions`.
    pub fn all_regions(&self, build_region: &str) -> Vec<String> {
        let mut v = vec![build_region.to_string()];
        v.extend(
            self.ami_regions
                .iter()
                .filter(|r| *r != build_region)
                .cloned(),
        );
        v
    }
    pub fn region_kms_key(&self, region: &str) -> Option<&str> {
        self.region_kms_key_ids
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, k)| k.as_str())
    }
}

/// Tags given as a map (`tags`) or as Packer's list form (`tag: [{key, value}]`), map first.
fn tags(d: &mut Decoder<'_>, map_key: &str, list_key: &str) -> Vec<(String, String)> {
    let mut v = d.string_map(map_key).unwrap_or_default();
    let list = d
        .object_list(list_key, |d| {
            let k = d
                .string("key")
                .or_else(|| d.string("name"))
                .unwrap_or_default();
            (k, d.string("value").unwrap_or_default())
        })
        .unwrap_or_default();
    for (k, val) in list {
        v.retain(|(x, _)| *x != k);
        v.push((k, val));
    }
    v
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn block_devices(d: &mut Decoder<'_>, key: &str) -> Vec<BlockDevice> {
    d.object_list(key, |d| BlockDevice {
        device_name: d.string("device_name").unwrap_or_default(),
        delete_on_termination: d.bool("delete_on_termination").unwrap_or(false),
        encrypted: d.bool("encrypted"),
        kms_key_id: nonempty(d.string("kms_key_id")),
        iops: d.int("iops").filter(|i| *i != 0),
        throughput: d.int("throughput").filter(|i| *i != 0),
        no_device: d.bool("no_device").unwrap_or(false),
        snapshot_id: nonempty(d.string("snapshot_id")),
        virtual_name: nonempty(d.string("virtual_name")),
        volume_type: nonempty(d.string("volume_type")),
        volume_size: d.int("volume_size").filter(|i| *i != 0),
    })
    .unwrap_or_default()
}

fn net_filter(d: &mut Decoder<'_>, key: &str) -> Option<NetFilter> {
    d.object(key, |d| NetFilter {
        filters: d.string_map("filters").unwrap_or_default(),
        most_free: d.bool("most_free").unwrap_or(false),
        random: d.bool("random").unwrap_or(false),
    })
    .filter(|f| !f.filters.is_empty())
}

/// Decodes and validates one amazon-ebs builder. The caller calls `d.finish()` afterwards.
pub fn decode(d: &mut Decoder<'_>) -> Config {
    let mut c = Config {
        render_ctx: d.ctx().clone(),
        ..Default::default()
    };
    c.build_name = d
        .ctx()
        .build_name
        .clone()
        .unwrap_or_else(|| "amazon-ebs".to_string());

    // ---- AccessConfig
    c.access = access::decode(d);

    // ---- AMIConfig
    c.ami_name = d.string("ami_name").unwrap_or_default();
    c.ami_description = nonempty(d.string("ami_description"));
    c.ami_virtualization_type = nonempty(d.string("ami_virtualization_type"));
    c.ami_users = d.string_list("ami_users").unwrap_or_default();
    c.ami_groups = d.string_list("ami_groups").unwrap_or_default();
    c.ami_org_arns = d.string_list("ami_org_arns").unwrap_or_default();
    c.ami_ou_arns = d.string_list("ami_ou_arns").unwrap_or_default();
    c.ami_product_codes = d.string_list("ami_product_codes").unwrap_or_default();
    let raw_regions = d.string_list("ami_regions").unwrap_or_default();
    c.tags = tags(d, "tags", "tag");
    c.ena_support = d.bool("ena_support");
    c.sriov_support = d.bool("sriov_support").unwrap_or(false);
    c.force_deregister = d.bool("force_deregister").unwrap_or(false);
    c.force_delete_snapshot = d.bool("force_delete_snapshot").unwrap_or(false);
    c.encrypt_boot = d.bool("encrypt_boot");
    c.kms_key_id = nonempty(d.string("kms_key_id"));
    c.region_kms_key_ids = d.string_map("region_kms_key_ids").unwrap_or_default();
    c.skip_save_build_region = d.bool("skip_save_build_region").unwrap_or(false);
    c.snapshot_tags = tags(d, "snapshot_tags", "snapshot_tag");
    c.snapshot_users = d.string_list("snapshot_users").unwrap_or_default();
    c.snapshot_groups = d.string_list("snapshot_groups").unwrap_or_default();
    c.imds_support = nonempty(d.string("imds_support"));
    c.deprecate_at = nonempty(d.string("deprecate_at"));
    c.skip_create_ami = d.bool("skip_create_ami").unwrap_or(false);

    if c.ami_name.is_empty() {
        d.error("ami_name", "ami_name must be specified");
    }
    for (r, _) in &c.region_kms_key_ids {
        if !raw_regions.contains(r) {
            d.error(
                "region_kms_key_ids",
                format!("Region {r} is in region_kms_key_ids but not in ami_regions"),
            );
        }
    }
    let mut seen = Vec::new();
    for r in &raw_regions {
        if seen.contains(r) {
            continue;
        }
        seen.push(r.clone());
        if !c.region_kms_key_ids.is_empty() && c.region_kms_key(r).is_none() {
            d.error(
                "ami_regions",
                format!("Region {r} is in ami_regions but not in region_kms_key_ids"),
            );
        }
        if c.access.region.as_deref() == Some(r.as_str()) {
            continue; // never copy into the build region
        }
        c.ami_regions.push(r.clone());
    }
    let encrypt = c.encrypt_boot == Some(true);
    if !c.ami_users.is_empty() {
        if c.kms_key_id.is_none() && encrypt {
            d.error(
                "ami_users",
                "Cannot share AMI encrypted with default KMS key",
            );
        }
        for (_, k) in &c.region_kms_key_ids {
            if k.is_empty() {
                d.error(
                    "ami_users",
                    "Cannot share AMI encrypted with default KMS key for other regions",
                );
            }
        }
    }
    let mut kms_keys: Vec<String> = c.kms_key_id.iter().cloned().collect();
    kms_keys.extend(
        c.region_kms_key_ids
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(_, k)| k.clone()),
    );
    if !kms_keys.is_empty() && !encrypt {
        d.error("encrypt_boot", "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.");
    }
    for k in &kms_keys {
        if !valid_kms_key(k) {
            d.error("kms_key_id", format!("{k:?} is not a valid KMS Key Id."));
        }
    }
    if !c.snapshot_users.is_empty() {
        if c.kms_key_id.is_none() && c.region_kms_key_ids.is_empty() && encrypt {
            d.error(
                "snapshot_users",
                "Cannot share snapshot encrypted with default KMS key",
            );
        }
        for (_, k) in &c.region_kms_key_ids {
            if k.is_empty() {
                d.error(
                    "snapshot_users",
                    "Cannot share snapshot encrypted with default KMS key for other regions",
                );
            }
        }
    }
    {
        let n = c.ami_name.chars().count();
        if !(3..=128).contains(&n) {
            d.error(
                "ami_name",
                "ami_name must be between 3 and 128 characters long",
            );
        }
        if !c.ami_name.chars().all(valid_ami_name_char) {
            d.error(
                "ami_name",
                "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
            );
        }
    }
    if let Some(v) = &c.imds_support {
        if v != "v2.0" {
            d.error(
                "imds_support",
                format!("imds_support must be set to 'v2.0' or left empty, got {v:?}"),
            );
        }
    }
    if let Some(t) = &c.deprecate_at {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            d.error(
                "deprecate_at",
                format!("deprecate_at: {t:?} is not an RFC 3339 time (e.g. 2030-01-02T15:04:05Z)"),
            );
        }
    }

    // ---- Block devices (ami mappings, then launch mappings)
    c.ami_block_device_mappings = block_devices(d, "ami_block_device_mappings");
    c.launch_block_device_mappings = block_devices(d, "launch_block_device_mappings");
    for (key, list) in [
        (
            "ami_block_device_mappings",
            c.ami_block_device_mappings.clone(),
        ),
        (
            "launch_block_device_mappings",
            c.launch_block_device_mappings.clone(),
        ),
    ] {
        for b in &list {
            if let Err(msg) = check_block_device(b) {
                d.error(key, msg);
            }
        }
    }
    c.run_volume_tags = tags(d, "run_volume_tags", "run_volume_tag");
    c.no_ephemeral = d.bool("no_ephemeral").unwrap_or(false);

    // ---- RunConfig
    let user_key_type = d.raw("temporary_key_pair_type").is_some();
    c.comm = crate::communicator::config::decode(d);
    if user_key_type {
        c.temporary_key_pair_type = Some(c.comm.temporary_key_pair_type.clone());
    }
    if let Err((key, msg)) = super::steps::key_pair::check_spec(
        c.key_type(),
        c.comm.temporary_key_pair_bits,
        d.raw("temporary_key_pair_bits").is_some(),
    ) {
        d.error(key, msg);
    }
    c.instance_type = nonempty(d.string("instance_type"));
    c.spot_instance_types = d.string_list("spot_instance_types").unwrap_or_default();
    c.source_ami = nonempty(d.string("source_ami"));
    c.source_ami_filter = d.object("source_ami_filter", |d| AmiFilter {
        filters: d.string_map("filters").unwrap_or_default(),
        owners: d.string_list("owners").unwrap_or_default(),
        most_recent: d.bool("most_recent").unwrap_or(false),
        include_deprecated: d.bool("include_deprecated").unwrap_or(false),
    });
    c.associate_public_ip_address = d.bool("associate_public_ip_address");
    c.availability_zone = nonempty(d.string("availability_zone"));
    c.subnet_id = nonempty(d.string("subnet_id"));
    c.subnet_filter = net_filter(d, "subnet_filter");
    c.vpc_id = nonempty(d.string("vpc_id"));
    c.vpc_filter = net_filter(d, "vpc_filter");
    let sg_id = nonempty(d.string("security_group_id"));
    c.security_group_ids = d.string_list("security_group_ids").unwrap_or_default();
    c.security_group_filter = net_filter(d, "security_group_filter");
    c.temporary_security_group_source_cidrs = d
        .string_list("temporary_security_group_source_cidrs")
        .unwrap_or_default();
    c.temporary_security_group_source_public_ip = d
        .bool("temporary_security_group_source_public_ip")
        .unwrap_or(false);
    c.iam_instance_profile = nonempty(d.string("iam_instance_profile"));
    c.skip_profile_validation = d.bool("skip_profile_validation").unwrap_or(false);
    c.temporary_iam_instance_profile_policy_document =
        d.object("temporary_iam_instance_profile_policy_document", |d| {
            PolicyDocument {
                version: d
                    .string("Version")
                    .unwrap_or_else(|| "2012-10-17".to_string()),
                statement: d
                    .object_list("Statement", |d| PolicyStatement {
                        effect: d.string("Effect").unwrap_or_default(),
                        action: d.string_list("Action").unwrap_or_default(),
                        resource: d.string_list("Resource").unwrap_or_default(),
                    })
                    .unwrap_or_default(),
            }
        });
    let shutdown = d.string("shutdown_behavior").unwrap_or_default();
    c.ebs_optimized = d.bool("ebs_optimized").unwrap_or(false);
    c.enable_t2_unlimited = d.bool("enable_t2_unlimited").unwrap_or(false)
        || d.bool("enable_unlimited_credits").unwrap_or(false);
    c.tenancy = nonempty(d.string("tenancy"));
    c.run_tags = tags(d, "run_tags", "run_tag");
    c.user_data = nonempty(d.string("user_data"));
    c.user_data_file = nonempty(d.string("user_data_file")).map(PathBuf::from);
    c.spot_price = nonempty(d.string("spot_price"));
    c.spot_tags = tags(d, "spot_tags", "spot_tag");
    let spot_tags_set = d.raw("spot_tags").is_some() || d.raw("spot_tag").is_some();
    let _ = d.string("spot_price_auto_product");
    c.block_duration_minutes = d.int("block_duration_minutes").unwrap_or(0);
    c.disable_stop_instance = d.bool("disable_stop_instance").unwrap_or(false);
    c.ssh_interface = nonempty(d.string("ssh_interface"));
    let _ = d.duration("windows_password_timeout");
    let _ = d.duration("pause_before_ssm");
    let _ = d.int("session_manager_port");
    c.metadata_options = d
        .object("metadata_options", |d| MetadataOptions {
            http_endpoint: nonempty(d.string("http_endpoint")),
            http_tokens: nonempty(d.string("http_tokens")),
            http_put_response_hop_limit: d.int("http_put_response_hop_limit").filter(|n| *n != 0),
            instance_metadata_tags: nonempty(d.string("instance_metadata_tags")),
        })
        .unwrap_or_default();

    if let Some(i) = &c.ssh_interface {
        if ![
            "public_ip",
            "private_ip",
            "public_dns",
            "private_dns",
            "session_manager",
        ]
        .contains(&i.as_str())
        {
            d.error("ssh_interface", format!("Unknown interface type: {i}"));
        }
    }
    let filter_empty = c
        .source_ami_filter
        .as_ref()
        .is_none_or(|f| f.filters.is_empty() && f.owners.is_empty());
    if c.source_ami.is_none() && filter_empty {
        d.error(
            "source_ami",
            "A source_ami or source_ami_filter must be specified",
        );
    }
    if c.source_ami.is_none()
        && c.source_ami_filter
            .as_ref()
            .is_none_or(|f| f.owners.is_empty())
    {
        d.error(
            "source_ami_filter",
            "For security reasons, your source AMI filter must declare an owner.",
        );
    }
    if c.instance_type.is_none() && c.spot_instance_types.is_empty() {
        d.error(
            "instance_type",
            "either instance_type or spot_instance_types must be specified",
        );
    }
    if c.instance_type.is_some() && !c.spot_instance_types.is_empty() {
        d.error(
            "instance_type",
            "either instance_type or spot_instance_types must be specified, not both",
        );
    }
    if c.block_duration_minutes % 60 != 0 {
        d.error(
            "block_duration_minutes",
            "block_duration_minutes must be multiple of 60",
        );
    }
    if spot_tags_set && !c.is_spot() {
        d.error(
            "spot_tags",
            "spot_tags should not be set when not requesting a spot instance",
        );
    }
    if c.user_data.is_some() && c.user_data_file.is_some() {
        d.error(
            "user_data",
            "Only one of user_data or user_data_file can be specified.",
        );
    } else if let Some(f) = &c.user_data_file {
        if std::fs::metadata(f).is_err() {
            d.error(
                "user_data_file",
                format!("user_data_file not found: {}", f.display()),
            );
        }
    }
    if let Some(id) = sg_id {
        if !c.security_group_ids.is_empty() {
            d.error(
                "security_group_id",
                "Only one of security_group_id or security_group_ids can be specified.",
            );
        } else {
            c.security_group_ids = vec![id];
        }
    }
    if c.temporary_security_group_source_cidrs.is_empty() {
        if !c.temporary_security_group_source_public_ip {
            c.temporary_security_group_source_cidrs = vec!["0.0.0.0/0".to_string()];
        }
    } else {
        for cidr in c.temporary_security_group_source_cidrs.clone() {
            if let Err(e) = parse_cidr(&cidr) {
                d.error(
                    "temporary_security_group_source_cidrs",
                    format!("Error parsing temporary_security_group_source_cidrs: {e}"),
                );
            }
        }
    }
    c.shutdown_behavior = if shutdown.is_empty() {
        "stop".to_string()
    } else {
        shutdown
    };
    if c.shutdown_behavior != "stop" && c.shutdown_behavior != "terminate" {
        d.error(
            "shutdown_behavior",
            "shutdown_behavior only accepts 'stop' or 'terminate' values.",
        );
    }
    if c.enable_t2_unlimited {
        if c.spot_price.is_some() {
            d.error(
                "enable_t2_unlimited",
                "Error: T2 Unlimited cannot be used in conjuction with Spot Instances",
            );
        }
        let it = c.instance_type.clone().unwrap_or_default();
        if !it.starts_with("t2.") {
            d.error(
                "enable_t2_unlimited",
                format!("Error: T2 Unlimited enabled with a non-T2 Instance Type: {it}"),
            );
        }
    }
    if let Some(t) = &c.tenancy {
        if !["default", "dedicated", "host"].contains(&t.as_str()) {
            d.error("tenancy", format!("Error: Unknown tenancy type {t}"));
        }
    }
    if let Some(t) = &c.metadata_options.http_tokens {
        if t != "optional" && t != "required" {
            d.error(
                "metadata_options",
                "http_tokens should be either 'optional' or 'required'",
            );
        }
    }
    if let Some(e) = &c.metadata_options.http_endpoint {
        if e != "enabled" && e != "disabled" {
            d.error(
                "metadata_options",
                "http_endpoint requires either disabled or enabled as its value",
            );
        }
    }

    // ---- builder-level checks
    if c.is_spot() && (c.ena_support == Some(true) || c.sriov_support) {
        d.error(
            "spot_price",
            "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.",
        );
    }
    c
}

/// Packer's `templateCleanAMIName` alphabet.
fn valid_ami_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "()[] ./-'@_".contains(ch)
}

/// Packer's `validateKmsKey`: a key id, `alias/…`, or a key/alias ARN.
pub fn valid_kms_key(k: &str) -> bool {
    let key_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
    };
    let alias = |s: &str| {
        s.strip_prefix("alias/").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
        })
    };
    if key_id(k) || alias(k) {
        return true;
    }
    // arn:aws[-us-gov]:kms:[region]:<12 digits>:(key/<id>|alias/<name>)
    let Some(rest) = k
        .strip_prefix("arn:aws:kms:")
        .or_else(|| k.strip_prefix("arn:aws-us-gov:kms:"))
    else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(_region), Some(account), Some(res)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    res.strip_prefix("key/").is_some_and(key_id) || alias(res)
}

/// Go's `net.ParseCIDR` error text for a bad CIDR.
fn parse_cidr(s: &str) -> Result<(), String> {
    let err = || format!("invalid CIDR address: {s}");
    let (addr, bits) = s.split_once('/').ok_or_else(err)?;
    let bits: u32 = bits.parse().map_err(|_| err())?;
    if let Ok(_v4) = addr.parse::<std::net::Ipv4Addr>() {
        if bits <= 32 && !s.contains('+') {
            return Ok(());
        }
    } else if addr.parse::<std::net::Ipv6Addr>().is_ok() && bits <= 128 {
        return Ok(());
    }
    Err(err())
}

/// Packer's BlockDevice.Prepare, without the 1.6.6 gp3 bug (gp3 limits apply only to values
/// that are set; AWS fills in 3000 IOPS / 125 MiB/s).
fn check_block_device(b: &BlockDevice) -> Result<(), String> {
    if b.device_name.is_empty() {
        return Err(
            "The `device_name` must be specified for every device in the block device mapping."
                .into(),
        );
    }
    if b.kms_key_id.is_some() && b.encrypted == Some(false) {
        return Err(format!(
            "The device {}, must also have `encrypted: true` when setting a kms_key_id.",
            b.device_name
        ));
    }
    let vt = b.volume_type.as_deref().unwrap_or("");
    let ratio = match vt {
        "io1" => Some(50),
        "io2" => Some(500),
        _ => None,
    };
    if let (Some(ratio), Some(size)) = (ratio, b.volume_size) {
        let iops = b.iops.unwrap_or(0);
        if iops / size > ratio {
            return Err(format!(
                "{}: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is {ratio}:1 for {vt} volumes",
                b.device_name
            ));
        }
        if !(100..=64000).contains(&iops) {
            return Err(format!(
                "IOPS must be between 100 and 64000 for device {}",
                b.device_name
            ));
        }
    }
    if vt == "gp3" {
        if let Some(t) = b.throughput {
            if !(125..=1000).contains(&t) {
                return Err(format!(
                    "Throughput must be between 125 and 1000 for device {}",
                    b.device_name
                ));
            }
        }
        if let Some(i) = b.iops {
            if !(3000..=16000).contains(&i) {
                return Err(format!(
                    "IOPS must be between 3000 and 16000 for device {}",
                    b.device_name
                ));
            }
        }
    } else if b.throughput.is_some() {
        return Err(format!(
            "Throughput is not available for device {}",
            b.device_name
        ));
    }
    Ok(())
}

/// Default total timeouts per wait kind (Packer: 10 min for instances, 30 min for AMIs, both
/// too short for metal instances and big AMIs; see issues #8415/#13143).
pub mod timeouts {
    use super::Duration;
    pub const INSTANCE_RUNNING: Duration = Duration::from_secs(30 * 60);
    pub const INSTANCE_STOPPED: Duration = Duration::from_secs(30 * 60);
    pub const INSTANCE_TERMINATED: Duration = Duration::from_secs(30 * 60);
    pub const IMAGE_AVAILABLE: Duration = Duration::from_secs(3 * 60 * 60);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::json::parse;

    fn decode_src(src: &str) -> (Config, Vec<String>) {
        let node = parse(src).unwrap();
        let ctx = Context {
            amazon_funcs: true,
            ..Default::default()
        };
        let mut d = Decoder::new(&[node.as_object().unwrap()], &ctx, "amazon-ebs", NO_RENDER);
        d.mark_known(&["name"]);
        let c = decode(&mut d);
        let errs = match d.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.message).collect(),
        };
        (c, errs)
    }

    #[test]
    fn eb_sample_reports_packers_two_source_errors() {
        // The shape of the EB custom-platform samples (conformance case eb-sample-al).
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebs","name":"HVM AMI builder","region":"","source_ami":"","instance_type":"m3.medium",
               "ssh_username":"ec2-user","ami_name":"NodePlatform_AmazonLinux {{timestamp}}"}"#,
        );
        assert_eq!(
            errs,
            [
                "A source_ami or source_ami_filter must be specified",
                "For security reasons, your source AMI filter must declare an owner."
            ]
        );
    }

    #[test]
    fn access_ami_and_run_errors_in_packers_order() {
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebs","access_key":"AK","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro",
               "ssh_username":"u","ami_name":"x*","kms_key_id":"nope","ami_regions":["us-west-2"],
               "region_kms_key_ids":{"eu-west-1":"alias/a"},"temporary_security_group_source_cidrs":["10.0.0.0"],
               "shutdown_behavior":"halt","tenancy":"shared"}"#,
        );
        assert_eq!(
            errs,
            [
                "`access_key` and `secret_key` must both be either set or not set.",
                "Region eu-west-1 is in region_kms_key_ids but not in ami_regions",
                "Region us-west-2 is in ami_regions but not in region_kms_key_ids",
                "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
                "\"nope\" is not a valid KMS Key Id.",
                "ami_name must be between 3 and 128 characters long",
                "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
                "Error parsing temporary_security_group_source_cidrs: invalid CIDR address: 10.0.0.0",
                "shutdown_behavior only accepts 'stop' or 'terminate' values.",
                "Error: Unknown tenancy type shared",
            ]
        );
    }

    #[test]
    fn late_keys_stay_unrendered_and_defaults_apply() {
        let (c, errs) = decode_src(
            r#"{"type":"amazon-ebs","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u",
               "ami_name":"web","ami_regions":"us-east-1,us-west-2,us-west-2","tags":{"R":"{{ .BuildRegion }}"},
               "launch_block_device_mappings":[{"device_name":"/dev/xvda","volume_type":"gp3"}]}"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.tags,
            [("R".to_string(), "{{ .BuildRegion }}".to_string())]
        );
        assert_eq!(c.ami_regions, ["us-west-2"]);
        assert_eq!(c.temporary_security_group_source_cidrs, ["0.0.0.0/0"]);
        assert_eq!(c.shutdown_behavior, "stop");
        assert_eq!(c.key_type(), "ed25519");
    }

    #[test]
    fn sharing_encrypted_with_default_key_is_refused() {
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebs","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u",
               "ami_name":"web","encrypt_boot":true,"ami_users":["1"],"snapshot_users":["1"]}"#,
        );
        assert_eq!(
            errs,
            [
                "Cannot share AMI encrypted with default KMS key",
                "Cannot share snapshot encrypted with default KMS key"
            ]
        );
    }

    #[test]
    fn kms_key_forms() {
        assert!(valid_kms_key("12345678-1234-1234-1234-123456789abc"));
        assert!(valid_kms_key("alias/my-key"));
        assert!(valid_kms_key(
            "arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789abc"
        ));
        assert!(valid_kms_key(
            "arn:aws:kms:us-east-1:123456789012:alias/foo_bar"
        ));
        assert!(!valid_kms_key("not a key"));
        assert!(!valid_kms_key("arn:aws:kms:us-east-1:1234:key/abc"));
    }

    #[test]
    fn cidrs_like_go() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("::/0").is_ok());
        assert_eq!(
            parse_cidr("10.0.0.0").unwrap_err(),
            "invalid CIDR address: 10.0.0.0"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/33").unwrap_err(),
            "invalid CIDR address: 10.0.0.0/33"
        );
    }

    #[test]
    fn gp3_without_throughput_is_valid_but_bad_values_are_not() {
        let mut b = BlockDevice {
            device_name: "/dev/xvda".into(),
            volume_type: Some("gp3".into()),
            ..Default::default()
        };
        assert!(check_block_device(&b).is_ok());
        b.throughput = Some(50);
        assert_eq!(
            check_block_device(&b).unwrap_err(),
            "Throughput must be between 125 and 1000 for device /dev/xvda"
        );
        let io1 = BlockDevice {
            device_name: "/dev/sdb".into(),
            volume_type: Some("io1".into()),
            volume_size: Some(10),
            iops: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            check_block_device(&io1).unwrap_err(),
            "/dev/sdb: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is 50:1 for io1 volumes"
        );
        assert!(check_block_device(&BlockDevice::default()).is_err());
    }

    #[test]
    fn ami_name_alphabet() {
        assert!("web-1 (x) [y] a.b/c'd@e_f".chars().all(valid_ami_name_char));
        assert!(!"web*1".chars().all(valid_ami_name_char));
    }
}
