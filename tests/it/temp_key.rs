//! The temporary key pair's private key (issue #19): an amazon-ebs build keeps it in memory and
//! logs in with it from there, so a default build never writes it to disk (watched while the
//! build runs); the `ansible` provisioner, which needs a file, gets a 0600 copy inside the
//! build's 0700 work directory, removed when Ansible ends, and left for `rpack cleanup` when the
//! build is killed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::build::{run_to_end, stack, Running, Stack, REGION};
use crate::support::paths::{fresh_dir, venv_bin};

/// What a scan of `dir` found: files holding a private key, and every path seen.
#[derive(Default)]
struct Seen {
    key_files: Vec<String>,
    paths: Vec<String>,
}

fn scan(dir: &Path, seen: &mut Seen) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let shown = p.display().to_string();
        if !seen.paths.contains(&shown) {
            seen.paths.push(shown.clone());
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => scan(&p, seen),
            Ok(t) if t.is_file() => {
                // Read what is there now: the file may be gone already.
                if let Ok(b) = std::fs::read(&p) {
                    let text = String::from_utf8_lossy(&b);
                    if text.contains("PRIVATE KEY-----") && !seen.key_files.contains(&shown) {
                        seen.key_files.push(shown);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Scans `dir` every few milliseconds until dropped.
struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(dir: PathBuf) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, w) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                scan(&dir, &mut w.lock().unwrap());
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Watch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// `rpack build` of `tpl` with its own TMPDIR and Ansible from the test venv on PATH.
fn build_cmd(st: &Stack, tpl: &Path, tmp: &Path) -> Command {
    let mut cmd = st.rpack(&["build", "-color=false", tpl.to_str().unwrap()]);
    let path = format!(
        "{}:{}",
        venv_bin("ansible-playbook").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("TMPDIR", tmp)
        .env("PATH", path)
        .env("PYTHONUNBUFFERED", "1")
        .env("ANSIBLE_LOCAL_TEMP", fresh_dir("temp-key-ansible-tmp"));
    cmd
}

/// `rpack-<build id>`: a build's work directory.
fn is_work_dir(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str()?.strip_prefix("rpack-"))
        .is_some_and(|id| id.len() == 36 && uuid::Uuid::parse_str(id).is_ok())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_default_build_never_writes_the_temporary_key_to_disk() {
    let st = stack();
    let tmp = fresh_dir("temp-key-tmpdir");
    // The remote shell proves rpack logged in with the key; the local one looks for key files
    // in TMPDIR while the connection is up (the pattern is split so the script itself, a file
    // in TMPDIR, does not match).
    let tpl = st.template(
        "temp-key-memory",
        json!({}),
        json!([
            {"type": "shell", "inline": ["echo remote-login-ok"]},
            {"type": "shell-local", "inline": [
                "p=PRIVATE; if grep -rl -e \"$p KEY-----\" \"$TMPDIR\"; then echo key-file-found; else echo no-key-file; fi"
            ]}
        ]),
    );
    let watch = Watch::start(tmp.clone());
    let (code, out) = run_to_end(build_cmd(&st, &tpl, &tmp));
    let seen = watch.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("remote-login-ok"), "{out}");
    assert!(
        out.contains("no-key-file") && !out.contains("key-file-found"),
        "{out}"
    );
    assert!(
        seen.key_files.is_empty(),
        "key files appeared in TMPDIR: {:?}\n{out}",
        seen.key_files
    );
    // No work directory (`rpack-<build id>`) either; the scan did see the scripts come and go.
    assert!(
        !seen.paths.iter().any(|p| is_work_dir(Path::new(p))),
        "{:?}",
        seen.paths
    );
    assert!(!seen.paths.is_empty(), "the watch never saw a file");
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{out}");
    // The working directory holds no `ec2_*.pem` (that is `-debug` only).
    assert!(!out.contains("Saving key for debug purposes"), "{out}");
}

fn ansible_playbook(dir: &Path, tasks: &str) -> PathBuf {
    let play = dir.join("site.yml");
    std::fs::write(
        &play,
        format!("- hosts: default\n  gather_facts: false\n  tasks:\n{tasks}"),
    )
    .unwrap();
    play
}

/// The key file Ansible was given (`ansible_ssh_private_key_file=…` in rpack's echo of the
/// command line).
fn ansible_key_path(out: &str) -> PathBuf {
    let at = out
        .find("ansible_ssh_private_key_file=")
        .unwrap_or_else(|| panic!("no key file argument in:\n{out}"));
    let rest = &out[at + "ansible_ssh_private_key_file=".len()..];
    PathBuf::from(rest.split_whitespace().next().unwrap())
}

#[test]
fn ansible_gets_a_private_copy_in_the_builds_work_directory() {
    let st = stack();
    let tmp = fresh_dir("temp-key-ansible");
    let play = ansible_playbook(
        &fresh_dir("temp-key-play"),
        "    - command: echo ansible-on-the-instance\n      register: r\n    - debug: var=r.stdout\n",
    );
    let tpl = st.template(
        "temp-key-ansible",
        json!({}),
        json!([{"type": "ansible", "playbook_file": play}]),
    );
    let watch = Watch::start(tmp.clone());
    let (code, out) = run_to_end(build_cmd(&st, &tpl, &tmp));
    let seen = watch.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("\"r.stdout\": \"ansible-on-the-instance\""),
        "{out}"
    );
    // The only key file ever seen is Ansible's copy: <TMPDIR>/rpack-<build>/rpack-ansible-*/ansible-key.
    let key = ansible_key_path(&out);
    assert_eq!(
        seen.key_files,
        vec![key.display().to_string()],
        "{:?}",
        seen.paths
    );
    assert_eq!(key.file_name().unwrap(), "ansible-key");
    let private = key.parent().unwrap();
    assert!(private
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("rpack-ansible-"));
    let work = private.parent().unwrap();
    assert!(
        is_work_dir(work) && work.parent().unwrap() == tmp,
        "{}",
        key.display()
    );
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{out}");
}

#[test]
fn a_build_killed_while_ansible_runs_leaves_its_key_directory_to_rpack_cleanup() {
    let st = stack();
    let tmp = fresh_dir("temp-key-kill");
    let play = ansible_playbook(
        &fresh_dir("temp-key-kill-play"),
        "    - name: rpack-it ansible pause\n      pause:\n        seconds: 15\n",
    );
    let tpl = st.template(
        "temp-key-kill",
        json!({}),
        json!([{"type": "ansible", "playbook_file": play}]),
    );
    let mut run = Running::start(build_cmd(&st, &tpl, &tmp));
    run.wait_for("rpack-it ansible pause");
    run.signal(libc::SIGKILL, true);
    let (code, out) = run.finish();
    assert_eq!(code, None, "killed by a signal");
    let key = ansible_key_path(&out);
    let work = key.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(is_work_dir(&work), "{}", key.display());
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert!(key.is_file(), "{out}");
    assert_eq!((mode(&work), mode(&key)), (0o700, 0o600));

    let cleanup = |yes: bool| {
        let mut args = vec!["cleanup", "--region", REGION];
        if yes {
            args.insert(1, "--yes");
        }
        let mut cmd = st.rpack(&args);
        cmd.env("TMPDIR", &tmp);
        run_to_end(cmd)
    };
    let (code, listing) = cleanup(false);
    assert_eq!(code, Some(0), "{listing}");
    assert!(
        listing.contains(&format!("would delete local directory {}", work.display())),
        "{listing}"
    );
    assert!(key.is_file(), "the dry run deleted it");
    let (code, done) = cleanup(true);
    assert_eq!(code, Some(0), "{done}");
    assert!(
        done.contains(&format!("Deleted local directory {}", work.display())),
        "{done}"
    );
    assert!(!work.exists(), "{done}");
    let left = st.leftovers(&[REGION]);
    assert!(left.is_empty(), "{left:?}\n{done}");
}

/// Every file under `dir` (recursively) holding any of `needles`: its path and the needle.
fn files_holding(dir: &std::path::Path, needles: &[String], found: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_holding(&p, needles, found);
        } else if let Ok(bytes) = std::fs::read(&p) {
            let text = String::from_utf8_lossy(&bytes);
            for n in needles.iter().filter(|n| text.contains(n.as_str())) {
                found.push(format!("{}: {n}", p.display()));
            }
        }
    }
}

