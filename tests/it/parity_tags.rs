//! Issue #17, item 2 on the test stack: `run_tags` are on every resource the current amazon
//! plugin tags with them — temporary key pair, security group, IAM role and instance profile,
//! the instance's network interfaces, the AMI and its snapshots (unless `skip_ami_run_tags`) —
//! and they are given in the create calls themselves (TagSpecifications / IAM `Tags`), never
//! added afterwards, always with the `rpack:build-id` tag. Asserted on the requests the proxy
//! recorded and on the tags moto reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rpack::builders::amazon_ebs::ProvisionHook;
use rpack::communicator::Communicator;
use rpack::shell_local::GeneratedData;
use rpack::ui::Ui;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ebs::{assert_clean, build_with, config, err_text, stack, REGION};
use crate::support::ec2_state::Tags;
use crate::support::proxy::FaultKind;
use crate::support::Ec2State;

/// The tags of the TagSpecification for `resource_type` in one recorded EC2 request.
fn spec_tags(req: &BTreeMap<String, String>, resource_type: &str) -> Option<Tags> {
    let n = (1..=20).find(|n| {
        req.get(&format!("TagSpecification.{n}.ResourceType"))
            .is_some_and(|t| t == resource_type)
    })?;
    Some(member_tags(req, &format!("TagSpecification.{n}.Tag")))
}

/// `<prefix>.N.Key` / `<prefix>.N.Value` pairs of one request.
fn member_tags(req: &BTreeMap<String, String>, prefix: &str) -> Tags {
    (1..)
        .map_while(|i| {
            let k = req.get(&format!("{prefix}.{i}.Key"))?;
            Some((
                k.clone(),
                req.get(&format!("{prefix}.{i}.Value"))
                    .cloned()
                    .unwrap_or_default(),
            ))
        })
        .collect()
}

/// Reads the key pairs' and security groups' tags from moto while the instance is up (both
/// are deleted before the build ends), then runs `true` like the default hook.
struct Probe {
    endpoint: String,
    seen: Mutex<Vec<(String, Tags)>>,
}

