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
    let endpoint = unreached_endpoint(chain)
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    if c.contains("dns error")
        || c.contains("failed to lookup address")
        || c.contains("name or service not known")
    {
        return Some(format!(
            "the host name of the AWS endpoint{endpoint} does not resolve: unknown region or \
             endpoint. Hint: check `region` (e.g. us-east-1) and custom_endpoint_ec2 / \
             AWS_ENDPOINT_URL"
        ));
    }
    let why = if c.contains("connection refused") {
        "connection refused"
    } else if c.contains("timed out") || c.contains("timeout") {
        "timed out"
    } else if c.contains("connection reset") {
        "connection reset"
    } else if c.contains("io error") {
        "connection failed"
    } else {
        return None;
    };
    Some(format!(
        "the AWS endpoint{endpoint} is unreachable ({why}). Hint: check network access, proxies \
         (HTTPS_PROXY), and custom_endpoint_ec2 / AWS_ENDPOINT_URL"
    ))
}

/// The endpoint a transport failure names (`could not reach <endpoint>`, added by the HTTP
/// client of [`crate::aws::sdk_config`]).
fn unreached_endpoint(chain: &str) -> Option<&str> {
    let (_, rest) = chain.split_once(crate::aws::sdk_config::UNREACHED)?;
    rest.split_whitespace()
        .next()
        .map(|w| w.trim_end_matches([':', ',', ')']))
        .filter(|w| !w.is_empty())
}

/// An HTTP answer without an AWS error code (an HTML error page, a proxy's reply, a service at
/// an unknown region): its status and what the SDK made of it, and where to look.
pub(crate) fn unreadable_answer(status: u16, chain: &str) -> String {
    let what = chain
        .strip_prefix("service error: ")
        .or_else(|| chain.strip_prefix("response error: "))
        .unwrap_or(chain);
    format!(
        "HTTP {status} without an AWS error code ({what}). Hint: the endpoint did not answer \
         like AWS: check `region` and custom_endpoint_ec2 / AWS_ENDPOINT_URL"
    )
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
            "Hint: the credentials' IAM policy does not allow this action on this resource"
        }
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            "Hint: AWS kept throttling past the retries: run fewer builds at once, or raise AWS_MAX_ATTEMPTS"
        }
        _ => return None,
    })
}

/// What `rpack cleanup` says when it has no credentials for the resources it must delete:
/// the ledger rightly keeps none, so it names where they are needed (the account when the
/// build learnt it, the region, the endpoint) and how to supply them.
pub(crate) fn cleanup_needs_credentials(
    account: Option<&str>,
    region: &str,
    endpoint: Option<&str>,
    count: usize,
) -> String {
    let of = account
        .map(|a| format!("account {a} in "))
        .unwrap_or_default();
    let at = endpoint
        .map(|e| format!(" (endpoint {e})"))
        .unwrap_or_default();
    let whose = match account {
        Some(a) => format!("account {a}"),
        None => "the account the build used".to_string(),
    };
    format!(
        "NoCredentialProviders: rpack cleanup needs AWS credentials for {of}region {region}{at} \
         to delete {count} resource(s), and found none; tried: {}. The ledger keeps no \
         credentials. Hint: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or set \
         AWS_PROFILE) for {whose} (the template's access_key/secret_key or profile), then run \
         `rpack cleanup --yes` again",
        sources_tried()
    )
}

/// Whether credentials can be found for `sdk` (the default chain, as the build's cleanup uses).
pub(crate) async fn has_credentials(sdk: &aws_config::SdkConfig) -> bool {
    use aws_sdk_ec2::config::ProvideCredentials as _;
    match sdk.credentials_provider() {
        Some(p) => p.provide_credentials().await.is_ok(),
        None => false,
    }
}

/// Whether `code` means the credentials' policy refused the call.
pub(crate) fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException"
    )
}

