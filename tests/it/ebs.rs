//! amazon-ebs against the test stack (moto behind the counting/fault proxy, a real sshd as the
//! instance): full builds, source_ami_filter, force_deregister, every step failing and every
//! wait cancelled in turn — each must leave no `rpack:build-id`-tagged resource behind.

use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::{self, Artifact, Config, ProvisionHook, RunArgs, TrueHook};
use rpack::ledger::Ledger;
use rpack::plan::registry::{decode_builder, BuilderConfig};
use rpack::template::interp::Context;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::support::{ui, Ec2Stack, Ec2State, FaultKind, Proxy, Sshd};

pub(crate) const REGION: &str = "us-east-1";
/// In moto's catalogue in every region.
pub(crate) const AMI: &str = "ami-12c6146b";

/// The shared EC2 stack plus a state dir for the builds' ledgers.
pub(crate) struct Stack {
    ec2: Ec2Stack,
    state_dir: tempfile::TempDir,
}

impl std::ops::Deref for Stack {
    type Target = Ec2Stack;
    fn deref(&self) -> &Ec2Stack {
        &self.ec2
    }
}

pub(crate) fn stack() -> Stack {
    Stack {
        ec2: Ec2Stack::start(),
        state_dir: tempfile::tempdir().unwrap(),
    }
}

impl Stack {
    /// A second proxy in front of this stack's moto (own counts, faults and transitions) and a
    /// base template that goes through it, for cases a test runs side by side.
    pub(crate) fn own_proxy(&self) -> (Proxy, Value) {
        let proxy = Proxy::start(self.moto.endpoint());
        proxy.set_console(crate::support::Console::Keys(self.sshd.host_public_keys()));
        let mut base = self.base();
        base["custom_endpoint_ec2"] = json!(proxy.endpoint());
        (proxy, base)
    }

    pub(crate) fn base(&self) -> Value {
        json!({
            "type": "amazon-ebs",
            "region": REGION,
            "access_key": "AKIAEXAMPLE000000000",
            "secret_key": "not-checked-by-moto",
            "custom_endpoint_ec2": self.proxy.endpoint(),
            "source_ami": AMI,
            "instance_type": "t2.micro",
            "ssh_username": self.sshd.user(),
            "ssh_host": self.sshd.host(),
            "ssh_port": self.sshd.port(),
            "ssh_timeout": "30s",
            "ami_name": format!("rpack-test-{}", uuid::Uuid::new_v4()),
        })
    }
}

/// Merges `extra` into the base template and decodes it like `rpack build` does.
pub(crate) fn config(base: Value, extra: Value) -> Arc<Config> {
    config_named(base, extra, None)
}

/// As [`config`], for a template build with `name` (Packer's build name, `amazon-ebs` when `None`).
pub(crate) fn config_named(base: Value, extra: Value, name: Option<&str>) -> Arc<Config> {
    match decode("amazon-ebs", base, extra, name) {
        BuilderConfig::AmazonEbs(c) => Arc::new(*c),
        _ => unreachable!(),
    }
}

/// Merges `extra` into `base` (a null removes the key) and decodes the result as a builder of
/// type `kind`, as `rpack build` does, in a build named `name`; panics when it does not validate.
pub(crate) fn decode(kind: &str, base: Value, extra: Value, name: Option<&str>) -> BuilderConfig {
    let mut v = base;
    for (k, x) in extra.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    let text = serde_json::to_string(&v).unwrap();
    let node = rpack::template::json::parse(&text).unwrap();
    let obj = node.as_object().unwrap();
    let ctx = Context {
        amazon_funcs: true,
        build_name: name.map(str::to_string),
        ..Default::default()
    };
    match decode_builder(kind, &[obj], &ctx) {
        Ok(d) => d.value,
        Err(errs) => panic!("template does not validate: {errs:?}"),
    }
}

/// One builder run: its result (the artifact, if it made one), build id, ledger and UI lines.
pub(crate) struct Outcome<A = Artifact> {
    pub(crate) result: anyhow::Result<Option<A>>,
    pub(crate) build_id: String,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) lines: Vec<String>,
}

