//! The Elastic Beanstalk platform scripts (`provisioners/`, `builders/`) and definitions
//! (`templates/`): shellcheck, the scratch-root install of every flavor (files land under
//! the root, a second run changes nothing, failures name their step), the deployment hooks
//! run against a scratch root, and the platform.yaml limits EB documents.
//!
//! Tests that need an external tool (shellcheck, unzip, python3, node) skip with a message
//! when it is missing. Nothing here installs packages or touches the network.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FLAVORS: [&str; 3] = ["amazon", "ubuntu", "rhel"];
const PLATFORMS: [&str; 4] = [
    "nodejs-al2023",
    "nodejs-ubuntu2204",
    "nodejs-ubuntu2404",
    "nodejs-rhel9",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// A tool a test needs is missing: fail, naming the script that installs it (a test never
/// skips as a pass).
fn missing(test: &str, why: &str) -> ! {
    panic!("{test}: {why}; scripts/test-deps.sh installs it");
}

fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

type Snapshot = BTreeMap<String, (u32, Option<std::time::SystemTime>, Vec<u8>)>;

/// Every file under `dir`, relative path -> (mode, mtime of files, content): a rewrite with
/// identical content still shows up as a change.
fn snapshot(dir: &Path) -> Snapshot {
    fn walk(base: &Path, dir: &Path, out: &mut Snapshot) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(std::fs::DirEntry::path);
        for e in entries {
            let p = e.path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(format!("{rel}/"), (mode, None, Vec::new()));
                walk(base, &p, out);
            } else {
                out.insert(
                    rel,
                    (mode, meta.modified().ok(), fs::read(&p).unwrap_or_default()),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs provisioners/eb_builder.sh into `root` with packages skipped.
fn run_builder(root: &Path, flavor: &str, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("provisioners/eb_builder.sh"))
        .env("EB_BUILDER_ROOT", root)
        .env("EB_BUILDER_SKIP_PACKAGES", "1")
        .env("EB_FLAVOR", flavor)
        .env_remove("EB_STAGE_DIR");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output()
        .expect("running bash provisioners/eb_builder.sh")
}

fn script_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for top in ["provisioners", "builders", "templates"] {
        let out = Command::new("find")
            .arg(repo().join(top))
            .args([
                "-type", "f", "(", "-name", "*.sh", "-o", "-path", "*/bin/*", ")",
            ])
            .output()
            .unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            files.push(PathBuf::from(line));
        }
    }
    files.sort();
    files
}

#[test]
fn scripts_are_shellcheck_clean() {
    if !have("shellcheck") {
        missing(
            "scripts_are_shellcheck_clean",
            "shellcheck is not installed",
        );
    }
    let files = script_files();
    assert!(
        files.len() >= 20,
        "expected the platform scripts, found {files:?}"
    );
    let out = Command::new("shellcheck")
        .arg("-x")
        .args(&files)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shellcheck -x found problems:\n{}",
        text(&out)
    );
}

#[test]
fn platform_files_have_no_crlf_and_scripts_are_executable() {
    for top in ["provisioners", "builders", "templates"] {
        let out = Command::new("find")
            .arg(repo().join(top))
            .args(["-type", "f"])
            .output()
            .unwrap();
        for f in String::from_utf8_lossy(&out.stdout).lines() {
            let bytes = fs::read(f).unwrap();
            assert!(
                !bytes.contains(&b'\r'),
                "{f} has CRLF line endings (EB builders fail on them)"
            );
        }
    }
    for f in script_files() {
        if f.to_string_lossy().contains("/lib/") || f.ends_with("builder-lib.sh") {
            continue; // sourced libraries
        }
        if f.to_string_lossy().contains("install-node-") {
            continue; // sourced by eb_builder.sh
        }
        let mode = fs::metadata(&f).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{} is not executable", f.display());
    }
}

