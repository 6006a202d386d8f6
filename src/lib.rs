//! rpack: a Rust drop-in for HashiCorp Packer's legacy JSON templates on AWS.
//!
//! The modules follow a build's path: `template` (JSON + variables + interpolation) →
//! `config` (plugin configuration decoding with Packer's weak typing) → `builders` (steps run by
//! `engine`, AWS access in `aws`) → `communicator` → `provisioners` → `post_processors`, with
//! `ui` for everything printed and `cli` tying them to the command line.

pub mod aws;
pub mod build;
pub mod builders;
pub mod cli;
pub mod communicator;
pub mod config;
pub mod engine;
pub mod fuzzing;
pub(crate) mod limits;
pub mod logging;
pub mod platform;
pub mod post_processors;
pub mod provisioners;
pub mod registry;
pub mod template;
pub mod ui;

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
