//! Packer's BlockDevices: the mappings baked into the AMI and those the build instance
//! launches with, each checked like Packer's `BlockDevice.Prepare`, plus the launch volumes'
//! tags and `no_ephemeral`.

use super::nonempty;
use crate::decoder::Decoder;

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

/// The block-device keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockDevices {
    pub ami_block_device_mappings: Vec<BlockDevice>,
    pub launch_block_device_mappings: Vec<BlockDevice>,
    pub run_volume_tags: Vec<(String, String)>,
    pub no_ephemeral: bool,
}

/// Decodes the AMI mappings, then the launch mappings, checking each device.
pub(super) fn decode(d: &mut Decoder<'_>) -> BlockDevices {
    let ami = block_devices(d, "ami_block_device_mappings");
    let launch = block_devices(d, "launch_block_device_mappings");
    for (key, list) in [
        ("ami_block_device_mappings", &ami),
        ("launch_block_device_mappings", &launch),
    ] {
        for b in list {
            if let Err(msg) = check_block_device(b) {
                d.error(key, msg);
            }
        }
    }
    BlockDevices {
        ami_block_device_mappings: ami,
        launch_block_device_mappings: launch,
        run_volume_tags: super::name_tag_list(d, "run_volume_tags", "run_volume_tag"),
        no_ephemeral: d.bool("no_ephemeral").unwrap_or(false),
    }
}

fn block_devices(d: &mut Decoder<'_>, key: &str) -> Vec<BlockDevice> {
    d.object_list(key, decode_device).unwrap_or_default()
}

/// One block device's keys (amazon-ebsvolume's `ebs_volumes` entries add their own).
pub(crate) fn decode_device(d: &mut Decoder<'_>) -> BlockDevice {
    BlockDevice {
        device_name: d.string("device_name").unwrap_or_default(),
        delete_on_termination: d.bool("delete_on_termination").unwrap_or(false),
        encrypted: d.trilean("encrypted"),
        kms_key_id: nonempty(d.string("kms_key_id")),
        iops: d.int64("iops").filter(|i| *i != 0),
        throughput: d.int64("throughput").filter(|i| *i != 0),
        no_device: d.bool("no_device").unwrap_or(false),
        snapshot_id: nonempty(d.string("snapshot_id")),
        virtual_name: nonempty(d.string("virtual_name")),
        volume_type: nonempty(d.string("volume_type")),
        volume_size: d.int64("volume_size").filter(|i| *i != 0),
    }
}

/// Packer's BlockDevice.Prepare, without the 1.6.6 gp3 bug (gp3 limits apply only to values
/// that are set; AWS fills in 3000 IOPS / 125 MiB/s).
pub(crate) fn check_block_device(b: &BlockDevice) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