#[test]
fn every_flavor_installs_into_a_scratch_root_idempotently() {
    for flavor in FLAVORS {
        let root = tempfile::tempdir().unwrap();
        let first = run_builder(root.path(), flavor, &[]);
        assert!(
            first.status.success(),
            "{flavor}: first run failed\n{}",
            text(&first)
        );
        let r = root.path();
        for phase in ["appdeploy", "configdeploy", "restartappserver"] {
            for stage in ["pre", "enact", "post"] {
                let dir = r.join(format!("opt/elasticbeanstalk/hooks/{phase}/{stage}"));
                let scripts: Vec<_> = fs::read_dir(&dir)
                    .unwrap_or_else(|e| panic!("{flavor}: {}: {e}", dir.display()))
                    .collect();
                assert!(
                    !scripts.is_empty(),
                    "{flavor}: no hooks in {}",
                    dir.display()
                );
            }
        }
        for p in [
            "var/app/staging",
            "var/app/current",
            "var/log/nginx/healthd",
            "opt/eb-nodejs/bin/ebnode",
            "etc/systemd/system/eb-nodejs.service",
            "opt/elasticbeanstalk/tasks/taillogs.d/eb-nodejs.conf",
        ] {
            assert!(
                r.join(p).exists(),
                "{flavor}: {p} missing under the scratch root"
            );
        }
        let nginx = fs::read_to_string(r.join("etc/nginx/nginx.conf")).unwrap();
        assert!(
            nginx.contains(r#"log_format healthd '$msec"$uri"$status"$request_time"$upstream_response_time"$http_x_forwarded_for';"#),
            "{flavor}: nginx.conf lacks EB's healthd log format:\n{nginx}"
        );
        let user = if flavor == "ubuntu" {
            "www-data"
        } else {
            "nginx"
        };
        assert!(
            nginx.contains(&format!("user {user};")),
            "{flavor}: nginx user is not {user}"
        );
        let site = fs::read_to_string(r.join("etc/nginx/conf.d/eb-nodejs.conf")).unwrap();
        assert!(site.contains(
            "access_log /var/log/nginx/healthd/application.log.$year-$month-$day-$hour healthd;"
        ));
        assert!(
            site.contains("server 127.0.0.1:8080;"),
            "{flavor}: default upstream:\n{site}"
        );
        assert_eq!(
            r.join("opt/elasticbeanstalk/hooks/appdeploy/post/90-selinux-relabel.sh")
                .exists(),
            flavor == "rhel",
            "{flavor}: the SELinux relabel hook belongs to rhel only"
        );

        let before = snapshot(r);
        let second = run_builder(r, flavor, &[]);
        assert!(
            second.status.success(),
            "{flavor}: second run failed\n{}",
            text(&second)
        );
        assert!(
            String::from_utf8_lossy(&second.stdout).contains("platform files already up to date"),
            "{flavor}: second run did not report up to date\n{}",
            text(&second)
        );
        assert!(
            before == snapshot(r),
            "{flavor}: the second run changed files under the root"
        );
    }
}

#[test]
fn builder_failures_name_the_step() {
    let root = tempfile::tempdir().unwrap();
    let out = run_builder(root.path(), "gentoo", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR in step 'preflight'") && err.contains("unknown EB_FLAVOR 'gentoo'"),
        "{err}"
    );

    let out = run_builder(root.path(), "amazon", &[("EB_BUILDER_SKIP_PACKAGES", "0")]);
    assert!(
        !out.status.success(),
        "a scratch root with package installs must be refused"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set EB_BUILDER_SKIP_PACKAGES=1"), "{err}");

    let out = run_builder(root.path(), "amazon", &[("NODE_VERSION", "latest")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NODE_VERSION must be a major"));

    let out = run_builder(
        root.path(),
        "amazon",
        &[("EB_STAGE_DIR", "/nonexistent/stage")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED in step 'startup'"));
    assert!(
        fs::read_dir(root.path()).unwrap().next().is_none(),
        "failed runs must not write into the root"
    );
}

#[test]
fn flavor_builders_remove_the_packaged_default_server() {
    for (flavor, site) in [
        ("amazon", "etc/nginx/conf.d/default.conf"),
        ("ubuntu", "etc/nginx/sites-enabled/default"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(site);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Ubuntu's is a symlink into sites-available, dangling in a scratch root.
        std::os::unix::fs::symlink("/etc/nginx/sites-available/default", &path).unwrap();
        let out = run_builder(root.path(), flavor, &[]);
        assert!(out.status.success(), "{flavor}: {}", text(&out));
        assert!(
            path.symlink_metadata().is_err(),
            "{flavor}: {site} is still there"
        );
    }
}

/// Runs `os_install_base_packages` and `os_install_nginx` of an rpm flavor with fake `rpm`
/// and `dnf` first on PATH: rpm knows the packages in `installed`, dnf logs its arguments.
fn rpm_flavor_packages(flavor: &str, installed: &str, dnf_fails: bool) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    for (name, body) in [
        (
            "rpm",
            "shift; for p; do case \" $INSTALLED \" in *\" $p \"*) ;; *) exit 1 ;; esac; done",
        ),
        ("dnf", "echo \"$*\" >>\"$DNF_LOG\"; [ -z \"$DNF_FAILS\" ]"),
    ] {
        let path = bin.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = dir.path().join("dnf.log");
    let script = "set -Eeuo pipefail; . \"$1/provisioners/lib/common.sh\"; eb_strict; \
                  . \"$1/provisioners/install-node-$2.sh\"; os_install_base_packages; os_install_nginx";
    let out = Command::new("bash")
        .args(["-c", script, "packages"])
        .arg(repo())
        .arg(flavor)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("INSTALLED", installed)
        .env("DNF_LOG", &log)
        .env("DNF_FAILS", if dnf_fails { "1" } else { "" })
        .output()
        .unwrap();
    (out, fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn rpm_flavors_install_only_missing_packages_with_dnf() {
    for (flavor, extra) in [("amazon", ""), ("rhel", " policycoreutils")] {
        let (out, dnf) = rpm_flavor_packages(flavor, "tar xz", false);
        assert!(out.status.success(), "{flavor}: {}", text(&out));
        assert_eq!(
            dnf,
            format!(
                "-y install unzip shadow-utils util-linux findutils{extra}\n-y install nginx\n"
            ),
            "{flavor}: dnf calls"
        );

        let all = format!("unzip tar xz shadow-utils util-linux findutils{extra} nginx");
        let (out, dnf) = rpm_flavor_packages(flavor, &all, false);
        assert!(out.status.success(), "{flavor}: {}", text(&out));
        assert_eq!(
            dnf, "",
            "{flavor}: dnf ran although everything is installed"
        );

        let (out, _) = rpm_flavor_packages(flavor, &all.replace(" nginx", ""), true);
        assert!(!out.status.success(), "{flavor}: a dnf failure must fail");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("dnf could not install nginx"),
            "{flavor}: {}",
            text(&out)
        );
    }
}

/// Runs every hook of `phase` in order, as EB does, against the scratch root.
fn run_hooks(root: &Path, phase: &str, env: &[(&str, &Path)]) -> Output {
    let script = format!(
        "set -e; for s in pre enact post; do for h in \"$EB_NODEJS_ROOT\"/opt/elasticbeanstalk/hooks/{phase}/$s/*.sh; do \"$h\"; done; done"
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]).env("EB_NODEJS_ROOT", root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn appdeploy_and_configdeploy_hooks_work_in_a_scratch_root() {
    const T: &str = "appdeploy_and_configdeploy_hooks_work_in_a_scratch_root";
    for tool in ["unzip", "python3", "node"] {
        if !have(tool) {
            missing(T, &format!("{tool} is not installed"));
        }
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let built = run_builder(r, "ubuntu", &[]);
    assert!(built.status.success(), "{}", text(&built));

    // A bundle zipped with its top folder, without package.json so no npm run is needed.
    let bundle = r.join("opt/elasticbeanstalk/deploy/appsource/source_bundle");
    let zipped = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nz.writestr('site/server.js', 'console.log(1)\\n')\nz.writestr('site/lib/util.js', '')\nz.close()",
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(zipped.status.success(), "{}", text(&zipped));

    let out = run_hooks(r, "appdeploy", &[]);
    assert!(
        out.status.success(),
        "appdeploy hooks failed\n{}",
        text(&out)
    );
    assert!(
        r.join("var/app/current/server.js").is_file(),
        "top folder not unwrapped\n{}",
        text(&out)
    );
    assert!(r.join("var/app/current/lib/util.js").is_file());
    assert!(
        fs::read_dir(r.join("var/app/staging"))
            .unwrap()
            .next()
            .is_none(),
        "staging not emptied"
    );
    let unit = fs::read_to_string(r.join("etc/systemd/system/eb-nodejs.service")).unwrap();
    assert!(
        unit.contains(
            "ExecStart=/usr/bin/env pm2-runtime start /etc/eb-nodejs/ecosystem.config.json"
        ),
        "{unit}"
    );
    assert!(unit.contains("User=webapp"), "{unit}");

    // configdeploy with option settings in get-config's shape.
    let opts = r.join("options.json");
    let mut f = fs::File::create(&opts).unwrap();
    f.write_all(
        br#"{"aws:elasticbeanstalk:container:custom:nodejs": {"AppPort": "3000", "GzipCompression": "false", "ProcessManager": "systemd", "NodeCommand": "node server.js --name 'it'"},
            "aws:elasticbeanstalk:application:environment": {"DB_URL": "postgres://h/db?q=\"x\"", "bad-name": "1"}}"#,
    )
    .unwrap();
    let out = run_hooks(r, "configdeploy", &[("EB_NODEJS_OPTIONS_FILE", &opts)]);
    assert!(
        out.status.success(),
        "configdeploy hooks failed\n{}",
        text(&out)
    );
    let env = fs::read_to_string(r.join("etc/eb-nodejs/app.env")).unwrap();
    assert_eq!(
        env,
        "NODE_ENV=\"production\"\nDB_URL=\"postgres://h/db?q=\\\"x\\\"\"\nPORT=\"3000\"\n"
    );
    let site = fs::read_to_string(r.join("etc/nginx/conf.d/eb-nodejs.conf")).unwrap();
    assert!(
        site.contains("server 127.0.0.1:3000;") && site.contains("gzip off;"),
        "{site}"
    );
    let unit = fs::read_to_string(r.join("etc/systemd/system/eb-nodejs.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/etc/eb-nodejs/start-app.sh"),
        "{unit}"
    );
    let start = fs::read_to_string(r.join("etc/eb-nodejs/start-app.sh")).unwrap();
    assert!(
        start.contains(r"NODE_COMMAND='node server.js --name '\''it'\'''"),
        "{start}"
    );

    // ProxyServer=none drops the nginx site; a bad value fails the deployment loudly.
    fs::write(
        &opts,
        br#"{"aws:elasticbeanstalk:container:custom:nodejs": {"ProxyServer": "none"}}"#,
    )
    .unwrap();
    let out = run_hooks(r, "configdeploy", &[("EB_NODEJS_OPTIONS_FILE", &opts)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!r.join("etc/nginx/conf.d/eb-nodejs.conf").exists());
    let before = snapshot(&r.join("etc"));
    fs::write(
        &opts,
        br#"{"aws:elasticbeanstalk:container:custom:nodejs": {"ProxyServer": "apache"}}"#,
    )
    .unwrap();
    let out = run_hooks(r, "configdeploy", &[("EB_NODEJS_OPTIONS_FILE", &opts)]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ProxyServer must be nginx or none, got 'apache'"),
        "{}",
        text(&out)
    );
    assert!(
        before == snapshot(&r.join("etc")),
        "a rejected option must not change the configuration"
    );
}

#[test]
fn platform_definitions_respect_eb_limits_and_point_at_amazon_ebs_templates() {
    for name in PLATFORMS {
        let dir = repo().join("templates").join(name);
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&fs::read_to_string(dir.join("platform.yaml")).unwrap())
                .unwrap_or_else(|e| panic!("{name}/platform.yaml: {e}"));
        assert_eq!(
            yaml["version"].as_str(),
            Some("1.0"),
            "{name}: version must be the string \"1.0\""
        );
        assert_eq!(yaml["provisioner"]["type"].as_str(), Some("packer"));
        let meta = &yaml["metadata"];
        for (key, limit) in [
            ("maintainer", 100),
            ("description", 200),
            ("operating_system_name", 50),
            ("operating_system_version", 20),
            ("programming_language_name", 50),
            ("programming_language_version", 20),
            ("framework_name", 50),
            ("framework_version", 20),
        ] {
            let v = meta[key]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: metadata.{key} missing"));
            assert!(
                v.chars().count() <= limit,
                "{name}: metadata.{key} longer than {limit}"
            );
        }
        let defs = yaml["option_definitions"].as_sequence().unwrap();
        assert!(defs.len() <= 50);
        let mut names = Vec::new();
        for d in defs {
            let ns = d["namespace"].as_str().unwrap();
            assert!(
                ns.starts_with("aws:elasticbeanstalk:container:custom") && ns.len() <= 100,
                "{name}: {ns}"
            );
            let opt = d["option_name"].as_str().unwrap();
            assert!(opt.len() <= 100);
            assert!(d["description"].as_str().unwrap().len() <= 1024);
            assert!(
                d["default_value"].as_str().is_some(),
                "{name}: {opt} has no string default"
            );
            names.push(opt.to_string());
        }
        for required in ["NodeVersion", "NodeCommand", "ProxyServer"] {
            assert!(
                names.iter().any(|n| n == required),
                "{name}: option {required} missing"
            );
        }

        let template = yaml["provisioner"]["template"].as_str().unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join(template)).unwrap()).unwrap();
        let builders = json["builders"].as_array().unwrap();
        assert!(
            builders.iter().all(|b| b["type"] == "amazon-ebs"),
            "{name}: only amazon-ebs builders"
        );
        let node_default = defs
            .iter()
            .find(|d| d["option_name"] == "NodeVersion")
            .unwrap()["default_value"]
            .as_str()
            .unwrap();
        assert_eq!(
            json["variables"]["node_version"].as_str(),
            Some(node_default),
            "{name}: NodeVersion default and template node_version differ"
        );
    }
}

#[test]
fn seed_template_has_the_local_stack_knobs() {
    let json: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(repo().join("templates/tara-ebcustom-platform.json")).unwrap(),
    )
    .unwrap();
    let vars = &json["variables"];
    assert_eq!(vars["platform_name"], "{{env `AWS_EB_PLATFORM_NAME`}}");
    assert_eq!(vars["region"], "us-east-1");
    assert_eq!(vars["ec2_endpoint"], "");
    assert_eq!(vars["ssh_host"], "");
    let b = &json["builders"][0];
    assert_eq!(json["builders"].as_array().unwrap().len(), 1);
    assert_eq!(b["name"], "HVM AMI builder");
    assert_eq!(b["custom_endpoint_ec2"], "{{user `ec2_endpoint`}}");
    assert_eq!(b["source_ami_filter"]["owners"][0], "137112412989");
    assert_eq!(
        b["source_ami_filter"]["filters"]["name"],
        "al2023-ami-2023.*-x86_64"
    );
    let shell = json["provisioners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["scripts"].is_array())
        .unwrap();
    let env: Vec<&str> = shell["environment_vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"EB_BUILDER_ROOT={{user `eb_builder_root`}}"));
    assert!(env.contains(&"EB_BUILDER_SKIP_PACKAGES={{user `skip_packages`}}"));
    assert!(shell["execute_command"]
        .as_str()
        .unwrap()
        .contains("sudo -E"));
    let local: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(repo().join("templates/tara-local.vars.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(local["skip_packages"], "1");
    assert!(local["eb_builder_root"]
        .as_str()
        .unwrap()
        .starts_with("/home/"));
    assert_eq!(json["post-processors"][0]["type"], "manifest");
}

/// Serves `dir` on a loopback port with python's http.server; killed on drop.
struct Mirror(std::process::Child, u16);

impl Mirror {
    fn start(dir: &Path) -> Mirror {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split("port ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|p| p.parse().ok());
        Mirror(
            child,
            port.unwrap_or_else(|| panic!("unexpected http.server banner: {line}")),
        )
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ubuntu_tarball_install_verifies_checksums_and_is_idempotent() {
    const T: &str = "ubuntu_tarball_install_verifies_checksums_and_is_idempotent";
    for tool in ["python3", "curl", "tar", "xz", "sha256sum"] {
        if !have(tool) {
            missing(T, &format!("{tool} is not installed"));
        }
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => missing(T, &format!("no Node.js tarballs for {other}")),
    };
    // A fake release: latest-v22.x/ with one tarball whose "node" prints its version.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let name = format!("node-v22.99.1-linux-{arch}");
    fs::create_dir_all(w.join(format!("build/{name}/bin"))).unwrap();
    fs::create_dir_all(w.join("dist/latest-v22.x")).unwrap();
    let node = w.join(format!("build/{name}/bin/node"));
    fs::write(&node, "#!/bin/sh\necho v22.99.1\n").unwrap();
    fs::set_permissions(&node, fs::Permissions::from_mode(0o755)).unwrap();
    let pack = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd build && tar -cJf ../dist/latest-v22.x/{name}.tar.xz {name} && cd ../dist/latest-v22.x && \
             sha256sum {name}.tar.xz > SHASUMS256.txt && echo '00  node-v22.99.1.tar.gz' >> SHASUMS256.txt"
        ))
        .current_dir(w)
        .output()
        .unwrap();
    assert!(pack.status.success(), "{}", text(&pack));
    let mirror = Mirror::start(&w.join("dist"));

    let install = |prefix: &Path, version: &str| {
        let script = "set -Eeuo pipefail; . \"$1/provisioners/lib/common.sh\"; eb_strict; \
                      . \"$1/provisioners/install-node-ubuntu.sh\"; install_node_tarball";
        Command::new("bash")
            .args(["-c", script, "install"])
            .arg(repo())
            .env("NODE_VERSION", version)
            .env("NODE_DIST_MIRROR", format!("http://127.0.0.1:{}", mirror.1))
            .env("NODE_TARBALL_DIR", prefix.join("opt"))
            .env("NODE_LINK_DIR", prefix.join("bin"))
            .output()
            .unwrap()
    };
    let prefix = w.join("target");
    fs::create_dir_all(prefix.join("bin")).unwrap();
    let out = install(&prefix, "22");
    assert!(out.status.success(), "{}", text(&out));
    let v = Command::new(prefix.join("bin/node")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&v.stdout), "v22.99.1\n");
    let before = snapshot(&prefix);
    let again = install(&prefix, "22");
    assert!(
        again.status.success()
            && String::from_utf8_lossy(&again.stdout).contains("already installed"),
        "{}",
        text(&again)
    );
    assert!(
        before == snapshot(&prefix),
        "second install changed the prefix"
    );

    let missing = install(&w.join("other"), "24");
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("latest-v24.x/SHASUMS256.txt"),
        "{}",
        text(&missing)
    );

    // Corrupt the published checksum: the install must refuse the tarball.
    let sums = w.join("dist/latest-v22.x/SHASUMS256.txt");
    let corrupted = format!(
        "{}{}",
        "f".repeat(64),
        &fs::read_to_string(&sums).unwrap()[64..]
    );
    fs::write(&sums, corrupted).unwrap();
    let bad = w.join("bad");
    fs::create_dir_all(bad.join("bin")).unwrap();
    let out = install(&bad, "22");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        text(&out)
    );
    assert!(
        !bad.join("opt").exists(),
        "a tarball failing its checksum must not be unpacked"
    );
}
