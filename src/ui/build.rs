//! Per-build UI: prefixes every line with the build's name like Packer's targeted UI
//! (`==> name: …` for steps, `    name: …` for output), optionally coloured and timestamped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::ui::{Ui, Wait};

/// Packer's colours for builds, in order (bold green, cyan, magenta, yellow, blue, …).
const COLOURS: &[&str] = &[
    "\x1b[1;32m",
    "\x1b[1;36m",
    "\x1b[1;35m",
    "\x1b[1;33m",
    "\x1b[1;34m",
    "\x1b[1;31m",
];

/// Wraps the process UI for one build (or one post-processor of a build: `name (type)`).
pub struct BuildUi {
    pub(crate) name: String,
    inner: Arc<dyn Ui>,
    colour: Option<&'static str>,
    timestamp: bool,
    /// On a terminal: where wait spinners are drawn (one line per waiting build).
    spinners: Option<Arc<MultiProgress>>,
    /// The spinner of the wait this build is in ([`Ui::wait`]), until its next line.
    waiting: Mutex<Option<ProgressBar>>,
}

impl BuildUi {
    pub fn new(
        name: &str,
        inner: Arc<dyn Ui>,
        colour_index: Option<usize>,
        timestamp: bool,
    ) -> Self {
        BuildUi {
            name: name.to_string(),
            inner,
            colour: colour_index.map(|i| COLOURS[i % COLOURS.len()]),
            timestamp,
            spinners: None,
            waiting: Mutex::new(None),
        }
    }

    /// Draw a spinner with the elapsed time while the build waits (terminals only).
    pub fn with_spinners(mut self, spinners: Option<Arc<MultiProgress>>) -> Self {
        self.spinners = spinners;
        self
    }

    /// The same UI for a post-processor of this build: `==> name (type): …`.
    pub fn for_post_processor(&self, kind: &str) -> BuildUi {
        BuildUi {
            name: format!("{} ({kind})", self.name),
            inner: self.inner.clone(),
            colour: self.colour,
            timestamp: self.timestamp,
            spinners: self.spinners.clone(),
            waiting: Mutex::new(None),
        }
    }

    /// Prints through the inner UI without tearing a spinner that is being drawn.
    fn print(&self, f: impl FnOnce()) {
        match &self.spinners {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    /// Ends the current wait spinner (the wait is over once the build prints anything else).
    fn end_wait(&self) {
        if let Some(pb) = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            pb.finish_and_clear();
        }
    }

    /// Starts a spinner for a wait: `⠋ name: Waiting for SSH to become available 12s`.
    fn start_wait(&self, msg: &str) -> Option<ProgressBar> {
        let m = self.spinners.as_ref()?;
        let pb = m.add(ProgressBar::new_spinner());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_prefix(self.name.clone());
        pb.set_message(msg.trim_end_matches("...").to_string());
        // A tenth of a second keeps the clock readable without drawing for nothing.
        pb.enable_steady_tick(Duration::from_millis(100));
        *self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(pb.clone());
        Some(pb)
    }

    /// Prints `text` as is, in the build's colour (Packer's `output will be in this color.`).
    pub fn inner_say_plain(&self, text: &str) {
        self.emit(text, false);
    }

    /// A line about the build without its `==> name:` prefix (Packer's "Build 'x' finished
    /// after …"), timestamped and coloured like the build's other lines.
    pub fn say_unprefixed(&self, msg: &str) {
        self.end_wait();
        self.print(|| self.emit(&self.decorate("", &self.inner.mask(msg)), false));
    }

    /// As [`BuildUi::say_unprefixed`], on the error stream.
    pub fn error_unprefixed(&self, msg: &str) {
        self.end_wait();
        self.print(|| self.emit(&self.decorate("", &self.inner.mask(msg)), true));
    }

    /// `prefix` + `name: ` before each line of `msg` (nothing when `prefix` is empty), then the
    /// timestamp and colour when on.
    fn decorate(&self, prefix: &str, msg: &str) -> String {
        let ts = if self.timestamp {
            format!("{}: ", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            String::new()
        };
        let body: Vec<String> = msg
            .split('\n')
            .map(|l| {
                if prefix.is_empty() {
                    format!("{ts}{l}")
                } else {
                    format!("{ts}{prefix}{}: {l}", self.name)
                }
            })
            .collect();
        body.join("\n")
    }

    /// Prints a decorated line in the build's colour when on (the colour codes themselves are
    /// not escaped, the text is).
    fn emit(&self, text: &str, error: bool) {
        match (self.colour, error) {
            (Some(c), _) => self.inner.styled(c, text, error),
            (None, false) => self.inner.say(text),
            (None, true) => self.inner.error(text),
        }
    }
}

impl Ui for BuildUi {
    fn say(&self, msg: &str) {
        // Masked before the log and before `decorate` splits it into prefixed lines.
        let msg = &self.inner.mask(msg);
        tracing::debug!(build = %self.name, "ui: {msg}");
        self.end_wait();
        self.print(|| self.emit(&self.decorate("==> ", msg), false));
    }
    fn wait(&self, msg: &str) -> Wait {
        let msg = &self.inner.mask(msg);
        self.say(msg);
        Wait(self.start_wait(msg))
    }
    fn message(&self, msg: &str) {
        let msg = &self.inner.mask(msg);
        tracing::debug!(build = %self.name, "ui: {msg}");
        self.print(|| match self.colour {
            Some(_) => self.emit(&self.decorate("    ", msg), false),
            None => self.inner.message(&self.decorate("    ", msg)),
        });
    }
    fn error(&self, msg: &str) {
        let msg = &self.inner.mask(msg);
        tracing::debug!(build = %self.name, "ui error: {msg}");
        self.end_wait();
        self.print(|| self.emit(&self.decorate("==> ", msg), true));
    }
    fn machine(&self, target: &str, kind: &str, data: &[&str]) {
        self.inner.machine(target, kind, data);
    }
    fn mask(&self, text: &str) -> String {
        self.inner.mask(text)
    }
    fn progress(&self, len: u64, label: &str) -> Option<ProgressBar> {
        let m = self.spinners.as_ref()?;
        let pb = m.add(ProgressBar::new(len));
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix}: {msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_prefix(self.name.clone());
        pb.set_message(label.to_string());
        Some(pb)
    }
}

impl Drop for BuildUi {
    fn drop(&mut self) {
        self.end_wait();
    }
}

/// Formats an elapsed time like Packer (`5 seconds 16 milliseconds`, `13 milliseconds 47 microseconds`).
pub fn human_duration(d: std::time::Duration) -> String {
    let mut micros = d.as_micros() as u64;
    let units: [(&str, u64); 7] = [
        ("day", 86_400_000_000),
        ("hour", 3_600_000_000),
        ("minute", 60_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
        ("", 0),
    ];
    let mut parts = Vec::new();
    for (name, size) in units.iter().take(6) {
        let n = micros / size;
        micros %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_like_packer() {
        assert_eq!(
            human_duration(Duration::from_micros(13_047)),
            "13 milliseconds 47 microseconds"
        );
        assert_eq!(
            human_duration(Duration::from_millis(5016)),
            "5 seconds 16 milliseconds"
        );
        assert_eq!(human_duration(Duration::from_secs(61)), "1 minute 1 second");
        assert_eq!(human_duration(Duration::ZERO), "0 seconds");
    }
}
