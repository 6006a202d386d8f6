//! Where the stack finds its tools (the venv made by scripts/test-deps.sh, the Python helpers in
//! tests/support-py) and keeps its runtime files (`<target>/test-stack/run-<pid>/`).
//!
//! Runtime files live under the cargo target directory rather than /tmp because sshd refuses
//! commands and keys below world-writable directories. Each run of the test binary gets its own
//! directory; directories of runs whose process is gone are removed when the next run starts, so
//! the logs of the last run stay around for inspection.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The repository root (where Cargo.toml is).
pub(crate) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target directory this test binary was built into: the nearest ancestor of the
/// binary holding cargo's CACHEDIR.TAG, which also works with CARGO_TARGET_DIR or `--target`.
pub(crate) fn target_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            let dir = PathBuf::from(dir);
            return if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            };
        }
        let exe = std::env::current_exe().expect("locating the test binary");
        exe.ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map_or_else(|| repo_root().join("target"), Path::to_path_buf)
    })
}

/// The Python venv with moto and awsebcli (`RPACK_TEST_VENV` overrides it).
pub(crate) fn venv() -> PathBuf {
    match std::env::var_os("RPACK_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("test-venv"),
    }
}

/// A program from the venv, with a message that says how to get it when it is missing.
pub(crate) fn venv_bin(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test-deps.sh (as root) to create the test venv",
        path.display()
    );
    path
}

/// A program from the salt venv (`target/salt-venv`, made by scripts/test-deps.sh).
pub(crate) fn salt_bin(name: &str) -> PathBuf {
    let path = target_dir().join("salt-venv").join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test-deps.sh (as root) to create the salt venv",
        path.display()
    );
    path
}

/// A helper script in tests/support-py.
pub(crate) fn support_py(name: &str) -> PathBuf {
    repo_root().join("tests").join("support-py").join(name)
}

/// The Debian interpreter for stdlib-only helpers. sshd runs the authorized-keys command as
/// root with a bare environment and checks the ownership of the program, so no shims or venvs.
pub(crate) const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// This run's directory, created on first use (after removing those of finished runs).
pub(crate) fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = target_dir().join("test-stack");
        remove_stale_runs(&base);
        let dir = base.join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("creating the stack directory {}: {e}", dir.display()));
        dir
    })
}

/// A new, empty directory below this run's directory, named `<prefix>-<n>`.
pub(crate) fn fresh_dir(prefix: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let dir = run_dir().join(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn remove_stale_runs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("run-")) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !crate::support::process::is_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
