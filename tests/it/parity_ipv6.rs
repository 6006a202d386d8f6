//! Issue #17: `ssh_interface: ipv6` (current amazon plugin). The temporary security group admits
//! the SSH port from `::/0` by default (the request the proxy saw), and the build goes through.
//! moto gives instances no IPv6 address, so the connection itself uses `ssh_host` here.

use serde_json::json;

use crate::ebs::{assert_clean, build, config, err_text, stack, REGION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_interface_opens_the_port_to_ipv6_sources_only() {
    let st = stack();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"ssh_interface": "ipv6", "skip_create_ami": true}),
        ),
    )
    .await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let auth = st.proxy.requests_of("AuthorizeSecurityGroupIngress");
    assert_eq!(auth.len(), 1, "{auth:#?}");
    let p = |k: &str| auth[0].get(k).map(String::as_str);
    assert_eq!(
        p("IpPermissions.1.Ipv6Ranges.1.CidrIpv6"),
        Some("::/0"),
        "{auth:#?}"
    );
    assert_eq!(p("IpPermissions.1.IpRanges.1.CidrIp"), None, "{auth:#?}");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Authorizing access to port") && l.contains("[::/0]")),
        "{}",
        o.lines.join("\n")
    );
    assert_clean(&st, &o, &[REGION]).await;
}
