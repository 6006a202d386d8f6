//! amazon-ebssurrogate (issue #17) on the test stack: the AMI is registered from the launch
//! volumes' snapshots with the `ami_root_device` mapping, tagged and reported with the
//! surrogate's builder id; a failing provisioner, and a failure after the registration, leave
//! nothing behind, also after a kill and `rpack cleanup`. `validate` against Packer 1.6.6 is
//! in `ebs_validate.rs`.
//!
//! moto registers an AMI without looking at the block device mappings (it gives the image one
//! snapshot of its own), so the mappings are checked on the RegisterImage request the proxy
//! recorded. The proxy applies RegisterImage's tags, which moto ignores, as EC2 does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::{ProvisionHook, TrueHook};
use rpack::builders::amazon_ebssurrogate::{self, SurrogateConfig};
use rpack::plan::registry::BuilderConfig;
use rpack::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::ebs::{decode, err_text, leftovers, run_recorded, stack, Outcome, Stack, AMI, REGION};
use crate::support::{Ec2State, FaultKind};

/// The stack's amazon-ebs base as an amazon-ebssurrogate one, with a root volume on
/// `/dev/xvdf` that becomes the AMI's `/dev/xvda`.
pub(crate) fn config(st: &Stack, extra: Value) -> Arc<SurrogateConfig> {
    let mut v = st.base();
    v["type"] = json!("amazon-ebssurrogate");
    v["ami_virtualization_type"] = json!("hvm");
    v["launch_block_device_mappings"] = json!([
        {"device_name": "/dev/xvdf", "volume_size": 2, "volume_type": "gp2",
         "delete_on_termination": true}
    ]);
    v["ami_root_device"] = json!({"source_device_name": "/dev/xvdf", "device_name": "/dev/xvda"});
    match decode("amazon-ebssurrogate", v, extra, None) {
        BuilderConfig::AmazonEbsSurrogate(c) => Arc::new(*c),
        _ => unreachable!(),
    }
}

pub(crate) async fn build(
    st: &Stack,
    cfg: Arc<SurrogateConfig>,
    hook: Arc<dyn ProvisionHook>,
) -> Outcome {
    run_recorded(st, hook, None, Default::default(), |args| async move {
        amazon_ebssurrogate::run(cfg, args).await.map(Some)
    })
    .await
}

/// The block device mappings of a RegisterImage request: device name → its fields
/// (`Ebs.SnapshotId`, `VirtualName`, …).
pub(crate) fn mappings(
    req: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut by_index: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in req {
        let Some(rest) = k.strip_prefix("BlockDeviceMapping.") else {
            continue;
        };
        let (i, field) = rest.split_once('.').unwrap();
        by_index
            .entry(i.to_string())
            .or_default()
            .insert(field.to_string(), v.clone());
    }
    by_index
        .into_values()
        .map(|mut m| (m.remove("DeviceName").unwrap_or_default(), m))
        .collect()
}

