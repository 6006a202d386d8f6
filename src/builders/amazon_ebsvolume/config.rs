//! amazon-ebsvolume configuration: Packer 1.6.6's keys (access, run and communicator keys as
//! amazon-ebs, `ena_support`, `sriov_support`, `run_volume_tags`/`run_volume_tag` and
//! `ebs_volumes`), plus the `ebs_volumes` snapshot keys of the current amazon plugin
//! (`snapshot_volume`, `snapshot_description`, `snapshot_tags`/`snapshot_tag`,
//! `snapshot_users`, `snapshot_groups`). No `ami_*` key is accepted: nothing is imaged.
//!
//! The result carries an amazon-ebs [`Config`] whose launch mappings are the `ebs_volumes`
//! devices, so the amazon-ebs steps launch, connect, provision and stop as they do there.

use crate::builders::amazon_ebs::config::{
    self as ebs, check_block_device, decode_device, BlockDevice, BlockDevices, Config,
};
use crate::decoder::Decoder;

/// Keys rendered at run time with the build data (`{{ .BuildRegion }}`, `{{ .SourceAMI }}`):
/// Packer's `InterpolateFilter.Exclude` for this builder. The `ebs_volumes` entries' tag keys
/// are added per entry by [`decode`].
pub const NO_RENDER: &[&str] = &[
    "run_tags",
    "run_tag",
    "run_volume_tags",
    "run_volume_tag",
    "spot_tags",
    "spot_tag",
    "fleet_tags",
    "fleet_tag",
];

/// The late-rendered keys inside each `ebs_volumes` entry.
const VOLUME_NO_RENDER: &[&str] = &[
    "tags",
    "tag",
    "snapshot_tags",
    "snapshot_tag",
    "snapshot_description",
];

/// One `ebs_volumes` entry: a launch block device and what becomes of its volume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EbsVolume {
    pub device: BlockDevice,
    /// The volume's tags once the instance runs (replacing `run_volume_tags`).
    pub tags: Vec<(String, String)>,
    pub snapshot_volume: bool,
    pub snapshot_description: Option<String>,
    pub snapshot_tags: Vec<(String, String)>,
    pub snapshot_users: Vec<String>,
    pub snapshot_groups: Vec<String>,
}

impl EbsVolume {
    /// Whether the volume outlives the instance and is part of the artifact.
    pub fn kept(&self) -> bool {
        !self.device.delete_on_termination && !self.device.no_device
    }
}

/// The checked amazon-ebsvolume configuration.
#[derive(Clone, Default)]
pub struct VolumeConfig {
    /// The shared amazon-ebs configuration (no AMI; launch mappings = `ebs_volumes`).
    pub base: Config,
    pub volumes: Vec<EbsVolume>,
}

impl std::fmt::Debug for VolumeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeConfig")
            .field("base", &self.base)
            .field("volumes", &self.volumes)
            .finish()
    }
}

