//! Elastic Beanstalk custom platforms (`rpack platform …`, a drop-in for `ebp`): platform.yaml
//! and workspace YAML (`yaml`), checks before upload (`check`), version numbers (`version`), the
//! definition archive (`bundle`), the AWS calls (`api`), waiting on and following a version
//! (`watch`) and ebcli's interactive prompts (`prompt`).

pub mod api;
pub mod bundle;
pub mod check;
mod crlf;
pub mod prompt;
pub(crate) mod secret_files;
pub mod version;
pub mod watch;
pub mod yaml;
