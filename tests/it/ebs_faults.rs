//! amazon-ebs under faults (in-process, on moto behind the fault proxy): every API step failing,
//! bad input, cancelling every wait and throttling leave nothing behind; API call counts stay
//! within Packer's; the default-build benchmark.

use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::{ProvisionHook, TrueHook};
use rpack::engine::RunError;
use rpack::ui::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::ebs::*;
use crate::support::FaultKind;

/// Injected API failures, one step at a time. `max_retries: 0` so the SDK gives up at once.
/// The cases run at once, each through its own proxy (its own fault) in front of one moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_step_failing_leaves_nothing_behind() {
    let st = stack();
    // An AMI whose name the force_deregister case reuses.
    let base = st.base();
    let existing = build(&st, config(base.clone(), json!({}))).await;
    assert!(existing.result.is_ok(), "{}", err_text(&existing));
    let cases: &[(&str, &str, Value)] = &[
        ("DescribeImages", "looking up AMIs named", json!({})),
        ("ImportKeyPair", "importing temporary key pair", json!({})),
        (
            "CreateSecurityGroup",
            "creating temporary security group",
            json!({}),
        ),
        (
            "AuthorizeSecurityGroupIngress",
            "authorizing port",
            json!({}),
        ),
        ("RunInstances", "launching an instance", json!({})),
        ("StopInstances", "stopping instance", json!({})),
        (
            "ModifyInstanceAttribute",
            "setting ENA support",
            json!({"ena_support": true}),
        ),
        (
            "DeregisterImage",
            "deregistering AMI",
            json!({"force_deregister": true, "ami_name": base["ami_name"]}),
        ),
        ("CreateImage", "creating AMI", json!({})),
        ("CopyImage", "copying AMI", json!({})),
        (
            "ModifyImageAttribute",
            "granting launch permissions",
            json!({}),
        ),
        ("CreateTags", "tagging AMI", json!({})),
    ];
    let runs = cases.iter().map(|(action, expect, extra)| {
        let (proxy, base) = st.own_proxy();
        let mut all = json!({"max_retries": 0, "ami_regions": ["us-west-2"], "ami_users": ["111122223333"], "tags": {"a": "b"}});
        for (k, v) in extra.as_object().unwrap() {
            all[k] = v.clone();
        }
        proxy.inject_fault(FaultKind::ServerError, 1.0, &[action]);
        let st = &st;
        async move {
            let o = build(st, config(base, all)).await;
            let e = err_text(&o);
            assert!(e.contains(expect) && e.contains("InternalError"), "{action}: {e}");
            assert_clean(st, &o, &[REGION, "us-west-2"]).await;
            drop(proxy);
        }
    });
    futures_util::future::join_all(runs.collect::<Vec<_>>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_failures_leave_nothing_behind() {
    let st = stack();
    // Unknown source AMI.
    let o = build(
        &st,
        config(st.base(), json!({"source_ami": "ami-00000000deadbeef"})),
    )
    .await;
    assert!(
        err_text(&o).contains("describing the source AMI in us-east-1: InvalidAMIID"),
        "{}",
        err_text(&o)
    );
    assert_clean(&st, &o, &[REGION]).await;
    // Nothing listens on the SSH port: the connect step times out after the instance exists.
    let o = build(
        &st,
        config(st.base(), json!({"ssh_port": 1, "ssh_timeout": "2s"})),
    )
    .await;
    assert!(
        err_text(&o).contains("Timeout waiting for SSH."),
        "{}",
        err_text(&o)
    );
    assert_clean(&st, &o, &[REGION]).await;
    // A subnet that does not exist fails the network step.
    let o = build(
        &st,
        config(st.base(), json!({"subnet_id": "subnet-0000000000"})),
    )
    .await;
    assert!(
        err_text(&o)
            .contains("describing subnet subnet-0000000000 in us-east-1: InvalidSubnetID.NotFound"),
        "{}",
        err_text(&o)
    );
    assert_clean(&st, &o, &[REGION]).await;
    // The provisioners fail.
    let o = build_with(
        &st,
        config(st.base(), json!({})),
        Arc::new(FailingHook),
        None,
    )
    .await;
    assert!(err_text(&o).contains("Script exited with non-zero exit status: 1"));
    assert!(o
        .lines
        .iter()
        .any(|l| l.contains("Terminating the source AWS instance...")));
    assert_clean(&st, &o, &[REGION]).await;
}

/// Ctrl-C at every wait point: the build reports cancellation and removes everything,
/// including an AMI whose wait never finished and copies still pending.
/// Each wait cancelled in turn. The cases run at once, each through its own proxy that holds
/// only the awaited transition (the SSH wait: nothing listens on the port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_every_wait_leaves_nothing_behind() {
    let st = stack();
    let hold = Duration::from_secs(2);
    let waits: [(&str, Option<&str>); 5] = [
        ("Waiting for instance (", Some("RunInstances")),
        ("Waiting for SSH to become available", None),
        ("Waiting for the instance to stop", Some("StopInstances")),
        ("Waiting for AMI to become ready", Some("CreateImage")),
        ("Waiting for all copies to complete", Some("CopyImage")),
    ];
    let runs = waits.iter().map(|&(w, action)| {
        let (proxy, base) = st.own_proxy();
        let mut extra = json!({"ami_regions": ["us-west-2"]});
        match action {
            Some(a) => proxy.set_transition_times(&[(a, hold)]),
            None => extra["ssh_port"] = json!(crate::support::process::free_port()),
        }
        let cfg = config(base, extra);
        let st = &st;
        async move {
            let o = build_with(
                st,
                cfg,
                Arc::new(TrueHook),
                Some((w, Duration::from_millis(300))),
            )
            .await;
            let err = o
                .result
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("{w}: build was not cancelled"));
            assert!(
                matches!(
                    err.downcast_ref::<RunError>(),
                    Some(RunError::Cancelled { .. })
                ),
                "{w}: {err:#}\n{}",
                o.lines.join("\n")
            );
            assert_clean(st, &o, &[REGION, "us-west-2"]).await;
            drop(proxy);
        }
    });
    futures_util::future::join_all(runs.collect::<Vec<_>>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_at_30_percent_still_succeeds() {
    let st = stack();
    st.proxy.inject_fault(FaultKind::Throttle, 0.3, &[]);
    let cfg = config(
        st.base(),
        json!({"ami_regions": ["us-west-2"], "tags": {"a": "b"}}),
    );
    let o = build(&st, cfg).await;
    st.proxy.clear_fault();
    let injected = st.proxy.calls().iter().filter(|c| c.injected).count();
    assert!(injected > 0, "the proxy throttled nothing");
    let art = o.artifact();
    art.destroy().await.unwrap();
    assert_clean(&st, &o, &[REGION, "us-west-2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_build_api_calls_stay_within_packers() {
    let st = stack();
    let o = build(
        &st,
        config(
            st.base(),
            json!({"tags": {"a": "b"}, "skip_region_validation": true}),
        ),
    )
    .await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    let counts = st.proxy.counts();
    let total: u64 = counts.values().sum();
    // Packer 1.6.6 needs 22 calls for this build on moto (../shared/bench/BASELINE.md).
    assert!(total <= 22, "{total} calls: {counts:?}");
}

/// Measurements for `scripts/bench-ebs.sh` (ignored in normal runs; asserts nothing about time).
/// Prints one JSON line per scenario: API calls by action and wall time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run through scripts/bench-ebs.sh"]
async fn bench_default_build() {
    let st = stack();
    let transitions: f64 = std::env::var("BENCH_TRANSITION_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for scenario in [0.0, transitions] {
        for _ in 0..runs {
            st.proxy
                .set_transition_time(Duration::from_secs_f64(scenario));
            st.proxy.reset_counts();
            let cfg = config(
                st.base(),
                json!({"tags": {"a": "b"}, "skip_region_validation": true}),
            );
            let started = std::time::Instant::now();
            let o = build(&st, cfg).await;
            let wall = started.elapsed().as_secs_f64();
            assert!(o.result.is_ok(), "{}", err_text(&o));
            let counts = st.proxy.counts();
            let total: u64 = counts.values().sum();
            let waits = if scenario > 0.0 { 4.0 * scenario } else { 0.0 };
            println!(
                "BENCH {}",
                json!({"transition_s": scenario, "wall_s": (wall * 1000.0).round() / 1000.0, "simulated_s": waits,
                       "over_s": ((wall - waits) * 1000.0).round() / 1000.0, "calls": total, "by_action": counts})
            );
        }
    }
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
