//! The injected host key (issue #19): rpack sends a fresh ed25519 host key in the user data
//! (cloud-init `ssh_keys`, merged as a MIME part with the template's own user data), accepts
//! only that key, and removes it and cloud-init's copies of the user data from the instance
//! before imaging. The test plays cloud-init: it reads the user data rpack sent (the proxy's
//! recorded RunInstances), writes the files cloud-init would under a directory standing for the
//! instance's root (`ssh_host_key_scrub_root`), and starts the instance's sshd with that host
//! key behind a relay on the address the build connects to. Also: the bastion's host key,
//! stated (`ssh_bastion_host_key`) or pinned at first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use rpack::communicator::ssh::{Auth, ConnectParams, Endpoint};
use rpack::communicator::{CommError, Communicator, Discard, SshComm};

use crate::ebs;
use crate::host_key::{ed25519_fingerprint, Switch};
use crate::support::paths::fresh_dir;
use crate::support::{ssh_keygen, Console, KeyKind, Proxy, Sshd};

const INSTANCE_DIR: &str = "var/lib/cloud/instances/i-rpacktest";
const HOST_KEY: &str = "etc/ssh/ssh_host_ed25519_key";
const COPIES: [&str; 4] = [
    "user-data.txt",
    "user-data.txt.i",
    "cloud-config.txt",
    "obj.pkl",
];

/// What the played cloud-init saw and started.
struct Booted {
    sshd: Sshd,
    /// The user data rpack sent, decoded.
    user_data: String,
    /// The injected key's public line.
    public_line: String,
}

/// The host key in a `#cloud-config` `ssh_keys` block: (private key, public line).
fn ssh_keys(user_data: &str) -> (String, String) {
    let mut private = String::new();
    let mut public = String::new();
    let mut in_private = false;
    for l in user_data.lines() {
        if l == "  ed25519_private: |" {
            in_private = true;
        } else if in_private && l.starts_with("    ") {
            private.push_str(&l[4..]);
            private.push('\n');
        } else {
            in_private = false;
            if let Some(p) = l.strip_prefix("  ed25519_public: ") {
                public = p.trim().to_string();
            }
        }
    }
    assert!(
        private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n") && !public.is_empty(),
        "no ssh_keys block in the user data:\n{user_data}"
    );
    (private, public)
}

/// Waits for RunInstances, then does what cloud-init does with its user data: keeps copies
/// under /var/lib/cloud, installs the host key, and the instance's sshd starts with it.
fn play_cloud_init(
    proxy: Proxy,
    moto: String,
    root: PathBuf,
    switch: Arc<Switch>,
) -> std::thread::JoinHandle<(Proxy, Booted)> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        let user_data = loop {
            let sent = proxy
                .requests_of("RunInstances")
                .into_iter()
                .find_map(|r| r.get("UserData").cloned());
            if let Some(b64) = sent {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .expect("the user data is base64");
                break String::from_utf8(raw).expect("the user data is text");
            }
            assert!(Instant::now() < deadline, "no RunInstances with UserData");
            std::thread::sleep(Duration::from_millis(50));
        };
        let (private, public_line) = ssh_keys(&user_data);
        let dir = root.join(INSTANCE_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        let part_start = user_data.find("#cloud-config\n# rpack").unwrap();
        let part = &user_data[part_start..];
        let part = &part[..part.find("\n--").unwrap_or(part.len())];
        for (name, text) in [
            ("user-data.txt", user_data.as_str()),
            ("user-data.txt.i", user_data.as_str()),
            ("cloud-config.txt", part),
            ("obj.pkl", user_data.as_str()),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        std::os::unix::fs::symlink("instances/i-rpacktest", root.join("var/lib/cloud/instance"))
            .unwrap();
        let key = root.join(HOST_KEY);
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        write_0600(&key, &private);
        std::fs::write(key.with_extension("pub"), format!("{public_line}\n")).unwrap();
        let sshd = Sshd::start_ec2_with_host_keys(&moto, vec![key]);
        switch.switch_to(sshd.port());
        (
            proxy,
            Booted {
                sshd,
                user_data,
                public_line,
            },
        )
    })
}

