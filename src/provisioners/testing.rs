//! Test doubles for provisioner tests: a communicator that records commands and uploads and
//! answers with scripted exit statuses (the recording UI is [`crate::ui::testing::Recording`]).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::communicator::{CommError, Communicator, OutputSink};

/// What the fake communicator saw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    Start(String),
    /// (remote path, content, mode)
    Upload(String, Vec<u8>, Option<u32>),
    UploadDir(String, String),
    Download(String, String),
    DownloadDir(String, String),
}

/// A scripted reply to one `start`: output lines and a status, or an error.
pub(crate) enum Reply {
    Status(i32, Vec<String>),
    Disconnect,
}

#[derive(Default)]
pub(crate) struct FakeComm {
    pub calls: Mutex<Vec<Call>>,
    /// Replies for commands that are not `chmod`/`rm` bookkeeping, in order; default status 0.
    pub replies: Mutex<VecDeque<Reply>>,
    /// Number of uploads that fail with a disconnect before uploads succeed.
    pub failing_uploads: Mutex<u32>,
}

impl FakeComm {
    pub(crate) fn with_replies(replies: Vec<Reply>) -> Self {
        FakeComm {
            replies: Mutex::new(replies.into()),
            ..Default::default()
        }
    }
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    pub(crate) fn commands(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Start(s) => Some(s),
                _ => None,
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Communicator for FakeComm {
    async fn start(
        &self,
        command: &str,
        out: &dyn OutputSink,
        _: &CancellationToken,
    ) -> Result<i32, CommError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Start(command.to_string()));
        if command.starts_with("chmod 0755 ")
            || command.starts_with("chmod 0600 ")
            || command.starts_with("rm -f ")
        {
            return Ok(0);
        }
        let reply = self.replies.lock().unwrap().pop_front();
        match reply {
            None => Ok(0),
            Some(Reply::Status(s, lines)) => {
                for l in lines {
                    match l.strip_prefix("ERR:") {
                        Some(e) => out.stderr_line(e),
                        None => out.stdout_line(&l),
                    }
                }
                Ok(s)
            }
            Some(Reply::Disconnect) => Err(CommError::Disconnected("EOF".into())),
        }
    }
    async fn upload(
        &self,
        local: &Path,
        remote: &str,
        mode: Option<u32>,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        {
            let mut f = self.failing_uploads.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(CommError::Disconnected("connection refused".into()));
            }
        }
        let data = std::fs::read(local).map_err(|e| CommError::Other(e.to_string()))?;
        self.calls
            .lock()
            .unwrap()
            .push(Call::Upload(remote.to_string(), data, mode));
        Ok(())
    }
    async fn upload_dir(
        &self,
        local: &Path,
        remote: &str,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        self.calls.lock().unwrap().push(Call::UploadDir(
            local.display().to_string(),
            remote.to_string(),
        ));
        Ok(())
    }
    async fn download(
        &self,
        remote: &str,
        local: &Path,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        std::fs::write(local, format!("content of {remote}"))
            .map_err(|e| CommError::Other(e.to_string()))?;
        self.calls.lock().unwrap().push(Call::Download(
            remote.to_string(),
            local.display().to_string(),
        ));
        Ok(())
    }
    async fn download_dir(
        &self,
        remote: &str,
        local: &Path,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        self.calls.lock().unwrap().push(Call::DownloadDir(
            remote.to_string(),
            local.display().to_string(),
        ));
        Ok(())
    }
}

/// Runs `f` on a real decoder over `json` (plugin `plugin`, keys in `no_render` left
/// unrendered); returns its result and the decoder's error messages.
fn decode_with<T>(
    json: &str,
    plugin: &str,
    no_render: &[&str],
    f: impl FnOnce(&mut crate::decoder::Decoder) -> T,
) -> (T, Vec<String>) {
    let node = crate::template::json::parse(json).expect("test JSON parses");
    let obj = node.as_object().expect("a JSON object");
    let ctx = crate::template::interp::Context::default();
    let mut d = crate::decoder::Decoder::new(&[obj], &ctx, plugin, no_render);
    let v = f(&mut d);
    let errs = d
        .finish()
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.message)
        .collect();
    (v, errs)
}

/// The build data the provisioner tests run in: build `web` of an `amazon-ebs` builder.
pub(crate) fn build_data() -> crate::shell_local::RunData {
    crate::shell_local::RunData {
        build_name: "web".into(),
        builder_type: "amazon-ebs".into(),
        ..Default::default()
    }
}

/// Decodes provisioner `json` of type `kind` with the real decoder; returns the config and the
/// error messages.
pub(crate) fn decode(kind: &str, json: &str) -> (crate::provisioners::Provisioner, Vec<String>) {
    decode_with(json, kind, crate::provisioners::no_render(kind), |d| {
        crate::provisioners::Provisioner::decode(kind, d).expect("known provisioner type")
    })
}

/// What a provisioner's `provision` runs against in its unit tests: the fake communicator
/// (with scripted replies), a recording UI, [`build_data`] and a live cancellation token.
pub(crate) struct Fixture {
    pub comm: FakeComm,
    pub ui: crate::ui::testing::Recording,
    pub data: crate::shell_local::RunData,
    pub cancel: CancellationToken,
}

impl Fixture {
    /// Every command succeeds with no output.
    pub(crate) fn new() -> Self {
        Self::with_replies(Vec::new())
    }

    /// Commands (other than `chmod`/`rm` bookkeeping) get `replies` in order.
    pub(crate) fn with_replies(replies: Vec<Reply>) -> Self {
        Fixture {
            comm: FakeComm::with_replies(replies),
            ui: crate::ui::testing::Recording::default(),
            data: build_data(),
            cancel: CancellationToken::new(),
        }
    }
}

/// Defines `fn cfg(json) -> (Config, errors)` in a provisioner's tests: `json` decoded as a
/// `$kind` provisioner with the real decoder, its `Config` taken from `Provisioner::$variant`.
macro_rules! config_decoder {
    ($kind:literal, $variant:ident) => {
        fn cfg(json: &str) -> (Config, Vec<String>) {
            match crate::provisioners::testing::decode($kind, json) {
                (crate::provisioners::Provisioner::$variant(c), errs) => (*c, errs),
                _ => unreachable!(concat!($kind, " decodes as ", stringify!($variant))),
            }
        }
    };
}
pub(crate) use config_decoder;

/// Decodes communicator keys from `json` with the real decoder.
pub(crate) fn decode_comm(json: &str) -> (crate::communicator::SshConfig, Vec<String>) {
    decode_with(json, "null", &[], crate::communicator::config::decode)
}
