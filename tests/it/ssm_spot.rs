//! A spot build (`spot_price`: launch template + instant CreateFleet) with
//! `ssh_interface: session_manager`, so rpack creates the temporary instance profile and the
//! fleet's launch template names it. EC2 does not know a fresh profile for a few seconds and
//! answers CreateFleet with a fleet that launched nothing and the per-instance error
//! `InvalidParameterValue` "... Invalid IAM Instance Profile name"; moto knows the profile at
//! once, so the fault proxy plays that answer ([`Proxy::set_fleet_errors`]).
//!
//! [`Proxy::set_fleet_errors`]: crate::support::proxy::Proxy::set_fleet_errors

use serde_json::json;

use crate::build::{run_to_end, stack, Stack};
use crate::ssm_build::{
    assert_sessions_terminated, iam_leftovers, leftovers_but_the_ami, rpack_build, ssm_template,
};
use crate::support::ssm::FakeSsm;

const PROFILE_NOT_YET: &str = "Value (packer-x) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name";

fn spot_build(st: &Stack, fake: &FakeSsm, name: &str) -> (Option<i32>, String) {
    let tpl = ssm_template(
        st,
        name,
        json!({"spot_price": "auto"}),
        json!([{"type": "shell", "inline": ["echo spot over ssm"]}]),
    );
    run_to_end(rpack_build(st, fake, &tpl))
}

#[test]
fn create_fleet_is_retried_while_ec2_does_not_know_the_new_instance_profile() {
    let st = stack();
    let fake = FakeSsm::start();
    st.proxy
        .set_fleet_errors(2, "InvalidParameterValue", PROFILE_NOT_YET);
    let (code, out) = spot_build(&st, &fake, "ssm-spot-retry");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("spot over ssm"), "{out}");

    // Three CreateFleet calls, each with its own client token (a repeated token would get the
    // failed fleet back); the template they launch from names the temporary profile.
    let fleets = st.proxy.requests_of("CreateFleet");
    assert_eq!(fleets.len(), 3, "{:?}", st.proxy.counts());
    let tokens: std::collections::BTreeSet<_> = fleets
        .iter()
        .map(|f| f.get("ClientToken").cloned())
        .collect();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    let lt = &st.proxy.requests_of("CreateLaunchTemplate")[0];
    assert!(
        lt.get("LaunchTemplateData.IamInstanceProfile.Name")
            .is_some_and(|n| n.starts_with("packer-")),
        "{lt:#?}"
    );
    // Both fleets that launched nothing were deleted, and said so.
    let (made, deleted) = st.proxy.fleets();
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(deleted, made, "{out}");
    for f in &made {
        assert!(out.contains(&format!("deleted fleet {f}")), "{out}");
    }
    assert_eq!(st.proxy.count("DeleteLaunchTemplate"), 1);
    assert_eq!(st.proxy.count("RunInstances"), 0);
    assert_sessions_terminated(&fake, &out);
    let left = leftovers_but_the_ami(&st);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
}

#[test]
fn a_fleet_error_that_is_not_retried_fails_and_leaves_no_fleet_template_or_profile() {
    let st = stack();
    let fake = FakeSsm::start();
    st.proxy.set_fleet_errors(
        1,
        "InvalidFleetConfiguration",
        "Your requested instance type is not supported in your requested Availability Zone.",
    );
    let (code, out) = spot_build(&st, &fake, "ssm-spot-fails");
    assert_eq!(code, Some(1), "{out}");
    let (made, deleted) = st.proxy.fleets();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        out.contains(&format!(
            "Error waiting for fleet request ({}) to become ready: InvalidFleetConfiguration: Your requested instance type",
            made[0]
        )),
        "{out}"
    );
    assert_eq!(st.proxy.count("CreateFleet"), 1, "{:?}", st.proxy.counts());
    assert_eq!(deleted, made, "{out}");
    assert_eq!(st.proxy.count("DeleteLaunchTemplate"), 1, "{out}");
    let left = st.leftovers(&[crate::build::REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
    let iam = iam_leftovers(&st);
    assert!(iam.is_empty(), "left behind {iam:?}\n{out}");
    let r = fake.record();
    assert!(r.started.is_empty(), "{r:?}");
}

/// Without a profile of its own making the build does not wait for one: the same answer to a
/// spot build that is not in Session Manager mode fails it at once (as RunInstances would).
#[test]
fn without_a_temporary_profile_the_profile_error_is_not_retried() {
    let st = stack();
    st.proxy
        .set_fleet_errors(1, "InvalidParameterValue", PROFILE_NOT_YET);
    let tpl = st.template(
        "spot-no-temp-profile",
        json!({"spot_price": "auto"}),
        json!([]),
    );
    let (code, out) = run_to_end(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Invalid IAM Instance Profile name"), "{out}");
    assert_eq!(st.proxy.count("CreateFleet"), 1, "{:?}", st.proxy.counts());
    let (made, deleted) = st.proxy.fleets();
    assert_eq!(deleted, made, "{out}");
    assert_eq!(st.proxy.count("DeleteLaunchTemplate"), 1, "{out}");
    let left = st.leftovers(&[crate::build::REGION]);
    assert!(left.is_empty(), "left behind {left:?}\n{out}");
}
