//! Watching the console while the connect step waits for SSH: asks a [`ConsoleSource`] for the
//! console output every few seconds and hands what cloud-init printed to the [`Verifier`],
//! until the key list is complete, cloud-init says it finished without one, the source fails
//! (a missing `ec2:GetConsoleOutput` permission must not fail a build Packer would run), or a
//! key has been accepted. The connect step aborts the task when it is done.

use std::sync::Arc;
use std::time::Duration;

use super::console::{self, ConsoleKeys};
use super::verify::Verifier;

/// Where the console output comes from (EC2's `GetConsoleOutput` for amazon-ebs).
#[async_trait::async_trait]
pub(crate) trait ConsoleSource: Send + Sync {
    /// The console output so far, decoded; `Ok(None)` while there is none. `Err` ends the
    /// watch: the message says why (it is shown with the fallback warning).
    async fn fetch(&self) -> Result<Option<String>, String>;
}

/// How often the console is read while nothing decides: EC2 refreshes it with `Latest` at
/// once and otherwise every few minutes, and each read is one API call.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(2);

/// Feeds `v` from `source` until nothing more is to be learnt (see the module doc).
pub(crate) async fn watch(source: Arc<dyn ConsoleSource>, v: Arc<Verifier>, every: Duration) {
    while v.console_open() {
        match source.fetch().await {
            Ok(Some(text)) => {
                let keys = console::parse(&text);
                let silent = matches!(keys, ConsoleKeys::NoBlock);
                v.console_seen(keys);
                if silent && console::cloud_init_finished(&text) {
                    v.console_done(Some(
                        "cloud-init finished without listing host keys on the console".into(),
                    ));
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                v.console_done(Some(e));
                return;
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::host_key::Mode;
    use std::sync::Mutex;

    struct Script(Mutex<Vec<Result<Option<String>, String>>>, Mutex<u32>);

    #[async_trait::async_trait]
    impl ConsoleSource for Script {
        async fn fetch(&self) -> Result<Option<String>, String> {
            *self.1.lock().unwrap() += 1;
            let mut s = self.0.lock().unwrap();
            if s.len() > 1 {
                s.remove(0)
            } else {
                s[0].clone()
            }
        }
    }

    fn script(answers: Vec<Result<Option<String>, String>>) -> Arc<Script> {
        Arc::new(Script(Mutex::new(answers), Mutex::new(0)))
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRQ8pAtYbEp0wOfM2uM6jX7C0mYf8FX7bqE9cZf1Xsz";

    #[tokio::test(start_paused = true)]
    async fn polls_until_the_block_is_complete() {
        let block = format!(
            "boot\n-----BEGIN SSH HOST KEY KEYS-----\n{KEY} root@x\n-----END SSH HOST KEY KEYS-----\n"
        );
        let src = script(vec![Ok(None), Ok(Some("booting".into())), Ok(Some(block))]);
        let v = Arc::new(Verifier::new(Mode::Auto, None, true));
        watch(src.clone(), v.clone(), POLL_EVERY).await;
        assert_eq!(*src.1.lock().unwrap(), 3);
        assert!(!v.console_open());
    }

    #[tokio::test(start_paused = true)]
    async fn cloud_init_finishing_without_keys_or_an_error_ends_the_watch() {
        let src = script(vec![Ok(Some(
            "Cloud-init v. 23.1 finished at Fri, 04 Dec 2026\n".into(),
        ))]);
        let v = Arc::new(Verifier::new(Mode::Auto, None, true));
        watch(src.clone(), v.clone(), POLL_EVERY).await;
        assert_eq!(*src.1.lock().unwrap(), 1);
        assert!(!v.console_open());

        let src = script(vec![Err("GetConsoleOutput: UnauthorizedOperation".into())]);
        let v = Arc::new(Verifier::new(Mode::Auto, None, true));
        watch(src, v.clone(), POLL_EVERY).await;
        assert!(!v.console_open());
    }
}
