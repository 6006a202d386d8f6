//! The one place an `aws_config::SdkConfig` is built, and the service clients made from it.
//!
//! Every user (a build's [`Clients`](crate::aws::Clients), `rpack cleanup`'s sweep, `rpack
//! platform`'s API, the Secrets Manager lookup, the Session Manager client) starts from
//! [`sdk_config`]: aws-config's default chain (environment, profiles incl. SSO and
//! `credential_process`, web identity, ECS/IMDS) with the region, profile, retries and HTTP
//! client each of them sets on top. aws-config itself honours `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>`; an explicit endpoint (`custom_endpoint_ec2`, `--endpoint-url`)
//! is set per client by the `*_client` functions below.
//!
//! Every HTTP client here is wrapped by [`NamesEndpoint`], so a request that never got an answer
//! (connection refused, timeout, unresolvable host) carries the endpoint it was sent to
//! (`could not reach http://127.0.0.1:9`) into the error chain, for `aws::explain` to name.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// A builder over aws-config's loader; [`SdkConfigBuilder::load`] resolves it.
#[must_use]
pub struct SdkConfigBuilder {
    loader: ConfigLoader,
}

/// The default chain with nothing set on top yet.
pub fn sdk_config() -> SdkConfigBuilder {
    SdkConfigBuilder {
        loader: aws_config::defaults(BehaviorVersion::latest()).http_client(default_http_client()),
    }
}

/// The SDK's usual HTTPS client (rustls, pooled connections), naming its endpoint on failure.
fn default_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    SharedHttpClient::new(NamesEndpoint(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https(),
    ))
}

/// An HTTP client whose transport failures name the endpoint (scheme, host and port only: a
/// path or query, which could hold a presigned signature, is never shown).
#[derive(Debug)]
struct NamesEndpoint(SharedHttpClient);

impl HttpClient for NamesEndpoint {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(NamesEndpointConnector(
            self.0.http_connector(settings, components),
        ))
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[derive(Debug)]
struct NamesEndpointConnector(SharedHttpConnector);

impl HttpConnector for NamesEndpointConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let endpoint = endpoint_of(request.uri());
        let sent = self.0.call(request);
        HttpConnectorFuture::new(async move { sent.await.map_err(|e| with_endpoint(e, endpoint)) })
    }
}

/// `scheme://host[:port]` of a request URI.
pub(crate) fn endpoint_of(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Never a userinfo part (`user:pass@host`).
    let host = authority.rsplit('@').next().unwrap_or_default();
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    }
}

/// The error's source, headed by the endpoint; the kind (which decides retries) and the
/// connection facts stay as they were.
fn with_endpoint(e: ConnectorError, endpoint: String) -> ConnectorError {
    let connection = e.connection_metadata().cloned();
    let (timeout, io, user, other) = (e.is_timeout(), e.is_io(), e.is_user(), e.as_other());
    let source: BoxError = Box::new(Unreached {
        endpoint,
        source: e.into_source(),
    });
    let out = if timeout {
        ConnectorError::timeout(source)
    } else if io {
        ConnectorError::io(source)
    } else if user {
        ConnectorError::user(source)
    } else {
        ConnectorError::other(source, other)
    };
    match connection {
        Some(c) => out.with_connection(c),
        None => out,
    }
}

/// "could not reach <endpoint>", caused by the transport's own error.
#[derive(Debug)]
struct Unreached {
    endpoint: String,
    source: BoxError,
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", UNREACHED, self.endpoint)
    }
}

impl std::error::Error for Unreached {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The words before the endpoint in a transport failure's chain (see [`Unreached`]).
pub(crate) const UNREACHED: &str = "could not reach";

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
pub fn http_client_for(endpoint: &str) -> Option<SharedHttpClient> {
    if !endpoint.starts_with("http://") {
        return None;
    }
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    Some(SharedHttpClient::new(NamesEndpoint(
        aws_smithy_http_client::Builder::new()
            .pool_max_idle_per_host(0)
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https(),
    )))
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

    #[test]
    fn the_endpoint_named_is_scheme_host_and_port_only() {
        assert_eq!(
            endpoint_of("http://127.0.0.1:9/?Action=DescribeRegions"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoint_of("https://ec2.us-east-1.amazonaws.com/"),
            "https://ec2.us-east-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_of("https://u:secret@s3.amazonaws.com/b/k?X-Amz-Signature=abc"),
            "https://s3.amazonaws.com"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_endpoint_and_stays_an_io_error() {
        // A port nothing listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let sdk = sdk_config()
            .region(Some("us-east-1"))
            .retries(0)
            .with(|l| {
                l.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "AKID", "secret", None, None, "test",
                ))
            })
            .load()
            .await;
        let err = ec2_client(&sdk, "us-east-1", Some(&url))
            .describe_regions()
            .send()
            .await
            .unwrap_err();
        let chain = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
        assert!(chain.contains(&format!("{UNREACHED} {url}")), "{chain}");
        match &err {
            aws_smithy_runtime_api::client::result::SdkError::DispatchFailure(d) => {
                assert!(d.is_io(), "{chain}");
            }
            other => panic!("not a dispatch failure: {other:?}"),
        }
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
