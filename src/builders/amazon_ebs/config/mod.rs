//! amazon-ebs configuration: every key of Packer 1.6.6 plus the later plugin keys users write,
//! decoded with Packer's weak typing and validated with Packer's exact messages. It is split
//! like Packer's sub-configs, decoded in Packer's order: [`access`] → [`ami`] →
//! [`block_devices`] → [`run`] (which also decodes the communicator) → the builder's own check.
//! [`timeouts`] names every wait and retry budget the steps use.
//!
//! Keys in [`NO_RENDER`] are only syntax-checked here and rendered per region at run time with
//! `{{ .BuildRegion }}` and the `{{ .SourceAMI* }}` data.

pub mod access;
mod ami;
mod ami_options;
mod block_devices;
mod burstable;
mod fast_launch;
mod iam;
mod launch;
mod placement;
mod run;
pub mod timeouts;

pub use ami::{valid_kms_key, AmiConfig};
pub use ami_options::AmiOptions;
pub use block_devices::{BlockDevice, BlockDevices};
pub use fast_launch::{FastLaunch, RegionTemplate};
pub use iam::{PolicyDocument, PolicyStatement};
pub use launch::{LaunchOptions, SPOT_ALLOCATION_STRATEGIES};
pub use placement::Placement;
pub use run::{AmiFilter, MetadataOptions, NetFilter, RunConfig};

use crate::aws::access::AccessConfig;
use crate::communicator::config::SshConfig;
use crate::decoder::Decoder;
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
    "fleet_tags",
    "fleet_tag",
    "snapshot_tags",
    "snapshot_tag",
    "tags",
    "tag",
];

/// The checked amazon-ebs configuration.
#[derive(Clone, Default)]
pub struct Config {
    pub access: AccessConfig,
    pub ami: AmiConfig,
    pub block_devices: BlockDevices,
    pub run: RunConfig,
    /// The current plugin's launch keys (capacity reservations, placement, …).
    pub launch: LaunchOptions,
    /// The current plugin's AMI keys (deregistration protection, …).
    pub ami_options: AmiOptions,
    pub fast_launch: FastLaunch,
    pub comm: SshConfig,
    /// The render context for the late keys (user variables, functions); dot data is added
    /// per region at run time.
    pub render_ctx: Context,
    /// The build name (template `name`, else `amazon-ebs`), for messages.
    pub build_name: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The render context holds closures and secrets; it is left out on purpose.
        f.debug_struct("Config")
            .field("build_name", &self.build_name)
            .field("region", &self.access.region)
            .field("ami_name", &self.ami.ami_name)
            .field("ami_regions", &self.ami.ami_regions)
            .field("source_ami", &self.run.source_ami)
            .field("source_ami_filter", &self.run.source_ami_filter)
            .field("instance_type", &self.run.instance_type)
            .finish_non_exhaustive()
    }
}

/// Decodes and validates one amazon-ebs builder. The caller calls `d.finish()` afterwards.
pub fn decode(d: &mut Decoder<'_>) -> Config {
    let render_ctx = d.ctx().clone();
    let build_name = d
        .ctx()
        .build_name
        .clone()
        .unwrap_or_else(|| "amazon-ebs".to_string());
    let access = access::decode(d);
    let ami = ami::decode(d, access.region.as_deref());
    let ami_options = ami_options::decode(d);
    let block_devices = block_devices::decode(d);
    let (comm, mut run) = run::decode(d);
    let launch = launch::decode(d, &mut run);
    let fast_launch = fast_launch::decode(d, access.region.as_deref(), &ami.ami_regions);
    // The builder's own check, across the sub-configs.
    if run.is_spot() && (ami.ena_support == Some(true) || ami.sriov_support) {
        d.error(
            "spot_price",
            "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.",
        );
    }
    Config {
        access,
        ami,
        block_devices,
        run,
        launch,
        ami_options,
        fast_launch,
        comm,
        render_ctx,
        build_name,
    }
}

/// What amazon-ebsvolume shares with amazon-ebs: the run keys with the communicator, then the
/// current plugin's launch keys, in Packer's order.
pub(crate) fn decode_run(d: &mut Decoder<'_>) -> (SshConfig, RunConfig, LaunchOptions) {
    let (comm, mut run) = run::decode(d);
    let launch = launch::decode(d, &mut run);
    (comm, run, launch)
}

