//! Packer's wrappers for the common provisioner keys: `pause_before`, `max_retries` and
//! `timeout` around one provisioner's run.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::gocompat::strconv::quote as go_quote;
use crate::gocompat::time::duration_string as go_duration;
use crate::ui::Ui;

/// The common provisioner keys, decoded by the template layer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Common {
    pub pause_before: Option<Duration>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
}

/// Runs `run` with Packer's wrappers for the common keys: retries (immediately, as Packer
/// does) around an optional pause around an optional timeout. Unlike Packer, `timeout` also
/// applies when `pause_before` is set. `run` gets a token that is cancelled on timeout or when
/// `cancel` is.
pub async fn run_with_common<F, Fut>(
    common: &Common,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    mut run: F,
) -> anyhow::Result<()>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let tries = common.max_retries + 1;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = run_once(common, ui, cancel, &mut run).await;
        match res {
            Ok(()) => return Ok(()),
            Err(e) if cancel.is_cancelled() => return Err(e),
            Err(e) if attempt < tries => {
                ui.say(&format!(
                    "Provisioner failed with {}, retrying with {} trie(s) left",
                    go_quote(&e.to_string()),
                    tries - attempt
                ));
            }
            Err(e) => {
                if common.max_retries > 0 {
                    ui.say("retry limit reached.");
                }
                return Err(e);
            }
        }
    }
}

async fn run_once<F, Fut>(
    common: &Common,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    run: &mut F,
) -> anyhow::Result<()>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if let Some(p) = common.pause_before.filter(|p| !p.is_zero()) {
        ui.say(&format!(
            "Pausing {} before the next provisioner...",
            go_duration(p)
        ));
        tokio::select! {
            () = tokio::time::sleep(p) => {}
            () = cancel.cancelled() => anyhow::bail!("cancelled while pausing before the provisioner"),
        }
    }
    let Some(t) = common.timeout.filter(|t| !t.is_zero()) else {
        return run(cancel.child_token()).await;
    };
    ui.say(&format!(
        "Setting a {} timeout for the next provisioner...",
        go_duration(t)
    ));
    let token = cancel.child_token();
    let fut = run(token.clone());
    tokio::pin!(fut);
    tokio::select! {
        res = &mut fut => res,
        () = tokio::time::sleep(t) => {
            ui.error("Cancelling provisioner after a timeout...");
            token.cancel();
            // Let the provisioner stop (close channels, kill local processes) before returning.
            match tokio::time::timeout(Duration::from_secs(10), &mut fut).await {
                Ok(Err(e)) => Err(e),
                _ => Err(anyhow::anyhow!("provisioner timed out after {}", go_duration(t))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::Recording;

    #[tokio::test]
    async fn retries_say_packers_lines_and_stop_at_the_limit() {
        let ui = Recording::new();
        let common = Common {
            max_retries: 2,
            ..Default::default()
        };
        let mut calls = 0;
        let res = run_with_common(&common, &ui, &CancellationToken::new(), |_| {
            calls += 1;
            async { anyhow::bail!("boom") }
        })
        .await;
        assert_eq!(res.unwrap_err().to_string(), "boom");
        assert_eq!(calls, 3);
        assert_eq!(
            ui.lines(),
            [
                "say: Provisioner failed with \"boom\", retrying with 2 trie(s) left",
                "say: Provisioner failed with \"boom\", retrying with 1 trie(s) left",
                "say: retry limit reached."
            ]
        );
    }

    #[tokio::test]
    async fn timeout_applies_even_with_pause_before() {
        let ui = Recording::new();
        let common = Common {
            pause_before: Some(Duration::from_millis(10)),
            timeout: Some(Duration::from_millis(50)),
            max_retries: 0,
        };
        let started = std::time::Instant::now();
        let res = run_with_common(&common, &ui, &CancellationToken::new(), |tok| async move {
            tok.cancelled().await;
            anyhow::bail!("Error executing script: x")
        })
        .await;
        assert!(res.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            ui.lines(),
            [
                "say: Pausing 10ms before the next provisioner...",
                "say: Setting a 50ms timeout for the next provisioner...",
                "error: Cancelling provisioner after a timeout..."
            ]
        );
    }
}
