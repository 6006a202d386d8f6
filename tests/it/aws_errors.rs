//! AWS errors a person can read, through the fault proxy in front of moto: an access-denied
//! answer names the IAM action and resource and never pastes the several-KB encoded
//! authorization message; nothing is left behind. (Throttling retried with backoff is
//! `ebs::throttling_at_30_percent_still_succeeds`.) With `decode_authorization_messages`, the
//! real binary asks STS DecodeAuthorizationMessage (answered by the proxy, as moto lacks it) and
//! prints the decoded message.

use crate::ebs::{assert_clean, build, config, err_text, stack, REGION};
use crate::support::proxy::FaultKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_action_and_resource_without_the_encoded_blob() {
    let st = stack();
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["RunInstances"]);
    let o = build(&st, config(st.base(), serde_json::json!({}))).await;
    st.proxy.clear_fault();
    let err = err_text(&o);
    assert!(
        err.contains("UnauthorizedOperation: not allowed to ec2:RunInstances on arn:aws:ec2:us-east-1:123456789012:instance/* as arn:aws:iam::123456789012:user/ci (no identity-based policy allows the ec2:RunInstances action); AWS sent an encoded authorization message (2400 characters)"),
        "{err}"
    );
    assert!(
        !err.contains("Zm9vZm9v"),
        "the encoded blob was pasted: {err}"
    );
    assert!(err.len() < 1000, "{} characters: {err}", err.len());
    assert_clean(&st, &o, &[REGION]).await;
}

#[test]
fn decode_authorization_messages_asks_sts_and_prints_the_decoded_message() {
    let st = crate::build::stack();
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["RunInstances"]);
    let tpl = st.template(
        "decode",
        serde_json::json!({"decode_authorization_messages": true}),
        serde_json::json!([]),
    );
    let mut cmd = st.rpack(&["build", tpl.to_str().unwrap()]);
    cmd.env("AWS_ENDPOINT_URL_STS", st.proxy.endpoint());
    let (code, out) = crate::build::run_to_end(cmd);
    st.proxy.clear_fault();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("UnauthorizedOperation: not allowed to ec2:RunInstances on arn:aws:ec2:us-east-1:123456789012:instance/*"),
        "{out}"
    );
    assert!(
        out.contains(r#"Authorization failure message: '{"allowed":false,"explicitDeny":false,"matchedStatements":{"items":[]},"failures":{"items":[]},"context":{"principal":{"id":"AIDAEXAMPLE","name":"ci","arn":"arn:aws:iam::123456789012:user/ci"},"action":"ec2:RunInstances","resource":"arn:aws:ec2:us-east-1:123456789012:instance/*","conditions":{"items":[]}}}'"#),
        "{out}"
    );
    assert!(
        !out.contains("Zm9vZm9v"),
        "the encoded blob was pasted: {out}"
    );
    // One call, with the encoded message the access-denied answer carried (botocore's sts
    // model: Action, Version 2011-06-15, EncodedMessage).
    let asked = st.proxy.requests_of("DecodeAuthorizationMessage");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].get("Version").map(String::as_str),
        Some("2011-06-15")
    );
    assert_eq!(
        asked[0].get("EncodedMessage").map(String::as_str),
        Some("Zm9v".repeat(600).as_str())
    );
    assert!(st.leftovers(&[REGION]).is_empty());
}

#[test]
fn without_decode_authorization_messages_sts_is_not_asked() {
    let st = crate::build::stack();
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["RunInstances"]);
    let tpl = st.template("nodecode", serde_json::json!({}), serde_json::json!([]));
    let mut cmd = st.rpack(&["build", tpl.to_str().unwrap()]);
    cmd.env("AWS_ENDPOINT_URL_STS", st.proxy.endpoint());
    let (code, out) = crate::build::run_to_end(cmd);
    st.proxy.clear_fault();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("AWS sent an encoded authorization message (2400 characters)"),
        "{out}"
    );
    assert!(!out.contains("Authorization failure message:"), "{out}");
    assert!(st
        .proxy
        .requests_of("DecodeAuthorizationMessage")
        .is_empty());
    assert!(st.leftovers(&[REGION]).is_empty());
}