pub(crate) use block_devices::{check_block_device, decode_device};

/// What amazon-ebssurrogate shares with amazon-ebs's AMI side: the AMI keys with their checks,
/// then the current plugin's AMI options, in Packer's order.
pub(crate) fn decode_ami(
    d: &mut Decoder<'_>,
    build_region: Option<&str>,
) -> (AmiConfig, AmiOptions) {
    let ami = ami::decode(d, build_region);
    let options = ami_options::decode(d);
    (ami, options)
}

/// Tags given as a map (`tags`) or as the list form (`tag`); see [`tags`].
pub(crate) fn tag_list(
    d: &mut Decoder<'_>,
    map_key: &str,
    list_key: &str,
) -> Vec<(String, String)> {
    tags(d, map_key, list_key)
}

/// [`tag_list`] whose list entries are `{name, value}` (the plugin's `NameValues`: amazon-ebs's
/// and amazon-ebssurrogate's `run_volume_tag`), not `{key, value}`.
pub(crate) fn name_tag_list(
    d: &mut Decoder<'_>,
    map_key: &str,
    list_key: &str,
) -> Vec<(String, String)> {
    tags_by(d, map_key, list_key, "name")
}

/// Tags given as a map (`tags`) or as Packer's list form (`tag: [{key, value}]`), map first.
fn tags(d: &mut Decoder<'_>, map_key: &str, list_key: &str) -> Vec<(String, String)> {
    tags_by(d, map_key, list_key, "key")
}

/// The map `map_key` and the list `list_key` of `{<field>, value}` objects, the list's entries
/// over the map's. The other spelling (`name` where the plugin wants `key`, or the reverse) is an
/// unknown key, as in Packer.
fn tags_by(
    d: &mut Decoder<'_>,
    map_key: &str,
    list_key: &str,
    field: &str,
) -> Vec<(String, String)> {
    let mut v = d.string_map(map_key).unwrap_or_default();
    let list = d
        .object_list(list_key, |d| {
            (
                d.string(field).unwrap_or_default(),
                d.string("value").unwrap_or_default(),
            )
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::template::json::parse;

    pub(crate) fn decode_src(src: &str) -> (Config, Vec<String>) {
        decode_as(src, "amazon-ebs", NO_RENDER, decode)
    }

    /// Decodes the builder object `src` as a builder of type `kind` with `decode` (leaving the
    /// keys in `no_render` unrendered), as `rpack validate` does: the config and the messages
    /// of every problem found.
    pub(crate) fn decode_as<T>(
        src: &str,
        kind: &str,
        no_render: &[&str],
        decode: impl FnOnce(&mut Decoder) -> T,
    ) -> (T, Vec<String>) {
        let node = parse(src).unwrap();
        let ctx = Context {
            amazon_funcs: true,
            ..Default::default()
        };
        let mut d = Decoder::new(&[node.as_object().unwrap()], &ctx, kind, no_render);
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
            c.ami.tags,
            [("R".to_string(), "{{ .BuildRegion }}".to_string())]
        );
        assert_eq!(c.ami.ami_regions, ["us-west-2"]);
        assert_eq!(c.run.temporary_security_group_source_cidrs, ["0.0.0.0/0"]);
        assert_eq!(c.run.shutdown_behavior, "stop");
        assert_eq!(c.run.key_type(), "ed25519");
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

    /// `ssh_interface: ipv6` (current plugin): accepted, and the temporary group admits `::/0`
    /// unless CIDRs are given; an unknown interface is still refused.
    #[test]
    fn ssh_interface_ipv6_defaults_the_group_to_any_ipv6_source() {
        let src = |extra: &str| {
            format!(
                r#"{{"type":"amazon-ebs","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","ami_name":"web"{extra}}}"#
            )
        };
        let (c, errs) = decode_src(&src(r#","ssh_interface":"ipv6""#));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.run.temporary_security_group_source_cidrs, ["::/0"]);
        let (c, errs) = decode_src(&src(
            r#","ssh_interface":"ipv6","temporary_security_group_source_cidrs":["2001:db8::/32"]"#,
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.run.temporary_security_group_source_cidrs,
            ["2001:db8::/32"]
        );
        let (_, errs) = decode_src(&src(r#","ssh_interface":"ipv7""#));
        assert_eq!(errs, ["Unknown interface type: ipv7"]);
    }
}
