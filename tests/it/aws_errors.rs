//! AWS errors a person can read, through the fault proxy in front of moto: an access-denied
//! answer names the IAM action and resource and never pastes the several-KB encoded
//! authorization message; nothing is left behind. (Throttling retried with backoff is
//! `ebs::throttling_at_30_percent_still_succeeds`.)

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
