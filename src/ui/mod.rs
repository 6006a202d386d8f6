//! Everything rpack prints: Packer's human UI (`==> build: …`), colours, spinners and progress
//! bars on a terminal, plain lines otherwise, and Packer's `-machine-readable` format.
//!
//! Sensitive variable values are masked as `<sensitive>` by every UI here, including the
//! machine-readable one (Packer 1.6.6 leaks them there; rpack deliberately does not).

pub mod build;
pub mod secrets;
pub(crate) mod terminal;
pub mod testing;
pub mod voice;
mod wrap;

use std::io::Write;
use std::sync::{Arc, Mutex};

pub use secrets::Secrets;
pub use wrap::wrap_string;

/// What builds, steps and plugins print through. Implementations must be cheap to call from any
/// thread.
pub trait Ui: Send + Sync {
    /// `==> <build>: <msg>`
    fn say(&self, msg: &str);
    /// `    <build>: <msg>`
    fn message(&self, msg: &str);
    /// An error line (`==> <build>: <msg>` in red on a terminal).
    fn error(&self, msg: &str);
    /// An error line on the stream Packer 1.6.6 uses for it: its `BasicUi` writes errors to
    /// stdout (`ErrorWriter: os.Stdout`). For the `packer` persona; the machine-readable UI
    /// prints its `ui,error` record on stdout either way.
    fn error_on_stdout(&self, msg: &str) {
        self.error(msg);
    }
    /// A raw machine-readable record (`target`, `type`, data fields); human UIs ignore it.
    fn machine(&self, target: &str, kind: &str, data: &[&str]);
    /// `msg` (on stderr when `error`) in the SGR colour `style` (`\x1b[1;32m`). The text is
    /// made inert like any other line, the colour codes are not; UIs without colour print the
    /// plain line.
    fn styled(&self, style: &str, msg: &str, error: bool) {
        let _ = style;
        if error {
            self.error(msg);
        } else {
            self.say(msg);
        }
    }
    /// Whether errors are drawn in colour (a person at a terminal, colour not turned off).
    fn colours_errors(&self) -> bool {
        false
    }
    /// A progress bar for `len` bytes labelled `label`, drawn among the output's other live
    /// lines; `None` (the default) where nobody watches: not a terminal, machine-readable.
    fn progress(&self, _len: u64, _label: &str) -> Option<indicatif::ProgressBar> {
        None
    }
    /// `text` with the secrets this UI masks replaced by `<sensitive>` (for callers that must
    /// mask before they reshape text: wrapping, per-line prefixes).
    fn mask(&self, text: &str) -> String {
        secrets::mask_global(text)
    }
    /// Says `msg` (`Waiting for …`) and marks a wait that lasts while the guard lives: a UI a
    /// person watches draws a spinner with the elapsed time until the guard drops or the build
    /// prints its next line. Others only print the line.
    #[must_use = "the wait ends when the guard drops"]
    fn wait(&self, msg: &str) -> Wait {
        self.say(msg);
        Wait(None)
    }
}

/// A wait in progress (see [`Ui::wait`]); dropping it ends the wait's spinner, if any.
pub struct Wait(pub(crate) Option<indicatif::ProgressBar>);

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}

/// Where a UI writes: stdout/stderr of the process, or in-memory buffers for tests.
#[derive(Clone)]
pub enum Sink {
    Std,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    /// Writes `s` to stdout as it is (no newline added, nothing masked or made inert).
    pub(crate) fn write_out(&self, s: &str) {
        match self {
            Sink::Std => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(s.as_bytes());
                let _ = out.flush();
            }
            Sink::Buffer(b) => b
                .lock()
                .expect("ui buffer poisoned")
                .extend_from_slice(s.as_bytes()),
        }
    }
    fn write_err(&self, s: &str) {
        match self {
            Sink::Std => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(s.as_bytes());
                let _ = err.flush();
            }
            Sink::Buffer(b) => b
                .lock()
                .expect("ui buffer poisoned")
                .extend_from_slice(s.as_bytes()),
        }
    }
}