/// The tags a request's TagSpecifications give `resource_type`.
pub(crate) fn spec_tags(
    req: &BTreeMap<String, String>,
    resource_type: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in 1.. {
        let Some(rt) = req.get(&format!("TagSpecification.{i}.ResourceType")) else {
            break;
        };
        if rt != resource_type {
            continue;
        }
        for j in 1.. {
            let Some(k) = req.get(&format!("TagSpecification.{i}.Tag.{j}.Key")) else {
                break;
            };
            let v = req
                .get(&format!("TagSpecification.{i}.Tag.{j}.Value"))
                .cloned()
                .unwrap_or_default();
            out.insert(k.clone(), v);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_the_ami_from_the_launch_volumes_snapshots() {
    let st = stack();
    let cfg = config(
        &st,
        json!({
            "ami_architecture": "arm64",
            "ami_description": "from {{ .SourceAMI }}",
            "boot_mode": "uefi",
            "tpm_support": "v2.0",
            "uefi_data": "QU1aTlVFRkk=",
            "snapshot_description": "surrogate {{ upper `x` }}",
            "run_volume_tags": {"Phase": "launch"},
            "tags": {"Name": "surrogate-{{ .BuildRegion }}", "Team": "os"},
            "snapshot_tags": {"Snap": "{{ .SourceAMI }}"},
            "launch_block_device_mappings": [
                {"device_name": "/dev/xvdf", "volume_size": 2, "volume_type": "gp2",
                 "delete_on_termination": true},
                {"device_name": "/dev/xvdg", "volume_size": 1},
                {"device_name": "/dev/xvdh", "volume_size": 3, "delete_on_termination": true,
                 "omit_from_artifact": true}
            ],
            "ami_block_device_mappings": [{"device_name": "/dev/sdb", "virtual_name": "ephemeral0"}]
        }),
    );
    let name = cfg.base.ami.ami_name.clone();
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    assert_eq!(art.builder_id(), "mitchellh.amazon.ebssurrogate");
    let ami = art
        .amis
        .get(REGION)
        .cloned()
        .expect("an AMI in the build region");
    assert_eq!(art.id(), format!("{REGION}:{ami}"));

    // Two snapshots, of the two volumes that go into the AMI (not the omitted one), each tagged
    // in its CreateSnapshot call with the snapshot tags and the build id.
    let creates = st.proxy.requests_of("CreateSnapshot");
    assert_eq!(creates.len(), 2, "{creates:#?}");
    for c in &creates {
        assert_eq!(c["Description"], "surrogate X");
        assert_eq!(
            spec_tags(c, "snapshot"),
            BTreeMap::from([
                ("Snap".to_string(), AMI.to_string()),
                ("rpack:build-id".to_string(), o.build_id.clone()),
            ]),
            "{c:#?}"
        );
    }
    // Which snapshot is of which device: moto keeps each snapshot's volume size.
    let state = Ec2State::new(st.moto.endpoint(), REGION);
    let ec2 = state.client().clone();
    let mut by_size = BTreeMap::new();
    for c in &creates {
        let vol = &c["VolumeId"];
        let out = ec2
            .describe_snapshots()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("volume-id")
                    .values(vol)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let s = &out.snapshots()[0];
        assert_eq!(
            s.state().map(aws_sdk_ec2::types::SnapshotState::as_str),
            Some("completed")
        );
        by_size.insert(
            s.volume_size().unwrap(),
            s.snapshot_id().unwrap().to_string(),
        );
    }
    let (root_snap, data_snap) = (&by_size[&2], &by_size[&1]);

    // One RegisterImage: the root device from the /dev/xvdf snapshot under the root's name, the
    // other volume from its snapshot, the AMI mapping, no omitted device; tagged in the call.
    let regs = st.proxy.requests_of("RegisterImage");
    assert_eq!(regs.len(), 1, "{regs:#?}");
    let reg = &regs[0];
    assert_eq!(reg["RootDeviceName"], "/dev/xvda");
    assert_eq!(reg["VirtualizationType"], "hvm");
    assert_eq!(reg["Architecture"], "arm64");
    assert_eq!(reg["Description"], format!("from {AMI}"));
    assert_eq!(reg["BootMode"], "uefi");
    assert_eq!(reg["TpmSupport"], "v2.0");
    assert_eq!(reg["UefiData"], "QU1aTlVFRkk=");
    assert_eq!(reg["Name"], name);
    let maps = mappings(reg);
    assert_eq!(
        maps.keys().collect::<Vec<_>>(),
        ["/dev/sdb", "/dev/xvda", "/dev/xvdg"],
        "{maps:#?}"
    );
    let root = &maps["/dev/xvda"];
    assert_eq!(root["Ebs.SnapshotId"], *root_snap);
    assert_eq!(root["Ebs.VolumeSize"], "2");
    assert_eq!(root["Ebs.VolumeType"], "gp2");
    assert_eq!(root["Ebs.DeleteOnTermination"], "true");
    assert_eq!(maps["/dev/xvdg"]["Ebs.SnapshotId"], *data_snap);
    assert_eq!(maps["/dev/sdb"]["VirtualName"], "ephemeral0");
    assert_eq!(
        spec_tags(reg, "image").get("rpack:build-id"),
        Some(&o.build_id)
    );

    // The AMI's tags, and the snapshots carry the AMI's tags too (as EC2 lists them with it).
    let tags = state.tags(&ami).await.unwrap();
    assert_eq!(tags["Name"], "surrogate-us-east-1");
    assert_eq!(tags["Team"], "os");
    assert_eq!(tags["rpack:build-id"], o.build_id);
    for s in [root_snap, data_snap] {
        let t = state.tags(s).await.unwrap();
        assert_eq!(t.get("Snap").map(String::as_str), Some(AMI), "{s}: {t:?}");
        assert_eq!(t.get("Team").map(String::as_str), Some("os"), "{s}: {t:?}");
        assert_eq!(t["rpack:build-id"], o.build_id);
    }

    // Nothing else is left: the instance is terminated, key pair, group and the kept
    // (delete_on_termination: false) launch volume are gone.
    let inv = state.for_build(&o.build_id).inventory().await.unwrap();
    assert_eq!(inv.instances.len(), 1);
    assert_eq!(inv.instances[0].state, "terminated");
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(
        left.iter()
            .all(|l| l.contains(" image ") || l.contains(" snapshot ")),
        "{left:#?}\nUI:\n{}",
        o.lines.join("\n")
    );
    assert!(left.contains(&format!("{REGION} image {ami}")), "{left:#?}");
    for s in [root_snap, data_snap] {
        assert!(
            left.contains(&format!("{REGION} snapshot {s}")),
            "{left:#?}"
        );
    }
    // The ledger lists the AMI and its snapshots as open (the pipeline then marks them kept).
    let open: Vec<(String, String)> = o
        .ledger
        .open_resources()
        .into_iter()
        .map(|e| (e.kind, e.id))
        .collect();
    assert!(
        open.contains(&("image".to_string(), ami.clone())),
        "{open:?}"
    );
    assert!(
        open.iter().all(|(k, _)| k == "image" || k == "snapshot"),
        "{open:?}"
    );
    assert_eq!(art.snapshots[REGION].len(), open.len() - 1, "{open:?}");
}

/// `skip_save_build_region` with `ami_regions`: the registered AMI is an intermediary the copy
/// step copies; at the end only the copy is left, the intermediary and its snapshots are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_save_build_region_keeps_only_the_copy() {
    const OTHER: &str = "us-west-2";
    let st = stack();
    let cfg = config(
        &st,
        json!({"ami_regions": [OTHER], "skip_save_build_region": true, "tags": {"Team": "os"}}),
    );
    let name = cfg.base.ami.ami_name.clone();
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    assert_eq!(
        art.amis.keys().collect::<Vec<_>>(),
        [OTHER],
        "{:?}",
        art.amis
    );
    let regs = st.proxy.requests_of("RegisterImage");
    assert_eq!(regs.len(), 1);
    assert!(
        regs[0]["Name"].starts_with("packer-intermediary-"),
        "{:?}",
        regs[0]
    );
    // No boot keys in the template: none in the request (EC2 picks the defaults).
    for k in ["BootMode", "TpmSupport", "UefiData"] {
        assert!(!regs[0].contains_key(k), "{k}: {:?}", regs[0]);
    }
    let copies = st.proxy.requests_of("CopyImage");
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert_eq!(copies[0]["Name"], name);
    // The snapshot of the root volume went with the intermediary.
    let snap = st.proxy.requests_of("CreateSnapshot");
    assert_eq!(snap.len(), 1);
    let here = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(here.is_empty(), "{here:#?}\nUI:\n{}", o.lines.join("\n"));
    let there = leftovers(&st, &o.build_id, &[OTHER]).await;
    assert!(
        there.contains(&format!("{OTHER} image {}", art.amis[OTHER])),
        "{there:#?}"
    );
    let tags = Ec2State::new(st.moto.endpoint(), OTHER)
        .tags(&art.amis[OTHER])
        .await
        .unwrap();
    assert_eq!(tags.get("Team").map(String::as_str), Some("os"), "{tags:?}");
}

/// `encrypt_boot` as amazon-ebs does it without a copy: the launch volumes are encrypted with
/// `kms_key_id`, so their snapshots are, and RegisterImage makes the final AMI under its name
/// (the mapping leaves encryption to the snapshot); no intermediary, no CopyImage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_boot_launches_encrypted_and_registers_the_final_ami() {
    let st = stack();
    let cfg = config(
        &st,
        json!({"encrypt_boot": true, "kms_key_id": "alias/rpack-surrogate"}),
    );
    let name = cfg.base.ami.ami_name.clone();
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    let runs = st.proxy.requests_of("RunInstances");
    assert_eq!(runs.len(), 1);
    let launched = mappings(&runs[0]);
    let xvdf = &launched["/dev/xvdf"];
    assert_eq!(xvdf["Ebs.Encrypted"], "true", "{launched:#?}");
    assert_eq!(xvdf["Ebs.KmsKeyId"], "alias/rpack-surrogate");
    let regs = st.proxy.requests_of("RegisterImage");
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0]["Name"], name);
    let root = &mappings(&regs[0])["/dev/xvda"];
    assert!(root.contains_key("Ebs.SnapshotId"), "{root:?}");
    assert!(!root.contains_key("Ebs.Encrypted"), "{root:?}");
    assert!(!root.contains_key("Ebs.KmsKeyId"), "{root:?}");
    assert_eq!(st.proxy.count("CopyImage"), 0);
    assert_eq!(art.amis.len(), 1);
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("encrypt_boot: launching with encrypted EBS volumes")),
        "{}",
        o.lines.join("\n")
    );
}

