//! rpack: a Rust drop-in for HashiCorp Packer's legacy JSON templates on AWS.
//!
//! The modules are layered, bottom to top; an import only points down (`scripts/layers.sh`
//! checks it):
//!
//! - `limits`: caps on hostile input (file sizes, nesting, value growth), std only.
//! - [`gocompat`]: Go behaviour reproduced byte for byte (`strconv`, `time.Duration`, …).
//! - [`template`]: positioned JSON, the template model, user variables, mapstructure weak
//!   typing and the Go text/template engine with Packer's functions.
//! - [`decoder`]: plugin configuration decoding, every problem with its position.
//! - [`ui`] (with [`logging`]): everything printed, per build too ([`ui::build`]), and the
//!   recording test double ([`ui::testing`]).
//! - [`aws`]: AWS clients (one `sdk_config` builder), errors, polling with backoff, and one
//!   deletion per resource kind.
//! - [`ledger`]: every cloud id a build creates, and `rpack cleanup`'s sweep.
//! - [`engine`]: the step runner with reverse cleanup and cancellation.
//! - [`communicator`]: the `Communicator` trait, SSH and Session Manager.
//! - [`shell_local`]: Packer's `shell-local`, shared by the provisioner and the post-processor,
//!   the build data every plugin sees ([`shell_local::RunData`], the builders' typed
//!   [`shell_local::GeneratedData`]) and the script plumbing of every plugin that runs scripts.
//! - [`builders`], [`provisioners`]: `amazon-ebs`, `null`, `file`; `shell`, `file`,
//!   `shell-local`, `breakpoint`, `ansible`, `ansible-local`, `chef-solo`,
//!   `puppet-masterless`, `salt-masterless`.
//! - [`artifact`]: what a build produced.
//! - [`post_processors`]: `manifest`, `checksum`, `shell-local` and the chains.
//! - [`plan`]: template + variables → the checked build plan.
//! - [`pipeline`]: `rpack build` at run time.
//! - [`platform`]: Elastic Beanstalk custom platforms.
//! - [`cli`]: the command line.
//! - [`fuzzing`]: entry points for the cargo-fuzz targets and their regression replay.

pub(crate) mod limits;

pub(crate) mod gocompat;

pub mod template;

pub(crate) mod decoder;

pub mod logging;

pub mod ui;

pub mod aws;

pub mod ledger;

pub mod engine;

pub mod communicator;

pub mod shell_local;

pub mod builders;

pub mod provisioners;

pub(crate) mod artifact;

pub(crate) mod post_processors;

pub mod plan;

pub(crate) mod pipeline;

pub(crate) mod platform;

pub mod cli;

pub mod fuzzing;

/// The Packer version rpack is compatible with; `packer version` prints this.
pub const PACKER_COMPAT_VERSION: &str = "1.6.6";

/// The multi-threaded async runtime a command runs its AWS and SSH work on; `None` after
/// telling `ui` why it could not start.
pub(crate) fn runtime(ui: &dyn ui::Ui) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            ui.error(&format!("starting the async runtime: {e}"));
            None
        }
    }
}
