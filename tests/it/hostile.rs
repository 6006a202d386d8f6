//! Hostile input (issue #18): the real binary on inputs that used to crash it (stack overflow),
//! hang it (FIFOs, quadratic parsing) or balloon it (`/dev/zero`, exponential variables). Every
//! run is bounded by the test itself: address space and CPU time through `setrlimit` in the
//! child, and a wall-clock deadline after which the child is killed and the test fails. So a
//! regression fails here instead of exhausting the machine. Peak RSS comes from `wait4`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address space for the child: well above a healthy run, far below what a runaway would take.
const MAX_AS: u64 = 3 << 30;
const MAX_CPU_SECS: u64 = 60;
const DEADLINE: Duration = Duration::from_secs(60);

struct Run {
    code: i32,
    stderr: String,
    stdout: String,
    wall: Duration,
    peak_rss_kib: i64,
}

// The child is reaped by `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn rpack(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let out = dir.join(".out");
    let err = dir.join(".err");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpack"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RPACK_MAX_INPUT_MIB")
        .env_remove("RPACK_MAX_VALUE_MIB")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        // Nothing here may reach AWS; if it tried, it would fail on a closed loopback port.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    unsafe {
        cmd.pre_exec(|| {
            let set = |res, n: u64| {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(res, &raw const lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            set(libc::RLIMIT_AS, MAX_AS)?;
            set(libc::RLIMIT_CPU, MAX_CPU_SECS)
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("starting rpack");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The child may stop reading at its limit: a broken pipe is expected then.
        let _ = pipe.write_all(input);
    }
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &raw mut status, libc::WNOHANG, &raw mut usage) };
        if r == pid {
            break (status, usage);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rpack {args:?} still running after {DEADLINE:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = start.elapsed();
    assert!(
        libc::WIFEXITED(status),
        "rpack {args:?} did not exit normally (signal {}): a crash",
        libc::WTERMSIG(status)
    );
    Run {
        code: libc::WEXITSTATUS(status),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        wall,
        peak_rss_kib: usage.ru_maxrss,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

const NULL_TEMPLATE: &str =
    r#"{"builders":[{"type":"null","communicator":"none"}],"provisioners":[]}"#;

/// Refused with a clear message and code 1, quickly and small.
fn assert_refused(r: &Run, needle: &str) {
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    // Messages are wrapped for the terminal: compare with white space collapsed, and show
    // at most the start of what was printed (a syntax error quotes the whole line).
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let all = flat(&format!("{}{}", r.stdout, r.stderr));
    let shown: String = all.chars().take(600).collect();
    assert!(
        all.contains(&flat(needle)),
        "wanted {needle:?} in:\n{shown}"
    );
    assert!(r.wall < Duration::from_secs(20), "took {:?}", r.wall);
    assert!(
        r.peak_rss_kib < 512 * 1024,
        "peak RSS {} KiB",
        r.peak_rss_kib
    );
}

#[test]
fn deep_json_is_packers_max_depth_error_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let deep = "[".repeat(100_000);
    write(d.path(), "d.json", &deep);
    let r = rpack(d.path(), &["validate", "d.json"], None, &[]);
    assert_refused(
        &r,
        "invalid character '[' exceeded max depth (d.json:1:10001)\nAt line 1, column 10001 (offset 10001)",
    );
    let r = rpack(d.path(), &["inspect", "d.json"], None, &[]);
    assert_refused(&r, "exceeded max depth");
    write(d.path(), "t.json", NULL_TEMPLATE);
    let r = rpack(
        d.path(),
        &["validate", "-var-file=d.json", "t.json"],
        None,
        &[],
    );
    assert_refused(
        &r,
        "Error reading variables in 'd.json': invalid character '[' exceeded max depth",
    );
    let r = rpack(d.path(), &["validate", "-"], Some(deep.as_bytes()), &[]);
    assert_refused(&r, "exceeded max depth");
    // 10,000 levels are still JSON (Go accepts them): a template error, not a syntax error.
    let ok_deep = format!("{{\"x\":{}{}}}", "[".repeat(9_999), "]".repeat(9_999));
    write(d.path(), "ok.json", &ok_deep);
    let r = rpack(d.path(), &["validate", "ok.json"], None, &[]);
    assert_refused(&r, "Unknown root level key in template: 'x'");
    assert!(!r.stderr.contains("max depth"), "{}", r.stderr);
}

#[test]
fn one_line_template_parses_in_linear_time() {
    let d = tempfile::tempdir().unwrap();
    let items = vec!["1"; 300_000].join(",");
    write(d.path(), "m.json", &format!("{{\"x\":[{items}]}}"));
    let r = rpack(d.path(), &["validate", "m.json"], None, &[]);
    assert_refused(&r, "Unknown root level key in template: 'x'");
    // It took 7.8 s before (quadratic columns); the multi-line equivalent takes a fraction.
    assert!(r.wall < Duration::from_secs(5), "took {:?}", r.wall);
}

#[test]
fn exponential_variables_stop_at_the_value_limit() {
    let d = tempfile::tempdir().unwrap();
    let mut vars = vec!["\"v00\":\"xxxxxxxx\"".to_string()];
    for i in 1..40 {
        vars.push(format!(
            "\"v{i:02}\":\"{{{{user `v{:02}`}}}}{{{{user `v{:02}`}}}}\"",
            i - 1,
            i - 1
        ));
    }
    let tpl = format!(
        "{{\"variables\":{{{}}},\"builders\":[{{\"type\":\"null\",\"communicator\":\"none\"}}]}}",
        vars.join(",")
    );
    write(d.path(), "x.json", &tpl);
    let r = rpack(d.path(), &["validate", "x.json"], None, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("user variables are") && r.stderr.contains("RPACK_MAX_VALUE_MIB"),
        "{}",
        r.stderr
    );
    assert!(
        r.peak_rss_kib < 1024 * 1024,
        "peak RSS {} KiB",
        r.peak_rss_kib
    );
    // A smaller limit names the variable that crossed it.
    let r = rpack(
        d.path(),
        &["validate", "x.json"],
        None,
        &[("RPACK_MAX_VALUE_MIB", "1")],
    );
    assert_refused(&r, "more than the 1 MiB limit");
    assert!(r.stderr.contains("\"v1"), "{}", r.stderr);
}

#[test]
fn long_variable_chains_and_many_builders_are_linear() {
    let d = tempfile::tempdir().unwrap();
    let mut vars: Vec<String> = (1..5_000)
        .map(|i| format!("\"c{i}\":\"{{{{user `c{}`}}}}\"", i - 1))
        .collect();
    vars.push("\"c0\":\"x\"".into());
    vars.reverse();
    let tpl = format!(
        "{{\"variables\":{{{}}},\"builders\":[{{\"type\":\"null\",\"communicator\":\"none\"}}]}}",
        vars.join(",")
    );
    write(d.path(), "chain.json", &tpl);
    let r = rpack(d.path(), &["validate", "chain.json"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.wall < Duration::from_secs(15),
        "5,000-variable chain took {:?}",
        r.wall
    );

    let builders: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"type\":\"null\",\"name\":\"b{i}\",\"communicator\":\"none\"}}"))
        .collect();
    write(
        d.path(),
        "many.json",
        &format!("{{\"builders\":[{}]}}", builders.join(",")),
    );
    let r = rpack(d.path(), &["validate", "many.json"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.wall < Duration::from_secs(15),
        "20,000 builders took {:?}",
        r.wall
    );
}

#[test]
fn fifos_devices_and_directories_are_refused_at_once() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "t.json", NULL_TEMPLATE);
    mkfifo(&d.path().join("fifo"));
    std::fs::create_dir(d.path().join("dir")).unwrap();
    let r = rpack(d.path(), &["validate", "fifo"], None, &[]);
    assert_refused(
        &r,
        "template fifo is a named pipe (FIFO), not a regular file",
    );
    let r = rpack(d.path(), &["validate", "/dev/zero"], None, &[]);
    assert_refused(
        &r,
        "template /dev/zero is a character device, not a regular file",
    );
    // A directory is an HCL2 input (all its *.pkr.hcl files); one without any is refused at once.
    let r = rpack(d.path(), &["validate", "dir"], None, &[]);
    assert_refused(&r, "Could not find any config file in dir");
    let r = rpack(
        d.path(),
        &["validate", "-var-file=fifo", "t.json"],
        None,
        &[],
    );
    assert_refused(&r, "var file fifo is a named pipe (FIFO)");
    let r = rpack(
        d.path(),
        &["validate", "-var-file=/dev/zero", "t.json"],
        None,
        &[],
    );
    assert_refused(&r, "var file /dev/zero is a character device");
    let key = format!("{}/fifo", d.path().display());
    let tpl = format!(
        r#"{{"builders":[{{"type":"null","ssh_host":"127.0.0.1","ssh_username":"u","ssh_private_key_file":"{key}"}}]}}"#
    );
    write(d.path(), "key.json", &tpl);
    let r = rpack(d.path(), &["validate", "key.json"], None, &[]);
    assert_refused(&r, "private key file");
    assert!(r.stderr.contains("named pipe"), "{}", r.stderr);
}

#[test]
fn oversized_inputs_are_refused_with_the_limit_named() {
    let d = tempfile::tempdir().unwrap();
    let big = format!("{{\"description\":\"{}\"}}", "x".repeat(2 << 20));
    write(d.path(), "big.json", &big);
    let env = [("RPACK_MAX_INPUT_MIB", "1")];
    let r = rpack(d.path(), &["validate", "big.json"], None, &env);
    assert_refused(
        &r,
        "template big.json is larger than 1 MiB (the limit; set RPACK_MAX_INPUT_MIB",
    );
    let r = rpack(d.path(), &["validate", "-"], Some(big.as_bytes()), &env);
    assert_refused(&r, "template (stdin) is larger than 1 MiB");
}

/// A platform workspace whose platform.yaml is `yaml`.
fn platform_workspace(yaml: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".elasticbeanstalk")).unwrap();
    write(
        d.path(),
        ".elasticbeanstalk/config.yml",
        "global:\n  platform_name: p1\n  default_region: us-east-1\n  workspace_type: Platform\n",
    );
    std::fs::write(d.path().join("platform.yaml"), yaml).unwrap();
    write(d.path(), "custom_platform.json", NULL_TEMPLATE);
    d
}

