//! Packer's amazon access configuration and the clients built from it.
//!
//! Credentials and region resolve like every AWS tool through aws-config's default chain
//! (environment, shared config/credentials profiles incl. SSO and `credential_process`, web
//! identity, ECS/IMDS), with the template's `access_key`/`secret_key`/`token`, `profile`,
//! `shared_credentials_file` and `assume_role` on top. Endpoints: `custom_endpoint_ec2` for every
//! EC2 client; aws-config itself honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
//!
//! Validation calls: `skip_region_validation` unset → one DescribeRegions checks `region` and
//! `ami_regions`; `skip_credential_validation` unset → STS GetCallerIdentity. When EC2 is pointed
//! at a custom endpoint but STS is not (`AWS_ENDPOINT_URL[_STS]` unset), the STS check is skipped:
//! the credentials are then meant for that endpoint, and asking the real STS would both leak
//! traffic off the test/private network and judge them by the wrong account.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use aws_sdk_ec2::config::Region;

use crate::aws::error::AwsResultExt;
use crate::aws::sdk_config::sdk_config;
use crate::aws::wait::{Pace, PollPolicy};

/// `assume_role { … }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub duration_seconds: Option<i64>,
    pub external_id: Option<String>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub session_name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
}

/// `aws_polling { delay_seconds, max_attempts }` (env fallbacks applied by [`PollingConfig::resolve`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollingConfig {
    pub delay_seconds: Option<i64>,
    pub max_attempts: Option<i64>,
}

impl PollingConfig {
    /// Template values, else `AWS_POLL_DELAY_SECONDS` / `AWS_MAX_ATTEMPTS` /
    /// deprecated `AWS_TIMEOUT_SECONDS`; non-integer env values are ignored.
    pub fn resolve(&self) -> ResolvedPolling {
        let env_int = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|v| *v > 0)
        };
        let delay = self
            .delay_seconds
            .filter(|v| *v > 0)
            .or_else(|| env_int("AWS_POLL_DELAY_SECONDS"));
        let attempts = self
            .max_attempts
            .filter(|v| *v > 0)
            .or_else(|| env_int("AWS_MAX_ATTEMPTS"));
        let timeout = env_int("AWS_TIMEOUT_SECONDS").map(|s| Duration::from_secs(s as u64));
        ResolvedPolling {
            fixed_delay: delay.map(|s| Duration::from_secs(s as u64)),
            max_attempts: attempts.map(|a| a as u32),
            timeout,
            pace: Pace::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedPolling {
    pub fixed_delay: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub timeout: Option<Duration>,
    /// What this build learned about EC2's transition times (one per resolved config, so one
    /// per build).
    pub pace: Pace,
}

impl ResolvedPolling {
    /// The policy for one kind of wait whose own default total timeout is `default_timeout`.
    pub fn policy(&self, default_timeout: Duration) -> PollPolicy {
        let mut timeout = self.timeout.unwrap_or(default_timeout);
        if let (Some(d), Some(n)) = (self.fixed_delay, self.max_attempts) {
            // Both knobs set: they define the wait (Packer semantics), give them the room.
            timeout = timeout.max(d * n + Duration::from_secs(1));
        }
        PollPolicy {
            fixed_delay: self.fixed_delay,
            max_attempts: self.max_attempts,
            timeout,
            pace: None,
        }
    }

    /// [`Self::policy`] for a state change the build just started with its own call (launch,
    /// stop, image, copy, snapshot, termination): paced by the build's [`Pace`].
    pub fn transition(&self, default_timeout: Duration) -> PollPolicy {
        self.policy(default_timeout).paced(&self.pace)
    }
}

/// Packer's AccessConfig keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessConfig {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub token: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub shared_credentials_file: Option<String>,
    pub custom_endpoint_ec2: Option<String>,
    pub insecure_skip_tls_verify: bool,
    /// SDK request retries (Packer default 10).
    pub max_retries: Option<i64>,
    pub mfa_code: Option<String>,
    pub skip_metadata_api_check: bool,
    pub skip_credential_validation: bool,
    pub skip_region_validation: bool,
    pub decode_authorization_messages: bool,
    pub assume_role: Option<AssumeRole>,
    pub vault_aws_engine: Option<BTreeMap<String, String>>,
    pub polling: PollingConfig,
}

pub use crate::aws::sdk_config::{ec2_client, http_client_for};

/// The AWS clients of one build: the shared SDK configuration plus one EC2 client per region.
pub struct Clients {
    pub sdk: aws_config::SdkConfig,
    pub region: String,
    ec2_endpoint: Option<String>,
    ec2: Mutex<BTreeMap<String, aws_sdk_ec2::Client>>,
}

