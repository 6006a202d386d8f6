//! The stdin hooks of `-debug` (pause before each step) and `-on-error=ask` (clean up, abort
//! or retry a failed step), and the runner options they make.

use std::sync::Arc;

use super::{OnErrorFlag, Options};
use crate::engine::{AskDecision, AskHook, DebugHook, OnError, RunnerOptions};
use crate::ui::build::BuildUi;
use crate::ui::Ui as _;

/// Reads a line from standard input after printing `prompt` (for `-debug` and `-on-error=ask`).
async fn read_line(prompt: String, ui: Arc<BuildUi>) -> String {
    ui.say(&prompt);
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
        s
    })
    .await
    .unwrap_or_default()
}

struct StdinDebug(Arc<BuildUi>);

#[async_trait::async_trait]
impl DebugHook for StdinDebug {
    async fn pause(&self, message: &str) {
        // The engine's message already ends with "Press enter to continue."
        read_line(message.to_string(), self.0.clone()).await;
    }
}

struct StdinAsk(Arc<BuildUi>);

#[async_trait::async_trait]
impl AskHook for StdinAsk {
    async fn ask(&self, step: &str, error: &anyhow::Error) -> AskDecision {
        loop {
            let answer = read_line(
                format!("Step \"{step}\" failed\nError: {error:#}\n[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?"),
                self.0.clone(),
            )
            .await;
            match answer.trim() {
                "c" | "" => return AskDecision::Cleanup,
                "a" => return AskDecision::Abort,
                "r" => return AskDecision::Retry,
                _ => {}
            }
        }
    }
}

pub(super) fn runner_options(opts: &Options, ui: &Arc<BuildUi>) -> RunnerOptions {
    let on_error = match opts.on_error {
        OnErrorFlag::Cleanup => OnError::Cleanup,
        OnErrorFlag::Abort | OnErrorFlag::RunCleanupProvisioner => OnError::Abort,
        OnErrorFlag::Ask => OnError::Ask(Arc::new(StdinAsk(ui.clone()))),
    };
    RunnerOptions {
        on_error,
        debug: opts
            .debug
            .then(|| Arc::new(StdinDebug(ui.clone())) as Arc<dyn DebugHook>),
    }
}