impl<A> Outcome<A> {
    /// The artifact of a build that must have succeeded with one; panics with the UI otherwise.
    pub(crate) fn artifact(&self) -> &A {
        match &self.result {
            Ok(Some(a)) => a,
            Ok(None) => panic!("the build made no artifact; UI:\n{}", self.lines.join("\n")),
            Err(e) => panic!("build failed: {e:#}\nUI:\n{}", self.lines.join("\n")),
        }
    }
}

pub(crate) async fn build_with(
    st: &Stack,
    cfg: Arc<Config>,
    hook: Arc<dyn ProvisionHook>,
    cancel_on: Option<(&str, Duration)>,
) -> Outcome {
    build_opts(st, cfg, hook, cancel_on, Default::default()).await
}

/// As [`build_with`], with runner options (`-debug`, `-on-error`).
pub(crate) async fn build_opts(
    st: &Stack,
    cfg: Arc<Config>,
    hook: Arc<dyn ProvisionHook>,
    cancel_on: Option<(&str, Duration)>,
    options: rpack::engine::RunnerOptions,
) -> Outcome {
    run_recorded(st, hook, cancel_on, options, |args| {
        amazon_ebs::run(cfg, args)
    })
    .await
}

/// Runs one builder (`run`, handed its arguments) with a fresh build id, a ledger in the stack's
/// state dir and a recording UI (one that cancels the build `cancel_on.1` after printing a line
/// with `cancel_on.0`, when given); a build still going after 240 s is a failed test.
pub(crate) async fn run_recorded<A, Fut>(
    st: &Stack,
    hook: Arc<dyn ProvisionHook>,
    cancel_on: Option<(&str, Duration)>,
    options: rpack::engine::RunnerOptions,
    run: impl FnOnce(RunArgs) -> Fut,
) -> Outcome<A>
where
    Fut: std::future::Future<Output = anyhow::Result<Option<A>>>,
{
    let build_id = uuid::Uuid::new_v4().to_string();
    let ledger = Arc::new(
        Ledger::open(
            &build_id,
            &st.state_dir.path().join(format!("{build_id}.jsonl")),
        )
        .unwrap(),
    );
    let cancel = CancellationToken::new();
    let ui = Arc::new(match cancel_on {
        Some((pattern, after)) => ui::cancelling_on(pattern, cancel.clone(), after),
        None => ui::recording(),
    });
    let args = RunArgs {
        ui: ui.clone(),
        hook,
        cancel,
        hard_cancel: CancellationToken::new(),
        options,
        build_id: Some(build_id.clone()),
        ledger: Some(ledger.clone()),
    };
    let result = tokio::time::timeout(Duration::from_secs(240), run(args))
        .await
        .expect("build hung");
    let lines = ui.lines();
    Outcome {
        result,
        build_id,
        ledger,
        lines,
    }
}

pub(crate) async fn build(st: &Stack, cfg: Arc<Config>) -> Outcome {
    build_with(st, cfg, Arc::new(TrueHook), None).await
}

/// Every resource tagged with the build id that still exists, in `regions`.
pub(crate) async fn leftovers(st: &Stack, build_id: &str, regions: &[&str]) -> Vec<String> {
    let mut left = Vec::new();
    for r in regions {
        let s = Ec2State::new(st.moto.endpoint(), r).for_build(build_id);
        let inv = s.inventory().await.unwrap();
        left.extend(
            inv.live_instances()
                .iter()
                .map(|i| format!("{r} instance {} ({})", i.id, i.state)),
        );
        left.extend(
            inv.key_pairs
                .iter()
                .map(|k| format!("{r} key pair {}", k.name)),
        );
        left.extend(
            inv.security_groups
                .iter()
                .map(|g| format!("{r} security group {}", g.id)),
        );
        left.extend(inv.images.iter().map(|i| format!("{r} image {}", i.id)));
        left.extend(
            inv.snapshots
                .iter()
                .map(|i| format!("{r} snapshot {}", i.id)),
        );
        left.extend(
            inv.volumes
                .iter()
                .map(|v| format!("{r} volume {} ({})", v.id, v.state)),
        );
        // Spot builds' launch templates (not part of the stack's inventory).
        let lts = Ec2State::new(st.moto.endpoint(), r)
            .client()
            .describe_launch_templates()
            .send()
            .await
            .unwrap();
        left.extend(
            lts.launch_templates()
                .iter()
                .filter(|t| {
                    t.tags()
                        .iter()
                        .any(|t| t.key() == Some("rpack:build-id") && t.value() == Some(build_id))
                })
                .map(|t| {
                    format!(
                        "{r} launch template {}",
                        t.launch_template_id().unwrap_or_default()
                    )
                }),
        );
    }
    left
}