struct FailingHook;
#[async_trait::async_trait]
impl ProvisionHook for FailingHook {
    async fn provision(
        &self,
        _: Option<&dyn rpack::communicator::Communicator>,
        _: &rpack::shell_local::GeneratedData,
        _: &dyn Ui,
        _: &CancellationToken,
    ) -> anyhow::Result<()> {
        anyhow::bail!("Script exited with non-zero exit status: 1")
    }
}

/// Asserts that nothing of the build is left and the ledger has nothing open.
async fn nothing_left(st: &Stack, o: &Outcome) {
    let left = leftovers(st, &o.build_id, &[REGION]).await;
    assert!(
        left.is_empty(),
        "left behind: {left:#?}\nUI:\n{}",
        o.lines.join("\n")
    );
    let open = o.ledger.open_resources();
    assert!(open.is_empty(), "ledger still lists {open:#?}");
    let inv = Ec2State::new(st.moto.endpoint(), REGION)
        .for_build(&o.build_id)
        .inventory()
        .await
        .unwrap();
    assert_eq!(inv.instances.len(), 1, "{inv:?}");
    assert_eq!(inv.instances[0].state, "terminated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provisioner_leaves_nothing() {
    let st = stack();
    let cfg = config(
        &st,
        json!({"launch_block_device_mappings": [
            {"device_name": "/dev/xvdf", "volume_size": 2},
            {"device_name": "/dev/xvdg", "volume_size": 1}
        ]}),
    );
    let o = build(&st, cfg, Arc::new(FailingHook)).await;
    assert!(
        err_text(&o).contains("non-zero exit status"),
        "{}",
        err_text(&o)
    );
    assert_eq!(st.proxy.count("CreateSnapshot"), 0);
    assert_eq!(st.proxy.count("RegisterImage"), 0);
    // The launch volumes (delete_on_termination: false) were there and are gone too.
    assert!(
        st.proxy.count("DeleteVolume") >= 2,
        "{:?}",
        st.proxy.counts()
    );
    nothing_left(&st, &o).await;
}

/// A failure after the AMI is registered and available (sharing it is refused): the AMI is
/// deregistered and every snapshot deleted, with the instance, key pair and group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_registering_removes_the_ami_and_the_snapshots() {
    let st = stack();
    let cfg = config(
        &st,
        json!({"ami_users": ["123456789012"],
        "launch_block_device_mappings": [
            {"device_name": "/dev/xvdf", "volume_size": 2, "delete_on_termination": true},
            {"device_name": "/dev/xvdg", "volume_size": 1, "delete_on_termination": true}
        ]}),
    );
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["ModifyImageAttribute"]);
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let err = err_text(&o);
    assert!(
        err.contains("ModifyImageAttribute") || err.contains("launch permissions"),
        "{err}"
    );
    assert_eq!(st.proxy.count("CreateSnapshot"), 2);
    assert_eq!(st.proxy.count("RegisterImage"), 1);
    assert!(st.proxy.count("DeregisterImage") >= 1);
    let snaps: Vec<String> = o
        .ledger
        .entries()
        .iter()
        .filter(|e| e.kind == "snapshot" && e.event == rpack::ledger::LedgerEvent::Created)
        .map(|e| e.id.clone())
        .collect();
    assert!(snaps.len() >= 2, "{snaps:?}");
    // Gone by id, tagged or not (moto's own snapshot of the image has no build tag).
    let all = Ec2State::new(st.moto.endpoint(), REGION)
        .snapshots()
        .await
        .unwrap();
    for s in &snaps {
        assert!(
            all.iter().all(|x| &x.id != s),
            "snapshot {s} is still there"
        );
    }
    nothing_left(&st, &o).await;
}

