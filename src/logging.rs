//! Debug logs through `tracing`, switched on like Packer's: `RPACK_LOG` or `PACKER_LOG` set to
//! anything but "" or "0" logs to stderr, or to the file named by `RPACK_LOG_PATH` /
//! `PACKER_LOG_PATH`. `RPACK_LOG` may also be a filter (`rpack=debug,aws_smithy=info`).
//!
//! Every record goes through [`Masked`], which replaces the secrets registered with
//! [`crate::ui::secrets::register`] by `<sensitive>` (like Packer's `LogSecretFilter`), and the
//! log file is created readable by its owner only.

use std::io::Write;
use std::sync::{Arc, Mutex};

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty() && v != "0")
}

/// Installs the subscriber when logging is asked for; otherwise does nothing (no cost).
pub fn init() {
    let Some(level) = env("RPACK_LOG").or_else(|| env("PACKER_LOG")) else {
        return;
    };
    // "1"/"true" mean "debug logs of rpack"; anything else is taken as a filter directive.
    let filter = if matches!(level.as_str(), "1" | "true" | "yes" | "on") {
        "rpack=debug,info".to_string()
    } else {
        level
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("rpack=debug,info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(true);
    match env("RPACK_LOG_PATH").or_else(|| env("PACKER_LOG_PATH")) {
        Some(path) => match open_log(&path) {
            Ok(file) => {
                let file = Arc::new(Mutex::new(file));
                let _ = builder
                    .with_writer(move || Masked::new(Target::File(file.clone())))
                    .try_init();
            }
            Err(e) => {
                eprintln!("rpack: cannot open log file {path}: {e}; logging to stderr");
                let _ = builder
                    .with_writer(|| Masked::new(Target::Stderr))
                    .try_init();
            }
        },
        None => {
            let _ = builder
                .with_writer(|| Masked::new(Target::Stderr))
                .try_init();
        }
    }
}

/// Opens (appending) the log file, created with mode 0600.
fn open_log(path: &str) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

enum Target {
    Stderr,
    File(Arc<Mutex<std::fs::File>>),
}

/// One log record: buffered, then masked and written whole when dropped (the formatter writes
/// each record through a fresh writer).
struct Masked {
    buf: Vec<u8>,
    target: Target,
}

impl Masked {
    fn new(target: Target) -> Self {
        Masked {
            buf: Vec::new(),
            target,
        }
    }
}

impl Write for Masked {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Masked {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = crate::ui::secrets::mask_global(&String::from_utf8_lossy(&self.buf));
        let _ = match &self.target {
            Target::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
            Target::File(f) => f
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .write_all(text.as_bytes()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_is_owner_only_and_records_are_masked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpack.log");
        let file = open_log(path.to_str().unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        crate::ui::secrets::register("LOG-canary-51d2 with spaces");
        let target = Target::File(Arc::new(Mutex::new(file)));
        let mut w = Masked::new(target);
        w.write_all(b"DEBUG ui: out: LOG-canary-51d2 ").unwrap();
        w.write_all(b"with spaces and more\n").unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "DEBUG ui: out: <sensitive> and more\n");
    }
}
