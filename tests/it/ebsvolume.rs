//! amazon-ebsvolume (issue #17) on the test stack: the kept volumes carry their tags and are
//! the artifact, `snapshot_volume` snapshots them, a failing provisioner leaves nothing, a
//! killed build is finished by `rpack cleanup`, and `validate` agrees with Packer 1.6.6.

use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::{ProvisionHook, RunArgs, TrueHook};
use rpack::builders::amazon_ebsvolume::{self, Artifact, VolumeConfig};
use rpack::ledger::{Ledger, ResourceKind};
use rpack::plan::registry::{decode_builder, BuilderConfig};
use rpack::template::interp::Context;
use rpack::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::ebs::{leftovers, stack, Stack, REGION};
use crate::support::{ui, Ec2State};

/// The stack's amazon-ebs base turned into an amazon-ebsvolume one (no `ami_name`).
fn base(st: &Stack) -> Value {
    let mut b = st.base();
    let o = b.as_object_mut().unwrap();
    o.remove("ami_name");
    o.insert("type".into(), json!("amazon-ebsvolume"));
    b
}

fn config(st: &Stack, extra: Value) -> Arc<VolumeConfig> {
    let mut v = base(st);
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    let text = serde_json::to_string(&v).unwrap();
    let node = rpack::template::json::parse(&text).unwrap();
    let ctx = Context {
        amazon_funcs: true,
        ..Default::default()
    };
    match decode_builder("amazon-ebsvolume", &[node.as_object().unwrap()], &ctx) {
        Ok(d) => match d.value {
            BuilderConfig::AmazonEbsVolume(c) => Arc::new(*c),
            _ => unreachable!(),
        },
        Err(errs) => panic!("template does not validate: {errs:?}"),
    }
}

struct Outcome {
    result: anyhow::Result<Artifact>,
    build_id: String,
    ledger: Arc<Ledger>,
    lines: Vec<String>,
}

impl Outcome {
    fn artifact(&self) -> &Artifact {
        match &self.result {
            Ok(a) => a,
            Err(e) => panic!("build failed: {e:#}\nUI:\n{}", self.lines.join("\n")),
        }
    }
}