/// RegisterImage refused: the snapshots made just before are deleted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_deletes_the_snapshots() {
    let st = stack();
    let cfg = config(
        &st,
        json!({"launch_block_device_mappings": [
            {"device_name": "/dev/xvdf", "volume_size": 2, "delete_on_termination": true},
            {"device_name": "/dev/xvdg", "volume_size": 1}
        ]}),
    );
    st.proxy
        .inject_fault(FaultKind::AccessDenied, 1.0, &["RegisterImage"]);
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let err = err_text(&o);
    assert!(err.contains("Error registering AMI"), "{err}");
    let made: Vec<String> = o
        .ledger
        .entries()
        .iter()
        .filter(|e| e.kind == "snapshot" && e.event == rpack::ledger::LedgerEvent::Created)
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(st.proxy.count("DeleteSnapshot"), 2);
    nothing_left(&st, &o).await;
}

/// An amazon-ebssurrogate template for the `rpack` binary on this stack.
fn cli_template(st: &crate::build::Stack, name: &str) -> std::path::PathBuf {
    let builder = json!({
        "type": "amazon-ebssurrogate",
        "region": REGION,
        "custom_endpoint_ec2": st.proxy.endpoint(),
        "skip_region_validation": true,
        "source_ami": AMI,
        "instance_type": "t3.micro",
        "ssh_username": st.sshd.user(),
        "ssh_host": st.sshd.host(),
        "ssh_port": st.sshd.port(),
        "ssh_timeout": "60s",
        "ami_name": format!("surrogate-{name}"),
        "ami_virtualization_type": "hvm",
        "launch_block_device_mappings": [
            {"device_name": "/dev/xvdf", "volume_size": 1, "delete_on_termination": true}
        ],
        "ami_root_device": {"source_device_name": "/dev/xvdf", "device_name": "/dev/xvda"}
    });
    let tpl = json!({"builders": [builder]});
    let path = st.dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&tpl).unwrap()).unwrap();
    path
}

