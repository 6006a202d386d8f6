//! More amazon-ebs behaviour on the test stack: the temporary security group opened only to this
//! host's public IP, spot instances through a launch template and an instant fleet with several
//! instance types, AMI attributes moto accepts but does not keep (`imds_support`, `deprecate_at`:
//! asserted on the requests the proxy saw), `skip_save_build_region`, VPC/subnet/security-group
//! filters, IMDSv2 on the build instance, `skip_create_ami`, and `-debug`'s saved key. Every
//! build must leave no `rpack:build-id` resource behind.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::types::{Instance, InstanceLifecycleType, SecurityGroup};
use rpack::builders::amazon_ebs::{ProvisionHook, TrueHook};
use rpack::communicator::Communicator;
use rpack::engine::{DebugHook, RunnerOptions};
use rpack::ledger::LedgerEvent;
use rpack::shell_local::GeneratedData;
use rpack::ui::Ui;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::ebs::{
    assert_clean, build, build_opts, build_with, config, config_named, err_text, leftovers, stack,
    Stack, REGION,
};
use crate::support::{Ec2State, FaultKind};

/// A checkip-style service on 127.0.0.1: answers every GET with the current body as text.
struct CheckIp {
    url: String,
    answer: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

impl CheckIp {
    fn start(answer: &str) -> CheckIp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(answer.to_string()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                h.fetch_add(1, Ordering::SeqCst);
                let text = b.lock().unwrap().clone();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        CheckIp {
            url,
            answer: body,
            hits,
        }
    }
    fn set_answer(&self, a: &str) {
        *self.answer.lock().unwrap() = a.to_string();
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// What the instance looked like in moto while it was being provisioned.
#[derive(Default, Clone)]
struct Seen {
    instance: Option<Instance>,
    groups: Vec<SecurityGroup>,
    /// `-debug`'s key file: its contents and permission bits, when asked to look for one.
    debug_key: Option<(String, u32)>,
}

/// A provisioning hook that logs in (like `TrueHook`) and then records the instance, its
/// security groups and, optionally, a file's contents.
pub(crate) struct Inspect {
    endpoint: String,
    debug_key: Option<PathBuf>,
    seen: Mutex<Seen>,
}

impl Inspect {
    pub(crate) fn new(st: &Stack) -> Arc<Inspect> {
        Arc::new(Inspect {
            endpoint: st.moto.endpoint().to_string(),
            debug_key: None,
            seen: Mutex::new(Seen::default()),
        })
    }
    fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
    pub(crate) fn instance(&self) -> Instance {
        self.seen().instance.expect("the hook never ran")
    }
}

#[async_trait::async_trait]
impl ProvisionHook for Inspect {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        data: &GeneratedData,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        TrueHook.provision(comm, data, ui, cancel).await?;
        let c = Ec2State::new(&self.endpoint, REGION).client().clone();
        let id = data.id.clone().unwrap_or_default();
        let out = c.describe_instances().instance_ids(&id).send().await?;
        let inst = out
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .next()
            .cloned();
        let gids: Vec<String> = inst
            .iter()
            .flat_map(aws_sdk_ec2::types::Instance::security_groups)
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        let groups = c
            .describe_security_groups()
            .set_group_ids(Some(gids))
            .send()
            .await?
            .security_groups()
            .to_vec();
        let debug_key = self.debug_key.as_ref().and_then(|p| {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
            Some((std::fs::read_to_string(p).ok()?, mode))
        });
        *self.seen.lock().unwrap() = Seen {
            instance: inst,
            groups,
            debug_key,
        };
        Ok(())
    }
}

/// `temporary_security_group_source_public_ip`: the group admits the SSH port only from the
/// address the checkip service reports; a non-address answer stops the build before anything
/// exists; given CIDRs win over the flag, with the Packer plugin's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_ip_source_admits_only_this_hosts_address() {
    let st = stack();
    let checkip = CheckIp::start("203.0.113.7\n");
    // Only builds with temporary_security_group_source_public_ip read it, and only this test
    // sets that.
    std::env::set_var("RPACK_CHECKIP_URL", &checkip.url);

