//! amazon-ebssurrogate and amazon-ebsvolume cancelled in each of their phases (what Ctrl-C or
//! SIGTERM does: the build's cancellation token fires): the build fails as cancelled and leaves
//! no resource of its own behind. The proxy holds the instance or image of the phase pending so
//! the build is there when the cancel comes. amazon-ebs's phases, through the real binary and
//! its signals, are in `interrupt.rs`; SIGKILL and `rpack cleanup` for these builders are in
//! `ebssurrogate.rs` and `ebsvolume.rs`.

use std::sync::Arc;
use std::time::Duration;

use rpack::builders::amazon_ebs::TrueHook;
use rpack::builders::{amazon_ebssurrogate, amazon_ebsvolume};
use serde_json::{json, Value};

use crate::ebs::{leftovers, run_recorded, stack, Stack, REGION};

/// How long the proxy holds the phase's transition.
const HOLD: Duration = Duration::from_secs(3);

/// (the UI line that shows the phase, the create call whose transition is held, if any).
type Phase = (&'static str, Option<&'static str>);

async fn assert_cancelled_clean<A>(st: &Stack, phase: &str, o: &crate::ebs::Outcome<A>) {
    let ui = o.lines.join("\n");
    let err = match &o.result {
        Ok(_) => panic!("{phase}: the build was not cancelled:\n{ui}"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.to_lowercase().contains("cancel"),
        "{phase}: {err}\n{ui}"
    );
    let left = leftovers(st, &o.build_id, &[REGION]).await;
    assert!(left.is_empty(), "{phase}: left behind {left:#?}\nUI:\n{ui}");
}

/// When the cancel comes after the phase's line: at once in a phase nothing holds (moto
/// finishes it at once), a moment later in a held one.
fn after(held: Option<&str>) -> Duration {
    if held.is_some() {
        Duration::from_millis(100)
    } else {
        Duration::ZERO
    }
}

fn hold(st: &Stack, call: Option<&str>) {
    match call {
        Some(c) => st.proxy.set_transition_times(&[(c, HOLD)]),
        None => st.proxy.set_transition_time(Duration::ZERO),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surrogate_build_cancelled_in_any_phase_leaves_nothing() {
    let st = stack();
    let phases: [(Phase, Value); 6] = [
        (("Waiting for instance", Some("RunInstances")), json!({})),
        (("Connected to SSH!", None), json!({})),
        (("Creating snapshot of EBS Volume", None), json!({})),
        (
            ("Waiting for AMI to become ready", Some("RegisterImage")),
            json!({}),
        ),
        (
            ("Detaching Root EBS Device Name", None),
            json!({"use_create_image": true}),
        ),
        (
            ("Waiting for AMI to become ready", Some("CreateImage")),
            json!({"use_create_image": true}),
        ),
    ];
    for ((marker, held), extra) in phases {
        hold(&st, held);
        let cfg = crate::ebssurrogate::config(&st, extra);
        let o = run_recorded(
            &st,
            Arc::new(TrueHook),
            Some((marker, after(held))),
            Default::default(),
            |args| async move { amazon_ebssurrogate::run(cfg, args).await.map(Some) },
        )
        .await;
        assert_cancelled_clean(&st, marker, &o).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_build_cancelled_in_any_phase_leaves_nothing() {
    let st = stack();
    let volumes = json!({"ebs_volumes": [
        {"device_name": "/dev/xvdf", "volume_size": 1, "tags": {"Role": "data"},
         "snapshot_volume": true}
    ]});
    let phases: [Phase; 4] = [
        ("Waiting for instance", Some("RunInstances")),
        ("Connected to SSH!", None),
        ("Tagging EBS volumes...", None),
        ("Waiting for Snapshots to become ready...", None),
    ];
    for (marker, held) in phases {
        hold(&st, held);
        let cfg = crate::ebsvolume::config(&st, volumes.clone());
        let o = run_recorded(
            &st,
            Arc::new(TrueHook),
            Some((marker, after(held))),
            Default::default(),
            |args| async move { amazon_ebsvolume::run(cfg, args).await.map(Some) },
        )
        .await;
        assert_cancelled_clean(&st, marker, &o).await;
    }
}
