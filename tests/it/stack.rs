//! Tests of the test stack itself (tests/it/support): that the sshd lets a key in exactly while an
//! instance launched with it runs, that the proxy counts, delays, throttles and slows down state
//! transitions, and that nothing the stack starts outlives its handle or the test binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceType;
use aws_sdk_ec2::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::support::paths;
use crate::support::process::{descendants, is_alive, wait_until};
use crate::support::proxy::Call;
use crate::support::{
    client, client_without_retries, save_private_key, ssh_keygen, Ec2State, FaultKind, KeyKind,
    Moto, Proxy, Sshd,
};

/// An AMI in moto's bundled catalogue in every region (moto's own tests use it too).
const AMI: &str = "ami-12c6146b";

/// Creates a key pair and launches one instance with it; returns (instance id, private key file).
async fn launch_with_new_key(ec2: &Client, key_name: &str) -> (String, std::path::PathBuf) {
    let key = ec2
        .create_key_pair()
        .key_name(key_name)
        .send()
        .await
        .expect("CreateKeyPair");
    let key_file = save_private_key(key.key_material().expect("moto returns the private key"));
    let run = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::T2Micro)
        .key_name(key_name)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RunInstances: {}", DisplayErrorContext(e)));
    let id = run.instances()[0]
        .instance_id()
        .expect("instance id")
        .to_string();
    (id, key_file)
}

fn login(sshd: &Sshd, key: &Path) -> Result<String, String> {
    let out = sshd.ssh(key, "sudo -n true && id -un");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{}\n--- sshd log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            sshd.log()
        ))
    }
}

#[tokio::test]
async fn ec2_sshd_accepts_a_key_only_while_its_instance_runs() {
    let moto = Moto::start();
    let sshd = Sshd::start_ec2(moto.endpoint());
    let ec2 = client(moto.endpoint(), "us-east-1");

    let key = ec2
        .create_key_pair()
        .key_name("before-launch")
        .send()
        .await
        .expect("CreateKeyPair");
    let unused_key = save_private_key(key.key_material().unwrap());
    assert!(
        login(&sshd, &unused_key).is_err(),
        "a key pair without an instance must not log in"
    );

    let (instance, key_file) = launch_with_new_key(&ec2, "stack-test").await;
    assert_eq!(
        login(&sshd, &key_file).unwrap_or_else(|e| panic!("login refused: {e}")),
        "ec2-user"
    );
    let (stranger, _) = ssh_keygen(KeyKind::Ed25519);
    assert!(
        login(&sshd, &stranger).is_err(),
        "a key of no instance must be refused"
    );
    assert!(
        login(&sshd, &unused_key).is_err(),
        "a key pair of no running instance must be refused"
    );

    // The key stays authorized when its key pair is deleted after launch, as on EC2.
    ec2.delete_key_pair()
        .key_name("stack-test")
        .send()
        .await
        .expect("DeleteKeyPair");
    assert!(
        login(&sshd, &key_file).is_ok(),
        "deleting the key pair must not lock the instance"
    );

    ec2.terminate_instances()
        .instance_ids(&instance)
        .send()
        .await
        .expect("TerminateInstances");
    assert!(
        login(&sshd, &key_file).is_err(),
        "a terminated instance must refuse the login"
    );

    // Instances in the other default regions count too.
    let west = client(moto.endpoint(), "us-west-2");
    let (_, west_key) = launch_with_new_key(&west, "stack-test-west").await;
    assert!(
        login(&sshd, &west_key).is_ok(),
        "an instance in us-west-2 must accept its key"
    );
}