#[test]
fn hostile_platform_yaml_fails_fast_with_its_position() {
    let deep = format!("version: {}", "[".repeat(100_000));
    let d = platform_workspace(deep.as_bytes());
    let r = rpack(d.path(), &["platform", "create", "1.0.0"], None, &[]);
    assert_refused(&r, "nested deeper than 128 levels at line 1 column 138");
    let d = platform_workspace(b"version: \"1.0\"\ndescription: caf\xe9\n");
    let r = rpack(d.path(), &["platform", "create", "1.0.0"], None, &[]);
    assert_refused(&r, "platform.yaml:2:17: invalid UTF-8");
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let d = tempfile::tempdir().unwrap();
    let tpl = r#"{"variables":{"n":"evil\u0000\u001b[2J\u202ename"},"builders":[{"type":"null","name":"{{user `n`}}","communicator":"none"}],
 "provisioners":[{"type":"shell-local","inline":["printf 'remote\\033]0;title\\007 \\342\\200\\256x\\n'"]}]}"#;
    write(d.path(), "c.json", tpl);
    for args in [&["inspect", "c.json"][..], &["build", "c.json"][..]] {
        let r = rpack(d.path(), args, None, &[]);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            !all.contains(['\u{0}', '\u{1b}', '\u{7}', '\u{202e}']),
            "{args:?} printed a raw control character: {all:?}"
        );
        assert!(all.contains("\\u{1b}"), "{args:?}: {all}");
    }
}

