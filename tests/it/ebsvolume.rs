//! amazon-ebsvolume (issue #17) on the test stack: the kept volumes carry their tags and are
//! the artifact, `snapshot_volume` snapshots them, a failing provisioner leaves nothing, a
//! killed build is finished by `rpack cleanup`. `validate` against Packer 1.6.6 is in
//! `ebs_validate.rs`.

use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::{ProvisionHook, TrueHook};
use rpack::builders::amazon_ebsvolume::{self, Artifact, VolumeConfig};
use rpack::ledger::ResourceKind;
use rpack::plan::registry::BuilderConfig;
use rpack::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::ebs::{decode, leftovers, run_recorded, stack, Stack, REGION};
use crate::support::Ec2State;

/// The stack's amazon-ebs base turned into an amazon-ebsvolume one (no `ami_name`).
fn base(st: &Stack) -> Value {
    let mut b = st.base();
    let o = b.as_object_mut().unwrap();
    o.remove("ami_name");
    o.insert("type".into(), json!("amazon-ebsvolume"));
    b
}

pub(crate) fn config(st: &Stack, extra: Value) -> Arc<VolumeConfig> {
    match decode("amazon-ebsvolume", base(st), extra, None) {
        BuilderConfig::AmazonEbsVolume(c) => Arc::new(*c),
        _ => unreachable!(),
    }
}

type Outcome = crate::ebs::Outcome<Artifact>;

async fn build(st: &Stack, cfg: Arc<VolumeConfig>, hook: Arc<dyn ProvisionHook>) -> Outcome {
    run_recorded(st, hook, None, Default::default(), |args| async move {
        amazon_ebsvolume::run(cfg, args).await.map(Some)
    })
    .await
}