#[test]
fn static_sshd_accepts_exactly_its_key_and_survives_restarts() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let (other, _) = ssh_keygen(KeyKind::Rsa);
    let mut sshd = Sshd::start_static(&public);
    assert_eq!((sshd.host(), sshd.user()), ("127.0.0.1", "ec2-user"));
    assert_eq!(
        login(&sshd, &key).unwrap_or_else(|e| panic!("login refused: {e}")),
        "ec2-user"
    );
    assert!(
        login(&sshd, &other).is_err(),
        "a different key must be refused"
    );

    // A restart (reboot) drops open sessions and comes back on the same port.
    let port = sshd.port();
    let mut session = sshd
        .ssh_command(&key)
        .arg("sleep 60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting a long ssh session");
    assert!(
        wait_until(Duration::from_secs(10), || descendants(
            sshd.pid().unwrap() as i32
        )
        .len()
            >= 2),
        "the session did not start"
    );
    let session_pids = descendants(sshd.pid().unwrap() as i32);
    sshd.restart();
    assert_eq!(sshd.port(), port);
    assert!(
        wait_until(Duration::from_secs(10), || session
            .try_wait()
            .unwrap()
            .is_some()),
        "the ssh session must end when sshd restarts"
    );
    for pid in session_pids {
        assert!(
            !is_alive(pid as u32),
            "session process {pid} survived the restart"
        );
    }
    assert!(login(&sshd, &key).is_ok(), "login after restart");

    // New host keys: the client sees a different key on the same port.
    let before = sshd.host_public_keys();
    sshd.regenerate_host_key();
    let after = sshd.host_public_keys();
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().all(|k| !after.contains(k)),
        "every host key must change"
    );
    let scanned = Command::new("ssh-keyscan")
        .args(["-p", &port.to_string(), "-t", "ed25519", "127.0.0.1"])
        .output()
        .expect("running ssh-keyscan");
    let scanned = String::from_utf8_lossy(&scanned.stdout);
    let ed25519 = after.iter().find(|k| k.starts_with("ssh-ed25519")).unwrap();
    let blob = ed25519.split_whitespace().nth(1).unwrap();
    assert!(
        scanned.contains(blob),
        "ssh-keyscan shows {scanned:?}, want the new key {blob}"
    );
    assert!(login(&sshd, &key).is_ok(), "login after new host keys");

    sshd.stop();
    assert!(
        login(&sshd, &key).is_err(),
        "a stopped sshd must refuse connections"
    );
}

#[tokio::test]
async fn proxy_counts_calls_per_action() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint());
    let ec2 = client(proxy.endpoint(), "us-east-1");
    ec2.describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    ec2.describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    ec2.describe_key_pairs()
        .send()
        .await
        .expect("DescribeKeyPairs");
    let counts = proxy.counts();
    assert_eq!(counts.get("DescribeInstances"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("DescribeKeyPairs"), Some(&1), "{counts:?}");
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(
        proxy.calls()[2],
        Call {
            action: "DescribeKeyPairs".into(),
            status: 200,
            injected: false
        }
    );
    proxy.reset_counts();
    assert!(proxy.counts().is_empty());
    ec2.describe_regions()
        .send()
        .await
        .expect("DescribeRegions");
    assert_eq!(proxy.count("DescribeRegions"), 1);
}

#[tokio::test]
async fn proxy_delays_chosen_actions() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint());
    let ec2 = client(proxy.endpoint(), "us-east-1");
    ec2.describe_key_pairs().send().await.expect("warm-up"); // first call loads moto's EC2 backend
    let delay = Duration::from_secs(1);
    proxy.set_delay(delay, &["DescribeKeyPairs"]);

    let started = Instant::now();
    ec2.describe_key_pairs()
        .send()
        .await
        .expect("DescribeKeyPairs");
    let delayed = started.elapsed();
    let started = Instant::now();
    ec2.describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    let undelayed = started.elapsed();
    assert!(
        delayed >= delay,
        "DescribeKeyPairs took {delayed:?}, want at least {delay:?}"
    );
    assert!(
        undelayed < delay,
        "DescribeInstances took {undelayed:?}; it is not delayed"
    );

    proxy.set_delay(Duration::ZERO, &[]);
    let started = Instant::now();
    ec2.describe_key_pairs()
        .send()
        .await
        .expect("DescribeKeyPairs");
    assert!(started.elapsed() < delay, "the delay must be off again");
}

