//! SIGINT/SIGTERM handling for builds. The first signal cancels every build (steps stop at their
//! next wait point and clean up); the second prints the resources still open, from the builds'
//! ledgers, and exits at once. Unlike Packer, a SIGINT sent to rpack's pid alone is honoured.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use super::Shared;
use crate::ui::Ui;

/// Spawns the signal watcher on the current runtime.
pub(crate) fn install(shared: Shared, ui: Arc<dyn Ui>) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        ui.error("could not install signal handlers; Ctrl-C will not clean up");
        return;
    };
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            count += 1;
            // Print around any wait spinner being drawn, so it is not left frozen on screen.
            let say = |msg: &str| match &shared.spinners {
                Some(m) => m.suspend(|| ui.error(msg)),
                None => ui.error(msg),
            };
            if count == 1 {
                say("Cancelling build after receiving interrupt");
                shared.cancel.cancel();
            } else {
                shared.hard_cancel.cancel();
                say(&second_interrupt(&shared));
                std::process::exit(1);
            }
        }
    });
}

/// What the second interrupt prints before rpack exits: the resources the builds' ledgers still
/// hold open, if any.
pub(crate) fn second_interrupt(shared: &Shared) -> String {
    let open: Vec<String> = shared
        .ledgers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .flat_map(|l| {
            let id = l.build_id().to_string();
            l.open_resources()
                .into_iter()
                .map(move |e| format!("  {} {} in {} (build {id})", e.kind, e.id, e.region))
        })
        .collect();
    if open.is_empty() {
        "Second interrupt: exiting now. No cloud resources are open.".to_string()
    } else {
        format!(
            "Second interrupt: exiting now. These resources are still open; `rpack cleanup --yes` deletes them:\n{}",
            open.join("\n")
        )
    }
}
