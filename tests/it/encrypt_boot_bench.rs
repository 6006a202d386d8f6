//! The `encrypt_boot` benchmark (scripts/bench-encrypt.sh; ignored in normal runs): the same
//! `encrypt_boot: true` template built by rpack and by Packer 1.6.6 (`packer` on PATH), turn
//! about, on this repository's test stack with simulated state transitions on every wait the
//! tools make (RunInstances, StopInstances, CreateImage, CopyImage, TerminateInstances; the
//! proxy's `transitions`). Prints one `BENCH {json}` line per build: tool, wall, exit code and
//! the EC2 calls by action.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `base` run by another program: same arguments, environment and directory.
fn with_program(program: &str, base: &Command) -> Command {
    let mut c = Command::new(program);
    c.args(base.get_args());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = base.get_current_dir() {
        c.current_dir(d);
    }
    c
}

#[test]
#[ignore = "benchmark: scripts/bench-encrypt.sh"]
fn bench_encrypt_boot_side_by_side() {
    let st = crate::build::stack();
    let runs: usize = env_or("BENCH_RUNS", 3);
    let transition: f64 = env_or("BENCH_TRANSITION_S", 5.0);
    let rpack_bin =
        std::env::var("RPACK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rpack").into());
    let packer_bin = std::env::var("PACKER_BIN").unwrap_or_else(|_| "packer".into());
    let tpl = st.template(
        "encrypt-bench",
        json!({
            "encrypt_boot": true,
            "kms_key_id": "alias/rpack-bench",
            "skip_metadata_api_check": true,
            "access_key": "AKIAEXAMPLE000000000",
            "secret_key": "not-checked-by-moto",
            "ssh_timeout": "5m"
        }),
        json!([{"type": "shell", "inline": ["echo provisioned"]}]),
    );
    let tpl = tpl.to_str().unwrap().to_string();
    st.proxy
        .set_transition_time(Duration::from_secs_f64(transition));
    for run in 0..runs {
        for (tool, bin) in [("rpack", &rpack_bin), ("packer", &packer_bin)] {
            let mut cmd = with_program(bin, &st.rpack(&["build", "-color=false", &tpl]));
            cmd.env("CHECKPOINT_DISABLE", "1")
                .env("AWS_EC2_METADATA_DISABLED", "true");
            st.proxy.reset_counts();
            let started = Instant::now();
            let out = cmd
                .output()
                .unwrap_or_else(|e| panic!("running {bin}: {e}"));
            let wall = started.elapsed().as_secs_f64();
            let counts = st.proxy.counts();
            let total: u64 = counts.values().sum();
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                eprintln!("{tool} run {run} failed:\n{text}");
            }
            let path = text
                .lines()
                .find(|l| l.contains("encrypt_boot: "))
                .unwrap_or("")
                .trim()
                .to_string();
            println!(
                "BENCH {}",
                json!({"tool": tool, "run": run, "transition_s": transition,
                       "wall_s": (wall * 1000.0).round() / 1000.0, "exit": out.status.code(),
                       "calls": total, "by_action": counts, "path": path})
            );
        }
    }
}