#[async_trait::async_trait]
impl ProvisionHook for Probe {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        data: &GeneratedData,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let st = Ec2State::new(&self.endpoint, REGION);
        let mut seen = Vec::new();
        for k in st.key_pairs().await? {
            seen.push((format!("key pair {}", k.name), k.tags));
        }
        for g in st.security_groups().await? {
            if g.name != "default" {
                seen.push((format!("security group {}", g.id), g.tags));
            }
        }
        *self.seen.lock().unwrap() = seen;
        rpack::builders::TrueHook
            .provision(comm, data, ui, cancel)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_tags_are_given_in_every_create_call() {
    let st = stack();
    let probe = Arc::new(Probe {
        endpoint: st.moto.endpoint().to_string(),
        seen: Mutex::new(Vec::new()),
    });
    let cfg = config(
        st.base(),
        json!({"run_tags": {"Team": "platform", "Region": "{{ .BuildRegion }}"}}),
    );
    let o = build_with(&st, cfg, probe.clone(), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    let id = o.build_id.as_str();
    let has_run_tags = |tags: &Tags, what: &str| {
        assert_eq!(
            tags.get("Team").map(String::as_str),
            Some("platform"),
            "{what}: {tags:?}"
        );
        assert_eq!(
            tags.get("Region").map(String::as_str),
            Some(REGION),
            "{what}: {tags:?}"
        );
        assert_eq!(
            tags.get("rpack:build-id").map(String::as_str),
            Some(id),
            "{what}: {tags:?}"
        );
    };

    // The requests: each create call carries the tags itself.
    let one = |action: &str| {
        let reqs = st.proxy.requests_of(action);
        assert_eq!(reqs.len(), 1, "{action}: {reqs:#?}");
        reqs.into_iter().next().unwrap()
    };
    for (action, rt) in [
        ("ImportKeyPair", "key-pair"),
        ("CreateSecurityGroup", "security-group"),
        ("RunInstances", "instance"),
        ("RunInstances", "network-interface"),
        ("CreateImage", "image"),
        ("CreateImage", "snapshot"),
    ] {
        let req = one(action);
        let tags =
            spec_tags(&req, rt).unwrap_or_else(|| panic!("{action} has no {rt} tags: {req:#?}"));
        has_run_tags(&tags, &format!("{action} {rt}"));
    }
    // The resource's own name stays its Name (the instance keeps Packer's "Packer Builder").
    let kp = spec_tags(&one("ImportKeyPair"), "key-pair").unwrap();
    assert_eq!(
        kp.get("Name").map(String::as_str),
        Some(format!("packer_{id}").as_str())
    );
    // Nothing adds run_tags afterwards: the only CreateTags are StepCreateTags' (`tags` and
    // the build id on the AMI and its snapshots).
    for req in st.proxy.requests_of("CreateTags") {
        let tags = member_tags(&req, "Tag");
        assert!(
            !tags.contains_key("Team"),
            "run_tags added afterwards: {req:#?}"
        );
    }

    // What moto reports: the key pair and the group (while they existed), the AMI, the snapshots.
    let seen = probe.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    for (what, tags) in &seen {
        has_run_tags(tags, what);
    }
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION);
    let ami = &art.amis[REGION];
    has_run_tags(&ec2.tags(ami).await.unwrap(), "AMI");
    let snaps = &art.snapshots[REGION];
    assert!(!snaps.is_empty());
    for s in snaps {
        has_run_tags(&ec2.tags(s).await.unwrap(), "snapshot");
    }
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// `skip_ami_run_tags`: CreateImage asks for no run_tags and no snapshot tags; the temporary
/// resources still get them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_ami_run_tags_keeps_them_off_the_ami_only() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"run_tags": {"Team": "platform"}, "skip_ami_run_tags": true}),
    );
    let o = build_with(&st, cfg, Arc::new(rpack::builders::TrueHook), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    let create = &st.proxy.requests_of("CreateImage")[0];
    let image = spec_tags(create, "image").expect("image tags");
    assert!(!image.contains_key("Team"), "{create:#?}");
    assert_eq!(image.get("rpack:build-id"), Some(&o.build_id));
    assert!(spec_tags(create, "snapshot").is_none(), "{create:#?}");
    let kp = spec_tags(&st.proxy.requests_of("ImportKeyPair")[0], "key-pair").unwrap();
    assert_eq!(kp.get("Team").map(String::as_str), Some("platform"));
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains("Skipping attaching run tags to AMI...")));
    // The snapshots still get the build id (StepCreateTags).
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION);
    for s in &art.snapshots[REGION] {
        let tags = ec2.tags(s).await.unwrap();
        assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id), "{tags:?}");
        assert!(!tags.contains_key("Team"), "{tags:?}");
    }
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// An EC2 stand-in that fails CreateImage with snapshot TagSpecifications (moto answers a bare
/// HTTP 500): rpack says so, creates the AMI without them and tags the snapshots with the run
/// tags once the AMI is ready; the build succeeds with the tags where they belong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_without_snapshot_tags_in_create_image_gets_them_afterwards() {
    let st = stack();
    let (proxy, base) = st.own_proxy();
    proxy.set_raw_snapshot_tags(true);
    let cfg = config(base, json!({"run_tags": {"Team": "platform"}}));
    let o = build_with(&st, cfg, Arc::new(rpack::builders::TrueHook), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    // Exactly two calls: the one with snapshot tags is sent once (no retries with backoff, which
    // took half a minute on this endpoint), then the fallback.
    let creates = proxy.requests_of("CreateImage");
    assert_eq!(creates.len(), 2, "{creates:#?}");
    assert!(spec_tags(&creates[0], "snapshot").is_some(), "{creates:#?}");
    let last = creates.last().unwrap();
    assert!(spec_tags(last, "snapshot").is_none(), "{last:#?}");
    assert_eq!(
        spec_tags(last, "image").and_then(|t| t.get("Team").cloned()),
        Some("platform".to_string())
    );
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("tagging its snapshots once it is ready")),
        "{:#?}",
        o.lines
    );
    let art = o.artifact();
    let ec2 = Ec2State::new(st.moto.endpoint(), REGION);
    assert!(!art.snapshots[REGION].is_empty());
    for s in &art.snapshots[REGION] {
        let tags = ec2.tags(s).await.unwrap();
        assert_eq!(
            tags.get("Team").map(String::as_str),
            Some("platform"),
            "{tags:?}"
        );
        assert_eq!(tags.get("rpack:build-id"), Some(&o.build_id), "{tags:?}");
    }
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// The temporary IAM role and instance profile carry run_tags and the build id in CreateRole /
/// CreateInstanceProfile. Run through the binary: IAM's endpoint comes from the process
/// environment (`AWS_ENDPOINT_URL_IAM`), which another test sets for its own stack in this one.
#[test]
fn temporary_iam_role_and_profile_are_created_with_run_tags() {
    let st = crate::build::stack();
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]});
    let tpl = st.template(
        "iam-tags",
        json!({"temporary_iam_instance_profile_policy_document": doc,
               "run_tags": {"Team": "platform"}, "skip_create_ami": true}),
        json!([]),
    );
    let mut cmd = st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]);
    cmd.env("AWS_ENDPOINT_URL_IAM", st.proxy.endpoint());
    let (code, out) = crate::build::run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}");
    for action in ["CreateRole", "CreateInstanceProfile"] {
        let reqs = st.proxy.requests_of(action);
        assert_eq!(reqs.len(), 1, "{action}: {reqs:#?}");
        let tags = member_tags(&reqs[0], "Tags.member");
        assert_eq!(
            tags.get("Team").map(String::as_str),
            Some("platform"),
            "{action}: {tags:?}"
        );
        assert!(tags.contains_key("rpack:build-id"), "{action}: {tags:?}");
        assert!(
            tags.get("Name").is_some_and(|n| n.starts_with("packer-")),
            "{action}: {tags:?}"
        );
    }
    assert_eq!(st.proxy.count("DeleteInstanceProfile"), 1, "{out}");
    assert_eq!(st.leftovers(&[crate::build::REGION]), Vec::<String>::new());
}

/// A transient failure of the first CreateImage (throttling) is not mistaken for an endpoint
/// that cannot take snapshot tags: the call is retried with them, and no fallback happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_create_image_is_retried_with_its_snapshot_tags() {
    let st = stack();
    let (proxy, base) = st.own_proxy();
    proxy.inject_fault_limited(FaultKind::Throttle, 1.0, &["CreateImage"], Some(1));
    let cfg = config(base, json!({"run_tags": {"Team": "platform"}}));
    let o = build_with(&st, cfg, Arc::new(rpack::builders::TrueHook), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let creates = proxy.requests_of("CreateImage");
    assert!(
        creates.len() >= 2,
        "the throttled call and its retry: {creates:#?}"
    );
    for c in &creates {
        assert!(spec_tags(c, "snapshot").is_some(), "{c:#?}");
    }
    assert!(
        !o.lines
            .iter()
            .any(|l| l.contains("tagging its snapshots once")),
        "{:#?}",
        o.lines
    );
    let art = o.artifact();
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}
