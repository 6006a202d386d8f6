//! The host-key check of one build, shared by every connection the build makes: the SSH
//! dialler asks it about each presented key right after the handshake and before
//! authentication; the console poller ([`super::poll`]) feeds it what the console says; the
//! connect step prints what it decided. The first accepted key is pinned: every later
//! connection (reconnects after a reboot, provisioners' own connections) must present it.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::console::ConsoleKeys;
use super::policy::{decide, Decision, Evidence};
use super::{HostKey, Mode};
use crate::communicator::CommError;

/// How long a presented key may wait for the console to list the host keys, counted from the
/// first handshake (the instance's sshd is up, so cloud-init has generated its keys and prints
/// them within seconds on a healthy boot; the console API itself can lag on older instance
/// types). After this the key is trusted on first use, with a warning.
pub(crate) const CONSOLE_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct State {
    console: ConsoleKeys,
    /// No more console evidence will come (poller done, or no console at all).
    console_final: bool,
    /// Why the console gave nothing (an API error), for the warning.
    console_note: Option<String>,
    pinned: Option<HostKey>,
    first_presented: Option<Instant>,
    /// Lines for the UI, printed by the connect step.
    notes: Vec<String>,
}

/// The host-key check of one build (see the module doc).
#[derive(Debug)]
pub(crate) struct Verifier {
    mode: Mode,
    injected: Option<HostKey>,
    grace: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

impl Verifier {
    /// `console_watched`: a poller will feed console output (else the console is silent).
    pub(crate) fn new(mode: Mode, injected: Option<HostKey>, console_watched: bool) -> Verifier {
        Verifier {
            mode,
            injected,
            grace: CONSOLE_GRACE,
            state: Mutex::new(State {
                console: ConsoleKeys::NoBlock,
                console_final: !console_watched,
                console_note: None,
                pinned: None,
                first_presented: None,
                notes: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// As [`Verifier::new`] with another console grace.
    #[cfg(test)]
    pub(crate) fn with_grace(mut self, grace: Duration) -> Verifier {
        self.grace = grace;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// New console evidence. A key list replaces an earlier one only if it says more.
    pub(crate) fn console_seen(&self, keys: ConsoleKeys) {
        let mut s = self.lock();
        let better = match (&s.console, &keys) {
            (_, ConsoleKeys::Complete(_)) => true,
            (ConsoleKeys::Complete(_), _) => false,
            (_, ConsoleKeys::Truncated(_)) => true,
            _ => false,
        };
        if better {
            s.console = keys;
        }
        drop(s);
        self.changed.notify_all();
    }

    /// No more console evidence will come; `note` says why, when it was a failure.
    pub(crate) fn console_done(&self, note: Option<String>) {
        let mut s = self.lock();
        s.console_final = true;
        if s.console_note.is_none() {
            s.console_note = note;
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Whether the poller should keep asking (no decision-making key list yet).
    pub(crate) fn console_open(&self) -> bool {
        let s = self.lock();
        !s.console_final && !matches!(s.console, ConsoleKeys::Complete(_)) && s.pinned.is_none()
    }

    /// The key accepted for this build, once one is.
    #[cfg(test)]
    pub(crate) fn pinned(&self) -> Option<HostKey> {
        self.lock().pinned.clone()
    }

    /// The UI lines gathered since the last call.
    pub(crate) fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().notes)
    }

    /// Decides about the key a server presented (wire-format blob), waiting (bounded, and
    /// cancellable) while the console may still list the host keys. `restricted`: the session
    /// asked only for the types an earlier [`Verdict::Renegotiate`] named. `Err` stops the
    /// build: nothing has been sent to that server.
    pub(crate) fn check(
        &self,
        blob: &[u8],
        cancel: &CancellationToken,
        restricted: bool,
    ) -> Result<Verdict, CommError> {
        let presented = HostKey::from_blob(blob.to_vec()).ok_or_else(|| {
            CommError::HostKeyRejected("the server presented a malformed host key".into())
        })?;
        let mut s = self.lock();
        let first = *s.first_presented.get_or_insert_with(Instant::now);
        loop {
            if cancel.is_cancelled() {
                return Err(CommError::Cancelled);
            }
            let grace_over = first.elapsed() >= self.grace;
            let decision = decide(&Evidence {
                mode: self.mode,
                presented: &presented,
                pinned: s.pinned.as_ref(),
                injected: self.injected.as_ref(),
                console: &s.console,
                console_final: s.console_final || grace_over,
                restricted,
            });
            match decision {
                Decision::Accept { message } => {
                    if s.pinned.is_none() {
                        s.pinned = Some(presented);
                        s.notes.extend(message);
                    }
                    return Ok(Verdict::Accepted);
                }
                Decision::Renegotiate {
                    algorithms,
                    message,
                } => {
                    if !s.notes.contains(&message) {
                        s.notes.push(message);
                    }
                    return Ok(Verdict::Renegotiate(algorithms));
                }
                Decision::Fallback { warning } => {
                    s.pinned = Some(presented);
                    let warning = match &s.console_note {
                        Some(n) => format!("{warning} Console: {n}."),
                        None => warning,
                    };
                    s.notes.push(warning);
                    return Ok(Verdict::Accepted);
                }
                Decision::Reject { message } => return Err(CommError::HostKeyRejected(message)),
                Decision::Wait => {
                    let left = self.grace.saturating_sub(first.elapsed());
                    let tick = left
                        .min(Duration::from_millis(100))
                        .max(Duration::from_millis(1));
                    s = self
                        .changed
                        .wait_timeout(s, tick)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    /// The stop when a server asked for the console's key types would not present one: it
    /// first presented `first` (wire-format blob), and the restricted key exchange failed with
    /// `why`.
    pub(crate) fn no_listed_type(&self, first: &[u8], why: &str) -> CommError {
        let first = HostKey::from_blob(first.to_vec())
            .map_or_else(|| "a malformed key".into(), |k| k.fingerprint());
        let s = self.lock();
        let listed = s
            .console
            .keys()
            .iter()
            .map(HostKey::fingerprint)
            .collect::<Vec<_>>()
            .join(", ");
        CommError::HostKeyRejected(format!(
            "The server presented {first}, a key type its console does not list ({listed}), and \
             has no key of a listed type when asked ({why}). This is a man in the middle or a \
             misconfiguration; stopping before anything is sent (ssh_host_key_check: off \
             restores Packer's behaviour)."
        ))
    }
}

/// What [`Verifier::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on (the key is pinned).
    Accepted,
    /// Connect again asking only for these key types (see [`Decision::Renegotiate`]).
    Renegotiate(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> (HostKey, Vec<u8>) {
        let mut b = Vec::new();
        for p in [b"ssh-ed25519".to_vec(), vec![fill; 32]] {
            b.extend_from_slice(&(p.len() as u32).to_be_bytes());
            b.extend_from_slice(&p);
        }
        (HostKey::from_blob(b.clone()).unwrap(), b)
    }

    #[test]
    fn a_console_match_is_verified_pinned_and_printed_once() {
        let (k, blob) = key(1);
        let v = Verifier::new(Mode::Auto, None, true);
        v.console_seen(ConsoleKeys::Complete(vec![k.clone()]));
        let c = CancellationToken::new();
        v.check(&blob, &c, false).unwrap();
        v.check(&blob, &c, false).unwrap();
        assert_eq!(v.pinned(), Some(k.clone()));
        let notes = v.take_notes();
        assert_eq!(
            notes,
            vec![format!(
                "Host key verified from the console output: {}",
                k.fingerprint()
            )]
        );
        // A different key later is a man in the middle, whatever the console says.
        let (_, other) = key(2);
        let e = v.check(&other, &c, false).unwrap_err();
        assert!(format!("{e}").contains("changed during the build"), "{e}");
    }

    #[test]
    fn a_key_waits_for_the_console_then_is_verified() {
        let (k, blob) = key(3);
        let v = std::sync::Arc::new(Verifier::new(Mode::Auto, None, true));
        let feeder = {
            let v = v.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                v.console_seen(ConsoleKeys::Complete(vec![k]));
            })
        };
        let t = Instant::now();
        v.check(&blob, &CancellationToken::new(), false).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(100));
        feeder.join().unwrap();
        assert!(v.take_notes()[0].starts_with("Host key verified from the console"));
    }

    #[test]
    fn a_contradicting_console_stops_and_silence_falls_back_after_the_grace() {
        let (_, blob) = key(4);
        let (listed, _) = key(5);
        let c = CancellationToken::new();
        let v = Verifier::new(Mode::Auto, None, true);
        v.console_seen(ConsoleKeys::Complete(vec![listed.clone()]));
        let e = v.check(&blob, &c, false).unwrap_err();
        assert!(
            format!("{e}").contains(&listed.fingerprint()),
            "names the console's key: {e}"
        );
        assert!(v.pinned().is_none());

        let v = Verifier::new(Mode::Auto, None, true).with_grace(Duration::from_millis(50));
        let t = Instant::now();
        v.check(&blob, &c, false).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert!(v.take_notes()[0].starts_with("Warning: could not verify"));

        // The poller giving up (an API error) ends the wait at once and says why.
        let v = Verifier::new(Mode::Auto, None, true);
        v.console_done(Some("GetConsoleOutput: access denied".into()));
        v.check(&blob, &c, false).unwrap();
        assert!(v.take_notes()[0].contains("access denied"));
    }

    #[test]
    fn an_unlisted_key_type_asks_for_the_listed_ones_then_pins_a_listed_key() {
        let (_, ed) = key(9);
        let mut rsa_blob = Vec::new();
        for p in [b"ssh-rsa".to_vec(), vec![1, 0, 1], vec![7; 256]] {
            rsa_blob.extend_from_slice(&(p.len() as u32).to_be_bytes());
            rsa_blob.extend_from_slice(&p);
        }
        let rsa = HostKey::from_blob(rsa_blob.clone()).unwrap();
        let c = CancellationToken::new();
        let v = Verifier::new(Mode::Auto, None, true);
        v.console_seen(ConsoleKeys::Complete(vec![rsa.clone()]));
        assert_eq!(
            v.check(&ed, &c, false).unwrap(),
            Verdict::Renegotiate(vec!["ssh-rsa".into()])
        );
        assert!(v.pinned().is_none());
        assert_eq!(v.check(&rsa_blob, &c, true).unwrap(), Verdict::Accepted);
        assert_eq!(v.pinned(), Some(rsa.clone()));
        let notes = v.take_notes();
        assert!(
            notes[0].contains("connecting again to ask for ssh-rsa only"),
            "{notes:?}"
        );
        assert_eq!(
            notes[1],
            format!(
                "Host key verified from the console output: {}",
                rsa.fingerprint()
            )
        );
        // A server that still presents the unlisted type when asked is refused.
        let v = Verifier::new(Mode::Auto, None, true);
        v.console_seen(ConsoleKeys::Complete(vec![rsa]));
        assert!(matches!(
            v.check(&ed, &c, true),
            Err(CommError::HostKeyRejected(_))
        ));
        let e = v.no_listed_type(&ed, "no common host key type").to_string();
        assert!(
            e.contains("has no key of a listed type when asked (no common host key type)"),
            "{e}"
        );
    }

    #[test]
    fn a_waiting_check_is_cancellable() {
        let (_, blob) = key(6);
        let v = Verifier::new(Mode::Console, None, true);
        let c = CancellationToken::new();
        let c2 = c.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            c2.cancel();
        });
        assert!(matches!(
            v.check(&blob, &c, false),
            Err(CommError::Cancelled)
        ));
    }

    #[test]
    fn off_accepts_silently_and_inject_accepts_only_its_key() {
        let (k, blob) = key(7);
        let c = CancellationToken::new();
        let v = Verifier::new(Mode::Off, None, false);
        v.check(&blob, &c, false).unwrap();
        assert!(v.take_notes().is_empty());
        let v = Verifier::new(Mode::Inject, Some(k.clone()), false);
        v.check(&blob, &c, false).unwrap();
        let (_, other) = key(8);
        let v = Verifier::new(Mode::Inject, Some(k), false);
        assert!(v.check(&other, &c, false).is_err());
    }
}
