//! Provisioners (`shell`, `file`, `shell-local`, `breakpoint`, and the configuration-management
//! ones: `ansible`, `ansible-local`, `chef-solo`, `puppet-masterless`, `salt-masterless`):
//! configuration and run logic over the [`crate::communicator::Communicator`] trait. This file
//! is the registry and dispatch; [`common`] holds the runtime wrapper for the common
//! provisioner keys (`pause_before`, `max_retries`, `timeout`), `script` the helpers of the
//! command-running provisioners. What a provisioner knows about its build is
//! [`crate::shell_local::RunData`], with the script environment, shared with the `shell-local`
//! post-processor from the layer below.
//!
//! The plan decodes `only`/`except`/`override` and the common keys; it builds a
//! [`Decoder`] per provisioner with [`no_render`] as the keys rendered only at run time, calls
//! [`Provisioner::decode`], shows [`Provisioner::warnings`], and at build time runs
//! [`run_with_common`] around [`Provisioner::provision`].

pub mod ansible;
pub mod ansible_local;
pub(crate) mod ansible_proxy;
pub mod breakpoint;
pub mod chef_solo;
pub mod common;
#[cfg(test)]
mod config_tests;
pub mod file;
pub(crate) mod imds_hint;
pub mod puppet_masterless;
pub mod salt_masterless;
pub(crate) mod script;
pub mod shell;
pub mod shell_local;
pub(crate) mod staging;
#[cfg(test)]
pub(crate) mod testing;

use tokio_util::sync::CancellationToken;

pub use common::{run_with_common, Common};

use crate::communicator::Communicator;
use crate::decoder::Decoder;
use crate::shell_local::RunData;
use crate::ui::Ui;

/// A provisioner as one build runs it.
#[derive(Debug, Clone)]
pub struct PlannedProvisioner {
    pub kind: String,
    pub common: Common,
    pub config: Provisioner,
}

/// One configured provisioner.
#[derive(Debug, Clone)]
pub enum Provisioner {
    Shell(shell::Config),
    File(file::Config),
    ShellLocal(shell_local::Config),
    Breakpoint(breakpoint::Config),
    Ansible(Box<ansible::Config>),
    AnsibleLocal(Box<ansible_local::Config>),
    ChefSolo(Box<chef_solo::Config>),
    PuppetMasterless(Box<puppet_masterless::Config>),
    SaltMasterless(Box<salt_masterless::Config>),
}

/// Provisioner types rpack knows.
pub const KINDS: &[&str] = &[
    "shell",
    "file",
    "shell-local",
    "breakpoint",
    "ansible",
    "ansible-local",
    "chef-solo",
    "puppet-masterless",
    "salt-masterless",
];

/// Keys of `kind` whose strings must not be rendered at decode time (they see per-run data
/// such as `{{.Path}}`).
pub fn no_render(kind: &str) -> &'static [&'static str] {
    match kind {
        "shell" | "shell-local" => &["execute_command"],
        "ansible" => &["inventory_file_template"],
        "chef-solo" => &["execute_command", "install_command"],
        "puppet-masterless" => &["execute_command", "extra_arguments"],
        _ => &[],
    }
}

impl Provisioner {
    /// Decodes a provisioner of type `kind`; `None` for a type rpack does not know (the caller
    /// reports Packer's `Unknown provisioner <kind>`). Problems are recorded on `d`.
    pub fn decode(kind: &str, d: &mut Decoder) -> Option<Provisioner> {
        Some(match kind {
            "shell" => Provisioner::Shell(shell::config::decode(d)),
            "file" => Provisioner::File(file::config::decode(d)),
            "shell-local" => Provisioner::ShellLocal(crate::shell_local::config::decode(d)),
            "breakpoint" => Provisioner::Breakpoint(breakpoint::config::decode(d)),
            "ansible" => Provisioner::Ansible(Box::new(ansible::config::decode(d))),
            "ansible-local" => {
                Provisioner::AnsibleLocal(Box::new(ansible_local::config::decode(d)))
            }
            "chef-solo" => Provisioner::ChefSolo(Box::new(chef_solo::config::decode(d))),
            "puppet-masterless" => {
                Provisioner::PuppetMasterless(Box::new(puppet_masterless::config::decode(d)))
            }
            "salt-masterless" => {
                Provisioner::SaltMasterless(Box::new(salt_masterless::config::decode(d)))
            }
            _ => return None,
        })
    }

    /// Validate-time warnings (e.g. CRLF line endings in a script).
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Provisioner::Shell(c) => c.warnings.clone(),
            Provisioner::ShellLocal(c) => c.warnings.clone(),
            _ => Vec::new(),
        }
    }

    pub async fn provision(
        &self,
        ui: &dyn Ui,
        comm: &dyn Communicator,
        data: &RunData,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        match self {
            Provisioner::Shell(c) => shell::provision(c, ui, comm, data, cancel).await,
            Provisioner::File(c) => file::provision(c, ui, comm, data, cancel).await,
            Provisioner::ShellLocal(c) => shell_local::provision(c, ui, data, cancel).await,
            Provisioner::Breakpoint(c) => breakpoint::provision(c, ui, cancel).await,
            Provisioner::Ansible(c) => ansible::provision(c, ui, comm, data, cancel).await,
            Provisioner::AnsibleLocal(c) => {
                ansible_local::provision(c, ui, comm, data, cancel).await
            }
            Provisioner::ChefSolo(c) => chef_solo::provision(c, ui, comm, data, cancel).await,
            Provisioner::PuppetMasterless(c) => {
                puppet_masterless::provision(c, ui, comm, data, cancel).await
            }
            Provisioner::SaltMasterless(c) => {
                salt_masterless::provision(c, ui, comm, data, cancel).await
            }
        }
    }
}