/// `rpack build` reports the surrogate's AMI as Packer does.
#[test]
fn rpack_build_prints_the_ami() {
    use crate::build::run_to_end;
    let st = crate::build::stack();
    let path = cli_template(&st, "surrogate");
    let (code, out) = run_to_end(st.rpack(&["build", "-color=false", path.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("--> amazon-ebssurrogate: AMIs were created:"),
        "{out}"
    );
    let left = st.leftovers(&[REGION]);
    assert!(
        left.iter().any(|l| l.starts_with("AMI ")),
        "{left:?}\n{out}"
    );
    assert!(
        left.iter()
            .all(|l| l.starts_with("AMI ") || l.starts_with("snapshot ")),
        "{left:?}\n{out}"
    );
}

/// SIGKILL while the snapshots are being waited on, then `rpack cleanup --yes`: the snapshots
/// (in the ledger before the wait) go with the instance, key pair and group.
#[test]
fn sigkill_while_snapshotting_then_cleanup_removes_everything() {
    use crate::build::{run_to_end, Running};
    let st = crate::build::stack();
    st.proxy
        .set_delay(Duration::from_secs(30), &["DescribeSnapshots"]);
    let path = cli_template(&st, "killed");
    let mut run = Running::start(st.rpack(&["build", "-color=false", path.to_str().unwrap()]));
    run.wait_for("Waiting for snapshot");
    run.signal(libc::SIGKILL, true);
    let (code, _) = run.finish();
    assert_eq!(code, None, "killed by a signal");
    st.proxy.set_delay(Duration::ZERO, &[]);
    let before = st.leftovers(&[REGION]);
    assert!(
        before.iter().any(|l| l.starts_with("snapshot ")),
        "the kill left no snapshot: {before:?}"
    );
    let (code, done) = run_to_end(st.rpack(&["cleanup", "--yes", "--region", REGION]));
    assert_eq!(code, Some(0), "{done}");
    let left = st.leftovers(&[REGION]);
    assert!(
        left.is_empty(),
        "after `rpack cleanup --yes` still {left:?}\n{done}"
    );
}

/// A spot build registers its AMI the same way, and `force_deregister` with
/// `force_delete_snapshot` (what `-force` sets) first removes an earlier AMI of the same name and
/// its snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_build_with_force_deregister_replaces_an_ami_of_the_same_name() {
    let st = stack();
    let cfg = config(&st, json!({}));
    let name = cfg.base.ami.ami_name.clone();
    let first = build(&st, cfg, Arc::new(TrueHook)).await;
    let old = first.artifact().amis[REGION].clone();
    // The snapshots the old AMI lists (moto gives a registered AMI one of its own).
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let described = ec2.describe_images().image_ids(&old).send().await.unwrap();
    let old_snaps: Vec<String> = described.images()[0]
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_string))
        .collect();
    assert!(!old_snaps.is_empty());
    st.proxy.reset_counts();

    let cfg = config(
        &st,
        json!({"ami_name": name, "spot_price": "auto", "force_deregister": true,
               "force_delete_snapshot": true}),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    let new = art.amis[REGION].clone();
    assert_ne!(new, old);
    assert_eq!(st.proxy.count("CreateFleet"), 1);
    assert_eq!(st.proxy.count("RunInstances"), 0);
    assert_eq!(st.proxy.count("RegisterImage"), 1);
    // The values of one parameter across the requests to an action.
    let sent = |action: &str, key: &str| -> Vec<String> {
        st.proxy
            .requests_of(action)
            .into_iter()
            .filter_map(|r| r.get(key).cloned())
            .collect()
    };
    let deregistered = sent("DeregisterImage", "ImageId");
    assert_eq!(deregistered, std::slice::from_ref(&old));
    let deleted = sent("DeleteSnapshot", "SnapshotId");
    for s in &old_snaps {
        assert!(deleted.contains(s), "{s} not deleted: {deleted:?}");
    }
    let out = ec2
        .describe_images()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("name")
                .values(&name)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = out.images().iter().filter_map(|i| i.image_id()).collect();
    assert_eq!(ids, [new.as_str()]);
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(
        left.iter()
            .all(|l| l.contains(" image ") || l.contains(" snapshot ")),
        "{left:#?}"
    );
    art.destroy().await.unwrap();
}