fn write_0600(path: &Path, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A port nothing listens on (the instance before its sshd starts).
fn closed_port() -> u16 {
    crate::support::process::free_port()
}

fn has_line(lines: &[String], want: &str) -> Option<usize> {
    lines.iter().position(|l| l.contains(want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_sends_the_key_accepts_only_it_and_removes_it_before_imaging() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    // The console lists other keys: inject must not look at it.
    proxy.set_console(Console::NoKeys);
    let root = fresh_dir("inject-root");
    let switch = Arc::new(Switch::start(closed_port()));
    let player = play_cloud_init(
        proxy,
        st.moto.endpoint().to_string(),
        root.clone(),
        switch.clone(),
    );
    let o = ebs::build(
        &st,
        ebs::config(
            base,
            json!({
                "ssh_port": switch.port,
                "ssh_host_key_check": "inject",
                "ssh_host_key_scrub_root": root.display().to_string(),
                "user_data": "#!/bin/sh\necho from-the-template\n",
            }),
        ),
    )
    .await;
    let (proxy, booted) = player.join().unwrap();
    o.artifact();

    // One MIME multipart document: the template's script, then rpack's cloud-config.
    let ud = &booted.user_data;
    assert!(
        ud.starts_with("Content-Type: multipart/mixed; boundary="),
        "{ud}"
    );
    let script = ud.find("Content-Type: text/x-shellscript").unwrap();
    let cc = ud.find("Content-Type: text/cloud-config").unwrap();
    assert!(script < cc, "{ud}");
    assert!(ud.contains("#!/bin/sh\necho from-the-template\n"), "{ud}");
    assert!(ud.len() <= 16 * 1024);

    let fp = ed25519_fingerprint(std::slice::from_ref(&booted.public_line));
    let verified = has_line(
        &o.lines,
        &format!("Host key verified (the key rpack injected): {fp}"),
    );
    let connected = has_line(&o.lines, "Connected to SSH!");
    assert!(
        verified.is_some() && verified < connected,
        "{}",
        o.lines.join("\n")
    );
    assert_eq!(proxy.count("GetConsoleOutput"), 0);
    // Removed before CreateImage.
    let removed = has_line(&o.lines, "Removed the injected SSH host key").unwrap();
    let stop = has_line(&o.lines, "Stopping the source instance").unwrap();
    assert!(removed < stop, "{}", o.lines.join("\n"));
    assert!(
        o.lines[removed].ends_with(": 6 file(s)"),
        "{}",
        o.lines[removed]
    );
    for f in COPIES {
        let p = root.join(INSTANCE_DIR).join(f);
        assert!(!p.exists(), "{} remains", p.display());
    }
    assert!(!root.join(HOST_KEY).exists());
    assert!(!root.join(HOST_KEY).with_extension("pub").exists());
    // The private key never reached the UI.
    let (private, _) = ssh_keys(ud);
    let body = private.lines().nth(1).unwrap();
    assert!(!o.lines.iter().any(|l| l.contains(body)));
    drop(booted.sshd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_verifies_the_injected_key_without_console_keys_and_can_keep_it() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    proxy.set_console(Console::NoKeys);
    let root = fresh_dir("inject-auto-root");
    let switch = Arc::new(Switch::start(closed_port()));
    let player = play_cloud_init(
        proxy,
        st.moto.endpoint().to_string(),
        root.clone(),
        switch.clone(),
    );
    let o = ebs::build(
        &st,
        ebs::config(
            base,
            json!({
                "ssh_port": switch.port,
                "ssh_host_key_scrub_root": root.display().to_string(),
                "ssh_host_key_keep_injected": true,
            }),
        ),
    )
    .await;
    let (_proxy, booted) = player.join().unwrap();
    o.artifact();
    // No template user data: the cloud-config alone.
    assert!(
        booted.user_data.starts_with("#cloud-config\n"),
        "{}",
        booted.user_data
    );
    let fp = ed25519_fingerprint(std::slice::from_ref(&booted.public_line));
    assert!(
        has_line(
            &o.lines,
            &format!("Host key verified (the key rpack injected): {fp}")
        )
        .is_some(),
        "{}",
        o.lines.join("\n")
    );
    assert!(
        !o.lines.iter().any(|l| l.contains("Warning")),
        "{}",
        o.lines.join("\n")
    );
    let removed = has_line(&o.lines, "Removed the injected SSH host key").unwrap();
    assert!(
        o.lines[removed]
            .ends_with("4 file(s) (the host key itself stays: ssh_host_key_keep_injected)"),
        "{}",
        o.lines[removed]
    );
    for f in COPIES {
        assert!(!root.join(INSTANCE_DIR).join(f).exists(), "{f} remains");
    }
    assert!(root.join(HOST_KEY).exists());
    drop(booted.sshd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_too_large_for_the_key_fails_inject_early_and_auto_uses_the_console() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    // Fits EC2's 16 KB alone, not with the key.
    let big = format!("#!/bin/sh\n{}\n", "#".repeat(16 * 1024 - 100));
    let o = ebs::build(
        &st,
        ebs::config(
            base.clone(),
            json!({"ssh_host_key_check": "inject", "user_data": big}),
        ),
    )
    .await;
    let err = ebs::err_text(&o);
    assert!(
        err.contains(
            "ssh_host_key_check is inject, but the host key cannot be added to the user data"
        ) && err.contains("over EC2's limit of 16384"),
        "{err}"
    );
    assert_eq!(proxy.count("RunInstances"), 0);
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;

    // auto: the template's user data goes as it is, and the console verifies the key.
    proxy.reset_counts();
    let o = ebs::build(&st, ebs::config(base, json!({"user_data": big}))).await;
    o.artifact();
    assert!(
        has_line(
            &o.lines,
            "Not injecting an SSH host key (the user data with the host key would be"
        )
        .is_some()
            && has_line(&o.lines, "Host key verified from the console output").is_some(),
        "{}",
        o.lines.join("\n")
    );
    let sent = proxy.requests_of("RunInstances")[0]["UserData"].clone();
    let sent = base64::engine::general_purpose::STANDARD
        .decode(sent)
        .unwrap();
    assert!(
        sent == big.as_bytes(),
        "the template's user data was not sent as it is"
    );
}

// ---- the bastion ------------------------------------------------------------------------------

fn through(bastion: &Sshd, target: &Sshd, key: &Path, host_key: Option<String>) -> ConnectParams {
    let auth = Auth {
        private_key_file: Some(key.to_path_buf()),
        ..Default::default()
    };
    ConnectParams {
        target: Endpoint {
            host: target.host().into(),
            port: target.port(),
            user: target.user().into(),
            auth: auth.clone(),
        },
        bastion: Some(Endpoint {
            host: bastion.host().into(),
            port: bastion.port(),
            user: bastion.user().into(),
            auth: Auth { host_key, ..auth },
        }),
        pty: false,
        keep_alive: Some(Duration::from_secs(5)),
        read_write_timeout: None,
        transfer: rpack::communicator::config::TransferMethod::Scp,
        agent_forwarding: false,
    }
}

async fn dial(p: ConnectParams) -> Result<SshComm, CommError> {
    let comm = SshComm::new(p);
    comm.wait_until_up(Duration::from_secs(10), 2, &CancellationToken::new())
        .await?;
    Ok(comm)
}

fn accepted(sshd: &Sshd) -> usize {
    sshd.log().matches("Accepted publickey").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_bastion_host_key_is_checked_strictly_before_logging_in() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let bastion = Sshd::start_static(&public);
    let target = Sshd::start_static(&public);
    let ed = bastion
        .host_public_keys()
        .into_iter()
        .find(|k| k.starts_with("ssh-ed25519 "))
        .unwrap();
    let fp = ed25519_fingerprint(std::slice::from_ref(&ed));
    let sha = fp.trim_start_matches("ED25519 ").to_string();
    // The key line and its fingerprint both let the build through.
    for stated in [ed.clone(), sha.clone()] {
        let comm = dial(through(&bastion, &target, &key, Some(stated)))
            .await
            .unwrap();
        assert_eq!(
            comm.start("true", &Discard, &CancellationToken::new())
                .await
                .unwrap(),
            0
        );
        comm.disconnect();
    }
    let logins = accepted(&bastion);
    // Another key is refused before authenticating.
    let (_, other) = ssh_keygen(KeyKind::Ed25519);
    let err = match dial(through(&bastion, &target, &key, Some(other))).await {
        Ok(_) => panic!("connected through a bastion with another host key"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("not the one ssh_bastion_host_key names") && err.contains(&fp),
        "{err}"
    );
    assert_eq!(accepted(&bastion), logins, "{}", bastion.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bastion_host_key_is_pinned_at_first_use() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    let mut bastion = Sshd::start_static(&public);
    let target = Sshd::start_static(&public);
    let first = ed25519_fingerprint(&bastion.host_public_keys());
    let comm = dial(through(&bastion, &target, &key, None)).await.unwrap();
    let c = CancellationToken::new();
    assert_eq!(comm.start("true", &Discard, &c).await.unwrap(), 0);
    // The bastion's address now answers with other keys: every reconnect is refused.
    bastion.regenerate_host_key();
    let logins = accepted(&bastion);
    let mut last = String::new();
    for _ in 0..3 {
        match comm.start("true", &Discard, &c).await {
            Ok(s) => last = format!("ran (status {s})"),
            Err(e) => last = e.to_string(),
        }
        if last.contains("changed during the build") {
            break;
        }
    }
    assert!(
        last.contains("host key of bastion")
            && last.contains("changed during the build")
            && last.contains(&first),
        "{last}"
    );
    assert_eq!(accepted(&bastion), logins, "{}", bastion.log());
}

// ---- benchmark --------------------------------------------------------------------------------

/// `ssh_host_key_check: auto` (key injected, console read, removal before imaging) against
/// `off` on the same stack, interleaved (the order alternates each round). Prints one JSON line
/// per build; scripts/bench-hostkey.sh takes the medians.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run through scripts/bench-hostkey.sh"]
async fn bench_host_key_check() {
    let st = ebs::stack();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    // One warm-up build of each (first connections, page cache).
    for round in 0..=runs {
        let order = if round % 2 == 0 {
            ["auto", "off"]
        } else {
            ["off", "auto"]
        };
        for mode in order {
            st.proxy.reset_counts();
            let cfg = ebs::config(st.base(), json!({ "ssh_host_key_check": mode }));
            let started = Instant::now();
            let o = ebs::build(&st, cfg).await;
            let wall = started.elapsed().as_secs_f64();
            o.artifact();
            if mode == "auto" {
                assert!(has_line(&o.lines, "Host key verified").is_some());
            }
            if round > 0 {
                println!(
                    "BENCH {}",
                    json!({"mode": mode, "wall_s": (wall * 1000.0).round() / 1000.0,
                           "console_calls": st.proxy.count("GetConsoleOutput")})
                );
            }
        }
    }
}
