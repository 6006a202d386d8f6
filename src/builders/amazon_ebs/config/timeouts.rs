//! Every wait and retry budget the amazon-ebs steps use, in one place, each with why it has
//! its value. The `aws_polling` settings and `AWS_TIMEOUT_SECONDS` can still override the wait
//! timeouts (see [`crate::aws::access::ResolvedPolling::policy`]); the retry budgets are
//! rpack's own. The budgets of deletions (a security group in use, a snapshot still held by its
//! AMI, …) are the same for the step cleanups and `rpack cleanup`: they live with the one
//! deletion path in [`crate::aws::delete`].

use std::time::Duration;

/// Waiting for a launched instance to be `running`. Packer waits 10 minutes, which metal
/// instances overrun (packer issues #8415/#13143); 30 minutes bounds a stuck launch without
/// cutting a slow one.
pub const INSTANCE_RUNNING: Duration = Duration::from_secs(30 * 60);
/// Waiting for the instance to be `stopped` before imaging: the same slow-hardware margin.
pub const INSTANCE_STOPPED: Duration = Duration::from_secs(30 * 60);
/// Waiting for the instance to be `terminated` in cleanup: the same slow-hardware margin.
pub const INSTANCE_TERMINATED: Duration = Duration::from_secs(30 * 60);
/// Waiting for an AMI (created or copied) to be `available`. Packer waits 30 minutes, too
/// short for big AMIs and cross-region copies (the same packer issues); 3 hours gives them room.
pub const IMAGE_AVAILABLE: Duration = Duration::from_secs(3 * 60 * 60);
/// Waiting for a snapshot of a launch volume (amazon-ebsvolume's `snapshot_volume`,
/// amazon-ebssurrogate's volumes) to complete: a big volume's first snapshot takes hours.
pub const SNAPSHOT_COMPLETED: Duration = Duration::from_secs(2 * 60 * 60);
/// Waiting for Windows fast launch (`fast_launch`) to be `enabled` on an AMI: EC2 launches
/// instances to pre-provision its snapshots. The plugin waits 500 polls of 15 s (about two
/// hours); the same here.
pub const FAST_LAUNCH_ENABLED: Duration = Duration::from_secs(2 * 60 * 60);
/// Retrying EnableFastLaunch on an AMI EC2 does not know yet (a copy that just became
/// available) or whose state does not allow it yet; the plugin retries for one minute.
pub const ENABLE_FAST_LAUNCH_RETRY: Duration = Duration::from_secs(60);

/// Room a launch step's cleanup gets on top of [`INSTANCE_TERMINATED`]: the terminate call
/// itself, and cancelling a spot fleet, before the wait starts.
pub const TERMINATE_CALLS: Duration = Duration::from_secs(5 * 60);

/// Retrying CreateImage while EC2 still answers `IncorrectInstanceState`: right after the
/// stop wait EC2 may still report the instance as stopping for a moment; 15 minutes stays
/// well inside [`INSTANCE_STOPPED`] while never cutting a slow but healthy stop short.
pub const CREATE_IMAGE_RETRY: Duration = Duration::from_secs(15 * 60);
/// Retrying AuthorizeSecurityGroupIngress on `InvalidGroup.NotFound`: a brand-new group is
/// briefly unknown to the API (eventual consistency, seconds in practice).
pub const AUTHORIZE_NEW_GROUP_RETRY: Duration = Duration::from_secs(60);
/// Retrying CreateTags on `InvalidAMIID.NotFound` / `InvalidSnapshot.NotFound`: a new AMI and
/// its snapshots are briefly unknown to the API (eventual consistency).
pub const TAG_NEW_IMAGE_RETRY: Duration = Duration::from_secs(60);
/// Retrying RunInstances (and a spot build's CreateFleet) on `InvalidParameterValue` when the
/// build just created its instance profile: a fresh profile takes a few seconds to be usable by
/// EC2 (IAM is eventually consistent); two minutes covers the slow cases. Without a new profile
/// there is no retry.
pub const NEW_INSTANCE_PROFILE_RETRY: Duration = Duration::from_secs(120);
/// Retrying a spot build's CreateFleet while no pool has capacity
/// (`InsufficientInstanceCapacity`), as Packer does (11 tries, about 27 s).
pub const SPOT_CAPACITY_RETRY: Duration = Duration::from_secs(30);