/// The build left nothing behind: not in moto (by tag) and not in its ledger.
pub(crate) async fn assert_clean<A>(st: &Stack, o: &Outcome<A>, regions: &[&str]) {
    let left = leftovers(st, &o.build_id, regions).await;
    assert!(
        left.is_empty(),
        "left behind: {left:#?}\nUI:\n{}",
        o.lines.join("\n")
    );
    if o.result.is_err() {
        // A successful build's AMIs stay open in the ledger: they are the artifact.
        let open = o.ledger.open_resources();
        assert!(open.is_empty(), "ledger still lists {open:#?}");
    }
}

pub(crate) fn err_text<A>(o: &Outcome<A>) -> String {
    match &o.result {
        Ok(_) => panic!(
            "build succeeded but should have failed; UI:\n{}",
            o.lines.join("\n")
        ),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_build_with_copies_tags_permissions_and_encryption() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({
            "ami_regions": ["us-west-2", "eu-west-1", "us-east-1"],
            "ami_description": "built in {{ .BuildRegion }} from {{ .SourceAMI }}",
            "tags": {"Project": "rpack", "Region": "{{ .BuildRegion }}", "Base": "{{ .SourceAMI }}"},
            "snapshot_tags": {"Kind": "root"},
            "run_tags": {"Role": "builder"},
            "ami_users": ["111122223333"],
            "ami_groups": ["all"],
            "snapshot_users": ["111122223333"],
            "encrypt_boot": true,
            "kms_key_id": "alias/rpack-build",
            "region_kms_key_ids": {"us-east-1": "alias/rpack-build", "us-west-2": "alias/rpack-west", "eu-west-1": "alias/rpack-eu"},
        }),
    );
    let o = build(&st, cfg.clone()).await;
    let art = o.artifact();
    assert_eq!(
        art.amis.keys().collect::<Vec<_>>(),
        ["eu-west-1", "us-east-1", "us-west-2"]
    );
    assert!(art
        .string()
        .starts_with("AMIs were created:\neu-west-1: ami-"));
    for (region, ami) in &art.amis {
        let s = Ec2State::new(st.moto.endpoint(), region);
        let imgs = s.images().await.unwrap();
        let img = imgs
            .iter()
            .find(|i| &i.id == ami)
            .unwrap_or_else(|| panic!("{ami} missing in {region}"));
        assert_eq!(img.name.as_deref(), Some(cfg.ami.ami_name.as_str()));
        assert_eq!(img.tags.get("Project").map(String::as_str), Some("rpack"));
        // .BuildRegion is the build region in every region, like Packer.
        assert_eq!(
            img.tags.get("Region").map(String::as_str),
            Some(REGION),
            "{region}"
        );
        assert_eq!(img.tags.get("Base").map(String::as_str), Some(AMI));
        assert_eq!(img.tags.get("rpack:build-id"), Some(&o.build_id));
        assert!(
            !img.snapshot_ids.is_empty(),
            "{region}: AMI without snapshots"
        );
        for snap in &img.snapshot_ids {
            let t = s.tags(snap).await.unwrap();
            assert_eq!(
                t.get("Kind").map(String::as_str),
                Some("root"),
                "{region} {snap}"
            );
            assert_eq!(
                t.get("Project").map(String::as_str),
                Some("rpack"),
                "{region} {snap}"
            );
        }
        let perms = s
            .client()
            .describe_image_attribute()
            .image_id(ami)
            .attribute("launchPermission".into())
            .send()
            .await
            .unwrap();
        let users: Vec<_> = perms
            .launch_permissions()
            .iter()
            .filter_map(|p| p.user_id())
            .collect();
        assert_eq!(users, ["111122223333"], "{region}");
    }
    // Only the final AMIs remain; the unencrypted intermediary and every temporary resource are gone.
    let ours: Vec<String> = leftovers(&st, &o.build_id, &["us-east-1", "us-west-2", "eu-west-1"])
        .await
        .into_iter()
        .filter(|l| !l.contains(" image ") && !l.contains(" snapshot "))
        .collect();
    assert!(ours.is_empty(), "{ours:#?}");
    let east = Ec2State::new(st.moto.endpoint(), REGION)
        .inventory()
        .await
        .unwrap();
    assert_eq!(
        east.images
            .iter()
            .filter(|i| i.tags.get("rpack:build-id") == Some(&o.build_id))
            .count(),
        1
    );
    // Cleanup of the artifact (Packer's Destroy) removes the rest.
    art.destroy().await.unwrap();
    let left = leftovers(&st, &o.build_id, &["us-east-1", "us-west-2", "eu-west-1"]).await;
    assert!(left.iter().all(|l| !l.contains(" image ")), "{left:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ami_filter_picks_the_most_recent_and_ed25519_key_logs_in() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({
            "source_ami": null,
            "source_ami_filter": {
                "filters": {"name": "amzn2-ami-hvm-*-x86_64-gp2", "virtualization-type": "hvm"},
                "owners": ["137112412989"],
                "most_recent": true
            },
            "tags": {"Base": "{{ .SourceAMIName }}"}
        }),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let found = o
        .lines
        .iter()
        .find(|l| l.contains("Found Image ID: "))
        .expect("no Found Image ID line");
    let src = found.rsplit(' ').next().unwrap();
    let all = Ec2State::new(st.moto.endpoint(), REGION)
        .client()
        .describe_images()
        .owners("137112412989")
        .send()
        .await
        .unwrap();
    let newest = all
        .images()
        .iter()
        .filter(|i| {
            i.name()
                .is_some_and(|n| n.starts_with("amzn2-ami-hvm-") && n.ends_with("-x86_64-gp2"))
        })
        .max_by_key(|i| i.creation_date().unwrap_or("").to_string())
        .unwrap();
    assert_eq!(src, newest.image_id().unwrap());
    assert!(o.lines.iter().any(|l| l.contains("Connected to SSH!")));
    o.artifact().destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_filter_without_most_recent_fails_with_packers_message() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"source_ami": null, "source_ami_filter": {"filters": {"name": "amzn2-ami-hvm-*"}, "owners": ["137112412989"]}}),
    );
    let o = build(&st, cfg).await;
    assert!(err_text(&o).contains("Your query returned more than one result. Please try a more specific search, or set most_recent to true."));
    assert_clean(&st, &o, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_name_fails_prevalidation_and_force_deregister_replaces_it() {
    let st = stack();
    let base = st.base();
    let first = build(&st, config(base.clone(), json!({}))).await;
    let old = first
        .result
        .as_ref()
        .expect("first build")
        .as_ref()
        .unwrap()
        .amis[REGION]
        .clone();

    let again = build(&st, config(base.clone(), json!({}))).await;
    let e = err_text(&again);
    assert!(
        e.contains(&format!("is used by an existing AMI: {old}")),
        "{e}"
    );
    assert_clean(&st, &again, &[REGION]).await;

    let forced = build(
        &st,
        config(
            base,
            json!({"force_deregister": true, "force_delete_snapshot": true}),
        ),
    )
    .await;
    let new = forced
        .result
        .as_ref()
        .expect("forced build")
        .as_ref()
        .unwrap()
        .amis[REGION]
        .clone();
    assert_ne!(new, old);
    assert!(forced
        .lines
        .iter()
        .any(|l| l.contains(&format!("Deregistered AMI id: {old}"))));
    let imgs = Ec2State::new(st.moto.endpoint(), REGION)
        .images()
        .await
        .unwrap();
    assert!(imgs.iter().all(|i| i.id != old), "old AMI still registered");
}

/// The `null` builder runtime: connects to an existing host and runs the hook; a wrong key
/// fails with an authentication error naming the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_builder_connects_and_provisions() {
    let (key, public) = crate::support::ssh_keygen(crate::support::KeyKind::Ed25519);
    let sshd = Sshd::start_static(&public);
    let decode = |key: &std::path::Path| {
        let text = json!({"type": "null", "ssh_host": sshd.host(), "ssh_port": sshd.port(), "ssh_username": sshd.user(),
                          "ssh_private_key_file": key, "ssh_timeout": "5s", "ssh_handshake_attempts": 1})
        .to_string();
        let node = rpack::template::json::parse(&text).unwrap();
        match decode_builder("null", &[node.as_object().unwrap()], &Context::default())
            .unwrap()
            .value
        {
            BuilderConfig::Null(c) => Arc::new(*c),
            _ => unreachable!(),
        }
    };
    let ui = Arc::new(ui::recording());
    let run = |cfg| {
        rpack::builders::null::run(
            cfg,
            Arc::new(TrueHook),
            ui.clone(),
            CancellationToken::new(),
            CancellationToken::new(),
            Default::default(),
        )
    };
    run(decode(&key)).await.unwrap();
    assert!(ui.lines().iter().any(|l| l.contains("Connected to SSH!")));

    let (other, _) = crate::support::ssh_keygen(crate::support::KeyKind::Ed25519);
    let err = run(decode(&other)).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("SSH authentication as user"),
        "{err:#}"
    );
}

