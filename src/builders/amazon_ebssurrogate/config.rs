//! amazon-ebssurrogate configuration: Packer 1.6.6's keys. The access, run and communicator
//! keys and the AMI keys are amazon-ebs's (with the current plugin's AMI options); the block
//! devices are the surrogate's own: `launch_block_device_mappings` entries may carry
//! `omit_from_artifact`, `ami_root_device` names the launch device that becomes the AMI's root,
//! and `ami_architecture` is the registered AMI's architecture; `boot_mode`, `uefi_data`,
//! `tpm_support`, `snapshot_description`, `use_create_image` and `skip_ami_run_tags` are the
//! current plugin's. There is no `no_ephemeral` or `skip_create_ami`: Packer 1.6.6 and the
//! plugin call them unknown here.
//!
//! The result carries an amazon-ebs [`Config`], so the amazon-ebs steps launch, connect,
//! provision, stop, copy, share and tag as they do there.

use crate::builders::amazon_ebs::config::{
    self as ebs, check_block_device, decode_device, BlockDevice, BlockDevices, Config,
};
use crate::decoder::Decoder;

/// Keys rendered at run time with the build data: amazon-ebs's list (Packer's surrogate
/// excludes the same keys from the early rendering).
pub const NO_RENDER: &[&str] = ebs::NO_RENDER;

/// Architectures RegisterImage accepts from this builder (Packer 1.6.6's check).
const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

/// One `launch_block_device_mappings` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchDevice {
    pub device: BlockDevice,
    /// Neither snapshotted nor mapped into the AMI: a device the surrogate instance needs only.
    pub omit_from_artifact: bool,
}

impl LaunchDevice {
    /// Whether the device is an EBS volume whose snapshot goes into the AMI.
    pub fn snapshotted(&self) -> bool {
        let ephemeral = self
            .device
            .virtual_name
            .as_deref()
            .is_some_and(|v| v.starts_with("ephemeral"));
        !self.omit_from_artifact && !self.device.no_device && !ephemeral
    }
}

/// `ami_root_device`. As in Packer 1.6.6, only `source_device_name` and `device_name` shape the
/// AMI: the root mapping is the launch device's, renamed. The other keys are checked only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RootDevice {
    pub source_device_name: String,
    pub device_name: String,
    pub delete_on_termination: bool,
    pub iops: i64,
    pub volume_type: String,
    pub volume_size: i64,
}

/// `boot_mode`, `uefi_data`, `tpm_support`: RegisterImage's fields of the same names (the
/// current plugin's keys; unset = EC2's default).
#[derive(Clone, Default, PartialEq)]
pub struct BootOptions {
    pub boot_mode: Option<String>,
    pub uefi_data: Option<String>,
    pub tpm_support: Option<String>,
}

impl std::fmt::Debug for BootOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootOptions")
            .field("boot_mode", &self.boot_mode)
            .field("uefi_data", &self.uefi_data.as_ref().map(String::len))
            .field("tpm_support", &self.tpm_support)
            .finish()
    }
}

/// The checked amazon-ebssurrogate configuration.
#[derive(Clone, Default)]
pub struct SurrogateConfig {
    /// The shared amazon-ebs configuration (launch mappings = the surrogate's, AMI mappings).
    pub base: Config,
    pub launch_devices: Vec<LaunchDevice>,
    pub root_device: RootDevice,
    /// `ami_architecture`, `x86_64` by default.
    pub architecture: String,
    pub boot: BootOptions,
    /// `snapshot_description` (the current plugin's; rendered when decoded): the description of
    /// the launch volumes' snapshots, `Packer: <time>` when unset.
    pub snapshot_description: Option<String>,
    /// `use_create_image` (the current plugin's): the `ami_root_device` volume is swapped in as
    /// the stopped instance's root and CreateImage makes the AMI (with `run_tags` unless
    /// `skip_ami_run_tags`), instead of snapshots and RegisterImage.
    pub use_create_image: bool,
}

impl std::fmt::Debug for SurrogateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SurrogateConfig")
            .field("base", &self.base)
            .field("launch_devices", &self.launch_devices)
            .field("root_device", &self.root_device)
            .field("architecture", &self.architecture)
            .field("boot", &self.boot)
            .field("snapshot_description", &self.snapshot_description)
            .field("use_create_image", &self.use_create_image)
            .finish()
    }
}