    let hook = Inspect::new(&st);
    // No AMI: the group is what matters here (and it keeps the test quick).
    let cfg = config(
        st.base(),
        json!({"temporary_security_group_source_public_ip": true, "skip_create_ami": true}),
    );
    let o = build_with(&st, cfg, hook.clone(), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Current host's public IP: 203.0.113.7")),
        "{}",
        o.lines.join("\n")
    );
    let groups = hook.seen().groups;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(groups[0].group_name().unwrap_or("").starts_with("packer_"));
    let perms = groups[0].ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    let p = &perms[0];
    let port = i32::from(st.sshd.port());
    assert_eq!(
        (p.ip_protocol(), p.from_port(), p.to_port()),
        (Some("tcp"), Some(port), Some(port))
    );
    let cidrs: Vec<_> = p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
    assert_eq!(cidrs, ["203.0.113.7/32"]);
    assert!(p.ipv6_ranges().is_empty(), "{p:?}");
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;

    // Not an address (a captive portal, say): stop before creating anything, naming the URL.
    checkip.set_answer("<html>please log in</html>");
    st.proxy.reset_counts();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"temporary_security_group_source_public_ip": true}),
        ),
    )
    .await;
    let e = err_text(&o);
    assert!(
        e.contains(&format!(
            "checking this host's public IP at {}: the answer",
            checkip.url
        )),
        "{e}"
    );
    assert!(e.contains("is not an IPv4 or IPv6 address"), "{e}");
    assert_eq!(st.proxy.count("CreateSecurityGroup"), 0);
    assert_clean(&st, &o, &[REGION]).await;

    // Both settings: the CIDRs are used and the public IP is not even looked up.
    let hits = checkip.hits();
    st.proxy.reset_counts();
    let cfg = config(
        st.base(),
        json!({"temporary_security_group_source_public_ip": true, "temporary_security_group_source_cidrs": ["198.51.100.0/24"],
               "skip_create_ami": true}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert!(
        o.lines
            .iter()
            .any(|l| l
                .contains(rpack::builders::amazon_ebs::steps::security_group::PUBLIC_IP_IGNORED))
    );
    assert_eq!(
        checkip.hits(),
        hits,
        "the public IP was looked up although CIDRs were given"
    );
    let auth = st.proxy.requests_of("AuthorizeSecurityGroupIngress");
    assert_eq!(auth.len(), 1);
    assert_eq!(
        auth[0]
            .get("IpPermissions.1.IpRanges.1.CidrIp")
            .map(String::as_str),
        Some("198.51.100.0/24"),
        "{auth:?}"
    );
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;
}

/// `spot_price` + `spot_instance_types`: one launch template and one instant fleet with an
/// override per type; the instance is a spot instance of one of them, tagged with the build id;
/// the template is gone afterwards, also when the fleet request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_fleet_over_several_types_launches_one_and_removes_its_template() {
    let st = stack();
    let types = ["t3.micro", "t3a.micro", "t2.micro"];
    let hook = Inspect::new(&st);
    let cfg = config(
        st.base(),
        json!({"instance_type": null, "spot_instance_types": types, "spot_price": "0.05",
               "spot_tags": {"Kind": "spot"}, "run_tags": {"Role": "builder"}, "skip_create_ami": true}),
    );
    let o = build_with(&st, cfg, hook.clone(), None).await;
    assert!(o.result.is_ok(), "{}\n{}", err_text(&o), o.lines.join("\n"));
    for (action, n) in [
        ("CreateLaunchTemplate", 1),
        ("CreateFleet", 1),
        ("DeleteLaunchTemplate", 1),
        ("RunInstances", 0),
        ("StopInstances", 0),
    ] {
        assert_eq!(
            st.proxy.count(action),
            n,
            "{action}: {:?}",
            st.proxy.counts()
        );
    }
    let fleet = &st.proxy.requests_of("CreateFleet")[0];
    let p = |k: &str| fleet.get(k).map(String::as_str);
    assert_eq!(p("Type"), Some("instant"), "{fleet:#?}");
    assert_eq!(
        p("TargetCapacitySpecification.TotalTargetCapacity"),
        Some("1")
    );
    assert_eq!(
        p("TargetCapacitySpecification.DefaultTargetCapacityType"),
        Some("spot")
    );
    for (i, t) in types.iter().enumerate() {
        assert_eq!(
            p(&format!(
                "LaunchTemplateConfigs.1.Overrides.{}.InstanceType",
                i + 1
            )),
            Some(*t),
            "{fleet:#?}"
        );
    }
    let lt = &st.proxy.requests_of("CreateLaunchTemplate")[0];
    let q = |k: &str| lt.get(k).map(String::as_str);
    assert_eq!(
        q("LaunchTemplateData.InstanceMarketOptions.MarketType"),
        Some("spot"),
        "{lt:#?}"
    );
    assert_eq!(
        q("LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice"),
        Some("0.05")
    );
    assert_eq!(
        q("LaunchTemplateData.MetadataOptions.HttpTokens"),
        Some("required")
    );
    assert!(q("LaunchTemplateName").is_some_and(|n| n.starts_with("packer-fleet-launch-template-")));

    let inst = hook.instance();
    let itype = inst
        .instance_type()
        .map(|t| t.as_str().to_string())
        .unwrap_or_default();
    assert!(types.contains(&itype.as_str()), "launched {itype}");
    assert_eq!(
        inst.instance_lifecycle(),
        Some(&InstanceLifecycleType::Spot)
    );
    let tags: BTreeMap<_, _> = inst
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
        .collect();
    assert_eq!(
        tags.get("rpack:build-id"),
        Some(&o.build_id.as_str()),
        "{tags:?}"
    );
    assert_eq!(tags.get("Role"), Some(&"builder"), "{tags:?}");
    // The template was in the ledger from its creation and is recorded as deleted.
    let lt_events: Vec<LedgerEvent> = o
        .ledger
        .entries()
        .iter()
        .filter(|e| e.kind == "launch_template")
        .map(|e| e.event)
        .collect();
    assert_eq!(lt_events, [LedgerEvent::Created, LedgerEvent::Deleted]);
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;

    // The fleet request fails: the template made for it is removed again.
    st.proxy
        .inject_fault(FaultKind::ServerError, 1.0, &["CreateFleet"]);
    let cfg = config(
        st.base(),
        json!({"instance_type": null, "spot_instance_types": types, "spot_price": "auto", "max_retries": 0}),
    );
    let o = build(&st, cfg).await;
    st.proxy.clear_fault();
    let e = err_text(&o);
    assert!(
        e.contains(
            "requesting a spot instance (t3.micro, t3a.micro, t2.micro) with launch template lt-"
        ),
        "{e}"
    );
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains("Deleting the spot launch template")));
    assert_clean(&st, &o, &[REGION]).await;
}

