//! The build instance's console for the host-key check: `GetConsoleOutput` with `Latest=true`
//! (the live console on Nitro instances), falling back to the plain call where EC2 refuses
//! `Latest` for the instance type.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;

use crate::aws::error::AwsError;
use crate::communicator::host_key::ConsoleSource;

/// Reads one instance's console output.
pub(crate) struct Ec2Console {
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) instance_id: String,
    /// Cleared once EC2 refuses `Latest` (older instance types).
    pub(crate) latest: AtomicBool,
}

impl Ec2Console {
    pub(crate) fn new(ec2: aws_sdk_ec2::Client, instance_id: &str) -> Ec2Console {
        Ec2Console {
            ec2,
            instance_id: instance_id.to_string(),
            latest: AtomicBool::new(true),
        }
    }
}

#[async_trait::async_trait]
impl ConsoleSource for Ec2Console {
    async fn fetch(&self) -> Result<Option<String>, String> {
        let latest = self.latest.load(Ordering::Relaxed);
        let mut call = self.ec2.get_console_output().instance_id(&self.instance_id);
        if latest {
            call = call.latest(true);
        }
        let out = match call.send().await {
            Ok(o) => o,
            Err(e) => {
                let err = AwsError::from_sdk("GetConsoleOutput", &e);
                if latest
                    && matches!(
                        err.code(),
                        Some(
                            "UnsupportedOperation"
                                | "InvalidParameterCombination"
                                | "InvalidParameter"
                                | "InvalidParameterValue"
                        )
                    )
                {
                    self.latest.store(false, Ordering::Relaxed);
                    return Ok(None);
                }
                return Err(err.to_string());
            }
        };
        let Some(b64) = out.output().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("GetConsoleOutput: the output is not base64: {e}"))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}
