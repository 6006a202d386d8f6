//! AMI keys of the current amazon plugin that Packer 1.6.6 did not have:
//! `deregistration_protection` (`enabled`, `with_cooldown`), `snapshot_copy_duration_minutes`
//! (time-based region copies) and `skip_ami_run_tags`.

use crate::decoder::Decoder;

/// The checked AMI options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmiOptions {
    /// Enable deregistration protection on every final AMI.
    pub deregistration_protection: bool,
    /// … with AWS's 24-hour cooldown after it is turned off.
    pub deregistration_protection_cooldown: bool,
    /// `SnapshotCopyCompletionDurationMinutes` for every CopyImage.
    pub snapshot_copy_duration_minutes: Option<i64>,
    /// Keep `run_tags` off the AMI and its snapshots.
    pub skip_ami_run_tags: bool,
}

/// EC2's bounds for a time-based copy: 15-minute steps from 15 minutes to 48 hours.
const COPY_MINUTES_STEP: i64 = 15;
const COPY_MINUTES_MAX: i64 = 2880;

pub(super) fn decode(d: &mut Decoder<'_>) -> AmiOptions {
    let (enabled, cooldown) = d
        .object("deregistration_protection", |d| {
            (
                d.bool("enabled").unwrap_or(false),
                d.bool("with_cooldown").unwrap_or(false),
            )
        })
        .unwrap_or_default();
    let minutes = d.int("snapshot_copy_duration_minutes").filter(|m| *m != 0);
    // The plugin passes any value on and lets CopyImage fail after the build; rpack checks the
    // bounds EC2 documents before anything is launched.
    if let Some(m) = minutes {
        if !(COPY_MINUTES_STEP..=COPY_MINUTES_MAX).contains(&m) || m % COPY_MINUTES_STEP != 0 {
            d.error(
                "snapshot_copy_duration_minutes",
                format!("snapshot_copy_duration_minutes must be a multiple of {COPY_MINUTES_STEP} between {COPY_MINUTES_STEP} and {COPY_MINUTES_MAX}, got {m}"),
            );
        }
    }
    AmiOptions {
        // `with_cooldown` implies `enabled`, as in the plugin.
        deregistration_protection: enabled || cooldown,
        deregistration_protection_cooldown: cooldown,
        snapshot_copy_duration_minutes: minutes,
        skip_ami_run_tags: d.bool("skip_ami_run_tags").unwrap_or(false),
    }
}
