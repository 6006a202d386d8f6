//! How a connection reaches the target's sshd. libssh2 needs a real socket, so every transport
//! yields one: TCP straight to the host, or our end of a socket pair whose other end a relay
//! feeds (the bastion tunnel in [`super::tunnel`]; a Session Manager data channel can plug in
//! the same way). Session set-up, host-key pinning and authentication see only the [`Sock`],
//! never which transport made it.

use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::params::ConnectParams;
use super::tunnel::Bastion;
use crate::communicator::CommError;

/// The socket under a session: a TCP stream, or our end of a socket pair fed by a relay.
pub(super) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    pub(super) fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
    pub(super) fn fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }
    pub(super) fn try_clone(&self) -> std::io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
    }
}

/// An open transport: the socket libssh2 runs the session over, and whatever must stay alive
/// for that socket to carry bytes (a relay thread). Dropping the relay stops it.
pub(crate) struct Link {
    pub(super) sock: Sock,
    pub(super) relay: Option<Box<dyn Send>>,
}

impl Link {
    /// A transport whose socket reaches sshd by itself.
    pub(crate) fn tcp(s: TcpStream) -> Link {
        Link {
            sock: Sock::Tcp(s),
            relay: None,
        }
    }

    /// Our end of a socket pair, and the relay that carries the other end's bytes to sshd.
    pub(crate) fn relayed(ours: UnixStream, relay: Box<dyn Send>) -> Link {
        Link {
            sock: Sock::Unix(ours),
            relay: Some(relay),
        }
    }
}

/// A way to reach the target's sshd. `open` runs on a blocking thread for every dial (each
/// reconnect too) and gives up after about `timeout` or when `cancel` fires.
pub(crate) trait Transport: Send + Sync {
    fn open(&self, timeout: Duration, cancel: &CancellationToken) -> Result<Link, CommError>;

    /// The host key (SSH wire format) of the jump host this transport goes through, as pinned
    /// at its first connection; `None` without a jump host or before the first connection.
    fn bastion_host_key(&self) -> Option<Vec<u8>> {
        None
    }
}

/// Plain TCP to the target.
struct Direct {
    host: String,
    port: u16,
}

impl Transport for Direct {
    fn open(&self, timeout: Duration, _: &CancellationToken) -> Result<Link, CommError> {
        tcp_connect(&self.host, self.port, timeout).map(Link::tcp)
    }
}

/// The transport `p` asks for: through its bastion when it has one, else straight TCP.
pub(super) fn for_params(p: &ConnectParams) -> Arc<dyn Transport> {
    let (host, port) = (p.target.host.clone(), p.target.port);
    match &p.bastion {
        None => Arc::new(Direct { host, port }),
        Some(b) => Arc::new(Bastion {
            jump: b.clone(),
            host,
            port,
            pinned: Default::default(),
        }),
    }
}

pub(super) fn tcp_connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, CommError> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| CommError::Other(format!("resolving {host}: {e}")))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let addr = format!("{host}:{port}");
    Err(match last {
        Some(e) => super::explain::tcp_failure(&addr, &e, timeout),
        None => CommError::Other(format!("TCP connect to {addr}: {host} has no address")),
    })
}

/// Sends at once an ACK the kernel would otherwise delay (TCP_QUICKACK; a no-op when none is
/// pending, and on sockets that are not TCP, such as a bastion tunnel's pipe).
pub(super) fn push_ack(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: a valid option value and length for the duration of the call; failure is harmless.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
