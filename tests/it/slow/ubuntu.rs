//! The Ubuntu-flavour platform build in a debootstrapped root (see the parent module for how
//! the root is made and what runs where): the test, and one run's instance, sshd and registry.

use super::*;

/// **What this proves.** The Ubuntu flavour of the platform build works for real over SSH:
/// `provisioners/eb_builder.sh` with `EB_FLAVOR=ubuntu`, `provisioners/install-node-ubuntu.sh`
/// and `builders/ubuntu/builder.sh`. The test takes the provisioners of
/// `templates/nodejs-ubuntu2204/custom_platform.json` unchanged and swaps only its `amazon-ebs`
/// builder for a `null` one. `rpack build` then connects with its own SSH communicator to an
/// OpenSSH server inside a debootstrapped Debian root on 127.0.0.1. It uploads `builders/` and
/// `provisioners/` with the file provisioner and runs the builder through `sudo -E`, as on EC2.
/// The builder installs the base tools, nginx, Node.js and npm with apt-get from Debian's mirror,
/// then pm2 with npm, and writes the platform files. The test checks that:
/// * `node --version` in a login shell prints the requested major version;
/// * Node.js came from the distribution's package, and pm2 from the configured npm registry;
/// * nginx accepted the generated configuration and is enabled;
/// * a second build is idempotent: it installs nothing and changes no file under /etc, /usr,
///   /opt, /var/app, /var/lib/dpkg or /var/lib/eb-nodejs.
///
/// **What it does not prove:**
/// * The root is Debian, not Ubuntu. Only Debian's archive is in this machine's apt sources, and
///   the test reaches no other outside host. The ubuntu flavour is the one that serves Debian too.
/// * The requested Node.js major is Debian's own (18 on bookworm). The flavour takes the
///   distribution's package when its major matches, so Node.js tarballs (Ubuntu's default of 22)
///   are not used here. `node_dist_mirror` points at a closed loopback port, so a wrong turn to the
///   tarball fails instead of reaching nodejs.org. `scripts::ubuntu_tarball_install_…` covers the
///   tarball path against a fake mirror.
/// * pm2 is a stand-in package served by a loopback npm registry that the root's /etc/npmrc names.
///   registry.npmjs.org is outside the hosts this test may reach. What is proven is that the
///   builder's `npm install -g` installs from the configured registry into /usr/local.
/// * systemd is installed but not running, as in any chroot. `policy-rc.d` forbids service
///   starts, the standard for Debian chroots, so nginx is configured and enabled but not started.
///   eb_builder.sh skips `daemon-reload` when systemd is not PID 1.
#[test]
#[ignore = "slow and needs root and debootstrap: run scripts/slow-test.sh"]
fn ubuntu_flavor_installs_node_in_a_debootstrapped_root_over_ssh() {
    let started = Instant::now();
    let mut phase = Phases(Instant::now());
    check_prerequisites();
    let cache = target_dir().join("slow-test");
    remove_stale_runs(&cache);
    phase.done("checks and stale runs removed");
    let base = cached_base(&cache);
    phase.done(&format!("cached Debian root {} ready", base.root.display()));

    let run_dir = cache.join(format!("run-{}", std::process::id()));
    let mut instance = Instance::start(&base, run_dir);
    phase.done("root copied to a tmpfs, sshd started");
    let registry = NpmRegistry::start(&instance.run_dir.join("registry"));
    fs::write(
        instance.root().join("etc/npmrc"),
        format!("registry=http://127.0.0.1:{}/\n", registry.port),
    )
    .unwrap();
    phase.done("npm registry started");

    let template = instance.template();
    let first = instance.rpack_build(&template, &base.node_major, "build-1.log");
    phase.done("first build");
    for want in [
        format!(
            "Node.js {} is the distribution's version; installing it with apt",
            base.node_major
        ),
        "Setting up nginx".to_string(),
        "Setting up nodejs".to_string(),
        "platform files installed".to_string(),
        "systemd is not running (chroot or container build): no daemon-reload".to_string(),
    ] {
        assert!(
            first.contains(&want),
            "first build: no '{want}' in\n{first}"
        );
    }
    assert!(
        !first.contains("SHASUMS256.txt"),
        "the build fetched a Node.js tarball although Debian's package has the requested major:\n{first}"
    );

    let node =
        instance.ssh("node --version && command -v node && dpkg-query -W -f='${Version}' nodejs");
    let mut lines = node.lines();
    let version = lines.next().unwrap_or_default();
    assert!(
        version.starts_with(&format!("v{}.", base.node_major)),
        "node --version printed '{version}', want v{}.x; full output:\n{node}",
        base.node_major
    );
    assert_eq!(
        lines.next(),
        Some("/usr/bin/node"),
        "node should be Debian's:\n{node}"
    );
    let pm2 = instance.ssh("pm2 --version");
    assert!(pm2.contains(STUB_PM2), "pm2 --version: {pm2}");
    assert!(
        instance
            .root()
            .join("etc/systemd/system/multi-user.target.wants/nginx.service")
            .symlink_metadata()
            .is_ok(),
        "nginx is not enabled"
    );
    let requests = registry.requests();
    assert!(
        requests.contains("GET /pm2 ") && requests.contains(&format!("pm2-{STUB_PM2}.tgz")),
        "npm did not install pm2 from the loopback registry; its requests:\n{requests}"
    );

    phase.done("checks after the first build");
    let before = instance.snapshot();
    phase.done("snapshot");
    let second = instance.rpack_build(&template, &base.node_major, "build-2.log");
    phase.done("second build");
    for want in [
        format!("pm2 {STUB_PM2} already installed"),
        "platform files already up to date".to_string(),
    ] {
        assert!(
            second.contains(&want),
            "second build: no '{want}' in\n{second}"
        );
    }
    for unwanted in ["Setting up ", "Unpacking ", "added 1 package"] {
        assert!(
            !second.contains(unwanted),
            "the second build installed something ('{unwanted}'):\n{second}"
        );
    }
    let after = instance.snapshot();
    let changed = diff(&before, &after);
    assert!(
        changed.is_empty(),
        "the second build changed files:\n{}",
        changed.join("\n")
    );
    let again = instance.ssh("node --version");
    assert!(again.starts_with(version), "{again}");
    phase.done("checks after the second build");

    drop(registry);
    let leftovers = instance.stop();
    assert!(
        leftovers.is_empty(),
        "processes still ran inside the root after sshd was stopped (now killed): {leftovers:?}"
    );
    drop(instance);
    phase.done("stopped, run directory removed");
    eprintln!("slow: passed in {:.1?}", started.elapsed());
}

