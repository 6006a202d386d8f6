//! The `breakpoint` provisioner: pauses the build until Enter is pressed.

pub mod config;

use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::ui::Ui;

pub async fn provision(c: &Config, ui: &dyn Ui, cancel: &CancellationToken) -> anyhow::Result<()> {
    if c.disable {
        if c.note.is_empty() {
            ui.say("Skipping breakpoint");
        } else {
            ui.say(&format!("Skipping breakpoint with note: {}", c.note));
        }
        return Ok(());
    }
    if c.note.is_empty() {
        ui.say("Pausing at breakpoint provisioner.");
    } else {
        ui.say(&format!(
            "Pausing at breakpoint provisioner with note \"{}\".",
            c.note
        ));
    }
    ui.say("Press enter to continue.");
    // The Ui trait has no `ask`; read the answer from stdin here.
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| ())
    });
    tokio::select! {
        r = read => { r??; Ok(()) }
        () = cancel.cancelled() => anyhow::bail!("cancelled at breakpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::Recording;

    #[tokio::test]
    async fn disabled_breakpoint_only_says_so() {
        let ui = Recording::default();
        provision(
            &Config {
                note: "n".into(),
                disable: true,
            },
            &ui,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(ui.lines(), ["say: Skipping breakpoint with note: n"]);
    }
}
