//! Issue #17: an AMI with `deregistration_protection` on is deregistered only after the
//! protection is turned off — `Artifact::destroy` sends DisableImageDeregistrationProtection for
//! each AMI before its DeregisterImage (moto has neither protection call: the proxy answers them
//! and records what was asked).

use serde_json::json;

use crate::ebs::{assert_clean, build, config, err_text, stack, REGION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_lifts_deregistration_protection_before_deregistering() {
    let st = stack();
    st.proxy.stub(&[
        "EnableImageDeregistrationProtection",
        "DisableImageDeregistrationProtection",
    ]);
    let cfg = config(
        st.base(),
        json!({"ami_regions": ["us-west-2"], "deregistration_protection": {"enabled": true}}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    assert_eq!(art.amis.len(), 2);
    // The build itself deregisters nothing and lifts no protection.
    assert_eq!(st.proxy.count("DisableImageDeregistrationProtection"), 0);
    st.proxy.reset_counts();
    art.destroy().await.unwrap();

    let reqs = st.proxy.requests();
    for ami in art.amis.values() {
        let at = |action: &str| {
            reqs.iter()
                .position(|(a, p)| a == action && p.get("ImageId") == Some(ami))
                .unwrap_or_else(|| panic!("no {action} for {ami}: {reqs:#?}"))
        };
        assert!(
            at("DisableImageDeregistrationProtection") < at("DeregisterImage"),
            "{ami}: {reqs:#?}"
        );
    }
    assert_eq!(st.proxy.count("DisableImageDeregistrationProtection"), 2);
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

/// Without protection, destroy asks for no DisableImageDeregistrationProtection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_without_protection_sends_no_disable_call() {
    let st = stack();
    let o = build(&st, config(st.base(), json!({}))).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    o.artifact().destroy().await.unwrap();
    assert_eq!(st.proxy.count("DisableImageDeregistrationProtection"), 0);
    assert_eq!(st.proxy.count("DeregisterImage"), 1);
    assert_clean(&st, &o, &[REGION]).await;
}