// ---- one run: a copy of the root, its sshd, rpack ----------------------------------------------

/// A copy of the cached root in a tmpfs, with the root's own sshd serving it on 127.0.0.1.
/// Dropping it kills sshd and everything else that runs in the root; the tmpfs goes with
/// them. The run's directory (logs, template, registry) is deleted unless the test is failing.
struct Instance {
    run_dir: PathBuf,
    key: PathBuf,
    port: u16,
    sshd: Option<ChildGuard>,
    /// sshd's mount namespace ("mnt:[4026532…]"), which every process in the root shares.
    mnt_ns: String,
}

impl Instance {
    /// Copies `base` into a tmpfs and starts its sshd on a free loopback port (retrying when
    /// the port was taken).
    fn start(base: &Base, run_dir: PathBuf) -> Instance {
        let _ = fs::remove_dir_all(&run_dir);
        let mountpoint = run_dir.join("root");
        fs::create_dir_all(&mountpoint).unwrap();
        let mut instance = Instance {
            run_dir,
            key: base.key.clone(),
            port: 0,
            sshd: None,
            mnt_ns: String::new(),
        };
        let log = instance.run_dir.join("sshd.log");
        for attempt in 1..=5 {
            let port = process::free_port();
            let file = fs::File::create(&log).unwrap();
            let mut cmd = in_root_copy(
                &base.root,
                &mountpoint,
                &[
                    "/bin/sh",
                    "-c",
                    // sshd's privilege separation directory, on the boot-time /run elsewhere.
                    "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p \"$0\"",
                    &port.to_string(),
                ],
            );
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
            let mut child = process::spawn("chroot sshd", cmd).expect("starting the chroot's sshd");
            let mut exited = None;
            let ready = process::wait_until(Duration::from_secs(120), || {
                exited = child.try_wait();
                exited.is_some() || answers_ssh(port)
            });
            let text = fs::read_to_string(&log).unwrap_or_default();
            if ready && exited.is_none() {
                instance.port = port;
                instance.mnt_ns = mount_namespace(child.pid() as libc::pid_t)
                    .expect("reading the chroot sshd's mount namespace");
                instance.sshd = Some(child);
                return instance;
            }
            child.kill();
            if attempt < 5 && text.contains("Address already in use") {
                continue;
            }
            panic!("the chroot's sshd did not come up on 127.0.0.1:{port} ({exited:?}):\n{text}");
        }
        unreachable!("the last attempt returns or panics")
    }