/// Decodes and checks one amazon-ebssurrogate builder in Packer 1.6.6's order: volume run
/// tags, access, run, AMI, AMI mappings, launch mappings, root device, the builder's own
/// checks. The caller calls `d.finish()` afterwards.
pub fn decode(d: &mut Decoder<'_>) -> SurrogateConfig {
    let render_ctx = d.ctx().clone();
    let build_name = d
        .ctx()
        .build_name
        .clone()
        .unwrap_or_else(|| "amazon-ebssurrogate".to_string());
    let run_volume_tags = ebs::name_tag_list(d, "run_volume_tags", "run_volume_tag");
    let access = ebs::access::decode(d);
    let (comm, run, launch) = ebs::decode_run(d);
    let (mut ami, ami_options) = ebs::decode_ami(d, access.region.as_deref());
    // An amazon-ebs key this builder does not have (neither in Packer 1.6.6 nor in the plugin's
    // surrogate): reported as unknown.
    d.unmark(&["skip_create_ami"]);
    ami.skip_create_ami = false;

    let ami_mappings = d
        .object_list("ami_block_device_mappings", decode_device)
        .unwrap_or_default();
    for b in &ami_mappings {
        if let Err(msg) = check_block_device(b) {
            d.error("ami_block_device_mappings", msg);
        }
    }
    let launch_devices = d
        .object_list("launch_block_device_mappings", |d| LaunchDevice {
            device: decode_device(d),
            omit_from_artifact: d.bool("omit_from_artifact").unwrap_or(false),
        })
        .unwrap_or_default();
    for l in &launch_devices {
        if let Err(msg) = check_block_device(&l.device) {
            d.error("launch_block_device_mappings", msg);
        }
    }
    let root_device = d
        .object("ami_root_device", |d| RootDevice {
            source_device_name: d.string("source_device_name").unwrap_or_default(),
            device_name: d.string("device_name").unwrap_or_default(),
            delete_on_termination: d.bool("delete_on_termination").unwrap_or(false),
            iops: d.int64("iops").unwrap_or(0),
            volume_type: d.string("volume_type").unwrap_or_default(),
            volume_size: d.int64("volume_size").unwrap_or(0),
        })
        .unwrap_or_default();
    check_root_device(d, &root_device);

    if ami.ami_virtualization_type.is_none() {
        d.error(
            "ami_virtualization_type",
            "ami_virtualization_type is required.",
        );
    }
    let root_launch = launch_devices
        .iter()
        .filter(|l| l.device.device_name == root_device.source_device_name)
        .collect::<Vec<_>>();
    for l in &root_launch {
        if l.omit_from_artifact {
            d.error(
                "launch_block_device_mappings",
                "You cannot set \"omit_from_artifact\": \"true\" for the root volume.",
            );
        }
    }
    if root_launch.is_empty() {
        d.error(
            "ami_root_device",
            format!(
                "no volume with name '{}' is found",
                root_device.source_device_name
            ),
        );
    }
    let architecture = d
        .string("ami_architecture")
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "x86_64".to_string());
    if !ARCHITECTURES.contains(&architecture.as_str()) {
        d.error(
            "ami_architecture",
            r#"The only valid ami_architecture values are "x86_64" and "arm64""#,
        );
    }
    let boot = decode_boot(d, &architecture);
    let snapshot_description = d.string("snapshot_description").filter(|s| !s.is_empty());
    let use_create_image = d.bool("use_create_image").unwrap_or(false);

    let base = Config {
        access,
        ami,
        ami_options,
        block_devices: BlockDevices {
            ami_block_device_mappings: ami_mappings,
            launch_block_device_mappings: launch_devices.iter().map(|l| l.device.clone()).collect(),
            run_volume_tags,
            no_ephemeral: false,
        },
        run,
        launch,
        comm,
        render_ctx,
        build_name,
        ..Default::default()
    };
    SurrogateConfig {
        base,
        launch_devices,
        root_device,
        architecture,
        boot,
        snapshot_description,
        use_create_image,
    }
}

