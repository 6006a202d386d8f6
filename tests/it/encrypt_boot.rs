//! Issue #17 item 3: `encrypt_boot` without the extra copy. The instance launches with its EBS
//! volumes encrypted, so CreateImage makes the encrypted AMI: no intermediary, no CopyImage, no
//! DeregisterImage. The copy path (Packer's) stays where a launch cannot be encrypted and after
//! EC2 refuses the key at launch; region copies copy the encrypted AMI; a cancel while the AMI
//! is pending leaves nothing.
//!
//! moto keeps a volume's encryption and key (checked on the running instance from the
//! provisioning hook) but makes every AMI snapshot from a fresh unencrypted volume, so the
//! AMI's encryption is asserted on the requests rpack sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use rpack::builders::amazon_ebs::ProvisionHook;
use rpack::communicator::Communicator;
use rpack::shell_local::GeneratedData;
use rpack::ui::Ui;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ebs::{assert_clean, build, build_with, config, stack, Stack, REGION};
use crate::support::Ec2State;

const WEST: &str = "us-west-2";

/// The EBS mappings of a RunInstances request: device name → its `Ebs.*` fields.
fn launch_mappings(req: &BTreeMap<String, String>) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut by_index: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in req {
        let Some(rest) = k.strip_prefix("BlockDeviceMapping.") else {
            continue;
        };
        let (n, field) = rest.split_once('.').unwrap();
        by_index
            .entry(n.to_string())
            .or_default()
            .insert(field.to_string(), v.clone());
    }
    by_index
        .into_values()
        .map(|mut m| (m.remove("DeviceName").unwrap_or_default(), m))
        .collect()
}

/// The source AMI's root device name, from moto.
async fn root_device(st: &Stack) -> String {
    let out = Ec2State::new(st.moto.endpoint(), REGION)
        .client()
        .describe_images()
        .image_ids(crate::ebs::AMI)
        .send()
        .await
        .unwrap();
    out.images()[0].root_device_name().unwrap().to_string()
}

/// Records the instance's volumes (encrypted, key) while it runs.
struct VolumeProbe {
    endpoint: String,
    seen: Mutex<Vec<(String, bool, Option<String>)>>,
}

#[async_trait::async_trait]
impl ProvisionHook for VolumeProbe {
    async fn provision(
        &self,
        _comm: Option<&dyn Communicator>,
        data: &GeneratedData,
        _ui: &dyn Ui,
        _cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let id = data.id.clone().unwrap_or_default();
        let out = Ec2State::new(&self.endpoint, REGION)
            .client()
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(&id)
                    .build(),
            )
            .send()
            .await?;
        let mut seen = self.seen.lock().unwrap();
        for v in out.volumes() {
            let dev = v
                .attachments()
                .first()
                .and_then(|a| a.device())
                .unwrap_or_default();
            seen.push((
                dev.to_string(),
                v.encrypted().unwrap_or(false),
                v.kms_key_id().map(str::to_string),
            ));
        }
        Ok(())
    }
}

