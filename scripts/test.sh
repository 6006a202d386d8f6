#!/usr/bin/env bash
# The test command: installs the test stack's dependencies (scripts/test-deps.sh), then runs every
# test with cargo. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test it stack`).
# Exits with cargo's exit code.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/test-deps.sh
# The integration tests mostly wait on moto, sshd and the network stack, not on the CPU: run
# more of them at once than the machine has cores (override with RUST_TEST_THREADS).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
set +e
cargo test "$@"
exit $?