    /// The root as this process sees it: through the sshd's /proc entry, as the tmpfs is
    /// mounted only in sshd's namespace.
    fn root(&self) -> PathBuf {
        let pid = self.sshd.as_ref().expect("sshd runs").pid();
        PathBuf::from(format!("/proc/{pid}/root"))
    }

    /// The ubuntu template's provisioners with a `null` builder that connects to this root.
    fn template(&self) -> PathBuf {
        let source = repo_root().join("templates/nodejs-ubuntu2204/custom_platform.json");
        let mut tpl: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&source).unwrap()).unwrap();
        tpl["builders"] = json!([{
            "type": "null",
            "name": "debian-chroot",
            "ssh_host": "127.0.0.1",
            "ssh_port": self.port,
            "ssh_username": LOGIN_USER,
            "ssh_private_key_file": self.key,
        }]);
        let path = self.run_dir.join("custom_platform.json");
        fs::write(&path, serde_json::to_string_pretty(&tpl).unwrap()).unwrap();
        path
    }

    /// `rpack build` of `template`; returns its output and panics when the build fails.
    fn rpack_build(&self, template: &Path, node_major: &str, log_name: &str) -> String {
        let log = self.run_dir.join(log_name);
        let file = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpack"));
        cmd.arg("build")
            .args(["-var", &format!("repo_dir={}", repo_root().display())])
            .args(["-var", &format!("node_version={node_major}")])
            // Closed port: were the tarball path taken, it fails here instead of reaching nodejs.org.
            .args(["-var", "node_dist_mirror=http://127.0.0.1:9/dist"])
            .arg(template)
            .current_dir(&self.run_dir)
            .env("RPACK_STATE_DIR", self.run_dir.join("rpack-state"))
            .env_remove("PACKER_LOG")
            .env_remove("RPACK_LOG")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let mut child = process::spawn("rpack build", cmd).expect("starting rpack");
        let status = wait(&mut child, SLOW_STEP);
        let text = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            status.is_some_and(|s| s.success()),
            "rpack build {} ({}):\n{}\n--- sshd.log\n{}",
            status.map_or("timed out".to_string(), |s| format!("failed: {s}")),
            log.display(),
            tail(&text, 80),
            tail(
                &fs::read_to_string(self.run_dir.join("sshd.log")).unwrap_or_default(),
                20
            )
        );
        text
    }

    /// Runs `command` in a login shell of the login user over ssh; returns stdout.
    fn ssh(&self, command: &str) -> String {
        let out = Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"])
            .arg("-i")
            .arg(&self.key)
            .args(["-p", &self.port.to_string(), "-l", LOGIN_USER, "127.0.0.1"])
            .arg(format!("bash -lc {}", shell_quote(command)))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh {command}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Mode, owner, size, mtime and link target of everything the platform build may
    /// install or change. Logs, caches, /tmp and home directories are left out.
    fn snapshot(&self) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                let Ok(m) = fs::symlink_metadata(&p) else {
                    continue;
                };
                let link = fs::read_link(&p)
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(
                    rel,
                    format!(
                        "mode {:o} owner {}:{} size {} mtime {}.{} {link}",
                        m.mode(),
                        m.uid(),
                        m.gid(),
                        if m.is_dir() { 0 } else { m.size() },
                        m.mtime(),
                        m.mtime_nsec()
                    ),
                );
                if m.is_dir() {
                    walk(root, &p, out);
                }
            }
        }
        let root = self.root();
        let mut out = BTreeMap::new();
        for top in [
            "etc",
            "usr",
            "opt",
            "var/app",
            "var/lib/dpkg",
            "var/lib/eb-nodejs",
        ] {
            walk(&root, &root.join(top), &mut out);
        }
        out
    }

    /// Stops sshd with its process tree, then kills whatever else still runs in its mount
    /// namespace (a daemon that left sshd's tree, say). Returns those others ("pid comm");
    /// there should be none. The tmpfs ends with the namespace's last process.
    fn stop(&mut self) -> Vec<String> {
        if let Some(mut sshd) = self.sshd.take() {
            sshd.kill();
        }
        let mut found = Vec::new();
        if self.mnt_ns.is_empty() {
            return found;
        }
        // sshd's descendants got SIGKILL with it but may take a moment to exit; what
        // remains after that was never part of its tree.
        process::wait_until(Duration::from_secs(5), || {
            processes_in_mount_namespace(&self.mnt_ns).is_empty()
        });
        for _ in 0..10 {
            let pids = processes_in_mount_namespace(&self.mnt_ns);
            if pids.is_empty() {
                break;
            }
            for &pid in &pids {
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                found.push(format!("{pid} {}", comm.trim()));
                process::kill_tree(pid);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        found
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "slow: the failed run's logs and template stay in {} until the next run \
                 (its root was a tmpfs and is gone)",
                self.run_dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.run_dir);
        }
    }
}