/// `imds_support` and `deprecate_at` reach every final AMI. moto accepts ModifyImageAttribute's
/// ImdsSupport without storing it and has no EnableImageDeprecation at all (the proxy answers
/// that one), so the requests are what is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_support_and_deprecate_at_reach_every_ami() {
    let st = stack();
    st.proxy.stub(&["EnableImageDeprecation"]);
    let cfg = config(
        st.base(),
        json!({"ami_regions": ["us-west-2"], "imds_support": "v2.0", "deprecate_at": "2030-01-02T15:04:05Z"}),
    );
    let o = build(&st, cfg).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    assert_eq!(art.amis.len(), 2);
    let modify = st.proxy.requests_of("ModifyImageAttribute");
    let deprecate = st.proxy.requests_of("EnableImageDeprecation");
    for ami in art.amis.values() {
        let of = |reqs: &[BTreeMap<String, String>], key: &str| -> Vec<String> {
            reqs.iter()
                .filter(|r| r.get("ImageId") == Some(ami))
                .filter_map(|r| r.get(key).cloned())
                .collect()
        };
        assert_eq!(
            of(&modify, "ImdsSupport.Value"),
            ["v2.0"],
            "{ami}: {modify:#?}"
        );
        assert_eq!(
            of(&deprecate, "DeprecateAt"),
            ["2030-01-02T15:04:05Z"],
            "{ami}: {deprecate:#?}"
        );
    }
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

