//! The hint for scripts that still use IMDSv1: rpack launches build instances with IMDSv2
//! required (`http_tokens: required` unless the template says otherwise; Packer 1.6.6 leaves
//! IMDSv1 on), so a script that reads `http://169.254.169.254/…` without a session token gets
//! HTTP 401. When such a script fails, its error says how to restore IMDSv1 for the build.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::communicator::OutputSink;
use crate::ui::Ui;

/// The addresses of the instance metadata service.
const IMDS_ADDRESSES: &[&str] = &["169.254.169.254", "fd00:ec2::254", "instance-data"];
/// The IMDSv2 session token header (`curl -H "X-aws-ec2-metadata-token: …"`).
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// What rpack adds to the failure of a script that used IMDSv1.
pub(crate) const HINT: &str = "Hint: this script reads the instance metadata (169.254.169.254) \
without an IMDSv2 session token, and rpack launches the build instance with IMDSv2 required, \
where such requests get HTTP 401. Update the script to IMDSv2 (a PUT to /latest/api/token, \
then the X-aws-ec2-metadata-token header), or set metadata_options { http_tokens: optional } \
in the builder to allow IMDSv1 for this build.";

fn mentions_imds(text: &str) -> bool {
    IMDS_ADDRESSES.iter().any(|a| text.contains(a))
}

/// Whether a script's text calls the metadata service without ever using a session token.
pub(crate) fn uses_imds_v1(script: &[u8]) -> bool {
    let text = String::from_utf8_lossy(script);
    mentions_imds(&text) && !text.to_ascii_lowercase().contains(TOKEN_HEADER)
}

/// Whether an output line shows a 401 from the metadata service (`curl -v`/`wget` print the
/// address and the status; `curl -f` prints only "error: 401").
fn is_401(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("401") && (l.contains("unauthorized") || l.contains("error") || mentions_imds(&l))
}

/// Streams command output to the UI like Packer's `RunWithUi` (stdout as messages, stderr as
/// errors) and notes a metadata-service 401.
pub(crate) struct WatchingSink<'a> {
    ui: &'a dyn Ui,
    saw_401: AtomicBool,
    saw_imds: AtomicBool,
}

impl<'a> WatchingSink<'a> {
    pub(crate) fn new(ui: &'a dyn Ui) -> WatchingSink<'a> {
        WatchingSink {
            ui,
            saw_401: AtomicBool::new(false),
            saw_imds: AtomicBool::new(false),
        }
    }

    fn note(&self, line: &str) {
        if is_401(line) {
            self.saw_401.store(true, Ordering::Relaxed);
        }
        if mentions_imds(line) {
            self.saw_imds.store(true, Ordering::Relaxed);
        }
    }

    /// Adds [`HINT`] to `err` (a failed script) when the script used IMDSv1 or its output shows
    /// a 401 from the metadata service.
    pub(crate) fn explain(&self, script: &[u8], err: anyhow::Error) -> anyhow::Error {
        let from_output = self.saw_401.load(Ordering::Relaxed)
            && (self.saw_imds.load(Ordering::Relaxed)
                || mentions_imds(&String::from_utf8_lossy(script)));
        if uses_imds_v1(script) || from_output {
            anyhow::anyhow!("{err}. {HINT}")
        } else {
            err
        }
    }
}

impl OutputSink for WatchingSink<'_> {
    fn stdout_line(&self, line: &str) {
        self.note(line);
        self.ui.message(line);
    }
    fn stderr_line(&self, line: &str) {
        self.note(line);
        self.ui.error(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet;
    impl Ui for Quiet {
        fn say(&self, _: &str) {}
        fn message(&self, _: &str) {}
        fn error(&self, _: &str) {}
        fn machine(&self, _: &str, _: &str, _: &[&str]) {}
    }

    fn failed() -> anyhow::Error {
        anyhow::anyhow!("Script exited with non-zero exit status: 22.Allowed exit codes are: [0]")
    }

    #[test]
    fn an_imdsv1_script_gets_the_hint() {
        let s = WatchingSink::new(&Quiet);
        let v1 = b"#!/bin/sh\ncurl -sf http://169.254.169.254/latest/meta-data/instance-id\n";
        let e = s.explain(v1, failed()).to_string();
        assert!(
            e.starts_with("Script exited with non-zero exit status: 22."),
            "{e}"
        );
        assert!(e.contains("http_tokens: optional"), "{e}");
        // An IMDSv2 script is not blamed.
        let v2 = b"T=$(curl -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')\ncurl -H \"X-aws-ec2-metadata-token: $T\" http://169.254.169.254/latest/meta-data/\n";
        assert!(!s.explain(v2, failed()).to_string().contains("Hint"));
        assert!(!s
            .explain(b"exit 3\n", failed())
            .to_string()
            .contains("Hint"));
    }

    #[test]
    fn a_401_from_the_metadata_service_in_the_output_gets_the_hint() {
        // The script only calls a helper that uses IMDSv1; its output shows the 401.
        let s = WatchingSink::new(&Quiet);
        s.stderr_line("< HTTP/1.1 401 Unauthorized");
        s.stderr_line("* Connected to 169.254.169.254 (169.254.169.254) port 80");
        let e = s.explain(b"/opt/app/fetch-config\n", failed()).to_string();
        assert!(e.contains("http_tokens: optional"), "{e}");
        // A 401 from elsewhere is not the metadata service.
        let s = WatchingSink::new(&Quiet);
        s.stdout_line("curl: (22) The requested URL returned error: 401");
        let e = s
            .explain(b"curl -f https://example.invalid/x\n", failed())
            .to_string();
        assert!(!e.contains("Hint"), "{e}");
    }
}
