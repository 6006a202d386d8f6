//! Packer's `common/shell-local` (packer-plugin-sdk `shell-local`), shared by the `shell-local`
//! provisioner and the `shell-local` post-processor, which both import it from below: its
//! configuration ([`config`]), running it on the machine running rpack ([`run`]), and the script
//! plumbing every script-running plugin shares: what a plugin knows about its build
//! ([`RunData`], with the builder's typed [`GeneratedData`]), the script environment, exit codes, CRLF warnings and path quoting
//! ([`script`], [`quote`]).

pub mod config;
mod data;
pub(crate) mod quote;
mod run;
pub mod script;

pub use config::Config;
pub use data::{known_hosts_key, Bastion, GeneratedData, RunData, SourceAmi, SshFacts};
pub use run::run;