#[tokio::test]
async fn proxy_answers_a_fraction_of_calls_with_faults() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint());
    let ec2 = client_without_retries(proxy.endpoint(), "us-east-1");

    proxy.inject_fault(FaultKind::Throttle, 0.5, &["DescribeInstances"]);
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(match ec2.describe_instances().send().await {
            Ok(_) => "ok".to_string(),
            Err(e) => e
                .into_service_error()
                .meta()
                .code()
                .unwrap_or("?")
                .to_string(),
        });
    }
    assert_eq!(
        codes,
        ["RequestLimitExceeded", "ok", "RequestLimitExceeded", "ok"]
    );
    ec2.describe_key_pairs()
        .send()
        .await
        .expect("other actions are not throttled");
    let statuses: Vec<(u16, bool)> = proxy
        .calls()
        .iter()
        .map(|c| (c.status, c.injected))
        .collect();
    assert_eq!(
        statuses,
        [
            (503, true),
            (200, false),
            (503, true),
            (200, false),
            (200, false)
        ]
    );

    proxy.inject_fault(FaultKind::ServerError, 1.0, &[]);
    let err = ec2
        .describe_key_pairs()
        .send()
        .await
        .expect_err("every call fails");
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(500));
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InternalError")
    );

    // With the SDK's retries, one throttled call is retried and succeeds.
    proxy.inject_fault_limited(FaultKind::Throttle, 1.0, &[], Some(1));
    proxy.reset_counts();
    client(proxy.endpoint(), "us-east-1")
        .describe_regions()
        .send()
        .await
        .expect("retried DescribeRegions");
    let calls = proxy.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].injected && !calls[1].injected, "{calls:?}");
    proxy.clear_fault();
    ec2.describe_key_pairs()
        .send()
        .await
        .expect("faults cleared");
}

async fn instance_state(ec2: &Client, id: &str) -> String {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("DescribeInstances");
    let state = out.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name());
    state.expect("instance state").as_str().to_string()
}

async fn image_state(ec2: &Client, id: &str) -> String {
    let out = ec2
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .expect("DescribeImages");
    out.images()[0]
        .state()
        .expect("image state")
        .as_str()
        .to_string()
}

#[tokio::test]
async fn proxy_shows_transitions_for_a_while() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint());
    let window = Duration::from_secs(2);
    proxy.set_transition_time(window);
    let ec2 = client(proxy.endpoint(), "us-east-1");
    let direct = client(moto.endpoint(), "us-east-1");

    let (doomed, _) = launch_with_new_key(&ec2, "transitions").await;
    let (stopped, _) = launch_with_new_key(&ec2, "transitions-2").await;
    let launched = Instant::now();
    assert_eq!(instance_state(&ec2, &doomed).await, "pending");
    assert_eq!(
        instance_state(&direct, &doomed).await,
        "running",
        "moto itself is instant"
    );
    let status = ec2
        .describe_instance_status()
        .instance_ids(&doomed)
        .include_all_instances(true)
        .send()
        .await
        .expect("DescribeInstanceStatus");
    let shown = status.instance_statuses()[0]
        .instance_state()
        .and_then(|s| s.name());
    assert_eq!(
        shown.map(aws_sdk_ec2::types::InstanceStateName::as_str),
        Some("pending")
    );

    let image = ec2
        .create_image()
        .instance_id(&doomed)
        .name("stack-transition-test")
        .send()
        .await
        .expect("CreateImage");
    let image = image.image_id().expect("image id");
    assert_eq!(image_state(&ec2, image).await, "pending");
    assert_eq!(image_state(&direct, image).await, "available");

    tokio::time::sleep(window.saturating_sub(launched.elapsed()) + Duration::from_millis(100))
        .await;
    assert_eq!(instance_state(&ec2, &doomed).await, "running");
    ec2.terminate_instances()
        .instance_ids(&doomed)
        .send()
        .await
        .expect("TerminateInstances");
    ec2.stop_instances()
        .instance_ids(&stopped)
        .send()
        .await
        .expect("StopInstances");
    assert_eq!(instance_state(&ec2, &doomed).await, "shutting-down");
    assert_eq!(instance_state(&direct, &doomed).await, "terminated");
    assert_eq!(instance_state(&ec2, &stopped).await, "stopping");
    assert_eq!(instance_state(&direct, &stopped).await, "stopped");

    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert_eq!(instance_state(&ec2, &doomed).await, "terminated");
    assert_eq!(instance_state(&ec2, &stopped).await, "stopped");
    assert_eq!(image_state(&ec2, image).await, "available");
}

#[tokio::test]
async fn pooled_moto_starts_each_test_from_a_clean_state() {
    let endpoint = {
        let moto = Moto::start();
        let ec2 = client(moto.endpoint(), "us-east-1");
        launch_with_new_key(&ec2, "left-behind").await;
        moto.endpoint().to_string()
    };
    let moto = Moto::start();
    let state = Ec2State::new(moto.endpoint(), "us-east-1")
        .inventory()
        .await
        .expect("inventory");
    assert!(
        state.instances.is_empty() && state.key_pairs.is_empty(),
        "{endpoint} -> {state:?}"
    );
}

