//! How provisioners reach a machine: a small [`Communicator`] trait (run a command with streamed
//! output, upload, upload a directory, download) and its SSH implementation over `ssh2`.

use std::path::Path;

use tokio_util::sync::CancellationToken;

/// Output of a remote command, delivered line by line as it arrives.
pub trait OutputSink: Send + Sync {
    fn stdout_line(&self, line: &str);
    fn stderr_line(&self, line: &str);
}

/// The remote side of a build. Every call is cancellable through `cancel`.
#[async_trait::async_trait]
pub trait Communicator: Send + Sync {
    /// Runs `command` through the remote shell; returns its exit status. A dropped connection
    /// is an error of kind [`CommError::Disconnected`].
    async fn start(&self, command: &str, out: &dyn OutputSink, cancel: &CancellationToken) -> Result<i32, CommError>;
    /// Uploads the bytes of `local` to the remote path `remote` with `mode`.
    async fn upload(&self, local: &Path, remote: &str, mode: Option<u32>, cancel: &CancellationToken) -> Result<(), CommError>;
    /// Uploads a directory tree (Packer's trailing-slash rules are the provisioner's job).
    async fn upload_dir(&self, local: &Path, remote: &str, cancel: &CancellationToken) -> Result<(), CommError>;
    async fn download(&self, remote: &str, local: &Path, cancel: &CancellationToken) -> Result<(), CommError>;
    async fn download_dir(&self, remote: &str, local: &Path, cancel: &CancellationToken) -> Result<(), CommError>;
}

#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("connection to the remote host was lost: {0}")]
    Disconnected(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}
