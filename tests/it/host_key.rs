//! Host-key verification (issue #19): the test stack's GetConsoleOutput lists the instance
//! sshd's real host keys in cloud-init's format (switchable per test to other keys, no keys, a
//! cut-off block, or moto's stub); `ssh_host_key_check` is decoded with a clear error for bad
//! values; amazon-ebs builds verify the key from the console before authenticating, stop on a
//! contradicting console or a changed key without sending anything, and fall back to trust on
//! first use with a warning when the console lists no keys.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use rpack::builders::amazon_ebs::{ProvisionHook, TrueHook};
use rpack::communicator::{Communicator, Discard};
use rpack::shell_local::GeneratedData;
use rpack::ui::Ui;
use tokio_util::sync::CancellationToken;

use base64::Engine as _;
use serde_json::json;

use crate::ebs;
use crate::support::paths::fresh_dir;
use crate::support::{Console, Ec2Stack, Sshd};

const REGION: &str = "us-east-1";

/// Runs one instance through the proxy and returns its decoded console output.
fn console_of(st: &Ec2Stack) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = crate::support::client(st.proxy.endpoint(), REGION);
        let images = ec2.describe_images().owners("amazon").send().await.unwrap();
        let ami = images.images()[0].image_id().unwrap().to_string();
        let run = ec2
            .run_instances()
            .image_id(ami)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        let id = run.instances()[0].instance_id().unwrap().to_string();
        let out = ec2
            .get_console_output()
            .instance_id(&id)
            .latest(true)
            .send()
            .await
            .unwrap();
        let b64 = out.output().unwrap_or_default();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    })
}

fn block_keys(text: &str) -> Vec<String> {
    let Some(start) = text.find("-----BEGIN SSH HOST KEY KEYS-----") else {
        return vec![];
    };
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.contains("-----END SSH HOST KEY KEYS-----"))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

fn body(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_console_lists_the_instances_real_host_keys_and_can_lie_or_stay_silent() {
    let st = Ec2Stack::start();
    let real: Vec<String> = st.sshd.host_public_keys().iter().map(|k| body(k)).collect();
    assert!(!real.is_empty());

    // Default: cloud-init's block with the sshd's keys, CRLF line ends, fingerprints before it.
    let text = console_of(&st);
    assert!(text.contains("\r\n"), "{text}");
    assert!(
        text.contains("ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----"),
        "{text}"
    );
    assert!(text.contains("-----END SSH HOST KEY KEYS-----"), "{text}");
    assert_eq!(block_keys(&text), real, "{text}");
    // The fingerprints are ssh-keygen's.
    let pubfile = fresh_dir("host-key").join("k.pub");
    std::fs::write(&pubfile, &st.sshd.host_public_keys()[0]).unwrap();
    let fp = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&pubfile)
        .output()
        .unwrap();
    let fp = String::from_utf8(fp.stdout).unwrap();
    let fp = fp.split_whitespace().nth(1).unwrap();
    assert!(text.contains(fp), "{fp} not in\n{text}");

    // A man in the middle: other keys.
    let dir = fresh_dir("host-key-wrong");
    let st2 = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.join("k"))
        .status()
        .unwrap();
    assert!(st2.success());
    let wrong = std::fs::read_to_string(dir.join("k.pub")).unwrap();
    st.proxy
        .set_console(Console::Keys(vec![wrong.trim().to_string()]));
    let text = console_of(&st);
    assert_eq!(block_keys(&text), vec![body(&wrong)]);
    assert!(!real.iter().any(|k| text.contains(k.as_str())), "{text}");

    // No keys, a cut-off block, moto's stub.
    st.proxy.set_console(Console::NoKeys);
    let text = console_of(&st);
    assert!(!text.contains("SSH HOST KEY"), "{text}");
    assert!(text.contains("Cloud-init"), "{text}");
    st.proxy
        .set_console(Console::Truncated(st.sshd.host_public_keys()));
    let text = console_of(&st);
    assert!(text.contains("-----BEGIN SSH HOST KEY KEYS-----"), "{text}");
    assert!(!text.contains("-----END SSH HOST KEY KEYS-----"), "{text}");
    st.proxy.set_console(Console::Moto);
    let text = console_of(&st);
    assert!(!text.contains("SSH HOST KEY KEYS"), "{text}");
}

