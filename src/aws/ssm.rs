//! The Systems Manager client: which endpoint (`AWS_ENDPOINT_URL_SSM`, else `AWS_ENDPOINT_URL`)
//! and HTTP client it uses. Shared by the Session Manager transport and `rpack cleanup`, which
//! terminates the sessions a killed build left open.

use aws_config::Region;

/// The environment variable naming an endpoint for `service` (`AWS_ENDPOINT_URL_SSM`, else the
/// global `AWS_ENDPOINT_URL`), as aws-config reads them.
pub fn env_endpoint(service: &str) -> Option<String> {
    [
        format!("AWS_ENDPOINT_URL_{service}"),
        "AWS_ENDPOINT_URL".into(),
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok())
    .find(|v| !v.is_empty())
}

/// The SSM client for `region`. aws-config already applies `AWS_ENDPOINT_URL[_SSM]`; here only
/// the HTTP client for a plain-http emulator endpoint is chosen (see `aws::sdk_config`).
pub fn client(sdk: &aws_config::SdkConfig, region: &str) -> aws_sdk_ssm::Client {
    let mut b = aws_sdk_ssm::config::Builder::from(sdk).region(Region::new(region.to_string()));
    if let Some(e) = env_endpoint("SSM") {
        b = b.endpoint_url(&e);
        if let Some(http) = crate::aws::sdk_config::http_client_for(&e) {
            b = b.http_client(http);
        }
    }
    aws_sdk_ssm::Client::from_conf(b.build())
}
