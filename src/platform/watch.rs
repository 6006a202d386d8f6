//! Watching a platform version the way `ebp` does: its events (DescribeEvents, newest-first
//! answers printed oldest first, StartTime = last event + 1 ms) and its builder log (CloudWatch
//! Logs `/aws/elasticbeanstalk/platform/<name>`, stream `<version>`, shown through ebcli's
//! PackerStreamFormatter). `create` and `delete` wait for their request's success or failure
//! message; `events -f` and `logs --stream` follow until the version reaches a final state.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_elasticbeanstalk::types::EventDescription;
use aws_smithy_types::DateTime;

use super::api::{self, Api};
use crate::ui::Ui;

/// `2026-11-28 21:05:09    INFO    message` (ebcli's `get_event_string(long_format=True)`).
pub(crate) fn event_line(e: &EventDescription) -> String {
    let when = e
        .event_date()
        .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos()))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{when:<22} {:<7} {}",
        e.severity().map_or(
            "INFO",
            aws_sdk_elasticbeanstalk::types::EventSeverity::as_str
        ),
        e.message().unwrap_or_default()
    )
}

/// Seconds between polls: ebp's `default` (5 while waiting, 4 for `events -f`), or
/// RPACK_PLATFORM_POLL_SECONDS.
pub(crate) fn poll_interval(default: f64) -> Duration {
    let secs = std::env::var("RPACK_PLATFORM_POLL_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(default);
    Duration::from_secs_f64(secs.max(0.05))
}

/// A builder log line for reading: the part after ` -- ` of a Ruby Logger line, and for
/// Packer's machine-readable `ui` records only their message (ebcli's PackerStreamFormatter).
pub(crate) fn format_log_line(line: &str) -> String {
    let Some((_, rest)) = line.split_once(" -- ") else {
        return line.to_string();
    };
    if let Some(record) = rest.strip_prefix("Packer: ") {
        let f: Vec<&str> = record.splitn(5, ',').collect();
        if f.len() == 5 && f[2] == "ui" {
            return f[4].replace("%!(PACKER_COMMA)", ",").replace("\\n", "\n");
        }
        return record.to_string();
    }
    rest.to_string()
}

/// The builder log of one version, read forward from where the last poll stopped.
pub(crate) struct LogTail {
    pub group: String,
    pub stream: String,
    token: Option<String>,
}

impl LogTail {
    pub(crate) fn new(name: &str, version: &str) -> LogTail {
        LogTail {
            group: format!("/aws/elasticbeanstalk/platform/{name}"),
            stream: version.to_string(),
            token: None,
        }
    }

    /// Prints the lines written since the last call, under ebp's banner; returns how many.
    pub(crate) async fn poll(&mut self, ui: &dyn Ui, api: &Api) -> Result<usize> {
        let (lines, next) = api
            .log_lines(&self.group, &self.stream, self.token.clone())
            .await?;
        self.token = next;
        if !lines.is_empty() {
            ui.say(&format!(
                "\n============= {} - {} ==============\n",
                self.stream, self.group
            ));
            for l in &lines {
                ui.say(&format_log_line(l));
            }
        }
        Ok(lines.len())
    }
}

pub(crate) enum Outcome {
    Success,
    Failure(String),
    TimedOut,
}

/// The event messages that end a wait (ebcli's `responses['event.platform*']`).
pub(crate) struct Ends {
    pub success: &'static str,
    pub failures: &'static [&'static str],
}

pub(crate) const CREATED: Ends = Ends {
    success: "Successfully created platform version",
    failures: &[
        "Failed to create platform version",
        "Unmatched region for created AMI",
    ],
};

pub(crate) const DELETED: Ends = Ends {
    success: "Successfully deleted platform version",
    failures: &["Failed to delete platform version"],
};

