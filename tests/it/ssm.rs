//! SSH over rpack's native Session Manager transport, end to end: the real SSH communicator
//! (libssh2) over the socket-pair bridge, the data-channel client, and [`FakeSsm`]'s API and
//! agent carrying the stream to a loopback sshd, with faults injected by the fake.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpack::communicator::config::TransferMethod;
use rpack::communicator::ssh::{Auth, ConnectParams, Endpoint};
use rpack::communicator::ssm::{Document, SessionEvents, SessionTarget, SsmTransport};
use rpack::communicator::{CommError, Communicator, Discard, SshComm};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use crate::support::ssm::{FakeSsm, Faults};
use crate::support::{paths, ssh_keygen, KeyKind, Sshd};

const INSTANCE: &str = "i-0123456789abcdef0";

fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

/// Lines the transport reports, and the session ids it says it started and terminated.
#[derive(Default)]
struct Events {
    said: Mutex<Vec<String>>,
    started: Mutex<Vec<String>>,
    terminated: Mutex<Vec<String>>,
}
impl SessionEvents for Events {
    fn started(&self, id: &str) {
        self.started.lock().unwrap().push(id.to_string());
    }
    fn terminated(&self, id: &str) {
        self.terminated.lock().unwrap().push(id.to_string());
    }
    fn say(&self, line: &str) {
        self.said.lock().unwrap().push(line.to_string());
    }
}

struct Rig {
    sshd: Sshd,
    key: PathBuf,
    fake: FakeSsm,
    events: Arc<Events>,
    transport: Arc<SsmTransport>,
}

impl Rig {
    fn start(register_wait: Duration) -> Rig {
        let (key, public) = ssh_keygen(KeyKind::Ed25519);
        let sshd = Sshd::start_static(&public);
        let fake = FakeSsm::start();
        let events = Arc::new(Events::default());
        let target = SessionTarget {
            instance_id: INSTANCE.to_string(),
            document: Document::Ssh,
            port: sshd.port(),
        };
        let transport = Arc::new(SsmTransport::new(
            ssm_client(fake.endpoint()),
            "us-east-1",
            target,
            register_wait,
            events.clone(),
        ));
        Rig {
            sshd,
            key,
            fake,
            events,
            transport,
        }
    }

    fn params(&self) -> ConnectParams {
        ConnectParams {
            target: Endpoint {
                host: INSTANCE.to_string(),
                port: self.sshd.port(),
                user: self.sshd.user().to_string(),
                auth: Auth {
                    private_key_file: Some(self.key.clone()),
                    ..Default::default()
                },
            },
            bastion: None,
            pty: false,
            keep_alive: Some(Duration::from_secs(5)),
            read_write_timeout: None,
            transfer: TransferMethod::Scp,
            agent_forwarding: false,
        }
    }

    async fn connect(&self) -> SshComm {
        let comm = self.transport.ssh_comm(self.params());
        comm.wait_until_up(Duration::from_secs(30), 3, &CancellationToken::new())
            .await
            .expect("connecting over Session Manager");
        comm
    }

    /// Drops the connection and waits until every session was terminated; returns the record.
    async fn finish(&self, comm: SshComm) -> crate::support::ssm::Record {
        comm.disconnect();
        drop(comm);
        tokio::time::timeout(Duration::from_secs(20), self.transport.close())
            .await
            .expect("sessions end after the connection closes");
        let r = self.fake.wait_all_terminated(Duration::from_secs(5));
        assert!(!r.started.is_empty());
        for s in &r.started {
            assert!(
                r.terminated.contains(s),
                "session {s} was not terminated: {r:?}"
            );
        }
        assert_eq!(
            *self.events.started.lock().unwrap(),
            r.started,
            "the transport reports each session it started"
        );
        r
    }
}

/// How long one data-moving test may take, even on a loaded machine; past it the test fails
/// instead of hanging (these once hung: the data channel deadlocked, see `ssm/outbox.rs`).
const DATA_TEST_LIMIT: Duration = Duration::from_secs(240);

async fn bounded(limit: Duration, test: impl std::future::Future<Output = ()>) {
    assert!(
        tokio::time::timeout(limit, test).await.is_ok(),
        "the test did not finish within {limit:?}: a hang"
    );
}