/// Decodes and checks one amazon-ebsvolume builder, in Packer 1.6.6's order (volume run tags,
/// access, run, the volumes, the spot check). The caller calls `d.finish()` afterwards.
pub fn decode(d: &mut Decoder<'_>) -> VolumeConfig {
    let render_ctx = d.ctx().clone();
    let build_name = d
        .ctx()
        .build_name
        .clone()
        .unwrap_or_else(|| "amazon-ebsvolume".to_string());
    let run_volume_tags = ebs::tag_list(d, "run_volume_tags", "run_volume_tag");
    let access = ebs::access::decode(d);
    let (comm, run, launch) = ebs::decode_run(d);
    // The entries' tag keys are rendered per build, like the top-level ones.
    let entries = match d.peek("ebs_volumes").map(|n| &n.value) {
        Some(crate::template::json::Value::Array(items)) => items.len(),
        Some(_) => 1,
        None => 0,
    };
    for i in 0..entries {
        for k in VOLUME_NO_RENDER {
            d.no_render.push(format!("ebs_volumes[{i}].{k}"));
        }
    }
    let volumes = d
        .object_list("ebs_volumes", |d| EbsVolume {
            device: decode_device(d),
            tags: ebs::tag_list(d, "tags", "tag"),
            snapshot_volume: d.bool("snapshot_volume").unwrap_or(false),
            snapshot_description: d.string("snapshot_description").filter(|s| !s.is_empty()),
            snapshot_tags: ebs::tag_list(d, "snapshot_tags", "snapshot_tag"),
            snapshot_users: d.string_list("snapshot_users").unwrap_or_default(),
            snapshot_groups: d.string_list("snapshot_groups").unwrap_or_default(),
        })
        .unwrap_or_default();
    for v in &volumes {
        if let Err(msg) = check_block_device(&v.device) {
            // Packer 1.6.6 prefixes every volume error so.
            d.error("ebs_volumes", format!("AMIMapping: {msg}"));
        }
    }
    let ena_support = d.trilean("ena_support");
    let sriov_support = d.bool("sriov_support").unwrap_or(false);
    if run.is_spot() && (ena_support == Some(true) || sriov_support) {
        d.error(
            "spot_price",
            "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.",
        );
    }
    let base = Config {
        access,
        ami: ebs::AmiConfig {
            ena_support,
            sriov_support,
            // No AMI: the pre-validation skips the name check, the AMI steps are not run.
            skip_create_ami: true,
            ..Default::default()
        },
        block_devices: BlockDevices {
            launch_block_device_mappings: volumes.iter().map(|v| v.device.clone()).collect(),
            run_volume_tags,
            ..Default::default()
        },
        run,
        launch,
        comm,
        render_ctx,
        build_name,
        ..Default::default()
    };
    VolumeConfig { base, volumes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_src(src: &str) -> (VolumeConfig, Vec<String>) {
        crate::builders::amazon_ebs::config::tests::decode_as(
            src,
            "amazon-ebsvolume",
            NO_RENDER,
            decode,
        )
    }

    const BASE: &str = r#""type":"amazon-ebsvolume","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u""#;

    #[test]
    fn volumes_become_the_launch_mappings_and_tags_stay_unrendered() {
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},"run_volume_tags":{{"t":"{{{{ .BuildRegion }}}}"}},"ebs_volumes":[
                {{"device_name":"/dev/xvdf","volume_size":2,"tags":{{"R":"{{{{ .BuildRegion }}}}"}},"tag":[{{"key":"k","value":"v"}}]}},
                {{"device_name":"/dev/xvdg","delete_on_termination":true,"snapshot_volume":true,
                  "snapshot_tags":{{"S":"{{{{ .SourceAMI }}}}"}},"snapshot_users":["123"]}}]}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert!(c.base.ami.skip_create_ami);
        let launch = &c.base.block_devices.launch_block_device_mappings;
        assert_eq!(launch.len(), 2);
        assert_eq!(launch[0].device_name, "/dev/xvdf");
        assert_eq!(launch[0].volume_size, Some(2));
        assert!(!launch[0].delete_on_termination);
        assert_eq!(
            c.volumes[0].tags,
            [
                ("R".to_string(), "{{ .BuildRegion }}".to_string()),
                ("k".to_string(), "v".to_string())
            ]
        );
        assert!(c.volumes[0].kept());
        assert!(!c.volumes[1].kept());
        assert!(c.volumes[1].snapshot_volume);
        assert_eq!(
            c.volumes[1].snapshot_tags,
            [("S".to_string(), "{{ .SourceAMI }}".to_string())]
        );
        assert_eq!(c.volumes[1].snapshot_users, ["123"]);
        assert_eq!(
            c.base.block_devices.run_volume_tags,
            [("t".to_string(), "{{ .BuildRegion }}".to_string())]
        );
    }

    /// Unlike amazon-ebs's, this builder's `run_volume_tag` entries are `{key, value}` (the
    /// plugin's KeyValues).
    #[test]
    fn run_volume_tag_entries_have_a_key() {
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},"run_volume_tag":[{{"key":"k","value":"v"}}]}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.base.block_devices.run_volume_tags,
            [("k".to_string(), "v".to_string())]
        );
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},"run_volume_tag":[{{"name":"k","value":"v"}}]}}"#
        ));
        assert_eq!(
            errs,
            ["unknown configuration key: '\"run_volume_tag[0].name\"'"]
        );
    }

    /// The messages and their order as Packer 1.6.6 prints them (`packer validate`).
    #[test]
    fn volume_checks_carry_packers_prefix() {
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},"ebs_volumes":[{{"volume_size":1,"tags":{{"a":"b"}}}},
                {{"device_name":"/dev/xvdg","volume_type":"gp2","throughput":200}}]}}"#
        ));
        assert_eq!(
            errs,
            [
                "AMIMapping: The `device_name` must be specified for every device in the block device mapping.",
                "AMIMapping: Throughput is not available for device /dev/xvdg",
            ]
        );
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},"spot_price":"auto","ena_support":true,
                "ebs_volumes":[{{"device_name":"/dev/xvdf","kms_key_id":"k","encrypted":false}}]}}"#
        ));
        assert_eq!(
            errs,
            [
                "AMIMapping: The device /dev/xvdf, must also have `encrypted: true` when setting a kms_key_id.",
                "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.",
            ]
        );
    }

    #[test]
    fn ami_keys_are_unknown_and_run_checks_apply() {
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},"ami_name":"x","launch_block_device_mappings":[],"bogus":1}}"#
        ));
        assert_eq!(
            errs,
            [
                "unknown configuration key: '\"ami_name\"'",
                "unknown configuration key: '\"bogus\"'",
                "unknown configuration key: '\"launch_block_device_mappings\"'",
            ]
        );
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebsvolume","ebs_volumes":{"device_name":"/dev/xvdf","volume_type":"io1","volume_size":1,"iops":5000}}"#,
        );
        assert_eq!(
            errs,
            [
                "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\".",
                "A source_ami or source_ami_filter must be specified",
                "For security reasons, your source AMI filter must declare an owner.",
                "either instance_type or spot_instance_types must be specified",
                "AMIMapping: /dev/xvdf: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is 50:1 for io1 volumes",
            ]
        );
    }
}
