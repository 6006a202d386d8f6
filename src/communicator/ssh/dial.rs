//! One connection attempt: a socket from the transport, the SSH handshake, the build's
//! host-key check (`ssh_host_key_check`, before anything is sent), the host key held to the one
//! seen first (a changed key is refused for the rest of the build), authentication.

use std::time::{Duration, Instant};

use ssh2::Session;
use tokio_util::sync::CancellationToken;

use super::explain;
use super::session::{authenticate, fingerprint, handshake, new_session};
use super::transport::Link;
use super::{Conn, Inner, TICK};
use crate::communicator::CommError;

impl Inner {
    /// One connection attempt: open the transport, handshake, host key check, authentication.
    pub(super) fn dial(
        &self,
        cancel: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<Conn, CommError> {
        let p = &self.params;
        let budget = deadline.map_or(Duration::from_secs(30), |d| {
            d.saturating_duration_since(Instant::now())
        });
        let dial_timeout = budget.clamp(Duration::from_secs(1), Duration::from_secs(10));
        let Link { sock, relay } = self.transport.open(dial_timeout, cancel)?;
        let kill = sock
            .try_clone()
            .map_err(|e| CommError::Other(format!("cloning socket: {e}")))?;
        *self
            .kill
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(kill);
        let addr = format!("{}:{}", p.target.host, p.target.port);
        let not_ssh = match explain::await_banner(sock.fd(), &addr, dial_timeout, cancel) {
            Ok(first) => first,
            Err(e) => {
                sock.shutdown();
                return Err(e);
            }
        };
        let sess = new_session(&sock, dial_timeout)?;
        let res = (|| {
            handshake(&sess, &addr).map_err(|e| match &not_ssh {
                Some(line) => explain::not_ssh(&addr, line, &e.to_string()),
                None => e,
            })?;
            self.check_host_key(&sess, &addr, cancel)?;
            authenticate(&sess, &p.target)?;
            Ok(())
        })();
        if let Err(e) = res {
            sock.shutdown();
            return Err(e);
        }
        sess.set_timeout(TICK.as_millis() as u32);
        if let Some(k) = p.keep_alive {
            sess.set_keepalive(true, k.as_secs().max(1) as u32);
        }
        Ok(Conn {
            sess,
            sock,
            _relay: relay,
            has_tar: None,
        })
    }

    fn check_host_key(
        &self,
        sess: &Session,
        addr: &str,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let (key, kind) = sess
            .host_key()
            .ok_or_else(|| CommError::Other(format!("{addr} sent no host key")))?;
        if let Some(v) = self.host_key_check.get() {
            v.check(key, cancel).map_err(|e| match e {
                CommError::HostKeyRejected(m) => CommError::HostKeyRejected(format!("{addr}: {m}")),
                e => e,
            })?;
        }
        let kind = format!("{kind:?}");
        let mut seen = self
            .host_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.as_ref() {
            None => {
                *seen = Some((kind, key.to_vec()));
                Ok(())
            }
            Some((k, blob)) if *k == kind && blob.as_slice() == key => Ok(()),
            Some((_, blob)) => Err(CommError::HostKeyChanged {
                addr: addr.to_string(),
                expected: fingerprint(blob),
                found: fingerprint(key),
            }),
        }
    }
}