async fn output(comm: &SshComm, cmd: &str) -> String {
    struct Collect(Mutex<String>);
    impl rpack::communicator::OutputSink for Collect {
        fn stdout_line(&self, l: &str) {
            let mut s = self.0.lock().unwrap();
            s.push_str(l);
            s.push('\n');
        }
        fn stderr_line(&self, l: &str) {
            self.stdout_line(&format!("err: {l}"));
        }
    }
    let c = Collect(Mutex::new(String::new()));
    let status = comm
        .start(cmd, &c, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let out = c.0.into_inner().unwrap();
    assert_eq!(status, 0, "{cmd:?} failed: {out}");
    out
}

fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, String) {
    let mut data = vec![0u8; len];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let p = dir.join(name);
    std::fs::write(&p, &data).unwrap();
    (p, hex::encode(sha2::Sha256::digest(&data)))
}

/// A fresh directory on the "instance", made by its login user over the session.
async fn remote_tmp(comm: &SshComm) -> String {
    output(comm, "mktemp -d").await.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_a_large_file_and_a_tree_go_over_a_session() {
    bounded(DATA_TEST_LIMIT, async {
        let rig = Rig::start(Duration::from_secs(10));
        let comm = rig.connect().await;
        assert_eq!(
            output(&comm, "echo hello; id -un").await,
            "hello\nec2-user\n"
        );

        let local = paths::fresh_dir("ssm-src");
        let (big, sum) = random_file(&local, "big.bin", 24 << 20);
        let dest = remote_tmp(&comm).await;
        let c = CancellationToken::new();
        comm.upload(&big, &format!("{dest}/big.bin"), None, &c)
            .await
            .unwrap();
        let remote_sum = output(&comm, &format!("sha256sum {dest}/big.bin")).await;
        assert!(remote_sum.starts_with(&sum), "{remote_sum} vs {sum}");

        let tree = paths::fresh_dir("ssm-tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("top.txt"), "top\n").unwrap();
        std::fs::write(tree.join("a/b/deep.txt"), "deep\n").unwrap();
        let tdest = format!("{dest}/tree");
        comm.upload_dir(&tree, &tdest, &c).await.unwrap();
        assert_eq!(
            output(&comm, &format!("cat {tdest}/top.txt {tdest}/a/b/deep.txt")).await,
            "top\ndeep\n"
        );
        let r = rig.finish(comm).await;
        assert_eq!(r.started.len(), 1, "one SSH connection, one session: {r:?}");
        assert_eq!(r.opened, r.started);
        assert_eq!(
            r.flagged, r.started,
            "the client told the agent the session ends"
        );
        let start = &r
            .calls
            .iter()
            .find(|(op, _)| op == "StartSession")
            .unwrap()
            .1;
        assert_eq!(start["Target"], INSTANCE);
        assert_eq!(start["DocumentName"], "AWS-StartSSHSession");
        assert_eq!(
            start["Parameters"]["portNumber"][0],
            rig.sshd.port().to_string()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_duplicated_and_reordered_messages_still_carry_exact_bytes() {
    bounded(DATA_TEST_LIMIT, async {
        let rig = Rig::start(Duration::from_secs(10));
        rig.fake.set_faults(Faults {
            drop_every: 11,
            duplicate_every: 5,
            reorder_every: 3,
            ..Faults::default()
        });
        let comm = rig.connect().await;
        let local = paths::fresh_dir("ssm-lossy");
        let (file, sum) = random_file(&local, "f.bin", 1 << 20);
        let dest = remote_tmp(&comm).await;
        let c = CancellationToken::new();
        comm.upload(&file, &format!("{dest}/f.bin"), None, &c)
            .await
            .unwrap();
        // Back again: the agent-to-client direction under the same faults.
        let back = local.join("back.bin");
        comm.download(&format!("{dest}/f.bin"), &back, &c)
            .await
            .unwrap();
        let got = hex::encode(sha2::Sha256::digest(std::fs::read(&back).unwrap()));
        assert_eq!(got, sum);
        assert_eq!(output(&comm, "echo still-here").await, "still-here\n");
        let r = rig.finish(comm).await;
        assert!(
            r.agent_resends > 0,
            "dropped agent messages were resent: {r:?}"
        );
        assert!(
            r.client_duplicates > 0,
            "the client resent what the agent lost or did not ack: {r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_agent_registration_is_waited_for() {
    bounded(DATA_TEST_LIMIT, async {
        let rig = Rig::start(Duration::from_secs(20));
        rig.fake.set_faults(Faults {
            not_connected_calls: 3,
            ..Faults::default()
        });
        let comm = rig.connect().await;
        assert_eq!(output(&comm, "echo up").await, "up\n");
        let r = rig.finish(comm).await;
        let starts = r
            .calls
            .iter()
            .filter(|(op, _)| op == "StartSession")
            .count();
        assert_eq!(
            starts, 4,
            "three TargetNotConnected answers, then a session"
        );
        let said = rig.events.said.lock().unwrap().clone();
        assert_eq!(
            said,
            vec![format!(
                "Waiting for the SSM agent on {INSTANCE} to register with Systems Manager..."
            )]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_never_registers_is_a_bounded_clear_error() {
    let rig = Rig::start(Duration::from_millis(1500));
    rig.fake.set_faults(Faults {
        not_connected_calls: u32::MAX,
        ..Faults::default()
    });
    let t0 = Instant::now();
    let err = match rig.transport.open(&CancellationToken::new()).await {
        Ok(_) => panic!("a session opened to an unregistered agent"),
        Err(e) => e.to_string(),
    };
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(
        err.starts_with(&format!(
            "the SSM agent on {INSTANCE} did not register with Systems Manager within"
        )),
        "{err}"
    );
    assert!(err.contains("AmazonSSMManagedInstanceCore"), "{err}");
    // How long, as a person reads it (Go's duration format to a tenth of a second), not a
    // Rust debug print of the measured nanoseconds.
    let waited = err
        .split(" within ")
        .nth(1)
        .and_then(|r| r.split(" (").next())
        .unwrap_or_default();
    let (num, unit) = waited.split_at(waited.len().saturating_sub(1));
    assert!(
        unit == "s"
            && num.parse::<f64>().is_ok()
            && num.split('.').nth(1).is_none_or(|f| f.len() == 1),
        "{err}"
    );
    assert!(rig.fake.record().started.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_stream_url_is_a_clear_error_and_the_session_is_terminated() {
    let rig = Rig::start(Duration::from_secs(10));
    let port = crate::support::process::free_port();
    rig.fake.set_faults(Faults {
        stream_url: Some(format!(
            "ws://127.0.0.1:{port}/v1/data-channel/x?role=publish_subscribe"
        )),
        ..Faults::default()
    });
    let err = match rig.transport.open(&CancellationToken::new()).await {
        Ok(_) => panic!("opened a data channel nobody listens on"),
        Err(e) => e.to_string(),
    };
    let r = rig.fake.record();
    let sid = &r.started[0];
    assert!(
        err.starts_with(&format!(
            "session {sid}: cannot open the Session Manager data channel ws://127.0.0.1:{port}/v1/data-channel/x: "
        )),
        "{err}"
    );
    assert!(!err.contains("role="), "{err}");
    assert_eq!(r.terminated, r.started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_session_disconnect_fails_the_operation_and_the_next_one_reconnects() {
    bounded(DATA_TEST_LIMIT, async {
        let rig = Rig::start(Duration::from_secs(10));
        let comm = rig.connect().await;
        rig.fake.set_faults(Faults {
            disconnect_after: Some(300),
            ..Faults::default()
        });
        let local = paths::fresh_dir("ssm-cut");
        let (file, _) = random_file(&local, "f.bin", 4 << 20);
        let dest = remote_tmp(&comm).await;
        let err = comm
            .upload(
                &file,
                &format!("{dest}/f.bin"),
                None,
                &CancellationToken::new(),
            )
            .await
            .expect_err("the upload cannot finish on a cut channel");
        assert!(matches!(err, CommError::Disconnected(_)), "{err:?}");
        rig.fake.set_faults(Faults::default());
        assert_eq!(output(&comm, "echo again").await, "again\n");
        let r = rig.finish(comm).await;
        assert_eq!(
            r.started.len(),
            2,
            "a new session for the new connection: {r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_transfer_ends_the_session() {
    bounded(DATA_TEST_LIMIT, async {
        let rig = Rig::start(Duration::from_secs(10));
        rig.fake.set_faults(Faults {
            delay: Duration::from_millis(2),
            ..Faults::default()
        });
        let comm = rig.connect().await;
        let local = paths::fresh_dir("ssm-cancel");
        let (file, _) = random_file(&local, "f.bin", 8 << 20);
        let dest = remote_tmp(&comm).await;
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            c2.cancel();
        });
        let t0 = Instant::now();
        let err = comm
            .upload(&file, &format!("{dest}/f.bin"), None, &cancel)
            .await
            .expect_err("cancelled");
        assert!(matches!(err, CommError::Cancelled), "{err:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        rig.finish(comm).await;
    })
    .await;
}

/// boto3 (botocore's ssm model) as the client: request shapes and response parsing of the fake.
#[test]
fn ssm_fake_speaks_botocores_model() {
    let fake = FakeSsm::start();
    fake.set_faults(Faults {
        not_connected_calls: 1,
        ..Faults::default()
    });
    let script = r#"
import sys, boto3, botocore
c = boto3.client("ssm", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="a", aws_secret_access_key="b")
try:
    c.start_session(Target="i-0123456789abcdef0")
    print("no error")
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"])
r = c.start_session(Target="i-0123456789abcdef0", DocumentName="AWS-StartSSHSession",
                    Parameters={"portNumber": ["22"]})
print("started", r["SessionId"].startswith("rpack-test-"), r["StreamUrl"].startswith("ws://127.0.0.1:"), bool(r["TokenValue"]))
print("terminated", c.terminate_session(SessionId=r["SessionId"])["SessionId"] == r["SessionId"])
info = c.describe_instance_information()["InstanceInformationList"]
print("info", info[0]["InstanceId"], info[0]["PingStatus"])
"#;
    let out = std::process::Command::new(paths::venv_bin("python"))
        .arg("-c")
        .arg(script)
        .arg(fake.endpoint())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "error TargetNotConnected\nstarted True True True\nterminated True\ninfo i-0123456789abcdef0 Online\n"
    );
    let r = fake.record();
    assert_eq!(r.calls[1].1["Parameters"]["portNumber"][0], "22");
}

/// `scripts/bench-ssm.sh`: set-up time after StartSession and a 64 MiB upload through the fake
/// agent on loopback. Prints `BENCH` lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by scripts/bench-ssm.sh"]
async fn bench_ssm() {
    let rig = Rig::start(Duration::from_secs(10));
    let mut setups = Vec::new();
    for _ in 0..5 {
        let t = rig.transport.open(&CancellationToken::new()).await.unwrap();
        setups.push(rig.transport.last_setup().unwrap());
        drop(t);
    }
    setups.sort();
    let comm = rig.connect().await;
    let local = paths::fresh_dir("ssm-bench");
    let (file, sum) = random_file(&local, "64m.bin", 64 << 20);
    let dest = remote_tmp(&comm).await;
    let t0 = Instant::now();
    comm.upload(
        &file,
        &format!("{dest}/64m.bin"),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let remote_sum = output(&comm, &format!("sha256sum {dest}/64m.bin")).await;
    assert!(remote_sum.starts_with(&sum));
    let _ = comm
        .start(
            &format!("rm -rf {dest}"),
            &Discard,
            &CancellationToken::new(),
        )
        .await;
    println!(
        "BENCH setup_after_start_session_median_s {:.4}",
        setups[setups.len() / 2].as_secs_f64()
    );
    println!("BENCH upload_64mib_s {secs:.3}");
    println!("BENCH upload_64mib_mib_per_s {:.1}", 64.0 / secs);
    rig.finish(comm).await;
}

/// A killed build's open session is in its ledger; `rpack cleanup --yes` ends it with
/// TerminateSession (through `AWS_ENDPOINT_URL_SSM`), records the deletion, and a second run
/// finds nothing left.
#[test]
fn cleanup_terminates_a_session_a_killed_build_left_open() {
    let fake = FakeSsm::start();
    let state = paths::fresh_dir("ssm-cleanup-state");
    let build = "ssm-cleanup-build";
    let ledger =
        rpack::ledger::Ledger::open(build, &state.join("builds").join(format!("{build}.jsonl")))
            .unwrap();
    let sid = "rpack-test-0000000000000abcd";
    ledger.created(rpack::aws::ResourceKind::SsmSession, sid, "us-east-1");
    drop(ledger);
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rpack"))
            .args(["cleanup", "--yes", build])
            .env("RPACK_STATE_DIR", &state)
            .env("AWS_ENDPOINT_URL_SSM", fake.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run();
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Deleted ssm_session {sid} in us-east-1")),
        "{text}"
    );
    assert_eq!(fake.record().terminated, vec![sid.to_string()]);
    let (ok, text) = run();
    assert!(ok, "{text}");
    assert!(text.contains("Nothing to clean up"), "{text}");
    assert_eq!(fake.record().terminated.len(), 1);
}
