//! AWS access shared by builders and commands: client configuration (credential chain, region,
//! endpoints, retries), polling with backoff, and error texts that name the operation.

pub mod access;
pub mod error;
pub mod wait;

pub use access::{AccessConfig, AssumeRole, Clients, PollingConfig};
pub use error::{AwsError, AwsResultExt};
pub use wait::{Check, PollPolicy, WaitError};
