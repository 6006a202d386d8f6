//! `fast_launch` (Windows fast launch, packer-plugin-amazon v1.8) on the test stack. moto has no
//! fast launch: the proxy answers EnableFastLaunch, DescribeFastLaunchImages and
//! DisableFastLaunch as EC2 does (`tests/support-py/fast_launch.py`), and the tests assert on the
//! requests it recorded. The proxy's fast-launch setting is shared, so the cases run in order in
//! one test.

use std::collections::BTreeMap;

use serde_json::json;

use crate::ebs::{assert_clean, build, config, err_text, stack, Stack, REGION};
use crate::support::Ec2State;

/// A launch template in `REGION` with two versions; returns its id and name.
async fn launch_template(st: &Stack) -> (String, String) {
    let c = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let name = format!("rpack-fl-{}", uuid::Uuid::new_v4());
    let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .build();
    let made = c
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(data.clone())
        .send()
        .await
        .unwrap();
    let id = made
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap()
        .to_string();
    c.create_launch_template_version()
        .launch_template_id(&id)
        .launch_template_data(data)
        .send()
        .await
        .unwrap();
    (id, name)
}

/// The recorded requests of `action` that name `image`.
fn asked(st: &Stack, action: &str, image: &str) -> Vec<BTreeMap<String, String>> {
    st.proxy
        .requests_of(action)
        .into_iter()
        .filter(|r| {
            r.get("ImageId").map(String::as_str) == Some(image)
                || r.get("ImageId.1").map(String::as_str) == Some(image)
        })
        .collect()
}

/// The AMI a build's UI announced (`AMI: ami-…`).
fn announced_ami(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("message: AMI: ").map(str::to_string))
        .unwrap_or_else(|| panic!("no AMI line in:\n{}", lines.join("\n")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_launch_is_enabled_with_the_regions_template_and_disabled_when_the_build_fails() {
    let st = stack();
    let (lt_id, lt_name) = launch_template(&st).await;

    // 1. Enabled in the build region with its launch template (named; its latest version, 2),
    //    the plugin's parallelism and snapshot count; explicitly off in the copy region.
    st.proxy.set_fast_launch(2, None);
    let cfg = config(
        st.base(),
        json!({
            "ami_regions": ["us-west-2"],
            "fast_launch": {
                "enable_fast_launch": true,
                "max_parallel_launches": 8,
                "target_resource_count": 3,
                "region_launch_templates": [
                    {"region": REGION, "template_name": lt_name},
                    {"region": "us-west-2", "enable_fast_launch": false}
                ]
            }
        }),
    );
    let o = build(&st, cfg).await;
    let art = o.artifact();
    let ami = &art.amis[REGION];
    let enable = asked(&st, "EnableFastLaunch", ami);
    assert_eq!(enable.len(), 1, "{enable:#?}");
    let want: BTreeMap<&str, &str> = [
        ("LaunchTemplate.LaunchTemplateId", lt_id.as_str()),
        ("LaunchTemplate.Version", "2"),
        ("MaxParallelLaunches", "8"),
        ("SnapshotConfiguration.TargetResourceCount", "3"),
    ]
    .into();
    for (k, v) in &want {
        assert_eq!(
            enable[0].get(*k).map(String::as_str),
            Some(*v),
            "{k}: {enable:#?}"
        );
    }
    // Enabling for two answers, then enabled: the wait polled until it was.
    assert!(asked(&st, "DescribeFastLaunchImages", ami).len() >= 3);
    assert!(asked(&st, "EnableFastLaunch", &art.amis["us-west-2"]).is_empty());
    assert_eq!(
        st.proxy.fast_launch().0.get(ami).map(String::as_str),
        Some("enabled")
    );
    assert!(o.lines.iter().any(|l| l.contains(&format!(
        "Enabling fast boot for AMI {ami} in region {REGION}"
    ))));
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;

    // 2. EC2 fails to enable it: the build fails with the plugin's messages, and the cleanup
    //    disables fast launch before it removes the AMI (the plugin leaves both).
    st.proxy.set_fast_launch(
        1,
        Some("Client.InternalError: could not launch the pre-provisioning instances"),
    );
    let cfg = config(
        st.base(),
        json!({"fast_launch": {"enable_fast_launch": true}}),
    );
    let o = build(&st, cfg).await;
    let err = err_text(&o);
    assert!(
        err.contains("Failed to enable fast-launch because of errors"),
        "{err}"
    );
    let ui = o.lines.join("\n");
    assert!(
        ui.contains("Failed to enable fast-launch for AMI")
            && ui.contains("could not launch the pre-provisioning instances"),
        "{ui}"
    );
    let ami = announced_ami(&o.lines);
    let plain = asked(&st, "EnableFastLaunch", &ami);
    assert_eq!(plain.len(), 1);
    assert!(
        !plain[0].keys().any(|k| k.starts_with("LaunchTemplate")
            || k == "MaxParallelLaunches"
            || k.starts_with("SnapshotConfiguration")),
        "unset keys are left to EC2's defaults: {plain:#?}"
    );
    assert!(
        st.proxy.fast_launch().1.contains(&ami),
        "DisableFastLaunch for {ami}"
    );
    let disable = asked(&st, "DisableFastLaunch", &ami);
    assert_eq!(disable[0].get("Force").map(String::as_str), Some("true"));
    assert_clean(&st, &o, &[REGION]).await;

    // 3. A template version the template does not have: refused before any EnableFastLaunch.
    st.proxy.set_fast_launch(1, None);
    let cfg = config(
        st.base(),
        json!({"fast_launch": {"template_id": lt_id, "template_version": 9}}),
    );
    let o = build(&st, cfg).await;
    let err = err_text(&o);
    assert!(
        err.contains(&format!(
            "specified version (9) is higher than the latest launch template version (2) for region \"{REGION}\""
        )),
        "{err}"
    );
    let ami = announced_ami(&o.lines);
    assert!(asked(&st, "EnableFastLaunch", &ami).is_empty());
    assert_clean(&st, &o, &[REGION]).await;
}