/// Runs `rpack build` on a template of the build stack with `extra` builder keys, with the fault
/// `kind` on every `action` call; returns the exit code and the output.
fn build_with_fault(
    name: &str,
    kind: Option<FaultKind>,
    action: &str,
    extra: serde_json::Value,
    env: &[(&str, &str)],
) -> (crate::build::Stack, Option<i32>, String) {
    let st = crate::build::stack();
    if let Some(kind) = kind {
        st.proxy.inject_fault(kind, 1.0, &[action]);
    }
    let tpl = st.template(name, extra, serde_json::json!([]));
    let mut cmd = st.rpack(&["build", tpl.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out) = crate::build::run_to_end(cmd);
    st.proxy.clear_fault();
    (st, code, out)
}

/// No SDK type's debug dump and no transport chain reach the output without `RPACK_LOG`.
fn assert_no_dump(out: &str) {
    for dump in [
        "DispatchFailure",
        "ServiceError",
        "ConnectorError",
        "dispatch failure",
        "service error",
    ] {
        assert!(!out.contains(dump), "{dump:?} in:\n{out}");
    }
}

#[test]
fn an_expired_session_token_is_one_line_with_a_hint() {
    let (st, code, out) = build_with_fault(
        "expired",
        Some(FaultKind::ExpiredToken),
        "DescribeImages",
        serde_json::json!({}),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("RequestExpired: Request has expired. Hint: the session token has expired: refresh the credentials (aws sso login, or new STS keys) and retry"),
        "{out}"
    );
    assert_no_dump(&out);
    // Not a transient error: asked once, not retried.
    assert_eq!(st.proxy.count("DescribeImages"), 1, "{out}");
    assert!(st.leftovers(&[REGION]).is_empty());
}

#[test]
fn keys_aws_does_not_know_are_one_line_with_a_hint() {
    let (st, code, out) = build_with_fault(
        "authfailure",
        Some(FaultKind::AuthFailure),
        "DescribeImages",
        serde_json::json!({}),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("AuthFailure: AWS was not able to validate the provided access credentials. Hint: AWS rejected the credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the profile), the session token, and the clock"),
        "{out}"
    );
    assert_no_dump(&out);
    assert!(st.leftovers(&[REGION]).is_empty());
}

#[test]
fn throttling_that_outlasts_the_retries_says_so() {
    // max_retries 2: three attempts, all throttled.
    let (st, code, out) = build_with_fault(
        "throttled",
        Some(FaultKind::Throttle),
        "DescribeImages",
        serde_json::json!({"max_retries": 2}),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("RequestLimitExceeded: Request limit exceeded. Hint: AWS kept throttling past the retries: run fewer builds at once, or raise AWS_MAX_ATTEMPTS"),
        "{out}"
    );
    assert_no_dump(&out);
    assert_eq!(st.proxy.count("DescribeImages"), 3, "{out}");
    assert!(st.leftovers(&[REGION]).is_empty());
}

#[test]
fn an_unknown_region_is_one_line_naming_it() {
    // Real AWS has no host for an unknown region (a DNS failure, `aws::explain::transport`; no
    // test may resolve names off loopback). moto answers it with an HTML error page, HTTP 500:
    // one line naming the region and the status, never the SDK's dump of the response.
    let (st, code, out) = build_with_fault(
        "region",
        None,
        "",
        serde_json::json!({
            "region": "xx-nowhere-1",
            "skip_region_validation": false,
            "max_retries": 1
        }),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("describing regions in xx-nowhere-1: HTTP 500 without an AWS error code (unhandled error: error parsing XML: no root element). Hint: the endpoint did not answer like AWS: check `region` and custom_endpoint_ec2 / AWS_ENDPOINT_URL"),
        "{out}"
    );
    assert_no_dump(&out);
    assert!(!out.contains("<!doctype"), "{out}");
    assert_eq!(st.proxy.count("RunInstances"), 0);
}

/// A port on loopback nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_endpoint_is_named_and_the_chain_is_only_in_the_debug_log() {
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let extra = serde_json::json!({"custom_endpoint_ec2": dead, "max_retries": 0});
    let (st, code, out) = build_with_fault("unreachable", None, "", extra.clone(), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("the AWS endpoint {dead} is unreachable (connection refused). Hint: check network access, proxies (HTTPS_PROXY), and custom_endpoint_ec2 / AWS_ENDPOINT_URL")),
        "{out}"
    );
    assert_no_dump(&out);
    assert!(!out.contains("tcp connect error"), "{out}");
    assert!(st.proxy.calls().is_empty(), "{:?}", st.proxy.calls());

    // RPACK_LOG=debug keeps the full chain (in the log, on stderr).
    let (_, code, debug) = build_with_fault(
        "unreachable-debug",
        None,
        "",
        extra,
        &[("RPACK_LOG", "debug")],
    );
    assert_eq!(code, Some(1), "{debug}");
    assert!(
        debug.contains(&format!("the AWS endpoint {dead} is unreachable")),
        "{debug}"
    );
    assert!(
        debug.contains(&format!(
            "dispatch failure: io error: could not reach {dead}"
        )) && debug.contains("Connection refused"),
        "the full chain is not in the debug log:\n{debug}"
    );
}
