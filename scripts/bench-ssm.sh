#!/usr/bin/env bash
# Session Manager transport benchmark: through the test stack's fake SSM agent on loopback
# (tests/it/support/ssm.rs), measures
#   * connection set-up after StartSession returns (WebSocket, token, agent handshake, bridge),
#     median of 5 sessions — target <= 0.2 s;
#   * a 64 MiB upload over SSH over the data channel (1,024-byte messages, each acknowledged,
#     as the real agent exchanges them), checked by sha256 — target >= 50 MiB/s.
# Real Session Manager is limited by AWS's agent to about 1 MB/s; this shows only that rpack's
# transport is not the bottleneck.
#
#   scripts/bench-ssm.sh                    (Cargo.toml's `perf` profile: the release
#                                           optimisation without LTO; the number to report)
#   BENCH_PROFILE=dev scripts/bench-ssm.sh  (the unoptimised test build, much slower)
#   BENCH_PROFILE=release scripts/bench-ssm.sh (the shipped profile; fat LTO of the whole test
#                                           binary takes long)
#
# Needs what scripts/test-deps.sh installs (sshd and the ec2-user login user).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
args=()
case ${BENCH_PROFILE:-perf} in
  dev) ;;
  *) args+=(--profile "${BENCH_PROFILE:-perf}") ;;
esac
out=$(nice -n 10 cargo test "${args[@]}" --test it ssm::bench_ssm -- --ignored --nocapture --test-threads=1 2>&1) || {
    echo "$out" >&2
    exit 1
}
# The test harness prints "test ssm::bench_ssm ... " before the first line: take the BENCH
# records wherever they start.
out=$(echo "$out" | grep -o 'BENCH [a-z0-9_]* [0-9.]*')
echo "$out"
awk '
  /^BENCH setup_after_start_session_median_s / { s = $3 }
  /^BENCH upload_64mib_mib_per_s / { r = $3 }
  END {
    ok = 1
    if (s == "" || r == "") { print "FAIL: a BENCH record is missing"; ok = 0 }
    if (s > 0.2) { print "FAIL set-up " s " s > 0.2 s"; ok = 0 }
    if (r < 50) { print "FAIL upload " r " MiB/s < 50 MiB/s"; ok = 0 }
    if (ok) print "OK: set-up " s " s (target <= 0.2 s), upload " r " MiB/s (target >= 50 MiB/s)"
    exit !ok
  }' <<<"$out"