/// `spot_price` launches through a launch template and an instant fleet (see `ebs_more` for
/// several instance types); the stop step is skipped like Packer does for spot instances, and
/// everything is removed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_build_succeeds_and_cleans_up() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"spot_price": "auto", "spot_tags": {"Kind": "spot"}}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert_eq!(st.proxy.count("StopInstances"), 0);
    o.artifact().destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION]).await;
}

/// A temporary instance profile from `temporary_iam_instance_profile_policy_document` (IAM is
/// pointed at the same moto with aws-config's own `AWS_ENDPOINT_URL_IAM`); it is gone after a
/// successful build and after one that fails once the profile exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_instance_profile_is_created_and_removed() {
    let st = stack();
    // Only IAM clients read this variable; no other test uses IAM.
    std::env::set_var("AWS_ENDPOINT_URL_IAM", st.proxy.endpoint());
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]});
    let iam = {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .endpoint_url(st.moto.endpoint())
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "AKIAEXAMPLE000000000",
                "x",
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    };
    let leftovers = || async {
        let profiles = iam.list_instance_profiles().send().await.unwrap();
        let roles = iam.list_roles().send().await.unwrap();
        let mut v: Vec<String> = profiles
            .instance_profiles()
            .iter()
            .map(|p| p.instance_profile_name().to_string())
            .collect();
        v.extend(roles.roles().iter().map(|r| r.role_name().to_string()));
        v.retain(|n| n.starts_with("packer-"));
        v
    };

    let o = build(
        &st,
        config(
            st.base(),
            json!({"temporary_iam_instance_profile_policy_document": doc}),
        ),
    )
    .await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert!(
        st.proxy.count("CreateInstanceProfile") == 1
            && st.proxy.count("DeleteInstanceProfile") == 1,
        "{:?}",
        st.proxy.counts()
    );
    assert!(leftovers().await.is_empty(), "{:?}", leftovers().await);
    o.artifact().destroy().await.unwrap();

    st.proxy
        .inject_fault(FaultKind::ServerError, 1.0, &["AddRoleToInstanceProfile"]);
    let o = build(
        &st,
        config(
            st.base(),
            json!({"max_retries": 0, "temporary_iam_instance_profile_policy_document": doc}),
        ),
    )
    .await;
    st.proxy.clear_fault();
    assert!(
        err_text(&o).contains("adding role packer-"),
        "{}",
        err_text(&o)
    );
    assert!(leftovers().await.is_empty(), "{:?}", leftovers().await);
    assert_clean(&st, &o, &[REGION]).await;
}
