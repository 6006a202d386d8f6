//! Packer's RunConfig: the build instance (source AMI, type, network, security groups, IAM
//! profile, user data, spot, metadata options, `ssh_interface`) and its checks. The
//! communicator is decoded here too, at the point Packer's RunConfig decodes it.

use std::path::PathBuf;

use super::iam::{self, PolicyDocument};
use super::{nonempty, tags};
use crate::communicator::config::SshConfig;
use crate::decoder::Decoder;

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
pub struct MetadataOptions {
    pub http_endpoint: Option<String>,
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub instance_metadata_tags: Option<String>,
}

/// The build instance's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunConfig {
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
    /// `pause_before_ssm`: waited before the first Session Manager session (Packer 1.6.6 sets
    /// no default; its documentation's 10 s is the later plugin's).
    pub pause_before_ssm: std::time::Duration,
    /// `session_manager_port`: the port of the local forward on 127.0.0.1 that carries each
    /// connection over its own session (`{{ build `Port` }}`); 0 picks a free port.
    pub session_manager_port: i64,
    pub metadata_options: MetadataOptions,
    /// `temporary_key_pair_type` as written by the user (`None` → rpack's ed25519 default).
    pub temporary_key_pair_type: Option<String>,
}

impl RunConfig {
    pub fn is_spot(&self) -> bool {
        self.spot_price
            .as_deref()
            .is_some_and(|p| !p.is_empty() && p != "0")
    }
    /// `ssh_interface: session_manager`: the instance is reached through Session Manager.
    pub fn session_manager(&self) -> bool {
        self.ssh_interface.as_deref() == Some("session_manager")
    }
    /// The temporary key type rpack creates: ed25519 unless the template says otherwise
    /// (Packer 1.6.6 always made RSA, which OpenSSH ≥ 8.8 images reject with SHA-1).
    pub fn key_type(&self) -> &str {
        self.temporary_key_pair_type.as_deref().unwrap_or("ed25519")
    }
}

/// Decodes and checks the run keys and the communicator, in Packer's order.
pub(super) fn decode(d: &mut Decoder<'_>) -> (SshConfig, RunConfig) {
    let mut c = RunConfig::default();
    let user_key_type = d.raw("temporary_key_pair_type").is_some();
    let comm = crate::communicator::config::decode(d);
    if user_key_type {
        c.temporary_key_pair_type = Some(comm.temporary_key_pair_type.clone());
    }
    // EC2 creates only RSA and ED25519 key pairs: `dsa`/`ecdsa` get one error; the size is
    // checked for those two.
    match c.key_type() {
        kind @ ("rsa" | "ed25519") => {
            if let Err((key, msg)) = super::super::steps::key_pair::check_spec(
                kind,
                comm.temporary_key_pair_bits,
                d.raw("temporary_key_pair_bits").is_some(),
            ) {
                d.error(key, msg);
            }
        }
        kind @ ("dsa" | "ecdsa") => crate::communicator::refuse::ec2_key_pair_type(d, kind),
        // Not a type at all: the communicator's decoder reported it in Packer's words.
        _ => {}
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
    c.temporary_iam_instance_profile_policy_document = iam::decode_policy(d);
    let shutdown = d.string("shutdown_behavior").unwrap_or_default();
    c.ebs_optimized = d.bool("ebs_optimized").unwrap_or(false);
    let t2_unlimited = d.bool("enable_t2_unlimited").unwrap_or(false);
    let unlimited_credits = d.bool("enable_unlimited_credits").unwrap_or(false);
    c.enable_t2_unlimited = t2_unlimited || unlimited_credits;
    c.tenancy = nonempty(d.string("tenancy"));
    c.run_tags = tags(d, "run_tags", "run_tag");
    c.user_data = nonempty(d.string("user_data"));
    c.user_data_file = nonempty(d.string("user_data_file")).map(PathBuf::from);
    c.spot_price = nonempty(d.string("spot_price"));
    c.spot_tags = tags(d, "spot_tags", "spot_tag");
    let spot_tags_set = d.raw("spot_tags").is_some() || d.raw("spot_tag").is_some();
    let _ = d.string("spot_price_auto_product");
    c.block_duration_minutes = d.int64("block_duration_minutes").unwrap_or(0);
    c.disable_stop_instance = d.bool("disable_stop_instance").unwrap_or(false);
    c.ssh_interface = nonempty(d.string("ssh_interface"));
    let _ = d.duration("windows_password_timeout");
    c.pause_before_ssm = d.duration("pause_before_ssm").unwrap_or_default();
    c.session_manager_port = d.int("session_manager_port").unwrap_or(0);
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
            "ipv6",
            "session_manager",
        ]
        .contains(&i.as_str())
        {
            d.error("ssh_interface", format!("Unknown interface type: {i}"));
        }
    }
    crate::communicator::refuse::ssh_interface(
        d,
        c.ssh_interface.as_deref(),
        comm.bastion.is_some(),
    );
    if c.session_manager() && !(0..=65535).contains(&c.session_manager_port) {
        d.error(
            "session_manager_port",
            format!(
                "session_manager_port must be a port number (0-65535), got {}",
                c.session_manager_port
            ),
        );
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
        if c.security_group_ids.is_empty() {
            c.security_group_ids = vec![id];
        } else {
            d.error(
                "security_group_id",
                "Only one of security_group_id or security_group_ids can be specified.",
            );
        }
    }
    if c.temporary_security_group_source_cidrs.is_empty() {
        if !c.temporary_security_group_source_public_ip {
            // As the current plugin: an IPv6 connection is admitted from any IPv6 source.
            let any = if c.ssh_interface.as_deref() == Some("ipv6") {
                "::/0"
            } else {
                "0.0.0.0/0"
            };
            c.temporary_security_group_source_cidrs = vec![any.to_string()];
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
    if unlimited_credits && !t2_unlimited {
        super::burstable::check_unlimited_credits(d, c.instance_type.as_deref(), c.is_spot());
    } else if c.enable_t2_unlimited {
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
    (comm, c)
}

fn net_filter(d: &mut Decoder<'_>, key: &str) -> Option<NetFilter> {
    d.object(key, |d| {
        let mut filters = d.string_map("filters").unwrap_or_default();
        // The list form `"filter": [{"name": …, "value": …}]` (Packer's NameValueFilter; a
        // single object stands for a one-element list), added after the map like GetFilters.
        let listed = d
            .object_list("filter", |d| (d.string("name"), d.string("value")))
            .unwrap_or_default();
        filters.extend(
            listed
                .into_iter()
                .map(|(n, v)| (n.unwrap_or_default(), v.unwrap_or_default())),
        );
        NetFilter {
            filters,
            most_free: d.bool("most_free").unwrap_or(false),
            random: d.bool("random").unwrap_or(false),
        }
    })
    .filter(|f| !f.filters.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