/// The encoded authorization message in an access-denied message (Packer's pattern: the word
/// after "Encoded authorization failure message:").
pub(crate) fn encoded_message(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("Encoded authorization failure message:")?;
    let word: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// An access-denied message with the IAM action and resource first, when AWS names them
/// ("User: … is not authorized to perform: ec2:RunInstances on resource: arn:…"), and the
/// encoded authorization message (often several KB) replaced by its length.
pub(crate) fn access_denied(message: &str) -> String {
    const ENCODED: &str = "Encoded authorization failure message:";
    let (text, encoded) = match message.find(ENCODED) {
        Some(i) => (
            message[..i].trim_end(),
            Some(message[i + ENCODED.len()..].trim()),
        ),
        None => (message.trim_end(), None),
    };
    let mut out = match text.split_once("is not authorized to perform: ") {
        Some((who, rest)) => {
            let who = who
                .rsplit("User: ")
                .next()
                .map(str::trim)
                .filter(|w| w.starts_with("arn:"));
            let (action, resource) = match rest.split_once(" on resource: ") {
                Some((a, r)) => (a.trim(), Some(r)),
                None => (rest.split_whitespace().next().unwrap_or(rest), None),
            };
            let (resource, because) = match resource {
                Some(r) => match r.split_once(" because ") {
                    Some((r, b)) => (Some(r.trim()), Some(b.trim().trim_end_matches('.'))),
                    None => (Some(r.trim().trim_end_matches('.')), None),
                },
                None => (None, None),
            };
            let mut s = format!("not allowed to {action}");
            if let Some(r) = resource {
                s.push_str(&format!(" on {r}"));
            }
            if let Some(w) = who {
                s.push_str(&format!(" as {w}"));
            }
            if let Some(b) = because {
                s.push_str(&format!(" ({b})"));
            }
            s
        }
        None => text.to_string(),
    };
    if let Some(e) = encoded.filter(|e| !e.is_empty()) {
        out.push_str(&format!(
            "; AWS sent an encoded authorization message ({} characters): `aws sts decode-authorization-message --encoded-message <it>` says which policy refused",
            e.len()
        ));
        tracing::debug!(encoded = %e, "encoded authorization failure message");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_action_and_resource_and_never_pastes_the_blob() {
        let blob = "x".repeat(3000);
        let m = format!(
            "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:123456789012:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: {blob}"
        );
        assert_eq!(
            access_denied(&m),
            "not allowed to ec2:RunInstances on arn:aws:ec2:us-east-1:123456789012:instance/* as arn:aws:iam::123456789012:user/ci (no identity-based policy allows the ec2:RunInstances action); AWS sent an encoded authorization message (3000 characters): `aws sts decode-authorization-message --encoded-message <it>` says which policy refused"
        );
        assert_eq!(
            encoded_message(&format!(
                "x. Encoded authorization failure message: {blob} more"
            )),
            Some(blob.clone())
        );
        assert_eq!(encoded_message("no message here"), None);
        // The older EC2 form: only the encoded message.
        let m = format!("You are not authorized to perform this operation. Encoded authorization failure message: {blob}");
        let out = access_denied(&m);
        assert!(
            out.starts_with("You are not authorized to perform this operation.; AWS sent"),
            "{out}"
        );
        assert!(!out.contains("xxxx"));
        assert_eq!(access_denied("Access Denied"), "Access Denied");
        assert!(is_access_denied("UnauthorizedOperation"));
        assert!(!is_access_denied("InvalidAMIID.NotFound"));
    }

    #[test]
    fn the_credentials_dump_becomes_one_line() {
        let chain = "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token: DispatchFailure(DispatchFailure { source: ConnectorError { … } })";
        let m = transport(chain).unwrap();
        assert!(
            m.starts_with("NoCredentialProviders: no AWS credentials found; tried: environment")
        );
        assert!(!m.contains("DispatchFailure"));
        assert_eq!(
            transport("dispatch failure: io error: Connection refused (os error 111)").unwrap(),
            "the AWS endpoint is unreachable (connection refused). Hint: check network access, proxies (HTTPS_PROXY), and custom_endpoint_ec2 / AWS_ENDPOINT_URL"
        );
        assert!(transport(
            "dispatch failure: io error: could not reach http://127.0.0.1:9: client error (Connect): tcp connect error: Connection refused (os error 111)"
        )
        .unwrap()
        .starts_with("the AWS endpoint http://127.0.0.1:9 is unreachable (connection refused)."));
        assert!(transport(
            "dispatch failure: timeout: could not reach https://ec2.eu-west-1.amazonaws.com: HTTP connect timeout occurred after 3.1s"
        )
        .unwrap()
        .starts_with("the AWS endpoint https://ec2.eu-west-1.amazonaws.com is unreachable (timed out)."));
        assert!(
            transport("dispatch failure: dns error: failed to lookup address information")
                .unwrap()
                .contains("unknown region")
        );
        assert_eq!(transport("something else"), None);
    }

    #[test]
    fn cleanup_names_the_account_when_the_ledger_has_it() {
        let m = cleanup_needs_credentials(
            Some("123456789012"),
            "us-east-1",
            Some("http://127.0.0.1:5000"),
            3,
        );
        assert!(
            m.starts_with("NoCredentialProviders: rpack cleanup needs AWS credentials for account 123456789012 in region us-east-1 (endpoint http://127.0.0.1:5000) to delete 3 resource(s)"),
            "{m}"
        );
        assert!(
            m.contains("for account 123456789012 (the template's"),
            "{m}"
        );
        let m = cleanup_needs_credentials(None, "eu-west-1", None, 1);
        assert!(
            m.starts_with(
                "NoCredentialProviders: rpack cleanup needs AWS credentials for region eu-west-1 to delete 1 resource(s)"
            ),
            "{m}"
        );
        assert!(m.contains("for the account the build used"), "{m}");
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
