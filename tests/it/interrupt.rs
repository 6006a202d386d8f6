//! Interrupted builds: SIGINT/SIGTERM in every phase clean up; SIGKILL in every phase leaves
//! what `rpack cleanup` then removes (from the ledger, and from the `rpack:build-id` tags where
//! the ledger misses something); `-on-error=abort` keeps what `rpack cleanup` removes later.

use std::time::Duration;

use serde_json::json;

use crate::build::{run_to_end, stack, Running, Stack, COPY_REGION, REGION};
use crate::support::paths::fresh_dir;

/// The phases a build can be interrupted in, with the line that shows it got there.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Launch,
    SshWait,
    Provisioning,
    AmiWait,
    Copy,
}

impl Phase {
    fn marker(self) -> &'static str {
        match self {
            Phase::Launch => "Waiting for instance",
            Phase::SshWait => "Waiting for SSH to become available",
            Phase::Provisioning => "rpack-it: provisioning",
            Phase::AmiWait => "Waiting for AMI to become ready",
            Phase::Copy => "Copying AMI",
        }
    }
}

/// How long the proxy holds the instance or image of the phase a test interrupts.
const PHASE_HOLD: Duration = Duration::from_secs(4);

/// Starts a build that will sit in `phase` long enough to be interrupted there.
fn start_in_phase(st: &Stack, phase: Phase) -> Running {
    let name = format!("{phase:?}").to_lowercase();
    let mut extra = json!({});
    let mut provisioners = json!([{"type": "shell", "inline": ["echo rpack-it: provisioning"]}]);
    match phase {
        // moto changes state at once; the proxy keeps the instance or image of this phase (only)
        // pending for a while, so the build sits there without slowing the phases before it.
        Phase::Launch => st
            .proxy
            .set_transition_times(&[("RunInstances", PHASE_HOLD)]),
        Phase::AmiWait => st
            .proxy
            .set_transition_times(&[("CreateImage", PHASE_HOLD)]),
        Phase::Copy => st.proxy.set_transition_times(&[("CopyImage", PHASE_HOLD)]),
        Phase::SshWait => {
            // Nothing listens there: the build keeps waiting for SSH.
            let closed = crate::support::process::free_port();
            extra["ssh_port"] = json!(closed);
        }
        Phase::Provisioning => {
            provisioners =
                json!([{"type": "shell", "inline": ["echo rpack-it: provisioning", "sleep 60"]}]);
        }
    }
    if let Phase::Copy = phase {
        extra["ami_regions"] = json!([COPY_REGION]);
    }
    let tpl = st.template(&name, extra, provisioners);
    Running::start(st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]))
}

fn interrupt_leaves_nothing(phase: Phase, sig: libc::c_int, group: bool) {
    let st = stack();
    let mut run = start_in_phase(&st, phase);
    run.wait_for(phase.marker());
    run.signal(sig, group);
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "interrupted build must exit 1:\n{out}");
    assert!(
        out.contains("Cleanly cancelled builds after being interrupted."),
        "{out}"
    );
    let left = st.leftovers(&[REGION, COPY_REGION]);
    assert!(left.is_empty(), "{phase:?}: left behind {left:?}\n{out}");
}

#[test]
fn sigint_to_the_process_group_while_launching_cleans_up() {
    interrupt_leaves_nothing(Phase::Launch, libc::SIGINT, true);
}

#[test]
fn sigterm_to_the_pid_while_waiting_for_ssh_cleans_up() {
    interrupt_leaves_nothing(Phase::SshWait, libc::SIGTERM, false);
}

#[test]
fn sigint_to_the_pid_alone_while_provisioning_cleans_up() {
    // Packer ignores a SIGINT sent to its pid alone; rpack honours it.
    interrupt_leaves_nothing(Phase::Provisioning, libc::SIGINT, false);
}

#[test]
fn sigterm_to_the_process_group_while_waiting_for_the_ami_cleans_up() {
    interrupt_leaves_nothing(Phase::AmiWait, libc::SIGTERM, true);
}

#[test]
fn sigint_while_copying_to_another_region_removes_the_copies_too() {
    interrupt_leaves_nothing(Phase::Copy, libc::SIGINT, true);
}

fn kill_then_cleanup_leaves_nothing(phase: Phase) {
    let st = stack();
    let mut run = start_in_phase(&st, phase);
    run.wait_for(phase.marker());
    run.signal(libc::SIGKILL, true);
    let (code, _) = run.finish();
    assert_eq!(code, None, "killed by a signal");
    st.proxy.set_transition_time(Duration::from_secs(0));

    // Dry run lists, deletes nothing.
    let (code, listing) =
        run_to_end(st.rpack(&["cleanup", "--region", REGION, "--region", COPY_REGION]));
    assert_eq!(code, Some(0), "{listing}");
    assert!(
        listing.contains("would delete instance"),
        "{phase:?}: dry run lists the leftovers:\n{listing}"
    );
    assert!(
        !st.leftovers(&[REGION]).is_empty(),
        "{phase:?}: the dry run deleted something or the kill left nothing:\n{listing}"
    );
    // The temporary key stays in memory: the killed build left no local key directory, and the
    // listing names none (a build that wrote one: tests/it/temp_key.rs).
    let build_id = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ")?.strip_suffix(':'))
        .unwrap_or_else(|| panic!("no build id in:\n{listing}"))
        .to_string();
    let work_dir = std::env::temp_dir().join(format!("rpack-{build_id}"));
    assert!(
        !work_dir.exists(),
        "{phase:?}: the build wrote {}",
        work_dir.display()
    );
    assert!(
        !listing.contains("would delete local directory"),
        "{listing}"
    );

    // Without credentials (the ledger keeps none): one clear message per region saying what
    // needs them (the account the build learnt from STS GetCallerIdentity, moto's, the region
    // and the endpoint) and how to supply them, nothing deleted, exit 1.
    let home = fresh_dir("no-credentials-home");
    let mut bare = st.rpack(&["cleanup", "--yes", "--region", REGION]);
    bare.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("HOME", &home);
    let (code, refused) = run_to_end(bare);
    assert_eq!(code, Some(1), "{refused}");
    assert!(
        refused.contains(&format!(
            "NoCredentialProviders: rpack cleanup needs AWS credentials for account 123456789012 in region {REGION} (endpoint {})",
            st.proxy.endpoint()
        )) && refused.contains("The ledger keeps no credentials. Hint: export AWS_ACCESS_KEY_ID")
            && refused.contains("for account 123456789012 (the template's access_key"),
        "{phase:?}:\n{refused}"
    );
    assert!(
        !refused.contains("DispatchFailure") && !refused.contains("  "),
        "no debug dump, no run of spaces:\n{refused}"
    );
    assert!(
        !st.leftovers(&[REGION]).is_empty(),
        "{phase:?}: nothing to clean up was left:\n{refused}"
    );

    let (code, done) = run_to_end(st.rpack(&[
        "cleanup",
        "--yes",
        "--region",
        REGION,
        "--region",
        COPY_REGION,
    ]));
    assert_eq!(code, Some(0), "{done}");
    let left = st.leftovers(&[REGION, COPY_REGION]);
    assert!(
        left.is_empty(),
        "{phase:?}: after `rpack cleanup --yes` still {left:?}\n{listing}\n{done}"
    );
}

