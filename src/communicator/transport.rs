//! The seam between the SSH communicator and how its bytes reach the machine. TCP (direct or
//! through a bastion) is built into `ssh`; anything else implements [`Transport`] and hands
//! libssh2 a connected socket, like Session Manager ([`super::ssm`]).

use std::os::unix::net::UnixStream;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::CommError;

/// Opens one byte stream to the SSH server. Called from a blocking thread, once per SSH
/// connection (again after a disconnect).
pub trait Transport: Send + Sync {
    /// A connected socket plus whatever must live exactly as long as the connection (dropping
    /// it ends the stream).
    fn open(
        &self,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<(UnixStream, Box<dyn Send>), CommError>;
    /// What the user is told ("Session Manager session to i-0abc, port 22").
    fn describe(&self) -> String;
}