/// The AMIs carrying the build's id in `region`.
async fn build_images(st: &Stack, build_id: &str, region: &str) -> Vec<String> {
    Ec2State::new(st.moto.endpoint(), region)
        .for_build(build_id)
        .images()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_boot_launches_encrypted_and_images_once_without_a_copy() {
    let st = stack();
    let root = root_device(&st).await;
    let cfg = config(
        st.base(),
        json!({"encrypt_boot": true, "kms_key_id": "alias/rpack-build"}),
    );
    let probe = Arc::new(VolumeProbe {
        endpoint: st.moto.endpoint().to_string(),
        seen: Mutex::new(Vec::new()),
    });
    let o = build_with(&st, cfg.clone(), probe.clone(), None).await;
    let art = o.artifact();
    assert!(
        o.lines.iter().any(|l| l.contains(
            "encrypt_boot: launching with encrypted EBS volumes (KMS key alias/rpack-build); CreateImage makes the encrypted AMI, no copy"
        )),
        "{}",
        o.lines.join("\n")
    );
    // RunInstances asked for the AMI's root device encrypted with the key.
    let runs = st.proxy.requests_of("RunInstances");
    assert_eq!(runs.len(), 1);
    let maps = launch_mappings(&runs[0]);
    let r = maps
        .get(&root)
        .unwrap_or_else(|| panic!("no mapping of {root}: {maps:#?}"));
    assert_eq!(r.get("Ebs.Encrypted").map(String::as_str), Some("true"));
    assert_eq!(
        r.get("Ebs.KmsKeyId").map(String::as_str),
        Some("alias/rpack-build")
    );
    // ...and the running instance had it so (moto keeps volume encryption).
    let seen = probe.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(d, enc, key)| *d == root && *enc && key.as_deref() == Some("alias/rpack-build")),
        "{seen:#?}"
    );
    assert!(seen.iter().all(|(_, enc, _)| *enc), "{seen:#?}");
    // One CreateImage, of the final name; no copy, no deregistration, one AMI.
    let creates = st.proxy.requests_of("CreateImage");
    assert_eq!(creates.len(), 1);
    assert_eq!(
        creates[0].get("Name").map(String::as_str),
        Some(cfg.ami.ami_name.as_str())
    );
    assert_eq!(st.proxy.count("CopyImage"), 0, "{:?}", st.proxy.counts());
    assert_eq!(st.proxy.count("DeregisterImage"), 0);
    let images = build_images(&st, &o.build_id, REGION).await;
    assert_eq!(images, [art.amis[REGION].clone()]);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kms_key_id_the_launch_uses_the_default_key() {
    let st = stack();
    let o = build(&st, config(st.base(), json!({"encrypt_boot": true}))).await;
    let art = o.artifact();
    assert!(o.lines.iter().any(|l| l.contains(
        "encrypt_boot: launching with encrypted EBS volumes (the account's default EBS key)"
    )));
    let runs = st.proxy.requests_of("RunInstances");
    let maps = launch_mappings(&runs[0]);
    assert!(!maps.is_empty());
    for (dev, m) in &maps {
        assert_eq!(
            m.get("Ebs.Encrypted").map(String::as_str),
            Some("true"),
            "{dev}"
        );
        assert_eq!(m.get("Ebs.KmsKeyId"), None, "{dev}");
    }
    assert_eq!(st.proxy.count("CopyImage"), 0);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// A spot build launches through a launch template: its block devices are encrypted the same
/// way, and the AMI is made without a copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_launch_templates_carry_the_encrypted_devices() {
    let st = stack();
    let root = root_device(&st).await;
    let cfg = config(
        st.base(),
        json!({"encrypt_boot": true, "kms_key_id": "alias/rpack-spot", "spot_price": "auto"}),
    );
    let o = build(&st, cfg).await;
    let art = o.artifact();
    let lts = st.proxy.requests_of("CreateLaunchTemplate");
    assert_eq!(lts.len(), 1);
    let data: BTreeMap<String, String> = lts[0]
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("LaunchTemplateData.")?.to_string(),
                v.clone(),
            ))
        })
        .collect();
    let maps = launch_mappings(&data);
    let r = maps
        .get(&root)
        .unwrap_or_else(|| panic!("no mapping of {root}: {:#?}", lts[0]));
    assert_eq!(r.get("Ebs.Encrypted").map(String::as_str), Some("true"));
    assert_eq!(
        r.get("Ebs.KmsKeyId").map(String::as_str),
        Some("alias/rpack-spot")
    );
    assert_eq!(st.proxy.count("CopyImage"), 0);
    assert_eq!(st.proxy.count("DeregisterImage"), 0);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// A template whose root device is launched `encrypted: false` gets Packer's copy path, and
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unencrypted_launch_device_keeps_the_copy_path_and_says_so() {
    let st = stack();
    let root = root_device(&st).await;
    let cfg = config(
        st.base(),
        json!({
            "encrypt_boot": true,
            "launch_block_device_mappings": [
                {"device_name": root, "volume_size": 10, "encrypted": false, "delete_on_termination": true}
            ]
        }),
    );
    let o = build(&st, cfg.clone()).await;
    let art = o.artifact();
    let line = format!(
        "encrypt_boot: encrypting by copying the AMI, as Packer does (launch_block_device_mappings: {root} has `encrypted: false`)"
    );
    assert!(
        o.lines.iter().any(|l| l.contains(&line)),
        "{}",
        o.lines.join("\n")
    );
    let runs = st.proxy.requests_of("RunInstances");
    assert_eq!(
        launch_mappings(&runs[0])[&root]
            .get("Ebs.Encrypted")
            .map(String::as_str),
        Some("false")
    );
    // The intermediary, its encrypted copy, the intermediary deregistered.
    let creates = st.proxy.requests_of("CreateImage");
    assert!(creates[0]["Name"].starts_with("packer-intermediary-"));
    let copies = st.proxy.requests_of("CopyImage");
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].get("Encrypted").map(String::as_str), Some("true"));
    assert_eq!(st.proxy.count("DeregisterImage"), 1);
    assert_eq!(
        build_images(&st, &o.build_id, REGION).await,
        [art.amis[REGION].clone()]
    );
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// EC2 stops the encrypted launch over its key (the proxy plays `Client.InvalidKMSKey`): the
/// failed instance is removed, the build launches as Packer does and encrypts with the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_failure_at_launch_falls_back_to_the_copy_and_leaves_nothing() {
    let st = stack();
    st.proxy.set_kms_launch_failure(true);
    let cfg = config(
        st.base(),
        json!({"encrypt_boot": true, "kms_key_id": "alias/shared-elsewhere"}),
    );
    let o = build(&st, cfg).await;
    st.proxy.set_kms_launch_failure(false);
    let art = o.artifact();
    assert!(
        o.lines.iter().any(|l| l
            .contains("encrypt_boot: the launch with encrypted volumes failed (")
            && l.contains("Client.InvalidKMSKey.InvalidState")
            && l.ends_with(
                "launching unencrypted and encrypting by copying the AMI, as Packer does"
            )),
        "{}",
        o.lines.join("\n")
    );
    let runs = st.proxy.requests_of("RunInstances");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(launch_mappings(&runs[0])
        .values()
        .any(|m| m.get("Ebs.Encrypted").map(String::as_str) == Some("true")));
    assert!(launch_mappings(&runs[1])
        .values()
        .all(|m| m.get("Ebs.Encrypted").map(String::as_str) != Some("true")));
    assert_ne!(runs[0]["ClientToken"], runs[1]["ClientToken"]);
    let copies = st.proxy.requests_of("CopyImage");
    assert_eq!(copies.len(), 1);
    assert_eq!(
        copies[0].get("KmsKeyId").map(String::as_str),
        Some("alias/shared-elsewhere")
    );
    assert_eq!(st.proxy.count("DeregisterImage"), 1);
    assert_eq!(
        build_images(&st, &o.build_id, REGION).await,
        [art.amis[REGION].clone()]
    );
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// The same for a spot build: the fleet's instance, launched from a template with encrypted
/// volumes, is stopped over the key; the instance and that template are removed, and a second
/// template without the encryption launches the instance the copy path images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_failure_of_a_spot_launch_falls_back_to_the_copy_and_leaves_nothing() {
    let st = stack();
    st.proxy.set_kms_launch_failure(true);
    let cfg = config(
        st.base(),
        json!({"encrypt_boot": true, "kms_key_id": "alias/shared-elsewhere", "spot_price": "auto"}),
    );
    let o = build(&st, cfg).await;
    st.proxy.set_kms_launch_failure(false);
    let art = o.artifact();
    assert!(
        o.lines.iter().any(|l| l
            .contains("encrypt_boot: the launch with encrypted volumes failed (")
            && l.contains("Client.InvalidKMSKey.InvalidState")),
        "{}",
        o.lines.join("\n")
    );
    let lts = st.proxy.requests_of("CreateLaunchTemplate");
    assert_eq!(lts.len(), 2, "{lts:#?}");
    let encrypted = |r: &BTreeMap<String, String>| {
        r.iter()
            .any(|(k, v)| k.ends_with("Ebs.Encrypted") && v == "true")
    };
    assert!(encrypted(&lts[0]) && !encrypted(&lts[1]), "{lts:#?}");
    assert_ne!(lts[0]["ClientToken"], lts[1]["ClientToken"]);
    let fleets = st.proxy.requests_of("CreateFleet");
    assert_eq!(fleets.len(), 2, "{fleets:#?}");
    assert_ne!(fleets[0]["ClientToken"], fleets[1]["ClientToken"]);
    // The first template was deleted before the second launch, the second at the end.
    assert_eq!(st.proxy.count("DeleteLaunchTemplate"), 2);
    assert_eq!(st.proxy.count("CopyImage"), 1);
    assert_eq!(st.proxy.count("DeregisterImage"), 1);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// With `ami_regions`, the one region copy copies the AMI that is already encrypted, with the
