//! Elastic Beanstalk custom platforms (`rpack platform …`, a drop-in for `ebp`): platform.yaml
//! and workspace YAML (`yaml`), checks before upload (`check`), version numbers (`version`), the
//! definition archive (`bundle`) and the AWS calls (`api`).

pub mod api;
pub mod bundle;
pub mod check;
pub mod version;
pub mod yaml;
