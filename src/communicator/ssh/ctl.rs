//! Driving blocking libssh2 calls well: [`Ctl`] repeats a call that only timed out, sends
//! keepalives while it waits, honours cancellation and `ssh_read_write_timeout`, and sorts
//! libssh2's failures into "retry", "the connection is gone" and the rest.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use ssh2::{ErrorCode, Session};
use tokio_util::sync::CancellationToken;

use super::transport::push_ack;
use super::TICK;
use crate::communicator::CommError;

/// What a blocking operation needs to wait well: cancellation, keepalives, the rw timeout.
pub(super) struct Ctl {
    pub(super) cancel: CancellationToken,
    pub(super) keep_alive: Option<Duration>,
    pub(super) rw_timeout: Option<Duration>,
    pub(super) fd: RawFd,
}

impl Ctl {
    pub(super) fn check(&self) -> Result<(), CommError> {
        if self.cancel.is_cancelled() {
            Err(CommError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Runs a libssh2 call, repeating it while it only timed out (libssh2 keeps its state
    /// across a timeout the same way as across EAGAIN), sending keepalives between tries.
    /// `what` names the operation for error messages.
    pub(super) fn call<T>(
        &self,
        sess: &Session,
        what: &str,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, CommError> {
        let start = Instant::now();
        loop {
            self.check()?;
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if is_retry(&e) => {
                    self.idle(sess, start)?;
                }
                Err(e) => return Err(map_err(what, e)),
            }
        }
    }

    /// Runs a libssh2 request that waits for the server's answer (opening a channel, exec, scp,
    /// sftp start-up) without letting libssh2 block: between tries it waits for the socket
    /// itself ([`wait_socket`]), which first releases any ACK the kernel is holding back.
    ///
    /// Why: right after authentication OpenSSH's sshd sends its host keys notice and, before
    /// it has enabled TCP_NODELAY (it does so at exec), its answer to our first channel open
    /// as a second small segment. Nagle holds that segment until the first is acknowledged,
    /// and our kernel delays that ACK by up to 40 ms, so every connection's first command
    /// paid 40 ms for nothing.
    pub(super) fn request<T>(
        &self,
        sess: &Session,
        what: &str,
        mut f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, CommError> {
        sess.set_blocking(false);
        let res = (|| {
            let mut since = Instant::now();
            loop {
                self.check()?;
                match f() {
                    Ok(v) => return Ok(v),
                    Err(e) if is_retry(&e) => {
                        if since.elapsed() >= TICK {
                            self.idle(sess, since)?;
                            since = Instant::now();
                        }
                        wait_socket(sess, self.fd, TICK)?;
                    }
                    Err(e) => return Err(map_err(what, e)),
                }
            }
        })();
        sess.set_blocking(true);
        res
    }

    /// Called when a call made no progress for one tick: keepalive, cancel, rw timeout.
    pub(super) fn idle(&self, sess: &Session, since: Instant) -> Result<(), CommError> {
        self.check()?;
        if self.keep_alive.is_some() {
            let _ = sess.keepalive_send();
        }
        if let Some(t) = self.rw_timeout {
            if since.elapsed() >= t {
                return Err(CommError::Disconnected(format!(
                    "no data for {} (ssh_read_write_timeout)",
                    crate::gocompat::time::duration_string(t)
                )));
            }
        }
        Ok(())
    }

    pub(super) fn write_all(
        &self,
        sess: &Session,
        w: &mut impl Write,
        mut buf: &[u8],
    ) -> Result<(), CommError> {
        let mut last = Instant::now();
        while !buf.is_empty() {
            self.check()?;
            match w.write(buf) {
                Ok(0) => {
                    return Err(CommError::Disconnected(
                        "remote side stopped accepting data".into(),
                    ))
                }
                Ok(n) => {
                    buf = &buf[n..];
                    last = Instant::now();
                }
                Err(e) if is_io_retry(&e) => self.idle(sess, last)?,
                Err(e) => return Err(map_io("writing to the remote host", e)),
            }
        }
        Ok(())
    }

    pub(super) fn read(
        &self,
        sess: &Session,
        r: &mut impl Read,
        buf: &mut [u8],
    ) -> Result<usize, CommError> {
        let last = Instant::now();
        loop {
            self.check()?;
            match r.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_io_retry(&e) => self.idle(sess, last)?,
                Err(e) => return Err(map_io("reading from the remote host", e)),
            }
        }
    }
}

/// The io::Error side of [`is_retry`]: the call only timed out or would block.
fn is_io_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// libssh2's error codes (`LIBSSH2_ERROR_*` in `libssh2.h`) that rpack branches on. The
/// `ssh2` crate passes them through as `ErrorCode::Session(n)` without names.
mod code {
    pub(super) const SOCKET_NONE: i32 = -1;
    pub(super) const KEX_FAILURE: i32 = -5;
    pub(super) const SOCKET_SEND: i32 = -7;
    /// The session's timeout ([`super::TICK`]) passed with nothing to do; the call can go on.
    pub(super) const TIMEOUT: i32 = -9;
    pub(super) const HOSTKEY_SIGN: i32 = -11;
    pub(super) const SOCKET_DISCONNECT: i32 = -13;
    pub(super) const SOCKET_TIMEOUT: i32 = -30;
    /// A non-blocking call would block; the call can go on once the socket is ready.
    pub(super) const EAGAIN: i32 = -37;
    pub(super) const SOCKET_RECV: i32 = -43;
}

/// The call only timed out or would block: libssh2 keeps its state, so calling again resumes it.
pub(super) fn is_retry(e: &ssh2::Error) -> bool {
    matches!(e.code(), ErrorCode::Session(code::TIMEOUT | code::EAGAIN))
}

/// libssh2 error codes that mean the connection itself is gone: the socket failed or closed
/// (`SOCKET_*`), or the key exchange or its signature broke down mid-session.
fn is_disconnect(e: &ssh2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::Session(
            code::SOCKET_SEND
                | code::SOCKET_DISCONNECT
                | code::SOCKET_TIMEOUT
                | code::SOCKET_RECV
                | code::KEX_FAILURE
                | code::HOSTKEY_SIGN
                | code::SOCKET_NONE
        )
    )
}

pub(super) fn map_err(what: &str, e: ssh2::Error) -> CommError {
    if is_disconnect(&e) {
        CommError::Disconnected(format!("{what}: {}", e.message()))
    } else {
        CommError::Other(format!("{what}: {}", e.message()))
    }
}

/// A failed read or write on an open channel: the `ssh2` io error has lost libssh2's code, and
/// in practice these fail only when the transport is gone, so they count as disconnects (the
/// connection is dropped and the next operation dials again).
pub(super) fn map_io(what: &str, e: io::Error) -> CommError {
    CommError::Disconnected(format!("{what}: {e}"))
}

/// Waits until the session's socket is ready in the directions libssh2 is blocked on. Any ACK
/// the kernel is holding back goes out first: whatever we wait for may be a small segment the
/// server's Nagle keeps until that ACK arrives.
pub(super) fn wait_socket(sess: &Session, fd: RawFd, timeout: Duration) -> Result<(), CommError> {
    wait_socket_or(sess, fd, None, timeout)
}

/// [`wait_socket`], also waking when `extra` becomes readable (a local pipe feeding a remote
/// command's input). A write that waits for the channel's window waits for the server's
/// window adjustment, which is input on the socket.
pub(super) fn wait_socket_or(
    sess: &Session,
    fd: RawFd,
    extra: Option<RawFd>,
    timeout: Duration,
) -> Result<(), CommError> {
    push_ack(fd);
    let dirs = sess.block_directions();
    let mut events = libc::POLLIN;
    if matches!(
        dirs,
        ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
    ) {
        events |= libc::POLLOUT;
    }
    let mut pfds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: extra.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if extra.is_some() { 2 } else { 1 };
    // SAFETY: `n` valid pollfds for the duration of the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), n, timeout.as_millis() as i32) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(CommError::Disconnected(format!(
                "waiting on the ssh socket: {e}"
            )));
        }
    }
    if pfds[0].revents & (libc::POLLNVAL) != 0 {
        return Err(CommError::Disconnected("the ssh socket was closed".into()));
    }
    Ok(())
}