#[test]
fn sigkill_while_launching_then_cleanup_leaves_nothing() {
    kill_then_cleanup_leaves_nothing(Phase::Launch);
}

#[test]
fn sigkill_while_waiting_for_ssh_then_cleanup_leaves_nothing() {
    kill_then_cleanup_leaves_nothing(Phase::SshWait);
}

#[test]
fn sigkill_while_provisioning_then_cleanup_leaves_nothing() {
    kill_then_cleanup_leaves_nothing(Phase::Provisioning);
}

#[test]
fn sigkill_while_waiting_for_the_ami_then_cleanup_leaves_nothing() {
    kill_then_cleanup_leaves_nothing(Phase::AmiWait);
}

#[test]
fn sigkill_while_copying_then_cleanup_leaves_nothing() {
    kill_then_cleanup_leaves_nothing(Phase::Copy);
}

#[test]
fn cleanup_without_a_ledger_finds_leftovers_by_their_build_id_tag() {
    let st = stack();
    let mut run = start_in_phase(&st, Phase::Provisioning);
    run.wait_for(Phase::Provisioning.marker());
    run.signal(libc::SIGKILL, true);
    let _ = run.finish();
    // The ledger is gone (another machine, a wiped state dir): the tags still tell.
    std::fs::remove_dir_all(st.dir.join("state")).unwrap();
    let mut cmd = st.rpack(&["cleanup", "--yes", "--region", REGION]);
    cmd.arg("--endpoint-url").arg(st.moto.endpoint());
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Deleted instance"), "{out}");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "still {left:?}\n{out}");
}

#[test]
fn on_error_abort_skips_cleanup_and_cleanup_command_removes_the_rest() {
    let st = stack();
    let tpl = st.template(
        "abort",
        json!({}),
        json!([{"type": "shell", "inline": ["exit 3"]}]),
    );
    let (code, out) = run_to_end(st.rpack(&[
        "build",
        "-color=false",
        "-on-error=abort",
        tpl.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Step \"StepProvision\" failed, aborting..."),
        "{out}"
    );
    assert!(
        out.contains("aborted: skipping cleanup of step \"StepRunSourceInstance\""),
        "{out}"
    );
    let left = st.leftovers(&[REGION]);
    assert!(
        left.iter().any(|l| l.starts_with("instance ")),
        "abort keeps the instance for debugging: {left:?}"
    );
    let (code, done) = run_to_end(st.rpack(&["cleanup", "--yes", "--region", REGION]));
    assert_eq!(code, Some(0), "{done}");
    assert!(st.leftovers(&[REGION]).is_empty(), "{done}");
}

/// A resource created in the instant between its Create call and its ledger line (a kill right
/// after CopyImage returned, say) is still found: `rpack cleanup` completes a build's ledger
/// with what carries the build's `rpack:build-id` tag. Here the ledger loses its instance line.
#[test]
fn cleanup_finds_what_the_ledger_of_a_killed_build_misses_by_its_tag() {
    let st = stack();
    let mut run = start_in_phase(&st, Phase::Provisioning);
    run.wait_for(Phase::Provisioning.marker());
    run.signal(libc::SIGKILL, true);
    let _ = run.finish();
    let builds = st.dir.join("state").join("builds");
    let ledger = std::fs::read_dir(&builds)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("the killed build's ledger");
    let text = std::fs::read_to_string(&ledger).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"instance\""))
        .collect();
    assert!(
        kept.len() < text.lines().count(),
        "no instance line in:\n{text}"
    );
    std::fs::write(&ledger, kept.join("\n") + "\n").unwrap();
    assert!(
        st.leftovers(&[REGION])
            .iter()
            .any(|l| l.starts_with("instance ")),
        "the kill left the instance running"
    );

    let (code, listing) = run_to_end(st.rpack(&["cleanup", "--region", REGION]));
    assert_eq!(code, Some(0), "{listing}");
    assert!(listing.contains("would delete instance i-"), "{listing}");
    let (code, done) = run_to_end(st.rpack(&["cleanup", "--yes", "--region", REGION]));
    assert_eq!(code, Some(0), "{done}");
    assert!(done.contains("Deleted instance i-"), "{done}");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "still {left:?}\n{done}");
}