/// `skip_save_build_region`: the AMI ends up only in the copy regions; the build-region image
/// it was copied from is an intermediary that is removed with its snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_save_build_region_keeps_only_the_copies() {
    let st = stack();
    let cfg = config(
        st.base(),
        json!({"ami_regions": ["us-west-2"], "skip_save_build_region": true}),
    );
    let o = build(&st, cfg.clone()).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let art = o.artifact();
    assert_eq!(art.amis.keys().collect::<Vec<_>>(), ["us-west-2"]);
    let west = Ec2State::new(st.moto.endpoint(), "us-west-2")
        .images()
        .await
        .unwrap();
    let img = west
        .iter()
        .find(|i| i.id == art.amis["us-west-2"])
        .expect("copy missing in us-west-2");
    assert_eq!(img.name.as_deref(), Some(cfg.ami.ami_name.as_str()));
    let east = leftovers(&st, &o.build_id, &[REGION]).await;
    assert!(east.is_empty(), "left in the build region: {east:#?}");
    assert!(Ec2State::new(st.moto.endpoint(), REGION)
        .images()
        .await
        .unwrap()
        .iter()
        .all(|i| i.name.as_deref() != Some(cfg.ami.ami_name.as_str())));
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

/// `skip_create_ami`: the instance is built and removed, no AMI is made, no artifact returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_create_ami_builds_without_an_image() {
    let st = stack();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"skip_create_ami": true, "ami_regions": ["us-west-2"]}),
        ),
    )
    .await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    if let Ok(Some(a)) = &o.result {
        panic!("an artifact was returned: {}", a.string());
    }
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains("Skipping AMI creation...")));
    assert_eq!(
        st.proxy.count("CreateImage") + st.proxy.count("CopyImage"),
        0,
        "{:?}",
        st.proxy.counts()
    );
    assert_eq!(st.proxy.count("RunInstances"), 1);
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

struct NoPause;
#[async_trait::async_trait]
impl DebugHook for NoPause {
    async fn pause(&self, _: &str) {}
}

/// `-debug` saves the temporary key as `ec2_<build>.pem` in the working directory (private to
/// the user) while the build runs, and removes it in cleanup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_saves_the_temporary_key_in_the_working_directory() {
    let st = stack();
    let build_name = format!("rpack-debug-{}", &uuid::Uuid::new_v4().to_string()[..8]);
    let pem = PathBuf::from(format!("ec2_{build_name}.pem"));
    let hook = Arc::new(Inspect {
        endpoint: st.moto.endpoint().to_string(),
        debug_key: Some(pem.clone()),
        seen: Mutex::new(Seen::default()),
    });
    let options = RunnerOptions {
        debug: Some(Arc::new(NoPause)),
        ..Default::default()
    };
    let cfg = config_named(
        st.base(),
        json!({"skip_create_ami": true}),
        Some(&build_name),
    );
    let o = build_opts(&st, cfg, hook.clone(), None, options).await;
    let left_after_cleanup = pem.exists();
    let _ = std::fs::remove_file(&pem); // never leave a key behind, even when asserts fail below
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert!(
        !left_after_cleanup,
        "{} still exists after the build",
        pem.display()
    );
    let (key, mode) = hook
        .seen()
        .debug_key
        .expect("no ec2_<build>.pem while the build ran");
    assert!(
        key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{key}"
    );
    assert_eq!(mode, 0o600);
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains(&format!("Saving key for debug purposes: {}", pem.display()))));
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;
}

/// Removes a successful build's AMIs (Packer's artifact Destroy), if it made any.
pub(crate) async fn destroy(o: &crate::ebs::Outcome) {
    if let Ok(Some(art)) = &o.result {
        art.destroy().await.unwrap();
    }
}

/// `ami_virtualization_type` decides Packer's enhanced-networking check when set: `hvm` passes,
/// anything else fails with Packer's message before an instance is launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ami_virtualization_type_decides_the_enhanced_networking_check() {
    let st = stack();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"ena_support": true, "ami_virtualization_type": "paravirtual"}),
        ),
    )
    .await;
    assert!(
        err_text(&o)
            .contains("Cannot enable enhanced networking, AMIVirtType 'paravirtual' is not HVM"),
        "{}",
        err_text(&o)
    );
    assert_eq!(st.proxy.count("RunInstances"), 0);
    assert_clean(&st, &o, &[REGION]).await;
    // `hvm` (the source AMI is HVM too): the check passes and the build goes on.
    let o = build(
        &st,
        config(
            st.base(),
            json!({"ena_support": true, "ami_virtualization_type": "hvm", "skip_create_ami": true}),
        ),
    )
    .await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert_clean(&st, &o, &[REGION]).await;
}
