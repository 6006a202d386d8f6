//! The Systems Manager API side of a session: the SSM client (endpoint from
//! `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL`, as for every other client), `StartSession` retried
//! while the instance's agent has not registered yet (`TargetNotConnected`), and
//! `TerminateSession`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::aws::error::AwsError;

/// Which Session Manager document starts the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `AWS-StartSSHSession`: one plain byte stream to `portNumber`.
    Ssh,
    /// `AWS-StartPortForwardingSession` (what Packer asks its plugin for).
    PortForwarding,
}

impl Document {
    pub fn name(self) -> &'static str {
        match self {
            Document::Ssh => "AWS-StartSSHSession",
            Document::PortForwarding => "AWS-StartPortForwardingSession",
        }
    }
}

/// What to start a session to.
#[derive(Debug, Clone)]
pub struct SessionTarget {
    pub instance_id: String,
    pub document: Document,
    /// The instance's port the agent connects to (`ssh_port`).
    pub port: u16,
}

impl SessionTarget {
    /// The document parameters, as StartSession and the plugin take them.
    pub fn parameters(&self) -> serde_json::Value {
        serde_json::json!({ "portNumber": [self.port.to_string()] })
    }
}

/// A started session: its id and where its data channel is.
#[derive(Clone)]
pub struct Started {
    pub session_id: String,
    pub stream_url: String,
    pub token: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("session_id", &self.session_id)
            .field("stream_url", &self.stream_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the SSM agent on {instance} did not register with Systems Manager within {} (StartSession kept answering TargetNotConnected); check the instance profile has the AmazonSSMManagedInstanceCore permissions and the instance can reach the ssm, ssmmessages and ec2messages endpoints", crate::gocompat::time::human_wait(*waited))]
    NotRegistered { instance: String, waited: Duration },
    #[error(transparent)]
    Api(#[from] AwsError),
    #[error("StartSession for {0} answered without a session id, stream URL or token")]
    Incomplete(String),
    #[error("cancelled")]
    Cancelled,
}

pub use crate::aws::ssm::{client, env_endpoint};

/// StartSession, retried with backoff (200 ms doubling to 5 s) while the target is not
/// connected, for at most `register_wait`. `waiting` is told once when the first retry starts.
pub async fn start(
    client: &aws_sdk_ssm::Client,
    target: &SessionTarget,
    register_wait: Duration,
    waiting: &(dyn Fn(&str) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<Started, StartError> {
    let begun = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    let mut told = false;
    loop {
        let params: std::collections::HashMap<String, Vec<String>> =
            serde_json::from_value(target.parameters()).expect("parameters are a string map");
        let call = client
            .start_session()
            .target(&target.instance_id)
            .document_name(target.document.name())
            .reason("rpack build")
            .set_parameters(Some(params))
            .send();
        let res = tokio::select! {
            () = cancel.cancelled() => return Err(StartError::Cancelled),
            r = call => r,
        };
        match res {
            Ok(out) => {
                let (Some(id), Some(url), Some(token)) =
                    (out.session_id(), out.stream_url(), out.token_value())
                else {
                    return Err(StartError::Incomplete(target.instance_id.clone()));
                };
                return Ok(Started {
                    session_id: id.to_string(),
                    stream_url: url.to_string(),
                    token: token.to_string(),
                });
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_ssm::operation::start_session::StartSessionError::is_target_not_connected) =>
            {
                let waited = begun.elapsed();
                if waited + delay > register_wait {
                    return Err(StartError::NotRegistered {
                        instance: target.instance_id.clone(),
                        waited,
                    });
                }
                if !told {
                    told = true;
                    waiting(&format!(
                        "Waiting for the SSM agent on {} to register with Systems Manager...",
                        target.instance_id
                    ));
                }
                tokio::select! {
                    () = cancel.cancelled() => return Err(StartError::Cancelled),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(AwsError::from_sdk(
                    format!(
                        "starting a Session Manager session ({}) to {}",
                        target.document.name(),
                        target.instance_id
                    ),
                    &e,
                )
                .into())
            }
        }
    }
}

pub use crate::aws::delete::terminate_session as terminate;
