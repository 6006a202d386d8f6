//! The integration tests' recording UI: rpack's own [`Recording`] (the one recording test
//! double), echoing each line to stderr with the time (the failing test's log), and optionally
//! cancelling a build a while after a line containing a pattern appears.

use std::time::Duration;

pub(crate) use rpack::ui::testing::Recording;
use tokio_util::sync::CancellationToken;

/// Records and echoes every line.
pub(crate) fn recording() -> Recording {
    Recording::with_hook(echo)
}

/// Records and echoes every line; `after` the first line containing `pattern`, cancels
/// `cancel` (the build sees a Ctrl-C at that point).
pub(crate) fn cancelling_on(
    pattern: &str,
    cancel: CancellationToken,
    after: Duration,
) -> Recording {
    let pattern = pattern.to_string();
    Recording::with_hook(move |line| {
        echo(line);
        if line.contains(pattern.as_str()) {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                cancel.cancel();
            });
        }
    })
}

fn echo(line: &str) {
    eprintln!("[{}] {line}", chrono::Utc::now().format("%H:%M:%S%.3f"));
}
