//! The host-key side of the connect step (`ssh_host_key_check`, an rpack extension): builds the
//! build's [`Verifier`] from what the builder could arrange (a host key it injected, a console
//! it can read), runs the console poller while SSH is awaited, and prints the outcome
//! ("Host key verified from the console output: ED25519 SHA256:…", or the trust-on-first-use
//! warning with the fingerprint).

use std::sync::Arc;

use crate::communicator::host_key::{poll, ConsoleSource, HostKey, Mode, Verifier};
use crate::communicator::SshComm;
use crate::ui::Ui;

/// What a builder can offer as evidence of its machine's host key.
#[derive(Default)]
pub(crate) struct Evidence {
    /// The host key the builder sent in the user data.
    pub injected: Option<HostKey>,
    /// The machine's console (amazon-ebs: `GetConsoleOutput`).
    pub console: Option<Arc<dyn ConsoleSource>>,
}

/// The check of one connect step; dropping it stops the console poller.
pub(crate) struct Watch {
    verifier: Arc<Verifier>,
    poller: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(p) = self.poller.take() {
            p.abort();
        }
    }
}

impl Watch {
    /// Starts watching (the poller begins reading the console at once).
    pub(crate) fn start(mode: Mode, evidence: Evidence) -> Watch {
        let console = evidence
            .console
            .filter(|_| matches!(mode, Mode::Auto | Mode::Console));
        let verifier = Arc::new(Verifier::new(mode, evidence.injected, console.is_some()));
        let poller =
            console.map(|src| tokio::spawn(poll::watch(src, verifier.clone(), poll::POLL_EVERY)));
        Watch { verifier, poller }
    }

    /// Makes `comm`'s connections go through the check.
    pub(crate) fn attach(&self, comm: &SshComm) {
        comm.set_host_key_check(self.verifier.clone());
    }

    /// Prints what the check decided since the last call.
    pub(crate) fn say(&self, ui: &dyn Ui) {
        for line in self.verifier.take_notes() {
            if line.starts_with("Warning") {
                ui.error(&line);
            } else {
                ui.say(&line);
            }
        }
    }
}
