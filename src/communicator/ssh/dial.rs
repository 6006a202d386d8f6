//! One connection attempt: a socket from the transport, the SSH handshake, the build's
//! host-key check (`ssh_host_key_check`, before anything is sent; it may ask to connect again
//! for other key types), the host key held to the one seen first (a changed key is refused for
//! the rest of the build, and later connections ask for its type), authentication.

use std::time::{Duration, Instant};

use ssh2::Session;
use tokio_util::sync::CancellationToken;

use super::algs::Prefs;
use super::explain;
use super::session::{authenticate, fingerprint, handshake, host_key_methods, new_session};
use super::transport::Link;
use super::{Conn, Inner, TICK};
use crate::communicator::host_key::verify::Verdict;
use crate::communicator::host_key::HostKey;
use crate::communicator::CommError;

impl Inner {
    /// One connection attempt: open the transport, handshake, host key check, authentication.
    /// When the build's host-key check asks for other key types (the console lists none of the
    /// presented key's type), the attempt connects once more asking only for those.
    pub(super) fn dial(
        &self,
        cancel: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<Conn, CommError> {
        self.dial_as(cancel, deadline, true)
    }

    /// [`Self::dial`]; `main`: whether this is the communicator's own connection (the one
    /// cancellation shuts down), not a side connection such as the tunnels'.
    pub(super) fn dial_as(
        &self,
        cancel: &CancellationToken,
        deadline: Option<Instant>,
        main: bool,
    ) -> Result<Conn, CommError> {
        match self.dial_with(cancel, deadline, None, main)? {
            Dialed::Up(conn) => Ok(conn),
            Dialed::Renegotiate { types, first } => {
                match self.dial_with(cancel, deadline, Some((&types, &first)), main)? {
                    Dialed::Up(conn) => Ok(conn),
                    // The verifier never asks twice (a restricted session is decided).
                    Dialed::Renegotiate { .. } => Err(CommError::HostKeyRejected(
                        "the server did not present a host key of the type asked for".into(),
                    )),
                }
            }
        }
    }

    /// The host-key types to ask for: `restrict`'s, else the pinned key's own type (so later
    /// connections present the key the build accepted, even when the server prefers another),
    /// else every type rpack handles.
    /// Also the pinned key when its type is what is asked for.
    fn host_key_prefs(&self, restrict: Option<&[String]>) -> (Option<String>, Option<HostKey>) {
        if let Some(types) = restrict {
            return (Some(host_key_methods(types)), None);
        }
        let seen = self
            .host_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen
            .as_ref()
            .and_then(|(_, blob)| HostKey::from_blob(blob.clone()))
        {
            Some(key) => (
                Some(host_key_methods(&[key.algorithm().to_string()])),
                Some(key),
            ),
            None => (None, None),
        }
    }

    /// `restrict`: the key types to ask for and the key the server presented when it was not
    /// restricted (for the message when it has none of them).
    fn dial_with(
        &self,
        cancel: &CancellationToken,
        deadline: Option<Instant>,
        restrict: Option<(&[String], &[u8])>,
        main: bool,
    ) -> Result<Dialed, CommError> {
        let p = &self.params;
        let budget = deadline.map_or(Duration::from_secs(30), |d| {
            d.saturating_duration_since(Instant::now())
        });
        let dial_timeout = budget.clamp(Duration::from_secs(1), Duration::from_secs(10));
        let Link { sock, relay } = self.transport.open(dial_timeout, cancel)?;
        if main {
            let kill = sock
                .try_clone()
                .map_err(|e| CommError::Other(format!("cloning socket: {e}")))?;
            *self
                .kill
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(kill);
        }
        let addr = format!("{}:{}", p.target.host, p.target.port);
        let not_ssh = match explain::await_banner(sock.fd(), &addr, dial_timeout, cancel) {
            Ok(first) => first,
            Err(e) => {
                sock.shutdown();
                return Err(e);
            }
        };
        let (prefs, pinned) = self.host_key_prefs(restrict.map(|(t, _)| t));
        let algs = self.algs.get();
        let sess = new_session(&sock, dial_timeout, prefs.as_deref(), algs)?;
        let res = (|| {
            if let Err(e) = handshake(&sess, &addr) {
                let kex_failed = e.code == Some(KEX_FAILURE);
                let e = e.error;
                return Err(match (&not_ssh, restrict, self.host_key_check.get()) {
                    (Some(line), _, _) => explain::not_ssh(&addr, line, &e.to_string()),
                    // Asked for the type of the key the build accepted, the server has none.
                    (None, None, _) if kex_failed && pinned.is_some() => {
                        CommError::HostKeyRejected(format!(
                            "{addr}: the server has no host key of the type the build accepted \
                             earlier ({}; {e}). Another machine answers on the instance's address \
                             (a man in the middle or an address reused); stopping before anything \
                             is sent.",
                            pinned
                                .as_ref()
                                .map(HostKey::fingerprint)
                                .unwrap_or_default()
                        ))
                    }
                    // Asked only for the listed types, the server could not agree on one.
                    (None, Some((_, first)), Some(v)) if kex_failed => {
                        match v.no_listed_type(first, &e.to_string()) {
                            CommError::HostKeyRejected(m) => {
                                CommError::HostKeyRejected(format!("{addr}: {m}"))
                            }
                            e => e,
                        }
                    }
                    // Only the template's algorithms were offered and the server took none.
                    (None, _, _) if kex_failed && algs.and_then(Prefs::describe).is_some() => {
                        CommError::Negotiation(format!(
                            "{e}: the server accepts none of the algorithms the template allows \
                             ({}). Hint: add algorithms the server offers (`sshd -T` on the \
                             instance lists them), or remove the keys to use rpack's defaults",
                            algs.and_then(Prefs::describe).unwrap_or_default()
                        ))
                    }
                    _ => e,
                });
            }
            if let Some(types) = self.check_host_key(&sess, &addr, cancel, restrict.is_some())? {
                let first = sess.host_key().map(|(k, _)| k.to_vec()).unwrap_or_default();
                return Ok(Some((types, first)));
            }
            authenticate(&sess, &p.target)?;
            Ok(None)
        })();
        match res {
            Err(e) => {
                sock.shutdown();
                Err(e)
            }
            Ok(Some((types, first))) => {
                // Nothing was sent on this connection: drop it and ask again.
                sock.shutdown();
                Ok(Dialed::Renegotiate { types, first })
            }
            Ok(None) => {
                sess.set_timeout(TICK.as_millis() as u32);
                if let Some(k) = p.keep_alive {
                    sess.set_keepalive(true, k.as_secs().max(1) as u32);
                }
                Ok(Dialed::Up(Conn {
                    sess,
                    sock,
                    _relay: relay,
                    has_tar: None,
                }))
            }
        }
    }

    /// Asks the build's check about the presented key and holds it to the one seen first.
    /// `Some(types)`: connect again asking only for these key types.
    fn check_host_key(
        &self,
        sess: &Session,
        addr: &str,
        cancel: &CancellationToken,
        restricted: bool,
    ) -> Result<Option<Vec<String>>, CommError> {
        let (key, kind) = sess
            .host_key()
            .ok_or_else(|| CommError::Other(format!("{addr} sent no host key")))?;
        if let Some(v) = self.host_key_check.get() {
            let verdict = v.check(key, cancel, restricted).map_err(|e| match e {
                CommError::HostKeyRejected(m) => CommError::HostKeyRejected(format!("{addr}: {m}")),
                e => e,
            })?;
            if let Verdict::Renegotiate(types) = verdict {
                return Ok(Some(types));
            }
        }
        let kind = format!("{kind:?}");
        let mut seen = self
            .host_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.as_ref() {
            None => {
                *seen = Some((kind, key.to_vec()));
                Ok(None)
            }
            Some((k, blob)) if *k == kind && blob.as_slice() == key => Ok(None),
            Some((_, blob)) => Err(CommError::HostKeyChanged {
                addr: addr.to_string(),
                expected: fingerprint(blob),
                found: fingerprint(key),
            }),
        }
    }
}

/// What one dial produced.
enum Dialed {
    Up(Conn),
    Renegotiate { types: Vec<String>, first: Vec<u8> },
}

/// libssh2's `LIBSSH2_ERROR_KEX_FAILURE`: no algorithm both sides accept (here: host key type).
const KEX_FAILURE: i32 = -5;