/// The mount namespace of `pid`, as /proc names it ("mnt:[4026532…]").
fn mount_namespace(pid: libc::pid_t) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|l| l.display().to_string())
}

/// The processes in mount namespace `ns`.
fn processes_in_mount_namespace(ns: &str) -> Vec<libc::pid_t> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
                .filter(|&pid| mount_namespace(pid).is_some_and(|n| n == ns))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the copies left by runs whose process is gone (failed runs keep theirs until then).
fn remove_stale_runs(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let pid = name
            .strip_prefix("run-")
            .or_else(|| name.rsplit_once(".tmp-").map(|(_, pid)| pid));
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) {
            if !process::is_alive(pid) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Whether something on 127.0.0.1:`port` sends an SSH banner.
fn answers_ssh(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

// ---- a loopback npm registry with a stand-in pm2 -----------------------------------------------

/// Python's http.server on 127.0.0.1 serving `/pm2` (the packument) and its tarball. It is
/// killed on drop; its request log is in `<dir>/requests.log`.
struct NpmRegistry {
    dir: PathBuf,
    port: u16,
    _server: ChildGuard,
}

impl NpmRegistry {
    fn start(dir: &Path) -> NpmRegistry {
        let serve = dir.join("serve");
        let pkg = dir.join("build/package");
        fs::create_dir_all(serve.join("tarballs")).unwrap();
        fs::create_dir_all(pkg.join("bin")).unwrap();
        fs::write(
            pkg.join("package.json"),
            json!({
                "name": "pm2",
                "version": STUB_PM2,
                "description": "stand-in for pm2 in rpack's slow test",
                "bin": {"pm2": "bin/pm2", "pm2-runtime": "bin/pm2"}
            })
            .to_string(),
        )
        .unwrap();
        write_mode(
            &pkg,
            "bin/pm2",
            &format!("#!/bin/sh\necho {STUB_PM2}\n"),
            0o755,
        );
        let tarball = format!("pm2-{STUB_PM2}.tgz");
        let out = Command::new("tar")
            .args(["-czf", &format!("../serve/tarballs/{tarball}"), "package"])
            .current_dir(dir.join("build"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut cmd = Command::new("python3");
        cmd.args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(&serve)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(dir.join("requests.log")).unwrap());
        let mut server = process::spawn("npm registry", cmd).expect("starting python3 http.server");
        let mut banner = String::new();
        BufReader::new(server.take_stdout().unwrap())
            .read_line(&mut banner)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port: u16 = banner
            .split("port ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected http.server banner: {banner}"));

        // The packument names the tarball by absolute URL, so it is written once the port is known.
        let bytes = fs::read(serve.join("tarballs").join(&tarball)).unwrap();
        let integrity = format!(
            "sha512-{}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                sha2::Sha512::digest(&bytes)
            )
        );
        let shasum = hex::encode(sha1::Sha1::digest(&bytes));
        let packument = json!({
            "name": "pm2",
            "dist-tags": {"latest": STUB_PM2},
            "versions": {STUB_PM2: {
                "name": "pm2",
                "version": STUB_PM2,
                "bin": {"pm2": "bin/pm2", "pm2-runtime": "bin/pm2"},
                "dist": {
                    "tarball": format!("http://127.0.0.1:{port}/tarballs/{tarball}"),
                    "shasum": shasum,
                    "integrity": integrity
                }
            }}
        });
        fs::write(serve.join("pm2"), packument.to_string()).unwrap();
        NpmRegistry {
            dir: dir.to_path_buf(),
            port,
            _server: server,
        }
    }

    /// The request lines the registry has logged so far.
    fn requests(&self) -> String {
        fs::read_to_string(self.dir.join("requests.log")).unwrap_or_default()
    }
}

// ---- small helpers ------------------------------------------------------------------------------

fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => out.push(format!("removed {path}")),
            Some(now) if now != was => out.push(format!("changed {path}: {was} -> {now}")),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("added {path}"));
    }
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
