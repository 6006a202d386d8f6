//! AWS error texts. Every failed call becomes an [`AwsError`] that says what was being done, to
//! what and where, followed by the service's own code and message
//! (`creating AMI 'web-1' from i-0abc in us-east-1: InvalidAMIName.Duplicate: …`), never the
//! SDK's bare "service error". Callers branch on [`AwsError::code`].

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// What was being done ("deleting security group sg-1 in us-east-1").
    pub context: String,
    /// The service's error code (`DependencyViolation`), if the service answered.
    pub code: Option<String>,
    /// The service message, or the transport error chain.
    pub message: String,
    /// An access-denied answer's encoded authorization message (never printed: it is several
    /// KB; `decode_authorization_messages` has STS decode it).
    pub encoded: Option<String>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) if self.message.is_empty() => write!(f, "{}: {code}", self.context),
            Some(code) => write!(f, "{}: {code}: {}", self.context, self.message),
            None => write!(f, "{}: {}", self.context, self.message),
        }
    }
}

impl StdError for AwsError {}

impl AwsError {
    pub fn from_sdk<E, R>(context: impl Into<String>, err: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: fmt::Debug + 'static,
    {
        let code = err.code().map(str::to_string);
        let hint = code.as_deref().and_then(super::explain::hint);
        let message = match (&code, err.message()) {
            (Some(c), Some(m)) if super::explain::is_access_denied(c) => {
                format!(
                    "{}. {}",
                    super::explain::access_denied(m),
                    hint.unwrap_or_default()
                )
            }
            (Some(_), Some(m)) => match hint {
                Some(h) => format!("{}. {h}", m.trim_end().trim_end_matches('.')),
                None => m.to_string(),
            },
            (Some(_), None) => hint.unwrap_or_default().to_string(),
            // Not a service answer (no credentials, timeout, connection refused, …), or one
            // without an error code: one clear line where the kind is known, else the chain's
            // own words (never the SDK's debug dump); the full chain at debug level.
            (None, _) => {
                tracing::debug!(error = %DisplayErrorContext(err), "AWS call failed");
                let chain = plain_chain(err);
                let status = err
                    .raw_response()
                    .and_then(|r| (r as &dyn std::any::Any).downcast_ref::<HttpResponse>())
                    .map(|r| r.status().as_u16());
                match (super::explain::transport(&chain), status) {
                    (Some(clear), _) => clear,
                    (None, Some(status)) => super::explain::unreadable_answer(status, &chain),
                    (None, None) => chain,
                }
            }
        };
        let encoded = match (&code, err.message()) {
            (Some(c), Some(m)) if super::explain::is_access_denied(c) => {
                super::explain::encoded_message(m)
            }
            _ => None,
        };
        AwsError {
            context: context.into(),
            code,
            message,
            encoded,
        }
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The same error with `prefix` before its context (Packer's "Error cleaning up …: ").
    pub fn prefixed(mut self, prefix: &str) -> AwsError {
        self.context = format!("{prefix}: {}", self.context);
        self
    }

    /// `*.NotFound`/`*.Malformed`-style codes that mean "does not exist (yet)".
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(is_not_found_code)
    }

    /// Throttling and server-side failures, worth another try after a pause.
    pub fn is_transient(&self) -> bool {
        match self.code() {
            Some(c) => is_transient_code(c),
            // No service answer at all: connection reset, timeout.
            None => true,
        }
    }
}

pub fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "InsufficientInstanceCapacity"
    )
}

/// `result.aws_context(|| format!("…"))` turns an SDK error into an [`AwsError`] (an anyhow error
/// the caller can `downcast_ref`).
pub trait AwsResultExt<T> {
    fn aws_context<F, S>(self, context: F) -> Result<T, AwsError>
    where
        F: FnOnce() -> S,
        S: Into<String>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug + 'static,
{
    fn aws_context<F, S>(self, context: F) -> Result<T, AwsError>
    where
        F: FnOnce() -> S,
        S: Into<String>,
    {
        self.map_err(|e| AwsError::from_sdk(context(), &e))
    }
}

/// For deletes in cleanups: the thing being already gone counts as done.
pub trait GoneIsDone {
    /// `Ok(())` for success and for a not-found error; other errors pass through.
    fn ok_if_gone(self) -> Result<(), AwsError>;
}

impl<T> GoneIsDone for Result<T, AwsError> {
    fn ok_if_gone(self) -> Result<(), AwsError> {
        match self {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// An error and its sources in their own words, joined by ": " (what aws-smithy's
/// `DisplayErrorContext` prints, without the debug dump it appends).
pub fn plain_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The [`AwsError`] inside an anyhow chain, if any.
pub fn find(err: &anyhow::Error) -> Option<&AwsError> {
    err.chain().find_map(|e| e.downcast_ref::<AwsError>())
}

/// Whether an AWS error code means "does not exist" (`InvalidInstanceID.NotFound`, IAM's
/// `NoSuchEntity`, …).
pub fn is_not_found_code(code: &str) -> bool {
    code.ends_with("NotFound") || code == "NoSuchEntity"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_code_and_message() {
        let e = AwsError {
            context: "creating AMI 'web-1' from i-0abc in us-east-1".into(),
            code: Some("InvalidAMIName.Duplicate".into()),
            message: "AMI name web-1 is already in use by AMI ami-1".into(),
            encoded: Some("Zm9v".into()),
        };
        assert_eq!(
            e.to_string(),
            "creating AMI 'web-1' from i-0abc in us-east-1: InvalidAMIName.Duplicate: AMI name web-1 is already in use by AMI ami-1"
        );
        assert!(!e.is_transient());
        let t = AwsError {
            code: Some("RequestLimitExceeded".into()),
            ..e.clone()
        };
        assert!(t.is_transient());
        let nf = AwsError {
            code: Some("InvalidInstanceID.NotFound".into()),
            ..e
        };
        assert!(nf.is_not_found());
        assert!(Err::<(), _>(nf).ok_if_gone().is_ok());
        assert_eq!(
            Err::<(), _>(t.clone()).ok_if_gone().unwrap_err().code,
            t.code
        );
        assert!(Ok::<u8, AwsError>(1).ok_if_gone().is_ok());
    }
}
