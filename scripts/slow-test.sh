#!/usr/bin/env bash
# Runs the opt-in slow tests (tests/it/slow.rs), which `cargo test` and scripts/test.sh skip.
# Run it as root on a Debian machine. It installs the test stack (scripts/test-deps.sh) and
# debootstrap if they are missing, then runs `cargo test --test it slow:: -- --ignored`.
# Extra arguments go after `--ignored` (e.g. `--nocapture` is already set).
#
# The Ubuntu-flavour test debootstraps a Debian root from this machine's apt sources into
# target/slow-test/ (about 1.5 minutes), then builds into a copy of it (about 1.5 minutes;
# the cached root is reused). `rm -rf target/slow-test` forces a fresh root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "slow-test: must run as root (debootstrap, chroot, mount namespaces)" >&2; exit 1; }
bash scripts/test-deps.sh
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "slow-test: installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
echo "slow-test: $(debootstrap --version)"
set +e
cargo test --test it slow:: -- --ignored --nocapture "$@"
exit $?
