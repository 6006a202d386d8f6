//! `encrypt_boot: true` without the extra copy. Packer (1.6.6 and the current amazon plugin)
//! images the instance into an unencrypted intermediary AMI, copies that with encryption on and
//! deregisters the intermediary. rpack launches the instance with its EBS volumes encrypted
//! instead (the template's launch mappings plus every EBS device of the source AMI, with
//! `kms_key_id` or the account's default EBS key), so CreateImage makes the encrypted AMI.
//!
//! [`decide`] keeps Packer's copy path where a launch cannot give the AMI Packer's encryption
//! (a device the template leaves unencrypted or encrypts with another key, snapshots
//! `ami_block_device_mappings` adds, `skip_save_build_region`), and the launch steps (on-demand
//! and spot) fall back to it when EC2 refuses the encrypted launch over KMS ([`falls_back`]).

use anyhow::Context as _;

use crate::builders::amazon_ebs::config::{BlockDevice, Config};
use crate::builders::amazon_ebs::context::{BootEncryption, BuildCtx, SourceImage};
use crate::builders::amazon_ebs::steps::run_instance::suppressed_ephemeral_devices;
use crate::ui::Ui;

/// An EBS volume (not `no_device`, not an instance-store `ephemeral*` name).
fn is_ebs(b: &BlockDevice) -> bool {
    !b.no_device
        && !b
            .virtual_name
            .as_deref()
            .is_some_and(|v| v.starts_with("ephemeral"))
}

fn key_text(key: Option<&str>) -> String {
    key.map_or_else(
        || "the account's default EBS key".to_string(),
        |k| format!("KMS key {k}"),
    )
}

/// Why the AMI must be encrypted by a copy for this template and source AMI, if it must.
fn copy_reason(cfg: &Config, source: &SourceImage) -> Option<String> {
    if cfg.ami.skip_save_build_region {
        return Some("skip_save_build_region keeps no AMI in the build region".into());
    }
    let Some(root) = source.root_device_name.as_deref() else {
        return Some(format!("the source AMI {} names no root device", source.id));
    };
    let launch = &cfg.block_devices.launch_block_device_mappings;
    let root_known = source.ebs_devices.iter().any(|d| d.device_name == root)
        || launch.iter().any(|b| b.device_name == root && is_ebs(b));
    if !root_known {
        return Some(format!(
            "the root device {root} of the source AMI {} is not an EBS device of its mapping",
            source.id
        ));
    }
    let key = cfg.ami.kms_key_id.as_deref();
    for (list, b) in launch
        .iter()
        .map(|b| ("launch_block_device_mappings", b))
        .chain(
            cfg.block_devices
                .ami_block_device_mappings
                .iter()
                .map(|b| ("ami_block_device_mappings", b)),
        )
        .filter(|(_, b)| is_ebs(b))
    {
        let dev = &b.device_name;
        if b.encrypted == Some(false) {
            return Some(format!("{list}: {dev} has `encrypted: false`"));
        }
        if let Some(k) = b.kms_key_id.as_deref().filter(|k| Some(*k) != key) {
            return Some(format!(
                "{list}: {dev} is encrypted with KMS key {k}, the AMI is to be encrypted with {}",
                key_text(key)
            ));
        }
        if list == "ami_block_device_mappings" {
            if let Some(s) = &b.snapshot_id {
                return Some(format!(
                    "{list}: {dev} adds snapshot {s}, which only a copy encrypts"
                ));
            }
        }
    }
    None
}

/// How `encrypt_boot` is delivered for this template and source AMI.
pub(crate) fn decide(cfg: &Config, source: &SourceImage) -> BootEncryption {
    if cfg.ami.encrypt_boot != Some(true) || cfg.ami.skip_create_ami {
        return BootEncryption::Off;
    }
    match copy_reason(cfg, source) {
        Some(reason) => BootEncryption::Copy { reason },
        None => BootEncryption::Launch {
            kms_key_id: cfg.ami.kms_key_id.clone(),
        },
    }
}

