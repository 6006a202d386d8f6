//! Every input a fuzz target ever crashed on, or that once crashed, hung or ballooned the CLI,
//! kept under `regressions/<target>/` (the large inputs of the security review are generated in [`review_inputs_finish_quickly`]) and replayed through that target's entry point: it must
//! now finish without a panic, within a time bound.

use std::path::Path;
use std::time::{Duration, Instant};

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/fuzzing/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let start = Instant::now();
        // Deep inputs need the stack the CLI runs with (see main.rs).
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || run(&bytes))
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{} panicked", f.display()));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} took {:?}",
            f.display(),
            start.elapsed()
        );
    }
}

#[test]
fn json_regressions() {
    replay("json", super::json);
}

#[test]
fn template_engine_regressions() {
    replay("template_engine", super::template_engine);
}

#[test]
fn variables_regressions() {
    replay("variables", super::variables);
}

#[test]
fn decode_regressions() {
    replay("decode", super::decode);
}

#[test]
fn platform_yaml_regressions() {
    replay("platform_yaml", super::platform_yaml);
}

#[test]
fn ssh_key_regressions() {
    replay("ssh_key", super::ssh_key);
}

#[test]
fn masking_regressions() {
    replay("masking", super::masking);
}

#[test]
fn hcl2_regressions() {
    replay("hcl2", super::hcl2);
}

#[test]
fn console_output_regressions() {
    replay("console_output", super::console_output);
}

/// The large inputs of the security review (§2), generated rather than stored.
#[test]
fn review_inputs_finish_quickly() {
    type Case = (fn(&[u8]), String);
    let cases: Vec<Case> = vec![
        (super::json, "[".repeat(100_000)),
        (
            super::json,
            format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
        ),
        (
            super::json,
            format!("{}1{}", r#"{"a":"#.repeat(20_000), "}".repeat(20_000)),
        ),
        (
            super::json,
            format!("{{\"x\":[{}1]}}", "1,".repeat(300_000)),
        ),
        (
            super::platform_yaml,
            format!("version: {}", "[".repeat(100_000)),
        ),
        (super::platform_yaml, "{a: ".repeat(100_000)),
        (
            super::template_engine,
            format!("{}x{}", "{{if 1}}".repeat(5_000), "{{end}}".repeat(5_000)),
        ),
        (
            super::template_engine,
            format!(
                "{{{{printf \"{}\" {}}}}}",
                "%s".repeat(2_000),
                vec![format!("\"{}\"", "q".repeat(100)); 2_000].join(" ")
            ),
        ),
        (super::variables, {
            let mut v: Vec<String> = (1..3_000)
                .map(|i| format!("\"c{i}\":\"{{{{user `c{}`}}}}\"", i - 1))
                .collect();
            v.push("\"c0\":\"x\"".into());
            v.reverse();
            format!("{{\"variables\":{{{}}}}}", v.join(","))
        }),
    ];
    for (run, input) in cases {
        let start = Instant::now();
        let shown: String = input.chars().take(40).collect();
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || run(input.as_bytes()))
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{shown}… panicked"));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{shown}…: {:?}",
            start.elapsed()
        );
    }
}