#[test]
fn ssh_host_key_check_takes_five_values_and_names_a_bad_one() {
    let dir = fresh_dir("host-key-option");
    let write = |name: &str, value: &str| {
        let p = dir.join(name);
        let tpl = json!({"builders": [{
            "type": "null",
            "ssh_host": "127.0.0.1",
            "ssh_username": "u",
            "ssh_password": "p",
            "ssh_host_key_check": value
        }]});
        std::fs::write(&p, tpl.to_string()).unwrap();
        p
    };
    for ok in ["inject", "console", "tofu", "off", "auto"] {
        let p = write(&format!("{ok}.json"), ok);
        let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
            .arg("validate")
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ok}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let p = write("bad.json", "strict");
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .arg("validate")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            r#"ssh_host_key_check "strict" is not one of inject, console, tofu, off, auto"#
        ),
        "{text}"
    );
}

// ---- builds -----------------------------------------------------------------------------------

/// `ED25519 SHA256:…` of the instance sshd's ed25519 host key, as ssh-keygen prints it.
pub(crate) fn ed25519_fingerprint(keys: &[String]) -> String {
    let line = keys
        .iter()
        .find(|k| k.starts_with("ssh-ed25519 "))
        .expect("the test sshd has an ed25519 host key");
    let file = fresh_dir("host-key-fp").join("k.pub");
    std::fs::write(&file, line).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("ED25519 {}", text.split_whitespace().nth(1).unwrap())
}

fn other_ed25519_key() -> String {
    let dir = fresh_dir("host-key-other");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.join("k"))
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::read_to_string(dir.join("k.pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// Records whether provisioning ran, then runs `true`.
struct Probe(Arc<AtomicBool>);

#[async_trait::async_trait]
impl ProvisionHook for Probe {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        data: &GeneratedData,
        ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        self.0.store(true, Ordering::SeqCst);
        TrueHook.provision(comm, data, ui, cancel).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_build_verifies_the_host_key_from_the_console() {
    let st = ebs::stack();
    let o = ebs::build(&st, ebs::config(st.base(), json!({}))).await;
    o.artifact();
    let want = format!(
        "Host key verified from the console output: {}",
        ed25519_fingerprint(&st.sshd.host_public_keys())
    );
    let at = o.lines.iter().position(|l| l.ends_with(&want));
    let connected = o.lines.iter().position(|l| l.contains("Connected to SSH!"));
    assert!(
        at.is_some() && at < connected,
        "want {want:?} before 'Connected to SSH!' in\n{}",
        o.lines.join("\n")
    );
    assert!(st.proxy.counts().contains_key("GetConsoleOutput"));
    assert!(
        !o.lines.iter().any(|l| l.contains("Warning")),
        "{}",
        o.lines.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_listing_other_keys_stops_the_build_before_anything_is_sent() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    let wrong = other_ed25519_key();
    proxy.set_console(Console::Keys(vec![wrong.clone()]));
    let provisioned = Arc::new(AtomicBool::new(false));
    let o = ebs::build_with(
        &st,
        ebs::config(base, json!({})),
        Arc::new(Probe(provisioned.clone())),
        None,
    )
    .await;
    let err = ebs::err_text(&o);
    let presented = ed25519_fingerprint(&st.sshd.host_public_keys());
    let listed = ed25519_fingerprint(&[wrong]);
    assert!(
        err.contains("not the one its console lists")
            && err.contains(&format!("presented {presented}"))
            && err.contains(&listed),
        "{err}"
    );
    assert!(!provisioned.load(Ordering::SeqCst));
    // Never authenticated: sshd logged no accepted login and never asked for the build's key.
    let log = st.sshd.log();
    assert!(!log.contains("Accepted"), "{log}");
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_without_keys_falls_back_to_trust_on_first_use_with_a_warning() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    proxy.set_console(Console::NoKeys);
    let o = ebs::build(&st, ebs::config(base, json!({}))).await;
    o.artifact();
    let fp = ed25519_fingerprint(&st.sshd.host_public_keys());
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Warning: could not verify")
                && l.contains("trusting it on first use")
                && l.contains(&fp)),
        "{}",
        o.lines.join("\n")
    );
    assert!(!o.lines.iter().any(|l| l.contains("Host key verified")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_checks_nothing_and_asks_no_console() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    let o = ebs::build(&st, ebs::config(base, json!({"ssh_host_key_check": "off"}))).await;
    o.artifact();
    assert!(!proxy.counts().contains_key("GetConsoleOutput"));
    assert!(!o.lines.iter().any(|l| l.contains("Host key")));
}

/// `<LABEL> SHA256:…` of the first of `keys` whose line starts with `prefix`, as ssh-keygen
/// prints it.
fn fingerprint_of(keys: &[String], prefix: &str, label: &str) -> String {
    let line = keys
        .iter()
        .find(|k| k.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} key in {keys:?}"));
    let file = fresh_dir("host-key-fp").join("k.pub");
    std::fs::write(&file, line).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("{label} {}", text.split_whitespace().nth(1).unwrap())
}

fn real_rsa_line(st: &crate::support::Ec2Stack) -> String {
    st.sshd
        .host_public_keys()
        .into_iter()
        .find(|k| k.starts_with("ssh-rsa "))
        .expect("the test sshd has an RSA host key")
}

/// The sshd offers ed25519, ECDSA and RSA keys and rpack asks for ed25519 first; the console
/// lists only the RSA key. rpack does not fall back to trust on first use: it connects again
/// asking for RSA only and verifies that key. The reconnect after `pause_before_connecting`
/// asks for the accepted key's type again, so the pinned key is presented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_listing_only_another_key_type_makes_rpack_ask_for_that_type() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    proxy.set_console(Console::Keys(vec![real_rsa_line(&st)]));
    let o = ebs::build(
        &st,
        ebs::config(base, json!({"pause_before_connecting": "1s"})),
    )
    .await;
    o.artifact();
    let keys = st.sshd.host_public_keys();
    let ed = ed25519_fingerprint(&keys);
    let rsa = fingerprint_of(&keys, "ssh-rsa ", "RSA");
    let text = o.lines.join("\n");
    let asked = o.lines.iter().position(|l| {
        l.contains(&format!(
            "The server presented {ed}, a key type its console does not list"
        )) && l.contains("connecting again to ask for ssh-rsa only")
    });
    let verified = o
        .lines
        .iter()
        .position(|l| l.ends_with(&format!("Host key verified from the console output: {rsa}")));
    let connected = o.lines.iter().position(|l| l.contains("Connected to SSH!"));
    assert!(
        asked.is_some() && asked < verified && verified < connected,
        "{text}"
    );
    assert!(!text.contains("Warning"), "{text}");
    assert!(!text.contains("trusting it on first use"), "{text}");
}

/// The same ed25519-first server, the console listing only a wrong RSA key: asked for RSA, the
/// server's real RSA key contradicts the console and the build stops before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_listing_only_a_wrong_key_of_another_type_stops_the_build() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    let dir = fresh_dir("host-key-wrong-rsa");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(dir.join("k"))
        .status()
        .unwrap();
    assert!(ok.success());
    let wrong = std::fs::read_to_string(dir.join("k.pub"))
        .unwrap()
        .trim()
        .to_string();
    proxy.set_console(Console::Keys(vec![wrong.clone()]));
    let provisioned = Arc::new(AtomicBool::new(false));
    let o = ebs::build_with(
        &st,
        ebs::config(base, json!({})),
        Arc::new(Probe(provisioned.clone())),
        None,
    )
    .await;
    let err = ebs::err_text(&o);
    let presented = fingerprint_of(&st.sshd.host_public_keys(), "ssh-rsa ", "RSA");
    let listed = fingerprint_of(&[wrong], "ssh-rsa ", "RSA");
    assert!(
        err.contains("not the one its console lists")
            && err.contains(&format!("presented {presented}"))
            && err.contains(&listed),
        "{err}\n{}",
        o.lines.join("\n")
    );
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("connecting again to ask for ssh-rsa only")),
        "{}",
        o.lines.join("\n")
    );
    assert!(!provisioned.load(Ordering::SeqCst));
    let log = st.sshd.log();
    assert!(!log.contains("Accepted"), "{log}");
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;
}

