#!/usr/bin/env bash
# The test command: installs the test stack's dependencies (scripts/test-deps.sh), then runs every
# test with cargo. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test it stack`).
# Exits with cargo's exit code (1 when it passed but an import points up the layers, clippy
# warns, or the code is not rustfmt-formatted).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/test-deps.sh
# The integration tests mostly wait on moto, sshd and the network stack, not on the CPU: run
# more of them at once than the machine has cores (override with RUST_TEST_THREADS).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
set +e
cargo test "$@"
rc=$?
# Imports point down the layers only (README, "Layout").
if [ $# -eq 0 ]; then
  bash scripts/layers.sh || { [ $rc -eq 0 ] && rc=1; }
fi
# Lints: the [lints] table of Cargo.toml (unreachable_pub, clippy pedantic with reasoned allows).
if [ $# -eq 0 ] && cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --all-targets --quiet -- -D warnings || { echo "test.sh: clippy found warnings" >&2; [ $rc -eq 0 ] && rc=1; }
fi
# One code style: rustfmt's defaults (skipped where the toolchain has no rustfmt).
if [ $# -eq 0 ] && cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --check >/dev/null || { echo "test.sh: code is not formatted; run cargo fmt" >&2; [ $rc -eq 0 ] && rc=1; }
fi
exit $rc