/// The current plugin's `boot_mode`, `uefi_data` and `tpm_support`, with its checks and messages
/// (empty = unset).
fn decode_boot(d: &mut Decoder<'_>, architecture: &str) -> BootOptions {
    let mut get = |k: &str| d.string(k).filter(|v| !v.is_empty());
    let (boot_mode, uefi_data, tpm_support) =
        (get("boot_mode"), get("uefi_data"), get("tpm_support"));
    if tpm_support.as_deref().is_some_and(|t| t != "v2.0") {
        d.error(
            "tpm_support",
            r#"The only valid tpm_support value is "v2.0""#,
        );
    }
    if let Some(m) = boot_mode.as_deref() {
        if !["legacy-bios", "uefi", "uefi-preferred"].contains(&m) {
            d.error(
                "boot_mode",
                format!("invalid boot mode {m:?}, valid values are either 'uefi', 'legacy-bios' or 'uefi-preferred'"),
            );
        }
    }
    if uefi_data.is_some() {
        match boot_mode.as_deref() {
            Some("legacy-bios") => d.error(
                "uefi_data",
                r#"You can't use uefi_data with boot_mode set to "legacy-bios"."#,
            ),
            None if architecture != "arm64" => d.error(
                "uefi_data",
                format!(
                    r#"You need boot_mode set to "uefi" to use uefi_data, "{architecture}" architecture defaults to "legacy-bios"."#
                ),
            ),
            _ => {}
        }
    }
    BootOptions {
        boot_mode,
        uefi_data,
        tpm_support,
    }
}

