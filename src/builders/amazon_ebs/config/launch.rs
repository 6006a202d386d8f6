//! Launch keys of the current amazon plugin that Packer 1.6.6 did not have: capacity
//! reservations, Nitro Enclaves, license specifications, and for spot builds the fleet's
//! allocation strategy and tags. Checked with the plugin's messages; sent by
//! `steps::launch_options`.

use super::placement::{self, Placement};
use super::{nonempty, tags, RunConfig};
use crate::decoder::Decoder;

/// EC2's `SpotAllocationStrategy` values.
pub const SPOT_ALLOCATION_STRATEGIES: &[&str] = &[
    "lowest-price",
    "diversified",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
];

/// The checked launch keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchOptions {
    /// `none` (the plugin's default when no reservation is targeted) or `open`; `None` when a
    /// reservation id or group is given.
    pub capacity_reservation_preference: Option<String>,
    pub capacity_reservation_id: Option<String>,
    pub capacity_reservation_group_arn: Option<String>,
    pub enable_nitro_enclave: bool,
    /// `license_specifications[].license_configuration_request.license_configuration_arn`.
    pub license_configuration_arns: Vec<String>,
    pub placement: Placement,
    pub spot_allocation_strategy: Option<String>,
    /// Tags for the instant fleet of a spot build (rendered at run time like `spot_tags`).
    pub fleet_tags: Vec<(String, String)>,
}