/// The temporary EC2 private key rpack generates is a secret on its own (no template names it):
/// a provisioner writes it from the `SSHPrivateKey` build value (rpack keeps the key in memory,
/// no key file exists) to a file and prints it, and
/// not one line of its PEM body appears in human or machine-readable output, in the debug log,
/// in the manifest, in the ledger or in any other file rpack wrote; nothing is left in `$TMPDIR`.
#[test]
fn the_temporary_private_key_never_reaches_output_logs_or_files() {
    let st = stack();
    let capture = fresh_dir("key-capture");
    let tpl = st.template(
        "temp-key",
        json!({}),
        json!([
            {"type": "shell", "inline": ["echo remote-ok"]},
            {"type": "shell-local", "inline": [format!(
                "printf '%s\\n' '{{{{build `SSHPrivateKey`}}}}' > '{0}/key.pem'; \
                 echo key-follows; cat '{0}/key.pem'",
                capture.display()
            )]}
        ]),
    );
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&tpl).unwrap()).unwrap();
    doc["post-processors"] = json!([{"type": "manifest", "output": "temp-key-manifest.json"}]);
    std::fs::write(&tpl, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let tmp = st.dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for (machine, log) in [
        (false, "temp-key-human.log"),
        (true, "temp-key-machine.log"),
    ] {
        for e in std::fs::read_dir(&capture).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
        // Both runs may fall in one second: the second replaces the first one's AMI name.
        let mut args = vec!["build", "-color=false", "-force"];
        if machine {
            args.push("-machine-readable");
        }
        args.push(tpl.to_str().unwrap());
        let mut cmd = st.rpack(&args);
        cmd.env("TMPDIR", &tmp)
            .env("RPACK_LOG", "1")
            .env("RPACK_LOG_PATH", st.dir.join(log));
        let (code, out) = run_to_end(cmd);
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains("remote-ok") && out.contains("key-follows"),
            "{out}"
        );
        let keys: Vec<_> = std::fs::read_dir(&capture).unwrap().flatten().collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let pem = std::fs::read_to_string(keys[0].path()).unwrap();
        assert!(pem.contains("-----BEGIN"), "{pem}");
        // The body lines (the last one may be short enough to occur by chance: skipped).
        let body: Vec<String> = pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string)
            .collect();
        assert!(body.len() >= 3, "{pem}");
        assert!(
            out.contains("<sensitive>"),
            "the key was printed, masked:\n{out}"
        );
        for b in &body {
            assert!(
                !out.contains(b.as_str()),
                "key line {b} in the output:\n{out}"
            );
        }
        let log_text = std::fs::read_to_string(st.dir.join(log)).unwrap();
        assert!(log_text.contains("<sensitive>"), "{log_text}");
        let mut found = Vec::new();
        files_holding(&st.dir, &body, &mut found);
        assert!(
            found.is_empty(),
            "the key's body in files:\n{}",
            found.join("\n")
        );
        assert!(st.dir.join("temp-key-manifest.json").exists());
        assert!(st.dir.join("state").exists(), "the ledger was written");
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}
