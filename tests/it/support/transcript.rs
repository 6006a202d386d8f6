//! Whole command transcripts pinned by insta snapshots: the exit code, stdout and stderr (kept
//! apart, so their interleaving cannot make a snapshot flaky), with what changes from run to run
//! replaced by a placeholder (times, durations, ids, ports, temporary paths).

use std::path::Path;
use std::process::Output;

/// `exit: N`, then stdout and stderr.
pub(crate) fn transcript(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Insta filters for what varies between runs; `dir` (the test's working directory) becomes
/// `[DIR]`.
pub(crate) fn filters(dir: &Path) -> Vec<(String, &'static str)> {
    let mut f = vec![(regex_escape(&dir.display().to_string()), "[DIR]")];
    for (pattern, with) in [
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}| UTC)?",
            "[TIME]",
        ),
        (r"(after|in) \d+ [a-z]+( \d+ [a-z]+)*", "$1 [DURATION]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        ),
        (r"\bami-[0-9a-f]{8,17}\b", "[AMI]"),
        (r"\bi-[0-9a-f]{8,17}\b", "[INSTANCE]"),
        (r"\bsg-[0-9a-f]+", "[SG]"),
        (r"\bsnap-[0-9a-f]+", "[SNAPSHOT]"),
        (r"\bvol-[0-9a-f]+", "[VOLUME]"),
        (r"\blt-[0-9a-f]+", "[LAUNCH_TEMPLATE]"),
        (r"\bpacker_[0-9a-zA-Z-]+", "[KEY_PAIR]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\b([Pp])ort \d+", "${1}ort [PORT]"),
        (r"/tmp/[^\s'\x22]+", "[TEMP]"),
        (r"\b1\d{9}\b", "[UNIX_TIME]"),
        (r"\bapp-\d{6}_\d+", "app-[STAMP]"),
        (r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:[FINGERPRINT]"),
    ] {
        f.push((pattern.to_string(), with));
    }
    f
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Asserts `out`'s transcript against snapshot `name` with [`filters`].
#[macro_export]
macro_rules! assert_transcript {
    ($name:expr, $dir:expr, $out:expr) => {{
        let filters = $crate::support::transcript::filters($dir);
        let filters: Vec<(&str, &str)> = filters.iter().map(|(p, w)| (p.as_str(), *w)).collect();
        insta::with_settings!({ filters => filters }, {
            insta::assert_snapshot!($name, $crate::support::transcript::transcript($out));
        });
    }};
}