/// Packer's `BasicUi`: `say`/`message` to stdout, `error` to stderr, one line each.
pub struct BasicUi {
    sink: Sink,
    secrets: Secrets,
    colour: bool,
}

impl BasicUi {
    pub fn new(sink: Sink, secrets: Secrets) -> Self {
        BasicUi {
            sink,
            secrets,
            colour: false,
        }
    }

    /// The same UI, drawing diagnostics in colour when `colour` (see [`diagnostics`]).
    pub fn with_colour(self, colour: bool) -> Self {
        BasicUi { colour, ..self }
    }
}

/// Whether a person reads stderr at a terminal and colour was not turned off (Packer's
/// `PACKER_NO_COLOR`, or the common `NO_COLOR`).
pub fn stderr_wants_colour() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("PACKER_NO_COLOR").is_none()
        && std::env::var_os("NO_COLOR").is_none()
}

/// Prints rendered HCL diagnostics (`Error: summary`, `  on file:line:col:`, the source line,
/// the caret, the detail) as one error. On a UI that colours errors, the `Error:`/`Warning:`
/// headings are bold red/yellow and the carets red, as HCL's diagnostic writer marks them;
/// everywhere else the text is printed as it is.
pub fn diagnostics(ui: &dyn Ui, text: &str) {
    if !ui.colours_errors() {
        ui.error(text);
        return;
    }
    for line in text.trim_end_matches('\n').split('\n') {
        if let Some(rest) = line.strip_prefix("Error: ") {
            ui.styled("\x1b[1;31m", &format!("Error: {rest}"), true);
        } else if let Some(rest) = line.strip_prefix("Warning: ") {
            ui.styled("\x1b[1;33m", &format!("Warning: {rest}"), true);
        } else if !line.trim().is_empty() && line.trim_start() == "^" {
            ui.styled("\x1b[31m", line, true);
        } else {
            ui.error(line);
        }
    }
}

impl Ui for BasicUi {
    // Masked, then made inert for the terminal (`terminal`).
    fn say(&self, msg: &str) {
        let text = self.secrets.mask(msg);
        self.sink.write_out(&format!("{}\n", terminal::safe(&text)));
    }
    fn message(&self, msg: &str) {
        let text = self.secrets.mask(msg);
        self.sink.write_out(&format!("{}\n", terminal::safe(&text)));
    }
    fn error(&self, msg: &str) {
        let text = self.secrets.mask(msg);
        self.sink.write_err(&format!("{}\n", terminal::safe(&text)));
    }
    fn error_on_stdout(&self, msg: &str) {
        let text = self.secrets.mask(msg);
        self.sink.write_out(&format!("{}\n", terminal::safe(&text)));
    }
    fn machine(&self, _target: &str, _kind: &str, _data: &[&str]) {}
    fn styled(&self, style: &str, msg: &str, error: bool) {
        let text = self.secrets.mask(msg);
        let line = format!("{style}{}\x1b[0m\n", terminal::safe(&text));
        if error {
            self.sink.write_err(&line);
        } else {
            self.sink.write_out(&line);
        }
    }
    fn mask(&self, text: &str) -> String {
        self.secrets.mask(text)
    }
    fn colours_errors(&self) -> bool {
        self.colour
    }
}

/// Packer's `MachineReadableUi`: `timestamp,target,type,data...` lines on stdout.
pub struct MachineUi {
    sink: Sink,
    secrets: Secrets,
    /// Fixed timestamp for tests; the current time otherwise.
    pub fixed_time: Option<i64>,
}

impl MachineUi {
    pub fn new(sink: Sink, secrets: Secrets) -> Self {
        MachineUi {
            sink,
            secrets,
            fixed_time: None,
        }
    }