async fn build(cfg: Arc<VolumeConfig>, hook: Arc<dyn ProvisionHook>) -> Outcome {
    let build_id = uuid::Uuid::new_v4().to_string();
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        Arc::new(Ledger::open(&build_id, &dir.path().join(format!("{build_id}.jsonl"))).unwrap());
    let ui = Arc::new(ui::recording());
    let args = RunArgs {
        ui: ui.clone(),
        hook,
        cancel: CancellationToken::new(),
        hard_cancel: CancellationToken::new(),
        options: Default::default(),
        build_id: Some(build_id.clone()),
        ledger: Some(ledger.clone()),
    };
    let result = tokio::time::timeout(Duration::from_secs(240), amazon_ebsvolume::run(cfg, args))
        .await
        .expect("build hung");
    Outcome {
        result,
        build_id,
        ledger,
        lines: ui.lines(),
    }
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
    let o = build(cfg, Arc::new(TrueHook)).await;
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
    let o = build(cfg, Arc::new(TrueHook)).await;
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
    let o = build(cfg, Arc::new(FailingHook)).await;
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

/// `rpack validate` and Packer 1.6.6's `packer validate` agree on amazon-ebsvolume templates:
/// the exit code and every error Packer lists.
#[test]
fn validate_agrees_with_packer_1_6_6() {
    let packer = crate::fidelity::packer();
    let dir = tempfile::tempdir().unwrap();
    let b = r#""type":"amazon-ebsvolume","region":"us-east-1","source_ami":"ami-1","instance_type":"t2.micro","ssh_username":"u","skip_credential_validation":true"#;
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "good",
            format!(
                r#"{{"builders":[{{{b},"run_volume_tags":{{"a":"b"}},"ebs_volumes":[{{"device_name":"/dev/xvdf","volume_size":1,"tags":{{"a":"{{{{ .BuildRegion }}}}"}}}}]}}]}}"#
            ),
            vec![],
        ),
        ("no-volumes", format!(r#"{{"builders":[{{{b}}}]}}"#), vec![]),
        (
            "unknown-and-ami-keys",
            format!(r#"{{"builders":[{{{b},"ami_name":"x","bogus":1}}]}}"#),
            vec![
                r#"unknown configuration key: '"ami_name"'"#,
                r#"unknown configuration key: '"bogus"'"#,
            ],
        ),
        (
            "ami-side-keys",
            format!(
                r#"{{"builders":[{{{b},"tags":{{"a":"b"}},"launch_block_device_mappings":[]}}]}}"#
            ),
            vec![
                r#"unknown configuration key: '"launch_block_device_mappings"'"#,
                r#"unknown configuration key: '"tags"'"#,
            ],
        ),
        (
            "deprecated-keys",
            format!(
                r#"{{"builders":[{{{b},"enhanced_networking":true,"shutdown_behaviour":"stop","ssh_wait_timeout":"5m"}}]}}"#
            ),
            vec![
                "Deprecated configuration key: 'enhanced_networking'.",
                "Deprecated configuration key: 'shutdown_behaviour'.",
            ],
        ),
        (
            "volume-checks",
            format!(
                r#"{{"builders":[{{{b},"ebs_volumes":[{{"volume_size":1}},{{"device_name":"/dev/xvdg","volume_type":"gp2","throughput":200}}]}}]}}"#
            ),
            vec![
                "AMIMapping: The `device_name` must be specified for every device in the block device mapping.",
                "AMIMapping: Throughput is not available for device /dev/xvdg",
            ],
        ),
        (
            "spot-and-kms",
            format!(
                r#"{{"builders":[{{{b},"spot_price":"auto","ena_support":true,"ebs_volumes":[{{"device_name":"/dev/xvdf","kms_key_id":"k","encrypted":false}}]}}]}}"#
            ),
            vec![
                "AMIMapping: The device /dev/xvdf, must also have `encrypted: true` when setting a kms_key_id.",
                "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set.",
            ],
        ),
        (
            "run-keys",
            r#"{"builders":[{"type":"amazon-ebsvolume","ebs_volumes":[{"device_name":"/dev/xvdf","volume_type":"io1","volume_size":1,"iops":5000}]}]}"#.to_string(),
            vec![
                "A source_ami or source_ami_filter must be specified",
                "either instance_type or spot_instance_types must be specified",
                "AMIMapping: /dev/xvdf: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is 50:1 for io1 volumes",
            ],
        ),
        (
            "hcl2.pkr.hcl",
            r#"source "amazon-ebsvolume" "x" {
  region        = "us-east-1"
  source_ami    = "ami-1"
  instance_type = "t2.micro"
  ssh_username  = "u"
  ebs_volumes {
    device_name = "/dev/xvdf"
    volume_size = 1
    tags        = { a = "b" }
  }
  ebs_volumes {
    volume_size = 1
    tag {
      key   = "k"
      value = "v"
    }
  }
}
build { sources = ["source.amazon-ebsvolume.x"] }
"#
            .to_string(),
            vec!["AMIMapping: The `device_name` must be specified for every device in the block device mapping."],
        ),
    ];
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, text, errors) in cases {
        let file = if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.json")
        };
        std::fs::write(dir.path().join(&file), &text).unwrap();
        let theirs = crate::fidelity::run(&packer, dir.path(), &["validate", &file], &[]);
        let ours = crate::fidelity::run(
            std::path::Path::new(env!("CARGO_BIN_EXE_rpack")),
            dir.path(),
            &["validate", &file],
            &[],
        );
        let want = i32::from(!errors.is_empty());
        assert_eq!(theirs.code, want, "{name}: packer: {}", theirs.text);
        assert_eq!(
            ours.code, want,
            "{name}: rpack:\n{}\npacker:\n{}",
            ours.text, theirs.text
        );
        for e in errors {
            assert!(
                flat(&theirs.text).contains(e),
                "{name}: packer: {}",
                theirs.text
            );
            assert!(
                flat(&ours.text).contains(e),
                "{name}: rpack does not say {e:?}:\n{}",
                ours.text
            );
        }
    }
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
