//! The one recording [`Ui`] test double, for unit tests here and the integration tests alike:
//! every line kept in order as `say: …`, `message: …` or `error: …`. Machine-readable records
//! are not lines a person reads and are not kept.

use std::sync::Mutex;

use super::Ui;

type Hook = Box<dyn Fn(&str) + Send + Sync>;

/// A [`Ui`] that records what it is told.
#[derive(Default)]
pub struct Recording {
    lines: Mutex<Vec<String>>,
    on_line: Option<Hook>,
}

impl Recording {
    pub fn new() -> Recording {
        Recording::default()
    }

    /// Also calls `hook` with each recorded line as it arrives (to echo it, or to act when a
    /// line appears).
    pub fn with_hook(hook: impl Fn(&str) + Send + Sync + 'static) -> Recording {
        Recording {
            lines: Mutex::default(),
            on_line: Some(Box::new(hook)),
        }
    }

    /// Every line so far, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn push(&self, line: String) {
        if let Some(hook) = &self.on_line {
            hook(&line);
        }
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }
}

impl Ui for Recording {
    fn say(&self, msg: &str) {
        self.push(format!("say: {msg}"));
    }
    fn message(&self, msg: &str) {
        self.push(format!("message: {msg}"));
    }
    fn error(&self, msg: &str) {
        self.push(format!("error: {msg}"));
    }
    fn machine(&self, _target: &str, _kind: &str, _data: &[&str]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn records_every_kind_of_line_in_order_and_calls_the_hook() {
        let seen = Arc::new(Mutex::new(0));
        let counter = seen.clone();
        let ui = Recording::with_hook(move |_| *counter.lock().unwrap() += 1);
        ui.say("a");
        ui.message("b");
        ui.error("c");
        ui.machine("web", "artifact", &["0", "id", "ami-1"]);
        drop(ui.wait("Waiting for d..."));
        assert_eq!(
            ui.lines(),
            ["say: a", "message: b", "error: c", "say: Waiting for d..."]
        );
        assert_eq!(*seen.lock().unwrap(), 4);
    }
}