#[tokio::test]
async fn ec2_state_lists_what_a_build_left_behind() {
    let moto = Moto::start();
    let ec2 = client(moto.endpoint(), "us-east-1");
    let tag = |id: &str| {
        aws_sdk_ec2::types::Tag::builder()
            .key("rpack:build-id")
            .value(id)
            .build()
    };
    let (instance, _) = launch_with_new_key(&ec2, "untagged").await;
    let sg = ec2
        .create_security_group()
        .group_name("packer_sg")
        .description("test")
        .send()
        .await
        .expect("CreateSecurityGroup")
        .group_id()
        .unwrap()
        .to_string();
    ec2.create_tags()
        .resources(&instance)
        .resources(&sg)
        .tags(tag("b-1"))
        .send()
        .await
        .expect("CreateTags");

    let all = Ec2State::new(moto.endpoint(), "us-east-1");
    let build = all.clone().for_build("b-1");
    let other = all.clone().for_build("b-2");
    let inv = build.inventory().await.expect("inventory");
    assert_eq!(
        inv.instances
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        [instance.as_str()]
    );
    assert_eq!(inv.instances[0].state, "running");
    assert_eq!(
        inv.security_groups
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        [sg.as_str()]
    );
    assert!(inv.key_pairs.is_empty(), "the key pair is not tagged");
    assert_eq!(all.key_pairs().await.unwrap().len(), 1);
    assert_eq!(
        all.volumes().await.unwrap().len(),
        1,
        "the instance's root volume"
    );
    assert!(
        all.snapshots().await.unwrap().is_empty(),
        "moto's catalogue snapshots are not ours"
    );
    assert!(other.inventory().await.unwrap().instances.is_empty());
    assert_eq!(
        all.tags(&sg)
            .await
            .unwrap()
            .get("rpack:build-id")
            .map(String::as_str),
        Some("b-1")
    );
}

#[tokio::test]
async fn nothing_is_left_running_after_drop() {
    let moto = Moto::start_dedicated();
    let proxy = Proxy::start(moto.endpoint());
    let sshd = Sshd::start_ec2(moto.endpoint());
    let ec2 = client(proxy.endpoint(), "us-east-1");
    let (_, key) = launch_with_new_key(&ec2, "drop-test").await;
    let mut session = sshd
        .ssh_command(&key)
        .arg("sleep 60")
        .stdout(Stdio::null())
        .spawn()
        .expect("ssh");
    let sshd_pid = sshd.pid().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || descendants(sshd_pid as i32)
            .len()
            >= 2),
        "the session did not start: {}",
        sshd.log()
    );
    let mut pids = vec![moto.pid(), proxy.pid(), sshd_pid];
    pids.extend(descendants(sshd_pid as i32).into_iter().map(|p| p as u32));
    assert!(pids.iter().all(|&p| is_alive(p)));

    drop(sshd);
    drop(proxy);
    drop(moto);
    for pid in &pids {
        assert!(!is_alive(*pid), "process {pid} is still running after drop");
    }
    assert!(wait_until(Duration::from_secs(10), || session
        .try_wait()
        .unwrap()
        .is_some()));
}

/// Environment variable that makes `child_that_dies_abruptly` start a proxy and kill itself.
const DIE_ENV: &str = "RPACK_STACK_TEST_DIE";

#[test]
#[ignore = "helper of stack_children_die_with_a_killed_test_binary"]
fn child_that_dies_abruptly() {
    if std::env::var_os(DIE_ENV).is_none() {
        return;
    }
    let moto = Moto::start_dedicated();
    let proxy = Proxy::start(moto.endpoint());
    println!("PIDS {} {}", moto.pid(), proxy.pid());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // SIGKILL ourselves: no destructor runs, only the kernel's parent-death signal can help.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

#[test]
fn stack_children_die_with_a_killed_test_binary() {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stack::child_that_dies_abruptly",
            "--ignored",
            "--nocapture",
        ])
        .env(DIE_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the test binary again");
    let child_pid = child.id();
    let out = child
        .wait_with_output()
        .expect("waiting for the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(pids) = stdout.lines().find_map(|l| l.strip_prefix("PIDS ")) else {
        panic!(
            "no PIDS line in {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pids: Vec<u32> = pids
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let all_gone = wait_until(Duration::from_secs(5), || {
        pids.iter().all(|&p| !is_alive(p))
    });
    assert!(
        all_gone,
        "stack processes {pids:?} outlived their killed test binary"
    );
    let _ =
        std::fs::remove_dir_all(paths::target_dir().join(format!("test-stack/run-{child_pid}")));
}