/// Polls the events of one request until a message starts with one of `ends`, printing every
/// event, and the builder log when `log` is given (ebp streams it beside the events while it
/// creates). Gives up after `timeout`.
pub(crate) async fn wait_for(
    ui: &dyn Ui,
    api: &Api,
    arn: &str,
    request_id: Option<&str>,
    timeout: Duration,
    mut log: Option<&mut LogTail>,
    ends: &Ends,
) -> Result<Outcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut start = None;
    loop {
        let events = api.events(arn, request_id, start).await?;
        // The log after the events: when the final event is in, so are the lines before it.
        if let Some(tail) = log.as_deref_mut() {
            if let Err(e) = tail.poll(ui, api).await {
                // Like ebp's streaming thread: the log is a courtesy, the events decide.
                tracing::debug!("reading the builder log: {e:#}");
            }
        }
        for e in events {
            ui.say(&event_line(&e));
            start = next_start(&e).or(start);
            let msg = e.message().unwrap_or_default();
            if msg.starts_with(ends.success) {
                return Ok(Outcome::Success);
            }
            if ends.failures.iter().any(|f| msg.starts_with(f)) {
                return Ok(Outcome::Failure(msg.to_string()));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Outcome::TimedOut);
        }
        tokio::time::sleep(poll_interval(5.0)).await;
    }
}

/// StartTime for the poll after `e`: one millisecond later (ebcli's `get_new_events`).
fn next_start(e: &EventDescription) -> Option<DateTime> {
    e.event_date()
        .map(|d| DateTime::from_millis(d.to_millis().unwrap_or(0) + 1))
}

/// The version's status, `Deleted` once Elastic Beanstalk no longer knows it.
pub(crate) async fn status(api: &Api, arn: &str) -> Result<String> {
    match api.describe(arn).await {
        Ok(d) => Ok(d
            .platform_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()),
        Err(e)
            if api::code(&e).as_deref() == Some("InvalidParameterValue")
                && e.to_string().contains("No Platform") =>
        {
            Ok("Deleted".into())
        }
        Err(e) => Err(e),
    }
}

/// Prints the events of `arn`; with `follow`, keeps polling until the version is Ready, Failed
/// or deleted (ebp follows until Ctrl-C).
pub(crate) async fn events(ui: &dyn Ui, api: &Api, arn: &str, follow: bool) -> Result<()> {
    let mut start = None;
    loop {
        // The status before the events: a final status means the last events are already in.
        let done = !follow || api::FINAL_STATUSES.contains(&status(api, arn).await?.as_str());
        for e in api.events(arn, None, start).await? {
            ui.say(&event_line(&e));
            start = next_start(&e).or(start);
        }
        if done {
            return Ok(());
        }
        tokio::time::sleep(poll_interval(4.0)).await;
    }
}

/// Prints the builder log of `name`/`version`; with `follow` (`arn` given), keeps polling
/// until the version is Ready, Failed or deleted.
pub(crate) async fn logs(
    ui: &dyn Ui,
    api: &Api,
    name: &str,
    version: &str,
    follow: Option<&str>,
) -> Result<()> {
    let mut tail = LogTail::new(name, version);
    loop {
        let done = match follow {
            None => true,
            Some(arn) => api::FINAL_STATUSES.contains(&status(api, arn).await?.as_str()),
        };
        tail.poll(ui, api).await?;
        if done {
            return Ok(());
        }
        tokio::time::sleep(poll_interval(4.0)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_log_lines_read_like_ebp() {
        assert_eq!(format_log_line("I, [2018-03-08T02:35:00.179536+0000#21452]  INFO -- Packer: 1520476500,,ui,message,    HVM AMI builder: hi%!(PACKER_COMMA) there"), "    HVM AMI builder: hi, there");
        assert_eq!(
            format_log_line(
                "I, [2018-03-08T02:35:00+0000#1]  INFO -- build.rb: Invoking 'packer build'..."
            ),
            "build.rb: Invoking 'packer build'..."
        );
        assert_eq!(
            format_log_line(
                "I, [x#1]  INFO -- Packer: 1,HVM AMI builder,artifact,0,id,us-east-1:ami-1"
            ),
            "1,HVM AMI builder,artifact,0,id,us-east-1:ami-1"
        );
        assert_eq!(format_log_line("# Logfile created"), "# Logfile created");
    }

    #[test]
    fn event_lines_are_ebcli_long_format() {
        let e = EventDescription::builder()
            .event_date(DateTime::from_secs(1_795_000_000))
            .severity("ERROR".into())
            .message("boom")
            .build();
        assert_eq!(event_line(&e), "2026-11-18 11:06:40    ERROR   boom");
        let e = EventDescription::builder()
            .event_date(DateTime::from_secs(1_795_000_000))
            .severity("INFO".into())
            .message("ok")
            .build();
        assert_eq!(event_line(&e), "2026-11-18 11:06:40    INFO    ok");
    }
}