/// Every error about the input names the file, line and column where the input has them
/// (Packer gives a position for syntax errors only, and never the file).
#[test]
fn errors_name_the_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "syntax.json",
        "{\n  \"builders\": [\n    {\"type\": \"null\",}\n  ]\n}\n",
    );
    let r = rpack(p, &["validate", "syntax.json"], None, &[]);
    assert_refused(
        &r,
        "invalid character '}' looking for beginning of object key string (syntax.json:3:21)",
    );
    let r = rpack(p, &["validate", "-"], Some(b"{\"a\":\n  x}"), &[]);
    assert_refused(
        &r,
        "invalid character 'x' looking for beginning of value (<stdin>:2:3)",
    );

    write(p, "root.json", "\n [1]");
    let r = rpack(p, &["validate", "root.json"], None, &[]);
    assert_refused(&r, "'' expected a map, got 'slice' (root.json:2:2)");

    write(
        p,
        "decode.json",
        "{\"builders\":[\n {\"type\":[\"null\"]}]}",
    );
    let r = rpack(p, &["validate", "decode.json"], None, &[]);
    assert_refused(&r, "(decode.json:2:");

    write(
        p,
        "only.json",
        "{\"builders\":[{\"type\":\"null\",\"communicator\":\"none\"}],\n\"provisioners\":[{\"type\":\"shell-local\",\"inline\":[\"true\"],\n \"only\":[\"nope\"]}]}",
    );
    let r = rpack(p, &["validate", "only.json"], None, &[]);
    assert_refused(&r, "'only' specified builder 'nope' not found (only.json:");

    write(p, "t.json", NULL_TEMPLATE);
    write(p, "vars.json", "{\"a\": \"x\",\n \"b\": 1}");
    let r = rpack(p, &["validate", "-var-file=vars.json", "t.json"], None, &[]);
    assert_refused(
        &r,
        "Error reading variables in 'vars.json': json: cannot unmarshal number into Go value of type string (vars.json:2:7: the value of \"b\" must be a string)",
    );
    write(p, "bad.json", "{\"a\": \"x\"\n \"b\"}");
    let r = rpack(p, &["validate", "-var-file=bad.json", "t.json"], None, &[]);
    assert_refused(&r, "after object key:value pair (bad.json:2:2)");
}