/// The tags of volume `id`, sorted.
async fn volume_tags(ec2: &aws_sdk_ec2::Client, id: &str) -> Vec<(String, String)> {
    let out = ec2.describe_volumes().volume_ids(id).send().await.unwrap();
    let v = out.volumes().first().expect("volume exists");
    let mut tags: Vec<(String, String)> = v
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    tags
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_two_tagged_volumes_and_removes_everything_else() {
    let st = stack();
    let cfg = config(
        &st,
        json!({
            "run_volume_tags": {"Phase": "launch"},
            "ebs_volumes": [
                {"device_name": "/dev/xvdf", "volume_size": 1, "volume_type": "gp2",
                 "tags": {"Name": "data-{{ .BuildRegion }}", "Role": "data"}},
                {"device_name": "/dev/xvdg", "volume_size": 2,
                 "tag": [{"key": "Role", "value": "logs"}]},
                {"device_name": "/dev/xvdh", "volume_size": 1, "delete_on_termination": true}
            ]
        }),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    let ids = art.volumes.get(REGION).cloned().unwrap_or_default();
    assert_eq!(ids.len(), 2, "{ids:?}\n{}", o.lines.join("\n"));
    assert!(art.snapshots.is_empty());
    let mut want = ids
        .iter()
        .map(|v| format!("{REGION}:{v}"))
        .collect::<Vec<_>>();
    want.sort();
    assert_eq!(art.id(), want.join(","));
    assert_eq!(
        art.string(),
        format!("EBS Volumes were created:\n\n{}", want.join("\n"))
    );
    assert_eq!(art.builder_id(), "mitchellh.amazon.ebsvolume");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Created Volumes: EBS Volumes were created:")),
        "{}",
        o.lines.join("\n")
    );

    // Each kept volume: available (the instance is gone), its own tags only (the run volume
    // tags were replaced), plus the build-id tag.
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let out = ec2
        .describe_volumes()
        .set_volume_ids(Some(ids.clone()))
        .send()
        .await
        .unwrap();
    let mut by_device = std::collections::BTreeMap::new();
    for v in out.volumes() {
        assert_eq!(
            v.state().map(aws_sdk_ec2::types::VolumeState::as_str),
            Some("available"),
            "{v:?}"
        );
        let size = v.size().unwrap_or_default();
        by_device.insert(size, v.volume_id().unwrap().to_string());
    }
    let data = &by_device[&1];
    let logs = &by_device[&2];
    assert_eq!(
        volume_tags(&ec2, data).await,
        pairs(&[
            ("Name", "data-us-east-1"),
            ("Role", "data"),
            ("rpack:build-id", &o.build_id)
        ])
    );
    assert_eq!(
        volume_tags(&ec2, logs).await,
        pairs(&[("Role", "logs"), ("rpack:build-id", &o.build_id)])
    );

    // The instance is terminated, key pair and group are gone: the kept volumes are all that is
    // left of the build (the delete-on-termination one went with the instance).
    let inv = Ec2State::new(st.moto.endpoint(), REGION)
        .for_build(&o.build_id)
        .inventory()
        .await
        .unwrap();
    assert_eq!(inv.instances.len(), 1);
    assert_eq!(inv.instances[0].state, "terminated");
    let mut left = leftovers(&st, &o.build_id, &[REGION]).await;
    left.sort();
    let mut expected: Vec<String> = ids
        .iter()
        .map(|v| format!("{REGION} volume {v} (available)"))
        .collect();
    expected.sort();
    assert_eq!(left, expected, "UI:\n{}", o.lines.join("\n"));
    // The ledger lists exactly the kept volumes as open (the pipeline then marks them kept).
    let mut open: Vec<String> = o
        .ledger
        .open_resources()
        .into_iter()
        .map(|e| {
            assert_eq!(e.kind, ResourceKind::Volume.as_str());
            e.id
        })
        .collect();
    open.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(open, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_volume_snapshots_with_snapshot_tags() {
    let st = stack();
    let cfg = config(
        &st,
        json!({
            "ebs_volumes": [
                {"device_name": "/dev/xvdf", "volume_size": 1, "tags": {"Role": "data"},
                 "snapshot_volume": true, "snapshot_description": "data of {{ .SourceAMI }}",
                 "snapshot_tags": {"Backup": "{{ .BuildRegion }}"}},
                {"device_name": "/dev/xvdg", "volume_size": 1}
            ]
        }),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    let vols = art.volumes[REGION].clone();
    let snaps = art.snapshots.get(REGION).cloned().unwrap_or_default();
    assert_eq!(vols.len(), 2);
    assert_eq!(snaps.len(), 1, "{}", o.lines.join("\n"));
    assert!(art.id().contains(&format!("{REGION}:{}", snaps[0])));
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let out = ec2
        .describe_snapshots()
        .snapshot_ids(&snaps[0])
        .send()
        .await
        .unwrap();
    let s = &out.snapshots()[0];
    assert_eq!(
        s.state().map(aws_sdk_ec2::types::SnapshotState::as_str),
        Some("completed")
    );
    assert_eq!(
        s.description(),
        Some(format!("data of {}", crate::ebs::AMI).as_str())
    );
    let data_volume = s.volume_id().unwrap().to_string();
    assert!(vols.contains(&data_volume));
    assert_eq!(
        volume_tags(&ec2, &data_volume).await,
        pairs(&[("Role", "data"), ("rpack:build-id", &o.build_id)])
    );
    let mut tags: Vec<(String, String)> = s
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        pairs(&[("Backup", REGION), ("rpack:build-id", &o.build_id)])
    );
    let open: Vec<String> = o
        .ledger
        .open_resources()
        .into_iter()
        .filter(|e| e.kind == ResourceKind::Snapshot.as_str())
        .map(|e| e.id)
        .collect();
    assert_eq!(open, snaps);
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

/// No artifact, so nothing is kept: the volumes go with the instance, key pair and group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provisioner_leaves_nothing_not_even_the_volumes() {
    let st = stack();
    let cfg = config(
        &st,
        json!({
            "ebs_volumes": [
                {"device_name": "/dev/xvdf", "volume_size": 1, "tags": {"Role": "data"},
                 "snapshot_volume": true},
                {"device_name": "/dev/xvdg", "volume_size": 1}
            ]
        }),
    );
    let o = build(&st, cfg, Arc::new(FailingHook)).await;
    let err = match &o.result {
        Ok(_) => panic!("the build must fail:\n{}", o.lines.join("\n")),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("non-zero exit status"), "{err}");
    // The volumes did exist (recorded when tagged) before they were deleted.
    let entries = o.ledger.entries();
    let created = entries
        .iter()
        .filter(|e| e.kind == "volume" && e.event == rpack::ledger::LedgerEvent::Created)
        .count();
    assert_eq!(created, 2, "{entries:#?}");
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(
        left.is_empty(),
        "left behind: {left:#?}\nUI:\n{}",
        o.lines.join("\n")
    );
    let open = o.ledger.open_resources();
    assert!(open.is_empty(), "ledger still lists {open:#?}");
}

/// An amazon-ebsvolume template for the `rpack` binary on this stack, with `provisioners`.
fn cli_template(st: &crate::build::Stack, name: &str, provisioners: Value) -> std::path::PathBuf {
    let builder = json!({
        "type": "amazon-ebsvolume",
        "region": REGION,
        "custom_endpoint_ec2": st.proxy.endpoint(),
        "skip_region_validation": true,
        "source_ami": crate::ebs::AMI,
        "instance_type": "t3.micro",
        "ssh_username": st.sshd.user(),
        "ssh_host": st.sshd.host(),
        "ssh_port": st.sshd.port(),
        "ssh_timeout": "60s",
        "ebs_volumes": [
            {"device_name": "/dev/xvdf", "volume_size": 1, "tags": {"Role": "data"},
             "snapshot_volume": true},
            {"device_name": "/dev/xvdg", "volume_size": 1}
        ]
    });
    let tpl = json!({"builders": [builder], "provisioners": provisioners});
    let path = st.dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&tpl).unwrap()).unwrap();
    path
}

/// SIGKILL in `marker`'s phase, then `rpack cleanup --yes`: nothing of the build is left,
/// volumes included (from the ledger once recorded, else by their build-id tag).
fn kill_then_cleanup(marker: &str, hold_launch: bool) {
    use crate::build::{run_to_end, Running};
    let st = crate::build::stack();
    if hold_launch {
        st.proxy
            .set_transition_times(&[("RunInstances", Duration::from_secs(4))]);
    }
    let tpl = cli_template(
        &st,
        "killed",
        json!([{"type": "shell", "inline": ["echo rpack-it: provisioning", "sleep 60"]}]),
    );
    let mut run = Running::start(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    run.wait_for(marker);
    run.signal(libc::SIGKILL, true);
    let (code, _) = run.finish();
    assert_eq!(code, None, "killed by a signal");
    st.proxy.set_transition_time(Duration::from_secs(0));
    let before = st.leftovers(&[REGION]);
    assert!(
        before.iter().filter(|l| l.starts_with("volume ")).count() >= 2,
        "the kill left no volumes: {before:?}"
    );
    let (code, done) = run_to_end(st.rpack(&["cleanup", "--yes", "--region", REGION]));
    assert_eq!(code, Some(0), "{done}");
    let left = st.leftovers(&[REGION]);
    assert!(
        left.is_empty(),
        "after `rpack cleanup --yes` still {left:?}\n{done}"
    );
}

#[test]
fn sigkill_while_provisioning_then_cleanup_removes_the_volumes() {
    kill_then_cleanup("rpack-it: provisioning", false);
}

#[test]
fn sigkill_while_launching_then_cleanup_removes_the_volumes() {
    kill_then_cleanup("Waiting for instance", true);
}

/// `rpack build` prints the artifact as Packer does, and `rpack cleanup` afterwards leaves the
/// kept volumes and snapshot alone (ledger `kept`, `rpack:complete` tag).
#[test]
fn a_finished_build_keeps_its_volumes_from_rpack_cleanup() {
    use crate::build::run_to_end;
    let st = crate::build::stack();
    let tpl = cli_template(&st, "kept", json!([]));
    let (code, out) = run_to_end(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("--> amazon-ebsvolume: EBS Volumes were created:"),
        "{out}"
    );
    let kept = st.leftovers(&[REGION]);
    let volumes = kept.iter().filter(|l| l.starts_with("volume ")).count();
    let snapshots = kept.iter().filter(|l| l.starts_with("snapshot ")).count();
    assert_eq!((volumes, snapshots), (2, 1), "{kept:?}\n{out}");
    let (code, done) = run_to_end(st.rpack(&["cleanup", "--yes", "--region", REGION]));
    assert_eq!(code, Some(0), "{done}");
    assert_eq!(st.leftovers(&[REGION]), kept, "{done}");
}

/// A spot build (a fleet from a launch template) keeps its volumes the same way, and a kept
/// volume's snapshot is shared with `snapshot_users` and `snapshot_groups` (create-volume
/// permission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_build_keeps_its_volumes_and_shares_their_snapshots() {
    let st = stack();
    let cfg = config(
        &st,
        json!({
            "spot_price": "auto",
            "ebs_volumes": [
                {"device_name": "/dev/xvdf", "volume_size": 1, "tags": {"Role": "data"},
                 "snapshot_volume": true, "snapshot_users": ["123456789012"],
                 "snapshot_groups": ["all"]}
            ]
        }),
    );
    let o = build(&st, cfg, Arc::new(TrueHook)).await;
    let art = o.artifact();
    assert_eq!(st.proxy.count("CreateFleet"), 1);
    assert_eq!(st.proxy.count("RunInstances"), 0);
    assert_eq!(art.volumes[REGION].len(), 1);
    let snaps = art.snapshots[REGION].clone();
    assert_eq!(snaps.len(), 1, "{}", o.lines.join("\n"));
    // moto keeps create-volume permissions only from the UserIds/GroupNames form; rpack sends
    // the CreateVolumePermission.Add form (as the plugin does, which sends both): asserted on
    // the request.
    let shares: Vec<_> = st
        .proxy
        .requests_of("ModifySnapshotAttribute")
        .into_iter()
        .filter(|r| r.get("SnapshotId") == Some(&snaps[0]))
        .collect();
    assert_eq!(shares.len(), 1, "{shares:#?}");
    let values: Vec<(&str, &str)> = shares[0]
        .iter()
        .filter(|(k, _)| k.starts_with("CreateVolumePermission.Add."))
        .map(|(k, v)| (k.rsplit('.').next().unwrap(), v.as_str()))
        .collect();
    assert!(values.contains(&("UserId", "123456789012")), "{shares:#?}");
    assert!(values.contains(&("Group", "all")), "{shares:#?}");
    // The launch template went with the instance; the volume and its snapshot are all that is
    // left of the build.
    assert_eq!(st.proxy.count("DeleteLaunchTemplate"), 1);
    let left = leftovers(&st, &o.build_id, &[REGION]).await;
    assert_eq!(left.len(), 2, "{left:#?}");
    assert!(
        left.iter()
            .all(|l| l.contains(" volume ") || l.contains(" snapshot ")),
        "{left:#?}"
    );
}