/// Packer 1.6.6's `RootBlockDevice.Prepare`, every message in its order.
fn check_root_device(d: &mut Decoder<'_>, r: &RootDevice) {
    let key = "ami_root_device";
    if r.source_device_name.is_empty() {
        d.error(
            key,
            "source_device_name for the root_device must be specified",
        );
    }
    if r.device_name.is_empty() {
        d.error(key, "device_name for the root_device must be specified");
    }
    if r.volume_type == "gp2" && r.iops != 0 {
        d.error(key, "iops may not be specified for a gp2 volume");
    }
    if r.iops < 0 {
        d.error(key, "iops must be greater than 0");
    }
    if r.volume_size < 0 {
        d.error(key, "volume_size must be greater than 0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_src(src: &str) -> (SurrogateConfig, Vec<String>) {
        crate::builders::amazon_ebs::config::tests::decode_as(
            src,
            "amazon-ebssurrogate",
            NO_RENDER,
            decode,
        )
    }

    const BASE: &str = r#""type":"amazon-ebssurrogate","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","ami_name":"surrogate","ami_virtualization_type":"hvm""#;

    #[test]
    fn launch_mappings_root_device_and_defaults() {
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},"run_volume_tags":{{"t":"{{{{ .BuildRegion }}}}"}},"tags":{{"R":"{{{{ .SourceAMI }}}}"}},
                "launch_block_device_mappings":[
                  {{"device_name":"/dev/xvdf","volume_size":8,"volume_type":"gp3","delete_on_termination":true}},
                  {{"device_name":"/dev/xvdg","volume_size":1,"omit_from_artifact":true}},
                  {{"device_name":"/dev/xvdb","virtual_name":"ephemeral0"}}],
                "ami_block_device_mappings":[{{"device_name":"/dev/sdb","virtual_name":"ephemeral1"}}],
                "ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda","volume_size":16,"volume_type":"gp2"}}}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.architecture, "x86_64");
        assert!(!c.base.ami.skip_create_ami);
        assert_eq!(c.base.ami.ami_virtualization_type.as_deref(), Some("hvm"));
        assert_eq!(
            c.base.ami.tags,
            [("R".to_string(), "{{ .SourceAMI }}".to_string())]
        );
        let launch = &c.base.block_devices.launch_block_device_mappings;
        assert_eq!(launch.len(), 3);
        assert_eq!(launch[0].volume_size, Some(8));
        assert!(launch[0].delete_on_termination);
        assert_eq!(
            c.base.block_devices.run_volume_tags,
            [("t".to_string(), "{{ .BuildRegion }}".to_string())]
        );
        assert_eq!(
            c.launch_devices
                .iter()
                .map(LaunchDevice::snapshotted)
                .collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(c.base.block_devices.ami_block_device_mappings.len(), 1);
        assert_eq!(
            c.root_device,
            RootDevice {
                source_device_name: "/dev/xvdf".into(),
                device_name: "/dev/xvda".into(),
                volume_size: 16,
                volume_type: "gp2".into(),
                ..Default::default()
            }
        );
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},"ami_architecture":"arm64","launch_block_device_mappings":[{{"device_name":"/dev/xvdf"}}],
                "ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda"}}}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.architecture, "arm64");
    }

    /// Packer 1.6.6's messages, in its order, for a template without any surrogate key.
    #[test]
    fn a_missing_root_device_gets_packers_errors() {
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebssurrogate","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","ami_name":"surrogate"}"#,
        );
        assert_eq!(
            errs,
            [
                "source_device_name for the root_device must be specified",
                "device_name for the root_device must be specified",
                "ami_virtualization_type is required.",
                "no volume with name '' is found",
            ]
        );
    }

    #[test]
    fn root_device_and_mapping_checks_in_packers_order() {
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},"ami_architecture":"i386",
                "ami_block_device_mappings":[{{"volume_size":1}}],
                "launch_block_device_mappings":[{{"device_name":"/dev/xvdf","omit_from_artifact":true,"volume_type":"gp2","throughput":300}}],
                "ami_root_device":{{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda","volume_type":"gp2","iops":-5,"volume_size":-1}}}}"#
        ));
        assert_eq!(
            errs,
            [
                "The `device_name` must be specified for every device in the block device mapping.",
                "Throughput is not available for device /dev/xvdf",
                "iops may not be specified for a gp2 volume",
                "iops must be greater than 0",
                "volume_size must be greater than 0",
                "You cannot set \"omit_from_artifact\": \"true\" for the root volume.",
                r#"The only valid ami_architecture values are "x86_64" and "arm64""#,
            ]
        );
    }

    #[test]
    fn run_and_ami_checks_come_first_and_ebs_only_keys_are_unknown() {
        let (_, errs) = decode_src(
            r#"{"type":"amazon-ebssurrogate","ami_name":"x*y","no_ephemeral":true,"skip_create_ami":true,
                "fast_launch":{},"ebs_volumes":[],
                "launch_block_device_mappings":[{"device_name":"/dev/xvdf"}],
                "ami_root_device":{"source_device_name":"/dev/xvdg","device_name":"/dev/xvda"}}"#,
        );
        assert_eq!(
            errs,
            [
                "unknown configuration key: '\"ebs_volumes\"'",
                "unknown configuration key: '\"fast_launch\"'",
                "unknown configuration key: '\"no_ephemeral\"'",
                "unknown configuration key: '\"skip_create_ami\"'",
                "An ssh_username must be specified\n  Note: some builders used to default ssh_username to \"root\".",
                "A source_ami or source_ami_filter must be specified",
                "For security reasons, your source AMI filter must declare an owner.",
                "either instance_type or spot_instance_types must be specified",
                "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.",
                "ami_virtualization_type is required.",
                "no volume with name '/dev/xvdg' is found",
            ]
        );
    }

    const ROOT: &str = r#""launch_block_device_mappings":[{"device_name":"/dev/xvdf"}],"ami_root_device":{"source_device_name":"/dev/xvdf","device_name":"/dev/xvda"}"#;

    #[test]
    fn boot_mode_uefi_data_and_tpm_support_as_the_current_plugin() {
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},{ROOT},"boot_mode":"uefi","uefi_data":"QU1aTlVFRkk=","tpm_support":"v2.0"}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.boot.boot_mode.as_deref(), Some("uefi"));
        assert_eq!(c.boot.uefi_data.as_deref(), Some("QU1aTlVFRkk="));
        assert_eq!(c.boot.tpm_support.as_deref(), Some("v2.0"));
        assert_eq!(c.snapshot_description, None);
        let (c, errs) = decode_src(&format!(
            r#"{{{BASE},{ROOT},"snapshot_description":"root of {{{{ upper `x` }}}}"}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.snapshot_description.as_deref(), Some("root of X"));
        // Unset (or empty): nothing is sent.
        let (c, errs) = decode_src(&format!(r#"{{{BASE},{ROOT},"boot_mode":""}}"#));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.boot, BootOptions::default());
        // The plugin's checks, in its order.
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},{ROOT},"boot_mode":"bios","tpm_support":"v1.2","uefi_data":"x"}}"#
        ));
        assert_eq!(
            errs,
            [
                r#"The only valid tpm_support value is "v2.0""#,
                r#"invalid boot mode "bios", valid values are either 'uefi', 'legacy-bios' or 'uefi-preferred'"#,
            ]
        );
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},{ROOT},"boot_mode":"legacy-bios","uefi_data":"x"}}"#
        ));
        assert_eq!(
            errs,
            [r#"You can't use uefi_data with boot_mode set to "legacy-bios"."#]
        );
        let (_, errs) = decode_src(&format!(r#"{{{BASE},{ROOT},"uefi_data":"x"}}"#));
        assert_eq!(
            errs,
            [
                r#"You need boot_mode set to "uefi" to use uefi_data, "x86_64" architecture defaults to "legacy-bios"."#
            ]
        );
        // arm64 boots with UEFI by default.
        let (_, errs) = decode_src(&format!(
            r#"{{{BASE},{ROOT},"ami_architecture":"arm64","uefi_data":"x"}}"#
        ));
        assert!(errs.is_empty(), "{errs:?}");
    }
}