/// A server with only an ed25519 host key while the console lists only an RSA key: asked for
/// RSA, it cannot agree on a host key type, and the build stops before anything is sent, naming
/// both keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_key_of_the_listed_type_stops_the_build() {
    let st = ebs::stack();
    let (proxy, base) = st.own_proxy();
    let dir = fresh_dir("host-key-ed-only");
    let key = dir.join("ssh_host_ed25519_key");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let ed_only = Sshd::start_ec2_with_host_keys(st.moto.endpoint(), vec![key.clone()]);
    let listed_line = real_rsa_line(&st);
    proxy.set_console(Console::Keys(vec![listed_line.clone()]));
    let provisioned = Arc::new(AtomicBool::new(false));
    let o = ebs::build_with(
        &st,
        ebs::config(base, json!({"ssh_port": ed_only.port()})),
        Arc::new(Probe(provisioned.clone())),
        None,
    )
    .await;
    let err = ebs::err_text(&o);
    let presented = ed25519_fingerprint(&[std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()]);
    let listed = fingerprint_of(&[listed_line], "ssh-rsa ", "RSA");
    assert!(
        err.contains(&format!(
            "The server presented {presented}, a key type its console does not list ({listed})"
        )) && err.contains("has no key of a listed type when asked"),
        "{err}\n{}",
        o.lines.join("\n")
    );
    assert!(!provisioned.load(Ordering::SeqCst));
    let log = ed_only.log();
    assert!(!log.contains("Accepted"), "{log}");
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;
}

