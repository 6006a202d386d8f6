//! The bastion transport: a direct-tcpip channel through an SSH session with the bastion host,
//! exposed as a local socket pair so the target's session runs over it like over TCP. A thread
//! pumps bytes both ways until either side closes or the tunnel is dropped.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ssh2::{Channel, Session};
use tokio_util::sync::CancellationToken;

use super::ctl::Ctl;
use super::params::Endpoint;
use super::session::{authenticate, handshake, new_session};
use super::transport::{push_ack, tcp_connect, Link, Sock, Transport};
use crate::communicator::CommError;

/// Reaches `host:port` through an SSH session with `bastion`.
pub(super) struct Bastion {
    pub(super) jump: Endpoint,
    pub(super) host: String,
    pub(super) port: u16,
    /// The bastion's host key, pinned at the first connection (or checked against
    /// `ssh_bastion_host_key`): a different one later is refused.
    pub(super) pinned: std::sync::Mutex<Option<Vec<u8>>>,
}

impl Transport for Bastion {
    fn open(&self, timeout: Duration, cancel: &CancellationToken) -> Result<Link, CommError> {
        let tunnel = Tunnel::open(self, timeout, cancel)?;
        let ours = tunnel
            .local
            .try_clone()
            .map_err(|e| CommError::Other(format!("bastion tunnel socket: {e}")))?;
        Ok(Link::relayed(ours, Box::new(tunnel)))
    }