/// One large variable referred to from thousands of places: each rendered value is within the
/// per-value limit, but together they would need many GiB (killed by the 3 GiB address-space
/// limit before the total was bounded).
#[test]
fn many_references_to_a_large_variable_stop_at_the_total() {
    let d = tempfile::tempdir().unwrap();
    // 23 doubling variables: v22 is 32 MiB, all of them together just under 64 MiB.
    let mut vars = vec!["\"v00\":\"xxxxxxxx\"".to_string()];
    for i in 1..23 {
        vars.push(format!(
            "\"v{i:02}\":\"{{{{user `v{:02}`}}}}{{{{user `v{:02}`}}}}\"",
            i - 1,
            i - 1
        ));
    }
    let env: Vec<String> = (0..200)
        .map(|i| format!("\"E{i}={{{{user `v22`}}}}\""))
        .collect();
    let tpl = format!(
        "{{\"variables\":{{{}}},\"builders\":[{{\"type\":\"null\",\"communicator\":\"none\"}}],\
         \"provisioners\":[{{\"type\":\"shell-local\",\"inline\":[\"true\"],\"environment_vars\":[{}]}}]}}",
        vars.join(","),
        env.join(",")
    );
    write(d.path(), "refs.json", &tpl);
    let r = rpack(d.path(), &["validate", "refs.json"], None, &[]);
    assert_refused(
        &r,
        "the rendered values of this template grew past the 64 MiB limit together",
    );
}
