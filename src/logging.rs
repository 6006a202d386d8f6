//! Debug logs through `tracing`, switched on like Packer's: `RPACK_LOG` or `PACKER_LOG` set to
//! anything but "" or "0" logs to stderr, or to the file named by `RPACK_LOG_PATH` /
//! `PACKER_LOG_PATH`. `RPACK_LOG` may also be a filter (`rpack=debug,aws_smithy=info`).

use std::sync::Mutex;

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
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => {
                let _ = builder.with_writer(Mutex::new(file)).try_init();
            }
            Err(e) => {
                eprintln!("rpack: cannot open log file {path}: {e}; logging to stderr");
                let _ = builder.with_writer(std::io::stderr).try_init();
            }
        },
        None => {
            let _ = builder.with_writer(std::io::stderr).try_init();
        }
    }
}