    fn bastion_host_key(&self) -> Option<Vec<u8>> {
        self.pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A running tunnel: our end of the socket pair and the pump thread serving the other end.
/// Dropping it stops the pump.
struct Tunnel {
    local: UnixStream,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.local.shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Tunnel {
    fn open(
        via: &Bastion,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Tunnel, CommError> {
        let (b, host, port) = (&via.jump, via.host.as_str(), via.port);
        let baddr = format!("{}:{}", b.host, b.port);
        let tcp = tcp_connect(&b.host, b.port, timeout)
            .map_err(|e| CommError::Other(format!("bastion {baddr}: {e}")))?;
        let sock = Sock::Tcp(tcp);
        let sess = new_session(&sock, timeout, None, None)?;
        handshake(&sess, &baddr).map_err(|e| CommError::Other(format!("bastion: {}", e.error)))?;
        if let Err(e) = check_bastion_key(&sess, &baddr, b, &via.pinned) {
            sock.shutdown();
            return Err(e);
        }
        authenticate(&sess, b).map_err(|e| match e {
            CommError::Auth(m) => CommError::Auth(format!("bastion {baddr}: {m}")),
            e => e,
        })?;
        let ctl = Ctl {
            cancel: cancel.clone(),
            keep_alive: None,
            rw_timeout: None,
            fd: sock.fd(),
        };
        let ch = ctl.request(
            &sess,
            &format!("opening tunnel to {host}:{port} through bastion {baddr}"),
            || sess.channel_direct_tcpip(host, port, None),
        )?;
        let (local, remote) = UnixStream::pair()
            .map_err(|e| CommError::Other(format!("creating tunnel socket pair: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let cancel = cancel.clone();
            std::thread::Builder::new()
                .name("rpack-bastion".into())
                .spawn(move || pump(sess, sock, ch, remote, &stop, &cancel))
                .map_err(|e| CommError::Other(format!("starting bastion pump: {e}")))?
        };
        Ok(Tunnel {
            local,
            stop,
            thread: Some(thread),
        })
    }
}

/// The bastion's host key must be the stated one (`ssh_bastion_host_key`) or, without one,
/// the one pinned at the first connection of the build. Checked before authenticating.
fn check_bastion_key(
    sess: &Session,
    baddr: &str,
    b: &Endpoint,
    pinned: &std::sync::Mutex<Option<Vec<u8>>>,
) -> Result<(), CommError> {
    use crate::communicator::host_key::{expected::Expected, HostKey};
    let blob = sess
        .host_key()
        .map(|(k, _)| k.to_vec())
        .ok_or_else(|| CommError::Other(format!("bastion {baddr} sent no host key")))?;
    let key = HostKey::from_blob(blob.clone()).ok_or_else(|| {
        CommError::HostKeyRejected(format!("bastion {baddr} presented a malformed host key"))
    })?;
    if let Some(spec) = &b.auth.host_key {
        let want = Expected::parse(spec)
            .map_err(|e| CommError::HostKeyRejected(format!("ssh_bastion_host_key: {e}")))?;
        if !want.matches(&key) {
            return Err(CommError::HostKeyRejected(format!(
                "bastion {baddr} presented host key {}, not the one ssh_bastion_host_key names ({}); \
                 stopping before anything is sent",
                key.fingerprint(),
                want.describe()
            )));
        }
    }
    let mut pin = pinned
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match pin.as_ref() {
        None => *pin = Some(blob),
        Some(p) if *p == blob => {}
        Some(p) => {
            let first = HostKey::from_blob(p.clone()).map(|k| k.fingerprint());
            return Err(CommError::HostKeyRejected(format!(
                "the host key of bastion {baddr} changed during the build (first {}, now {}); \
                 stopping before anything is sent",
                first.unwrap_or_default(),
                key.fingerprint()
            )));
        }
    }
    Ok(())
}

/// One direction of the tunnel: a buffer of bytes read from one side and not yet all written
/// to the other.
pub(super) struct Half {
    buf: Vec<u8>,
    off: usize,
    len: usize,
}

/// What one read into a [`Half`] brought.
pub(super) enum Got {
    Data,
    End,
    Nothing,
}

impl Half {
    pub(super) fn new() -> Half {
        Half {
            buf: vec![0u8; 64 * 1024],
            off: 0,
            len: 0,
        }
    }

    /// Whether bytes read earlier still wait to be written.
    pub(super) fn pending(&self) -> bool {
        self.off < self.len
    }

    /// Reads what `src` has (call only when nothing is pending). `Err` means the side broke.
    pub(super) fn fill(&mut self, src: &mut impl Read) -> io::Result<Got> {
        match src.read(&mut self.buf) {
            Ok(0) => Ok(Got::End),
            Ok(n) => {
                self.len = n;
                self.off = 0;
                Ok(Got::Data)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Got::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Writes what is pending to `dst`; `Ok(true)` when it took some.
    pub(super) fn drain(&mut self, dst: &mut impl Write) -> io::Result<bool> {
        match dst.write(&self.buf[self.off..self.len]) {
            Ok(n) => {
                self.off += n;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Moves bytes between the bastion channel and our end of the socket pair until either side
/// closes or the tunnel is dropped.
fn pump(
    sess: Session,
    sock: Sock,
    mut ch: Channel,
    mut local: UnixStream,
    stop: &AtomicBool,
    cancel: &CancellationToken,
) {
    sess.set_blocking(false);
    let _ = local.set_nonblocking(true);
    let (mut up, mut down) = (Half::new(), Half::new());
    let mut local_eof = false;
    while !stop.load(Ordering::SeqCst) && !cancel.is_cancelled() {
        let mut progress = false;
        if !up.pending() && !local_eof {
            match up.fill(&mut local) {
                Ok(Got::End) => {
                    local_eof = true;
                    let _ = ch.send_eof();
                }
                Ok(Got::Data) => progress = true,
                Ok(Got::Nothing) => {}
                Err(_) => break,
            }
        }
        if up.pending() {
            match up.drain(&mut ch) {
                Ok(p) => progress |= p,
                Err(_) => break,
            }
        }
        if !down.pending() {
            match down.fill(&mut ch) {
                Ok(Got::End) if ch.eof() => break,
                Ok(Got::Data) => progress = true,
                Ok(Got::End | Got::Nothing) => {}
                Err(_) => break,
            }
        }
        if down.pending() {
            match down.drain(&mut local) {
                Ok(p) => progress |= p,
                Err(_) => break,
            }
        }
        if local_eof && ch.eof() {
            break;
        }
        if !progress {
            // The bastion's sshd never sets TCP_NODELAY for a forwarded connection, so Nagle
            // holds each small segment it relays until our ACK for the previous one; without
            // this, every command through the tunnel waited ~40 ms for the delayed ACK.
            push_ack(sock.fd());
            let mut fds = [
                libc::pollfd {
                    fd: sock.fd(),
                    events: libc::POLLIN | (libc::POLLOUT * i16::from(up.pending())),
                    revents: 0,
                },
                libc::pollfd {
                    fd: local.as_raw_fd(),
                    events: (libc::POLLIN * i16::from(!up.pending() && !local_eof))
                        | (libc::POLLOUT * i16::from(down.pending())),
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        }
    }
    let _ = local.shutdown(std::net::Shutdown::Both);
    sess.set_blocking(true);
    sess.set_timeout(1000);
    let _ = ch.close();
    sock.shutdown();
}