    fn record(&self, target: &str, kind: &str, data: &[&str]) {
        let ts = self
            .fixed_time
            .unwrap_or_else(|| chrono::Utc::now().timestamp());
        let mut line = format!(
            "{ts},{},{}",
            escape_field(&self.secrets.mask(target)),
            escape_field(kind)
        );
        for d in data {
            line.push(',');
            line.push_str(&escape_field(&self.secrets.mask(d)));
        }
        line.push('\n');
        self.sink.write_out(&line);
    }
}

impl Ui for MachineUi {
    fn say(&self, msg: &str) {
        self.record("", "ui", &["say", msg]);
    }
    fn message(&self, msg: &str) {
        self.record("", "ui", &["message", msg]);
    }
    fn error(&self, msg: &str) {
        self.record("", "ui", &["error", msg]);
    }
    fn machine(&self, target: &str, kind: &str, data: &[&str]) {
        self.record(target, kind, data);
    }
    fn mask(&self, text: &str) -> String {
        self.secrets.mask(text)
    }
}

/// Escapes one machine-readable field like Packer: `,` → `%!(PACKER_COMMA)`, newlines and
/// carriage returns as the two characters `\n`/`\r`. rpack escapes the target field too.
pub fn escape_field(s: &str) -> String {
    s.replace(',', "%!(PACKER_COMMA)")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer() -> (Sink, Arc<Mutex<Vec<u8>>>) {
        let b = Arc::new(Mutex::new(Vec::new()));
        (Sink::Buffer(b.clone()), b)
    }

    #[test]
    fn machine_lines_escape_every_field_and_mask_secrets() {
        let (sink, buf) = buffer();
        let mut ui = MachineUi::new(sink, Secrets::new(["s3cr3t".to_string()]));
        ui.fixed_time = Some(42);
        ui.say("hello, world\nline two s3cr3t");
        ui.machine("second-hello, world", "artifact-count", &["3"]);
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "42,,ui,say,hello%!(PACKER_COMMA) world\\nline two <sensitive>\n\
             42,second-hello%!(PACKER_COMMA) world,artifact-count,3\n"
        );
    }

    #[test]
    fn basic_ui_masks_and_ignores_machine_records() {
        let (sink, buf) = buffer();
        let ui = BasicUi::new(
            sink,
            Secrets::new(["pw".to_string(), "pw-long".to_string()]),
        );
        ui.say("a pw-long b pw");
        ui.machine("x", "y", &["z"]);
        ui.error("oops pw");
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "a <sensitive> b <sensitive>\noops <sensitive>\n");
    }

    const DIAG: &str = "Error: Unsupported argument\n\n  on t.pkr.hcl:2:3:\n   2:   typo = \"\x1b[2J\"\n        ^\n\nAn argument named \"typo\" is not expected here.\n\n";

    #[test]
    fn diagnostics_are_coloured_only_on_a_colour_ui_and_stay_inert() {
        let (sink, buf) = buffer();
        diagnostics(&BasicUi::new(sink, Secrets::default()), DIAG);
        let plain = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(!plain.contains("\x1b[1;31m"), "{plain:?}");
        assert!(plain.starts_with("Error: Unsupported argument\n\n  on t.pkr.hcl:2:3:\n"));
        assert!(
            !plain.contains('\x1b'),
            "a control character reached the terminal: {plain:?}"
        );

        let (sink, buf) = buffer();
        diagnostics(
            &BasicUi::new(sink, Secrets::default()).with_colour(true),
            DIAG,
        );
        let colour = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(
            colour.starts_with(
                "\x1b[1;31mError: Unsupported argument\x1b[0m\n\n  on t.pkr.hcl:2:3:\n"
            ),
            "{colour:?}"
        );
        assert!(
            colour.contains("\n\x1b[31m        ^\x1b[0m\n"),
            "{colour:?}"
        );
        assert!(!colour.contains("\x1b[2J"), "{colour:?}");
        // Without the colour codes, the text is the plain one.
        let stripped = colour
            .replace("\x1b[1;31m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped.trim_end(), plain.trim_end());
    }
}
