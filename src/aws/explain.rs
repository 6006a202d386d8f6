//! One clear line and a hint for the AWS failures people meet most (no credentials, expired
//! token, access denied, unknown region or unreachable endpoint, throttling past the retries),
//! instead of the SDK's error chain. The full chain is logged at debug level (`RPACK_LOG=debug`).

/// Where the default credential chain looks, in order, as a person would set each.
fn sources_tried() -> String {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    format!(
        "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), profile \"{profile}\" \
         (~/.aws/credentials, ~/.aws/config), SSO, web identity (AWS_WEB_IDENTITY_TOKEN_FILE), \
         container (AWS_CONTAINER_CREDENTIALS_*), EC2 instance metadata (IMDS)"
    )
}

/// A readable message for an error without a service code (transport, credentials), from the
/// SDK's error chain `chain`; `None` when it is none of the known kinds.
pub(crate) fn transport(chain: &str) -> Option<String> {
    let c = chain.to_ascii_lowercase();
    if c.contains("loading credentials")
        || c.contains("no credentials")
        || c.contains("credentialsnotloaded")
    {
        return Some(format!(
            "NoCredentialProviders: no AWS credentials found; tried: {}. Hint: export \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, set AWS_PROFILE to a configured profile, \
             run `aws sso login`, or set access_key/secret_key in the template",
            sources_tried()
        ));
    }
    if c.contains("dns error")
        || c.contains("failed to lookup address")
        || c.contains("name or service not known")
    {
        return Some(
            "the AWS endpoint's host name does not resolve: unknown region or endpoint. Hint: check \
             `region` (e.g. us-east-1) and custom_endpoint_ec2 / AWS_ENDPOINT_URL"
                .to_string(),
        );
    }
    if c.contains("connection refused")
        || c.contains("timed out")
        || c.contains("timeout")
        || c.contains("connection reset")
        || c.contains("io error")
    {
        return Some(
            "the AWS endpoint is unreachable (connection refused or timed out). Hint: check \
             network access, proxies (HTTPS_PROXY), and custom_endpoint_ec2 / AWS_ENDPOINT_URL"
                .to_string(),
        );
    }
    None
}

/// A hint for a service error code, if the code is one people need help with.
pub(crate) fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "Hint: the session token has expired: refresh the credentials (aws sso login, or new STS keys) and retry"
        }
        "InvalidClientTokenId" | "AuthFailure" | "UnrecognizedClientException" | "SignatureDoesNotMatch" | "InvalidToken" => {
            "Hint: AWS rejected the credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the profile), the session token, and the clock"
        }
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            "Hint: the credentials' IAM policy does not allow this action on this resource; with decode_authorization_messages and sts:DecodeAuthorizationMessage, the encoded message says why"
        }
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            "Hint: AWS kept throttling past the retries: run fewer builds at once, or raise AWS_MAX_ATTEMPTS"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credentials_dump_becomes_one_line() {
        let chain = "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token: DispatchFailure(DispatchFailure { source: ConnectorError { … } })";
        let m = transport(chain).unwrap();
        assert!(
            m.starts_with("NoCredentialProviders: no AWS credentials found; tried: environment")
        );
        assert!(!m.contains("DispatchFailure"));
        assert!(
            transport("dispatch failure: io error: Connection refused (os error 111)")
                .unwrap()
                .contains("unreachable")
        );
        assert!(
            transport("dispatch failure: dns error: failed to lookup address information")
                .unwrap()
                .contains("unknown region")
        );
        assert_eq!(transport("something else"), None);
    }

    #[test]
    fn codes_people_need_help_with_get_a_hint() {
        assert!(hint("ExpiredToken").unwrap().contains("expired"));
        assert!(hint("UnauthorizedOperation")
            .unwrap()
            .contains("IAM policy"));
        assert!(hint("RequestLimitExceeded").unwrap().contains("throttling"));
        assert_eq!(hint("InvalidAMIID.NotFound"), None);
    }
}
