//! Issue #17 on the test stack: the current amazon plugin's amazon-ebs keys reach the EC2
//! requests (asserted on what the proxy saw where moto ignores a field or lacks the call), and
//! `run_tags` land on the AMI unless `skip_ami_run_tags`. Every build leaves nothing behind.

use serde_json::json;

use crate::ebs::{assert_clean, build, config, err_text, stack, REGION};
use crate::support::Ec2State;

/// Capacity reservation, Nitro Enclave, license configuration and placement go into
/// RunInstances; `snapshot_copy_duration_minutes` into CopyImage; deregistration protection
/// (moto has no EnableImageDeregistrationProtection: the proxy answers it) on every final AMI
/// with the cooldown; `run_tags` on the AMIs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_plugin_keys_reach_the_requests_and_run_tags_the_ami() {
    let st = stack();
    st.proxy.stub(&[
        "EnableImageDeregistrationProtection",
        "DisableImageDeregistrationProtection",
    ]);
    let cfg = config(
        st.base(),
        json!({
            "instance_type": "m5.large",
            "ami_regions": ["us-west-2"],
            "capacity_reservation_id": "cr-0123456789abcdef0",
            "enable_nitro_enclave": true,
            "license_specifications": [{"license_configuration_request": {"license_configuration_arn": "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-1"}}],
            "placement": {"tenancy": "dedicated"},
            "snapshot_copy_duration_minutes": 45,
            "deregistration_protection": {"enabled": true, "with_cooldown": true},
            "run_tags": {"Team": "platform"},
        }),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    assert_eq!(art.amis.len(), 2);

    let run = &st.proxy.requests_of("RunInstances")[0];
    let p = |k: &str| run.get(k).map(String::as_str);
    assert_eq!(
        p("CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId"),
        Some("cr-0123456789abcdef0"),
        "{run:#?}"
    );
    assert_eq!(
        p("CapacityReservationSpecification.CapacityReservationPreference"),
        None
    );
    assert_eq!(p("EnclaveOptions.Enabled"), Some("true"), "{run:#?}");
    assert_eq!(
        p("LicenseSpecification.1.LicenseConfigurationArn"),
        Some("arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-1"),
        "{run:#?}"
    );
    assert_eq!(p("Placement.Tenancy"), Some("dedicated"), "{run:#?}");

    let copies = st.proxy.requests_of("CopyImage");
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert_eq!(
        copies[0]
            .get("SnapshotCopyCompletionDurationMinutes")
            .map(String::as_str),
        Some("45"),
        "{copies:#?}"
    );

    let protect = st.proxy.requests_of("EnableImageDeregistrationProtection");
    let mut protected: Vec<&str> = protect
        .iter()
        .map(|r| r.get("ImageId").map(String::as_str).unwrap_or_default())
        .collect();
    protected.sort_unstable();
    let mut amis: Vec<&str> = art.amis.values().map(String::as_str).collect();
    amis.sort_unstable();
    assert_eq!(protected, amis, "{protect:#?}");
    assert!(
        protect
            .iter()
            .all(|r| r.get("WithCooldown").map(String::as_str) == Some("true")),
        "{protect:#?}"
    );

    let build_ami = &art.amis[REGION];
    let tags = Ec2State::new(st.moto.endpoint(), REGION)
        .tags(build_ami)
        .await
        .unwrap();
    assert_eq!(
        tags.get("Team").map(String::as_str),
        Some("platform"),
        "{tags:?}"
    );
    assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id), "{tags:?}");
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

/// The default capacity reservation preference is the plugin's `none`; `skip_ami_run_tags`
/// keeps `run_tags` off the AMI (still on the instance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_and_skip_ami_run_tags() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"run_tags": {"Team": "platform"}, "skip_ami_run_tags": true}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    let run = &st.proxy.requests_of("RunInstances")[0];
    assert_eq!(
        run.get("CapacityReservationSpecification.CapacityReservationPreference")
            .map(String::as_str),
        Some("none"),
        "{run:#?}"
    );
    assert!(!run.contains_key("EnclaveOptions.Enabled"), "{run:#?}");
    let tags = Ec2State::new(st.moto.endpoint(), REGION)
        .tags(&art.amis[REGION])
        .await
        .unwrap();
    assert!(!tags.contains_key("Team"), "{tags:?}");
    assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id), "{tags:?}");
    assert_eq!(st.proxy.count("EnableImageDeregistrationProtection"), 0);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// Spot builds: `spot_allocation_strategy` and `fleet_tags` (with the build id) reach CreateFleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_allocation_strategy_and_fleet_tags_reach_create_fleet() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"spot_price": "0.05", "spot_allocation_strategy": "price-capacity-optimized",
               "fleet_tags": {"Fleet": "{{ .BuildRegion }}"}, "skip_create_ami": true}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let fleet = &st.proxy.requests_of("CreateFleet")[0];
    let p = |k: &str| fleet.get(k).map(String::as_str);
    assert_eq!(
        p("SpotOptions.AllocationStrategy"),
        Some("price-capacity-optimized"),
        "{fleet:#?}"
    );
    assert_eq!(
        p("TagSpecification.1.ResourceType"),
        Some("fleet"),
        "{fleet:#?}"
    );
    let tags: Vec<(&str, &str)> = (1..=2)
        .filter_map(|i| {
            Some((
                p(&format!("TagSpecification.1.Tag.{i}.Key"))?,
                p(&format!("TagSpecification.1.Tag.{i}.Value"))?,
            ))
        })
        .collect();
    assert_eq!(
        tags,
        [("Fleet", REGION), ("rpack:build-id", o.build_id.as_str())],
        "{fleet:#?}"
    );
    assert_clean(&st, &o, &[REGION]).await;
}