/// The block devices to launch with: the template's launch mappings, and on the launch path
/// each EBS one encrypted (with `kms_key_id` unless it names the same key itself), followed by
/// every EBS device of the source AMI the template does not map (nor `no_ephemeral`
/// suppresses), encrypted, with the AMI's size and delete-on-termination, so the AMI CreateImage
/// makes carries the same devices as without encryption. A template mapping of an AMI device
/// without a size or snapshot gets the AMI's size spelled out (EC2 takes it from the AMI anyway;
/// moto needs it).
pub(crate) fn launch_devices(
    cfg: &Config,
    source: &SourceImage,
    enc: &BootEncryption,
) -> Vec<BlockDevice> {
    let launch = &cfg.block_devices.launch_block_device_mappings;
    let BootEncryption::Launch { kms_key_id } = enc else {
        return launch.clone();
    };
    let mut out: Vec<BlockDevice> = launch
        .iter()
        .map(|b| {
            let mut b = b.clone();
            if is_ebs(&b) {
                b.encrypted = Some(true);
                if b.kms_key_id.is_none() {
                    b.kms_key_id.clone_from(kms_key_id);
                }
                if b.volume_size.is_none() && b.snapshot_id.is_none() {
                    b.volume_size = source
                        .ebs_devices
                        .iter()
                        .find(|d| d.device_name == b.device_name)
                        .and_then(|d| d.volume_size);
                }
            }
            b
        })
        .collect();
    let suppressed = suppressed_ephemeral_devices(&cfg.block_devices);
    for d in &source.ebs_devices {
        if out.iter().any(|b| b.device_name == d.device_name) || suppressed.contains(&d.device_name)
        {
            continue;
        }
        out.push(BlockDevice {
            device_name: d.device_name.clone(),
            delete_on_termination: d.delete_on_termination,
            encrypted: Some(true),
            kms_key_id: kms_key_id.clone(),
            volume_size: d.volume_size,
            ..Default::default()
        });
    }
    out
}

/// The one UI line naming the path taken.
pub(crate) fn announcement(enc: &BootEncryption) -> Option<String> {
    match enc {
        BootEncryption::Off => None,
        BootEncryption::Launch { kms_key_id } => Some(format!(
            "encrypt_boot: launching with encrypted EBS volumes ({}); CreateImage makes the encrypted AMI, no copy",
            key_text(kms_key_id.as_deref())
        )),
        BootEncryption::Copy { reason } => Some(format!(
            "encrypt_boot: encrypting by copying the AMI, as Packer does ({reason})"
        )),
    }
}

/// Decides the path for this build, says which in the UI and returns the launch devices.
pub(crate) fn prepare(ctx: &mut BuildCtx, ui: &dyn Ui) -> anyhow::Result<Vec<BlockDevice>> {
    let source = ctx.source.as_ref().context("no source AMI resolved")?;
    let enc = decide(&ctx.cfg, source);
    if let Some(line) = announcement(&enc) {
        ui.say(&line);
    }
    let devices = launch_devices(&ctx.cfg, source, &enc);
    ctx.boot_encryption = enc;
    Ok(devices)
}

/// Whether a failed encrypted launch failed over KMS: a refused call that names KMS (an
/// inaccessible or invalid key, a denied `kms:CreateGrant`), or an instance EC2 stopped at
/// launch (`Client.InvalidKMSKey.*`, or `Client.InternalError`, which is how a key the
/// instance's volumes cannot use usually shows).
pub(crate) fn kms_launch_failure(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.to_ascii_lowercase().contains("kms") || text.contains("Client.InternalError")
}

/// Whether a failed launch step falls back to the copy path: the launch was encrypted by
/// rpack (not by the template), the build was not cancelled, and the failure was over KMS.
pub(crate) fn falls_back(
    ctx: &BuildCtx,
    cancel: &tokio_util::sync::CancellationToken,
    error: &anyhow::Error,
) -> bool {
    matches!(ctx.boot_encryption, BootEncryption::Launch { .. })
        && !cancel.is_cancelled()
        && kms_launch_failure(error)
}

/// Switches to the copy path after `error` (see [`kms_launch_failure`]); says so and returns
/// the devices to launch with now (the template's own).
pub(crate) fn fall_back(
    ctx: &mut BuildCtx,
    ui: &dyn Ui,
    error: &anyhow::Error,
) -> Vec<BlockDevice> {
    ctx.boot_encryption = BootEncryption::Copy {
        reason: format!("the encrypted launch failed: {}", error.root_cause()),
    };
    ui.say(&format!(
        "encrypt_boot: the launch with encrypted volumes failed ({}); launching unencrypted and encrypting by copying the AMI, as Packer does",
        error.root_cause()
    ));
    ctx.cfg.block_devices.launch_block_device_mappings.clone()
}

#[cfg(test)]
#[path = "encrypt_boot_tests.rs"]
mod tests;