impl Clients {
    /// Resolves credentials and region and builds the clients. No API call is made here.
    pub async fn load(access: &AccessConfig) -> Result<Arc<Clients>> {
        // The template check refuses both (with position and hint); this guards other callers.
        if access.vault_aws_engine.is_some() {
            bail!("vault_aws_engine is not implemented by rpack; use the AWS credential chain or assume_role");
        }
        if access.mfa_code.is_some() {
            bail!(
                "mfa_code is not implemented by rpack; use the AWS credential chain or assume_role"
            );
        }
        // Packer retries requests 10 times (the SDK default is 3); throttling and 5xx are
        // retried with exponential backoff by the SDK's standard retry strategy.
        let retries = access.max_retries.filter(|n| *n >= 0).unwrap_or(10) as u32;
        let mut builder = sdk_config()
            .retries(retries)
            .region(access.region.as_deref())
            .profile(access.profile.as_deref());
        if let Some(f) = &access.shared_credentials_file {
            #[allow(deprecated)]
            use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
            #[allow(deprecated)]
            let files = ProfileFiles::builder()
                .include_default_config_file(true)
                .with_file(
                    ProfileFileKind::Credentials,
                    crate::gocompat::path::expand_user(f),
                )
                .build();
            builder = builder.with(|l| l.profile_files(files));
        }
        if let (Some(ak), Some(sk)) = (&access.access_key, &access.secret_key) {
            let token = access.token.clone().or_else(|| {
                std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty())
            });
            let creds = aws_sdk_ec2::config::Credentials::new(ak, sk, token, None, "template");
            builder = builder.with(|l| l.credentials_provider(creds));
        }
        let mut sdk = builder.load().await;
        let region = sdk
            .region()
            .map(std::string::ToString::to_string)
            .context("no region: set `region` in the template, AWS_REGION/AWS_DEFAULT_REGION, or a profile region")?;
        if let Some(ar) = &access.assume_role {
            let mut b = aws_config::sts::AssumeRoleProvider::builder(ar.role_arn.clone())
                .session_name(
                    ar.session_name
                        .clone()
                        .unwrap_or_else(|| "rpack".to_string()),
                )
                .region(Region::new(region.clone()))
                .configure(&sdk);
            if let Some(id) = &ar.external_id {
                b = b.external_id(id);
            }
            if let Some(p) = &ar.policy {
                b = b.policy(p);
            }
            if !ar.policy_arns.is_empty() {
                b = b.policy_arns(ar.policy_arns.clone());
            }
            if let Some(s) = ar.duration_seconds.filter(|s| *s > 0) {
                b = b.session_length(Duration::from_secs(s as u64));
            }
            if !ar.tags.is_empty() {
                b = b.tags(ar.tags.clone());
            }
            let provider = b.build().await;
            sdk = sdk
                .into_builder()
                .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                    provider,
                ))
                .build();
        }
        Ok(Arc::new(Clients {
            sdk,
            region,
            ec2_endpoint: access.custom_endpoint_ec2.clone(),
            ec2: Mutex::new(BTreeMap::new()),
        }))
    }

    /// The EC2 client for `region` (built once, then shared).
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut map = self
            .ec2
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(region.to_string())
            .or_insert_with(|| ec2_client(&self.sdk, region, self.ec2_endpoint.as_deref()))
            .clone()
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// Whether STS GetCallerIdentity should run (see the module docs).
    pub fn should_validate_credentials(&self, access: &AccessConfig) -> bool {
        if access.skip_credential_validation {
            return false;
        }
        let sts_endpoint = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
        access.custom_endpoint_ec2.is_none() || sts_endpoint
    }

    /// Whether STS can be asked at all: not when EC2 is at a custom endpoint and STS is not
    /// (`AWS_ENDPOINT_URL[_STS]` unset), where asking the real STS would leak the endpoint's
    /// credentials.
    pub fn sts_reachable(&self) -> bool {
        let sts_endpoint = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
        self.ec2_endpoint.is_none() || sts_endpoint
    }

    /// STS DecodeAuthorizationMessage (`decode_authorization_messages`): the policy decision an
    /// access-denied answer encoded, as JSON.
    pub async fn decode_authorization_message(&self, encoded: &str) -> Result<String> {
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let out = sts
            .decode_authorization_message()
            .encoded_message(encoded)
            .send()
            .await
            .aws_context(|| {
                format!(
                    "decoding the authorization message with STS DecodeAuthorizationMessage in {}",
                    self.region
                )
            })?;
        Ok(out.decoded_message().unwrap_or_default().to_string())
    }

    /// STS GetCallerIdentity; returns the account id.
    pub async fn validate_credentials(&self) -> Result<String> {
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let out = sts.get_caller_identity().send().await.aws_context(|| {
            format!(
                "validating credentials with STS GetCallerIdentity in {}",
                self.region
            )
        })?;
        Ok(out.account().unwrap_or_default().to_string())
    }

    /// DescribeRegions: every one of `regions` must exist (Packer's message).
    pub async fn validate_regions(&self, regions: &[String]) -> Result<()> {
        let out = self
            .ec2(&self.region)
            .describe_regions()
            .all_regions(true)
            .send()
            .await
            .aws_context(|| format!("describing regions in {}", self.region))?;
        let available: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        let invalid: Vec<&String> = regions.iter().filter(|r| !available.contains(r)).collect();
        if !invalid.is_empty() {
            let inv: Vec<&str> = invalid.iter().map(|s| s.as_str()).collect();
            bail!(
                "Invalid region(s): [{}], available regions: [{}]",
                inv.join(" "),
                available.join(" ")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_polling_wins_over_defaults() {
        let p = PollingConfig {
            delay_seconds: Some(2),
            max_attempts: Some(5),
        }
        .resolve();
        assert_eq!(p.fixed_delay, Some(Duration::from_secs(2)));
        assert_eq!(p.max_attempts, Some(5));
        let pol = p.policy(Duration::from_secs(5));
        assert!(pol.timeout >= Duration::from_secs(10));
    }
}
