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
