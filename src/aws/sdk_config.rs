//! The one place an `aws_config::SdkConfig` is built, and the service clients made from it.
//!
//! Every user (a build's [`Clients`](crate::aws::Clients), `rpack cleanup`'s sweep, `rpack
//! platform`'s API, the Secrets Manager lookup, the Session Manager client) starts from
//! [`sdk_config`]: aws-config's default chain (environment, profiles incl. SSO and
//! `credential_process`, web identity, ECS/IMDS) with the region, profile, retries and HTTP
//! client each of them sets on top. aws-config itself honours `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>`; an explicit endpoint (`custom_endpoint_ec2`, `--endpoint-url`)
//! is set per client by the `*_client` functions below.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};

/// A builder over aws-config's loader; [`SdkConfigBuilder::load`] resolves it.
#[must_use]
pub struct SdkConfigBuilder {
    loader: ConfigLoader,
}

/// The default chain with nothing set on top yet.
pub fn sdk_config() -> SdkConfigBuilder {
    SdkConfigBuilder {
        loader: aws_config::defaults(BehaviorVersion::latest()),
    }
}

impl SdkConfigBuilder {
    /// The region, when one is given (else the chain's: `AWS_REGION`, the profile, IMDS).
    pub fn region(mut self, region: Option<&str>) -> Self {
        if let Some(r) = region {
            self.loader = self.loader.region(Region::new(r.to_string()));
        }
        self
    }

    /// The named profile, when one is given.
    pub fn profile(mut self, profile: Option<&str>) -> Self {
        if let Some(p) = profile {
            self.loader = self.loader.profile_name(p);
        }
        self
    }

    /// `retries` retries after the first attempt with the SDK's standard strategy (exponential
    /// backoff from 200 ms up to 20 s for throttling and 5xx). Packer retries 10 times.
    pub fn retries(mut self, retries: u32) -> Self {
        let retry = RetryConfig::standard()
            .with_max_attempts(retries + 1)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        self.loader = self.loader.retry_config(retry);
        self
    }

    /// The HTTP client for the first of `endpoints` that needs its own (see
    /// [`http_client_for`]); the SDK's default otherwise.
    pub fn http_for_endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if let Some(client) = endpoints
            .into_iter()
            .find_map(|e| http_client_for(e.as_ref()))
        {
            self.loader = self.loader.http_client(client);
        }
        self
    }

    /// Anything else aws-config's loader offers (credentials, profile files).
    pub fn with(mut self, f: impl FnOnce(ConfigLoader) -> ConfigLoader) -> Self {
        self.loader = f(self.loader);
        self
    }

    /// Resolves the configuration (no API call is made; credentials resolve lazily).
    pub async fn load(self) -> aws_config::SdkConfig {
        self.loader.load().await
    }
}

/// The HTTP client for a custom endpoint: `None` keeps the SDK's default (pooled HTTPS).
///
/// Plain-`http://` endpoints are local emulators (moto, LocalStack) reached over loopback. Their
/// Python servers send a response's headers and body in two small writes; on a kept-alive
/// connection the kernel delays the ACK of the first by 40 ms and the second waits for it, so
/// every API call would cost 40 ms. A fresh connection per request (a loopback connect costs
/// microseconds) avoids that. Real AWS endpoints (TLS, where handshakes are expensive) keep
/// connection reuse.
pub fn http_client_for(
    endpoint: &str,
) -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    if !endpoint.starts_with("http://") {
        return None;
    }
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    Some(
        aws_smithy_http_client::Builder::new()
            .pool_max_idle_per_host(0)
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https(),
    )
}

/// An EC2 client for `region` from `sdk`, at `endpoint` when one is given (with the HTTP client
/// [`http_client_for`] picks for it).
pub fn ec2_client(
    sdk: &aws_config::SdkConfig,
    region: &str,
    endpoint: Option<&str>,
) -> aws_sdk_ec2::Client {
    let mut b = aws_sdk_ec2::config::Builder::from(sdk).region(Region::new(region.to_string()));
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
        if let Some(client) = http_client_for(e) {
            b = b.http_client(client);
        }
    }
    aws_sdk_ec2::Client::from_conf(b.build())
}

/// An IAM client from `sdk`, at `endpoint` when one is given.
pub fn iam_client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_iam::Client {
    let mut b = aws_sdk_iam::config::Builder::from(sdk);
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
        if let Some(client) = http_client_for(e) {
            b = b.http_client(client);
        }
    }
    aws_sdk_iam::Client::from_conf(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_endpoints_get_their_own_http_client() {
        assert!(http_client_for("http://127.0.0.1:5000").is_some());
        assert!(http_client_for("https://ec2.us-east-1.amazonaws.com").is_none());
    }

    #[tokio::test]
    async fn region_and_profile_are_set_on_top_of_the_chain() {
        let sdk = sdk_config()
            .region(Some("eu-central-1"))
            .retries(3)
            .load()
            .await;
        assert_eq!(
            sdk.region().map(std::convert::AsRef::as_ref),
            Some("eu-central-1")
        );
        assert_eq!(
            sdk.retry_config()
                .map(aws_smithy_types::retry::RetryConfig::max_attempts),
            Some(4),
            "three retries after the first attempt"
        );
    }
}
