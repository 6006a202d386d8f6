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

/// The user data to launch with, and the host key it installs (when one could be added).
#[derive(Debug)]
pub(crate) struct UserDataPlan {
    /// The raw user data to send (before base64): the template's, or merged with the host key.
    pub user_data: Option<Vec<u8>>,
    pub injected: Option<HostKey>,
    /// Why no key was injected in `auto` (for the UI).
    pub note: Option<String>,
}

/// Adds a freshly generated ed25519 host key to the template's user data when `mode` injects
/// (`inject`, `auto`) and the machine is reached over SSH. In `inject` a key that cannot be
/// added (the 16 KB limit, gzip, Windows, the template's own `ssh_keys`) is an error; in `auto`
/// the user data is left as it is, with a note, and the console alone is watched.
pub(crate) fn plan_user_data(
    mode: Mode,
    ssh: bool,
    template: Option<Vec<u8>>,
) -> anyhow::Result<UserDataPlan> {
    use crate::communicator::host_key::user_data::{merge, Injected};
    let as_is = |template, note| UserDataPlan {
        user_data: template,
        injected: None,
        note,
    };
    if !ssh || !matches!(mode, Mode::Inject | Mode::Auto) {
        return Ok(as_is(template, None));
    }
    let inj = Injected::generate()?;
    // The private key must never reach an output channel.
    crate::ui::secrets::register(&inj.private_openssh);
    match merge(template.as_deref(), &inj.cloud_config()) {
        Ok(ud) => Ok(UserDataPlan {
            user_data: Some(ud),
            injected: Some(inj.key),
            note: None,
        }),
        Err(skip) if mode == Mode::Inject => anyhow::bail!(
            "ssh_host_key_check is inject, but the host key cannot be added to the user data: \
             {skip}. Shorten user_data/user_data_file, or use ssh_host_key_check: auto or console."
        ),
        Err(skip) => Ok(as_is(
            template,
            Some(format!(
                "Not injecting an SSH host key ({skip}); the host key is checked against the console output."
            )),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::host_key::user_data::MAX_USER_DATA;

    #[test]
    fn inject_and_auto_add_a_key_others_send_the_template_as_is() {
        let t = Some(b"#!/bin/sh\necho hi\n".to_vec());
        for mode in [Mode::Inject, Mode::Auto] {
            let p = plan_user_data(mode, true, t.clone()).unwrap();
            let ud = String::from_utf8(p.user_data.unwrap()).unwrap();
            let key = p.injected.unwrap();
            assert!(ud.contains(&key.base64()), "{ud}");
            assert!(ud.contains("#!/bin/sh\necho hi\n"), "{ud}");
            assert!(ud.contains("ed25519_private: |"), "{ud}");
            assert_eq!(p.note, None);
        }
        for (mode, ssh) in [
            (Mode::Console, true),
            (Mode::Tofu, true),
            (Mode::Off, true),
            (Mode::Auto, false),
            (Mode::Inject, false),
        ] {
            let p = plan_user_data(mode, ssh, t.clone()).unwrap();
            assert_eq!(p.user_data, t, "{mode:?}");
            assert!(p.injected.is_none());
        }
        let p = plan_user_data(Mode::Off, true, None).unwrap();
        assert_eq!(p.user_data, None);
    }

    #[test]
    fn user_data_that_cannot_take_the_key_fails_inject_and_notes_auto() {
        let big = Some(format!("#!/bin/sh\n{}\n", "#".repeat(MAX_USER_DATA - 20)).into_bytes());
        let e = plan_user_data(Mode::Inject, true, big.clone()).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.starts_with("ssh_host_key_check is inject, but the host key cannot be added to the user data: the user data with the host key would be"),
            "{e}"
        );
        assert!(e.contains("over EC2's limit of 16384"), "{e}");
        let p = plan_user_data(Mode::Auto, true, big.clone()).unwrap();
        assert_eq!(p.user_data, big);
        assert!(p.injected.is_none());
        let note = p.note.unwrap();
        assert!(
            note.starts_with(
                "Not injecting an SSH host key (the user data with the host key would be"
            ),
            "{note}"
        );
    }
}