/// A relay on the instance's address that can be switched to another server, dropping every
/// connection it carries: a man in the middle taking over after the first connection.
pub(crate) struct Switch {
    pub(crate) port: u16,
    target: Arc<AtomicU16>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Switch {
    pub(crate) fn start(target: u16) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target));
        let conns = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let (t, c) = (target.clone(), conns.clone());
        std::thread::spawn(move || {
            for down in listener.incoming() {
                let Ok(down) = down else { break };
                let Ok(up) = TcpStream::connect(("127.0.0.1", t.load(Ordering::SeqCst))) else {
                    continue;
                };
                let _ = up.set_nodelay(true);
                let _ = down.set_nodelay(true);
                c.lock().unwrap().push(down.try_clone().unwrap());
                for (mut from, mut to) in [
                    (down.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, down),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Switch {
            port,
            target,
            conns,
        }
    }

    pub(crate) fn switch_to(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Runs a command, lets the switch hand the address to another sshd, then runs another.
struct TakeOver {
    switch: Arc<Switch>,
    mitm_port: u16,
    second: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl ProvisionHook for TakeOver {
    async fn provision(
        &self,
        comm: Option<&dyn Communicator>,
        _data: &GeneratedData,
        _ui: &dyn Ui,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let comm = comm.unwrap();
        assert_eq!(comm.start("true", &Discard, cancel).await?, 0);
        self.switch.switch_to(self.mitm_port);
        // The first try sees the connection drop; the reconnect meets the other server.
        let mut last = String::new();
        for _ in 0..3 {
            match comm
                .start("touch /tmp/rpack-mitm-reached", &Discard, cancel)
                .await
            {
                Ok(_) => last = "the command ran".into(),
                Err(e) => last = e.to_string(),
            }
            if last.contains("host key") {
                break;
            }
        }
        *self.second.lock().unwrap() = Some(last.clone());
        anyhow::bail!("{last}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_server_on_reconnect_is_refused_before_anything_is_sent() {
    let st = ebs::stack();
    let mut mitm = Sshd::start_ec2(st.moto.endpoint());
    mitm.regenerate_host_key();
    let switch = Arc::new(Switch::start(st.sshd.port()));
    let hook = Arc::new(TakeOver {
        switch: switch.clone(),
        mitm_port: mitm.port(),
        second: Mutex::new(None),
    });
    let o = ebs::build_with(
        &st,
        ebs::config(st.base(), json!({"ssh_port": switch.port})),
        hook.clone(),
        None,
    )
    .await;
    let err = ebs::err_text(&o);
    let second = hook.second.lock().unwrap().clone().unwrap();
    assert!(
        second.contains("host key changed during the build"),
        "{second}\n{err}"
    );
    let first = ed25519_fingerprint(&st.sshd.host_public_keys());
    assert!(second.contains(&first), "{second}");
    let log = mitm.log();
    assert!(!log.contains("Accepted"), "the impostor got a login: {log}");
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;
}

/// The impostor on reconnect has no key of the accepted key's type (only RSA): rpack asks for
/// that type alone, the key exchange finds no host key type in common, and the build stops
/// without logging in, naming the accepted key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_without_a_key_of_the_pinned_type_is_refused_on_reconnect() {
    let st = ebs::stack();
    let dir = fresh_dir("host-key-rsa-only");
    let key = dir.join("ssh_host_rsa_key");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let mitm = Sshd::start_ec2_with_host_keys(st.moto.endpoint(), vec![key]);
    let switch = Arc::new(Switch::start(st.sshd.port()));
    let hook = Arc::new(TakeOver {
        switch: switch.clone(),
        mitm_port: mitm.port(),
        second: Mutex::new(None),
    });
    let o = ebs::build_with(
        &st,
        ebs::config(st.base(), json!({"ssh_port": switch.port})),
        hook.clone(),
        None,
    )
    .await;
    let err = ebs::err_text(&o);
    let second = hook.second.lock().unwrap().clone().unwrap();
    let first = ed25519_fingerprint(&st.sshd.host_public_keys());
    assert!(
        second.contains("the server has no host key of the type the build accepted")
            && second.contains(&first),
        "{second}\n{err}"
    );
    let log = mitm.log();
    assert!(!log.contains("Accepted"), "the impostor got a login: {log}");
    ebs::assert_clean(&st, &o, &[ebs::REGION]).await;
}