/// Decodes and checks the launch keys; `run` is the decoded run config (its `tenancy` absorbs
/// `placement.tenancy`).
pub(super) fn decode(d: &mut Decoder<'_>, run: &mut RunConfig) -> LaunchOptions {
    let mut c = LaunchOptions {
        capacity_reservation_preference: nonempty(d.string("capacity_reservation_preference")),
        capacity_reservation_id: nonempty(d.string("capacity_reservation_id")),
        capacity_reservation_group_arn: nonempty(d.string("capacity_reservation_group_arn")),
        enable_nitro_enclave: d.bool("enable_nitro_enclave").unwrap_or(false),
        license_configuration_arns: d
            .object_list("license_specifications", |d| {
                d.object("license_configuration_request", |d| {
                    nonempty(d.string("license_configuration_arn"))
                })
                .flatten()
            })
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect(),
        placement: Placement::default(),
        spot_allocation_strategy: nonempty(d.string("spot_allocation_strategy")),
        fleet_tags: tags(d, "fleet_tags", "fleet_tag"),
    };
    let fleet_tags_set = d.raw("fleet_tags").is_some() || d.raw("fleet_tag").is_some();
    if fleet_tags_set && !run.is_spot() {
        d.error(
            "fleet_tags",
            "fleet_tags should not be set when not requesting a spot instance",
        );
    }
    if let Some(s) = &c.spot_allocation_strategy {
        if !SPOT_ALLOCATION_STRATEGIES.contains(&s.as_str()) {
            d.error(
                "spot_allocation_strategy",
                format!("Unknown spot_allocation_strategy: {s}"),
            );
        }
    }
    let target_set =
        c.capacity_reservation_id.is_some() || c.capacity_reservation_group_arn.is_some();
    if c.capacity_reservation_id.is_some() && c.capacity_reservation_group_arn.is_some() {
        d.error(
            "capacity_reservation_id",
            "capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used",
        );
    }
    if target_set && c.capacity_reservation_preference.is_some() {
        d.error(
            "capacity_reservation_preference",
            "capacity_reservation_id, capacity_reservation_group_arn and capacity_reservation_preference are mutually exclusive, only one should be set",
        );
    }
    if !target_set && c.capacity_reservation_preference.is_none() {
        c.capacity_reservation_preference = Some("none".to_string());
    }
    if let Some(p) = &c.capacity_reservation_preference {
        if p != "none" && p != "open" {
            d.error(
                "capacity_reservation_preference",
                "capacity_reservation_preference only accepts 'none' or 'open' values",
            );
        }
    }
    c.placement = placement::decode(d, &mut run.tenancy);
    if c.enable_nitro_enclave {
        if run.spot_price.is_some() {
            d.error(
                "enable_nitro_enclave",
                "Error: Nitro Enclave cannot be used in conjunction with Spot Instances",
            );
        }
        let it = run.instance_type.clone().unwrap_or_default();
        if it.starts_with('t') {
            d.error(
                "enable_nitro_enclave",
                format!("Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: {it}"),
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use crate::builders::amazon_ebs::config::tests::decode_src;

    const BASE: &str = r#""type":"amazon-ebs","region":"us-east-1","source_ami":"ami-1","ssh_username":"u","ami_name":"web""#;

    fn errs(extra: &str) -> Vec<String> {
        decode_src(&format!("{{{BASE},{extra}}}")).1
    }

    /// `run_volume_tag` entries are `{name, value}` (the plugin's NameValues), every other tag
    /// list's `{key, value}`; the other spelling is an unknown key, as Packer 1.6.6 says.
    #[test]
    fn tag_lists_take_the_plugins_field_name() {
        let (c, e) = decode_src(&format!(
            r#"{{{BASE},"instance_type":"t2.micro","run_volume_tag":[{{"name":"a","value":"1"}}],"run_tag":[{{"key":"b","value":"2"}}]}}"#
        ));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(c.block_devices.run_volume_tags, [("a".into(), "1".into())]);
        assert!(c.run.run_tags.contains(&("b".into(), "2".into())));
        assert_eq!(
            errs(
                r#""instance_type":"t2.micro","run_volume_tag":[{"key":"a","value":"1"}],"tag":[{"name":"b","value":"2"}]"#
            ),
            [
                "unknown configuration key: '\"run_volume_tag[0].key\"'",
                "unknown configuration key: '\"tag[0].name\"'"
            ]
        );
    }

    #[test]
    fn current_plugin_launch_keys_decode_with_defaults() {
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},"instance_type":"m5.large","enable_nitro_enclave":true,
               "license_specifications":[{{"license_configuration_request":{{"license_configuration_arn":"arn:aws:license-manager:l"}}}}],
               "placement":{{"host_resource_group_arn":"arn:hrg","tenancy":"host"}}}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        let l = &c.launch;
        assert_eq!(l.capacity_reservation_preference.as_deref(), Some("none"));
        assert!(l.enable_nitro_enclave);
        assert_eq!(l.license_configuration_arns, ["arn:aws:license-manager:l"]);
        assert_eq!(
            l.placement.host_resource_group_arn.as_deref(),
            Some("arn:hrg")
        );
        assert_eq!(c.run.tenancy.as_deref(), Some("host"));
    }

    #[test]
    fn plugin_checks_with_its_messages() {
        assert_eq!(
            errs(r#""instance_type":"t3.micro","capacity_reservation_id":"cr-1","capacity_reservation_group_arn":"arn:g","capacity_reservation_preference":"open""#),
            [
                "capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used",
                "capacity_reservation_id, capacity_reservation_group_arn and capacity_reservation_preference are mutually exclusive, only one should be set",
            ]
        );
        assert_eq!(
            errs(r#""instance_type":"t3.micro","capacity_reservation_preference":"targeted""#),
            ["capacity_reservation_preference only accepts 'none' or 'open' values"]
        );
        assert_eq!(
            errs(
                r#""instance_type":"t3.micro","fleet_tags":{"a":"b"},"spot_allocation_strategy":"cheapest""#
            ),
            [
                "fleet_tags should not be set when not requesting a spot instance",
                "Unknown spot_allocation_strategy: cheapest",
            ]
        );
        assert_eq!(
            errs(r#""instance_type":"t3.micro","tenancy":"dedicated","placement":{"tenancy":"host","host_id":"h-1","host_resource_group_arn":"arn:g"}"#),
            [
                "Error: Please set only one of placement.tenancy and tenancy (deprecated)",
                "The `host_id` and `host_resource_group_arn` settings cannot be specified at the same time.",
            ]
        );
        assert_eq!(
            errs(r#""instance_type":"t3.micro","spot_price":"0.1","enable_nitro_enclave":true"#),
            [
                "Error: Nitro Enclave cannot be used in conjunction with Spot Instances",
                "Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: t3.micro",
            ]
        );
    }

    #[test]
    fn ami_options_and_fast_launch() {
        let (c, e) = decode_src(&format!(
            r#"{{{BASE},"instance_type":"m5.large","deregistration_protection":{{"with_cooldown":true}},
               "snapshot_copy_duration_minutes":30,"skip_ami_run_tags":true}}"#
        ));
        assert!(e.is_empty(), "{e:?}");
        assert!(c.ami_options.deregistration_protection);
        assert!(c.ami_options.deregistration_protection_cooldown);
        assert_eq!(c.ami_options.snapshot_copy_duration_minutes, Some(30));
        assert!(c.ami_options.skip_ami_run_tags);
        assert_eq!(
            errs(r#""instance_type":"m5.large","snapshot_copy_duration_minutes":20"#),
            ["snapshot_copy_duration_minutes must be a multiple of 15 between 15 and 2880, got 20"]
        );
        let e = errs(
            r#""instance_type":"m5.large","fast_launch":{"max_parallel_launches":2,"region_launch_templates":[{"region":"eu-west-1","template_id":"lt-1","template_name":"n"}]}"#,
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            e[0],
            "max_parallel_launches must be >= 6, provided value is 2"
        );
        assert!(e[1].contains("both template ID and name"), "{e:?}");
        assert!(e[2].contains("the AMI won't be copied there"), "{e:?}");
    }
}
