//! AWS access shared by builders and commands: client configuration (credential chain, region,
//! endpoints, retries), polling with backoff, error texts that name the operation, and the
//! public-IP lookup for temporary security groups, and Secrets Manager for `{{aws_secretsmanager}}`.

pub mod access;
pub mod checkip;
pub mod error;
pub(crate) mod explain;
pub mod secrets;
pub mod ssm;
pub mod wait;

pub use access::{AccessConfig, AssumeRole, Clients, PollingConfig};
pub use error::{AwsError, AwsResultExt};
pub use wait::{Check, PollPolicy, WaitError};
