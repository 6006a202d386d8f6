//! Elastic Beanstalk custom platforms (`rpack platform …`, a drop-in for `ebp`), taking typed
//! options (the CLI only parses arguments into them):
//! - the commands: `init`/`use` ([`init`]), `status`/`list`/`events`/`logs`/`delete`
//!   ([`manage`]), `create` ([`create`], with `--local-build` in [`local_build`]), `publish`
//!   ([`publish`]);
//! - what they share: the workspace (`workspace`), which version a command means (`resolve`),
//!   platform.yaml and workspace YAML (`yaml`), checks before upload (`check`), version numbers
//!   (`version`), the definition archive (`bundle`), the AWS calls (`api`), waiting on and
//!   following a version (`watch`) and ebcli's interactive prompts (`prompt`).

pub(crate) mod api;
pub(crate) mod bundle;
pub(crate) mod check;
pub(crate) mod create;
mod crlf;
pub(crate) mod init;
mod local_build;
pub(crate) mod manage;
pub(crate) mod prompt;
pub(crate) mod publish;
mod resolve;
pub(crate) mod secret_files;
pub(crate) mod version;
pub(crate) mod watch;
mod workspace;
pub(crate) mod yaml;

pub(crate) use create::{create, CreateOptions};
pub(crate) use init::{init, use_platform, InitOptions};
pub(crate) use manage::{delete, events, list, logs, status, DeleteOptions, ListOptions};
pub(crate) use publish::{publish, PublishOptions};

/// ebp's global options, which every command takes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Global {
    /// `-r/--region` (else the workspace's default region, else the AWS chain's).
    pub region: Option<String>,
    /// `--profile`: the shared-config profile for every AWS call, and for a local build's
    /// builders where the template names none.
    pub profile: Option<String>,
    /// `--endpoint-url`: Elastic Beanstalk's endpoint only, like ebp (`AWS_ENDPOINT_URL_*` set
    /// the others).
    pub endpoint_url: Option<String>,
}