/// region's key; the build region is not copied into.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_copies_copy_the_encrypted_ami_with_their_keys() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({
            "encrypt_boot": true,
            "kms_key_id": "alias/rpack-east",
            "ami_regions": [WEST],
            "region_kms_key_ids": {WEST: "alias/rpack-west"}
        }),
    );
    let o = build(&st, cfg).await;
    let art = o.artifact();
    assert_eq!(art.amis.len(), 2);
    let copies = st.proxy.requests_of("CopyImage");
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert_eq!(
        copies[0].get("SourceImageId"),
        Some(&art.amis[REGION]),
        "the copy's source is the final, encrypted AMI"
    );
    assert_eq!(copies[0].get("Encrypted").map(String::as_str), Some("true"));
    assert_eq!(
        copies[0].get("KmsKeyId").map(String::as_str),
        Some("alias/rpack-west")
    );
    assert_eq!(st.proxy.count("DeregisterImage"), 0);
    assert_eq!(build_images(&st, &o.build_id, REGION).await.len(), 1);
    assert_eq!(build_images(&st, &o.build_id, WEST).await.len(), 1);
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, WEST]).await;
}

/// A cancel while the region copies are pending removes the encrypted AMI and every copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_the_region_copies_removes_the_ami_and_the_copies() {
    let st = stack();
    st.proxy
        .set_transition_times(&[("CopyImage", Duration::from_secs(30))]);
    let cfg = config(
        st.base(),
        json!({
            "encrypt_boot": true,
            "ami_regions": [WEST, "eu-west-1"],
        }),
    );
    let o = build_with(
        &st,
        cfg,
        Arc::new(rpack::builders::amazon_ebs::TrueHook),
        Some((
            "Waiting for all copies to complete",
            Duration::from_millis(500),
        )),
    )
    .await;
    st.proxy.set_transition_time(Duration::ZERO);
    let err = o
        .result
        .as_ref()
        .err()
        .expect("the build was not cancelled");
    assert!(
        matches!(
            err.downcast_ref::<rpack::engine::RunError>(),
            Some(rpack::engine::RunError::Cancelled { .. })
        ),
        "{err:#}\n{}",
        o.lines.join("\n")
    );
    assert_eq!(st.proxy.count("CopyImage"), 2);
    assert_clean(&st, &o, &[REGION, WEST, "eu-west-1"]).await;
}

/// SIGINT to `rpack build` while the encrypted AMI is pending (the only AMI of this path):
/// the build cancels cleanly and removes it, its snapshots and everything temporary.
#[test]
fn sigint_while_the_encrypted_ami_is_pending_leaves_nothing() {
    let st = crate::build::stack();
    st.proxy
        .set_transition_times(&[("CreateImage", Duration::from_secs(6))]);
    let tpl = st.template(
        "encrypt-sigint",
        json!({"encrypt_boot": true, "kms_key_id": "alias/rpack-build"}),
        json!([{"type": "shell", "inline": ["true"]}]),
    );
    let mut run =
        crate::build::Running::start(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    run.wait_for("Waiting for AMI to become ready");
    run.signal(libc::SIGINT, true);
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("encrypt_boot: launching with encrypted EBS volumes"),
        "{out}"
    );
    assert!(
        out.contains("Cleanly cancelled builds after being interrupted."),
        "{out}"
    );
    assert_eq!(st.proxy.count("CopyImage"), 0, "{out}");
    assert_eq!(st.proxy.count("CreateImage"), 1, "{out}");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
}
