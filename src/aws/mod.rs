//! AWS access shared by builders and commands: client configuration (one [`sdk_config`]
//! builder: credential chain, region, endpoints, retries), polling with backoff, error texts that
//! name the operation, one deletion per resource kind ([`delete`], for the step cleanups and
//! `rpack cleanup` alike), the public-IP lookup for temporary security groups, and Secrets
//! Manager for `{{aws_secretsmanager}}`.

pub mod access;
pub mod checkip;
pub mod delete;
pub mod error;
pub(crate) mod explain;
pub mod sdk_config;
pub mod secrets;
pub mod ssm;
pub mod wait;

pub use access::{AccessConfig, AssumeRole, Clients, PollingConfig};
pub use delete::ResourceKind;
pub use error::{AwsError, AwsResultExt};
pub use sdk_config::sdk_config;
pub use wait::{Check, PollPolicy, WaitError};
