//! Host-key verification groundwork (issue #19): the test stack's GetConsoleOutput lists the
//! instance sshd's real host keys in cloud-init's format (switchable per test to other keys, no
//! keys, a cut-off block, or moto's stub), and `ssh_host_key_check` is decoded with a clear
//! error for bad values.

use std::process::Command;

use base64::Engine as _;
use serde_json::json;

use crate::support::paths::fresh_dir;
use crate::support::{Console, Ec2Stack};

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
