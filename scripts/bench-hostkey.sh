#!/usr/bin/env bash
# What host-key verification costs (issue #19): amazon-ebs builds on the test stack (moto +
# counting proxy + loopback sshd, whose console lists its real host keys) with
# `ssh_host_key_check: auto` (the default: key injected in the user data, console read, the
# injected key removed before imaging) and with `off` (Packer's behaviour), interleaved, the
# order alternating each round, after one warm-up round. Prints the medians and checks the
# target: auto adds at most 0.1 s to the build wall.
# Usage: scripts/bench-hostkey.sh            (env: BENCH_RUNS=5; CARGO_PROFILE=release to
#                                             measure an optimized build of the test binary)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export BENCH_RUNS="${BENCH_RUNS:-5}"
profile=()
if [ "${CARGO_PROFILE:-}" = release ]; then profile=(--release); fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo test "${profile[@]}" --test it host_key_inject::bench_host_key_check -- --ignored --nocapture --exact 2>/dev/null \
  | grep '^BENCH ' | sed 's/^BENCH //' >"$out"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
if not rows:
    sys.exit("no benchmark output (did a build fail? run the test with --nocapture)")
med = {}
for mode in ("auto", "off"):
    walls = [r["wall_s"] for r in rows if r["mode"] == mode]
    calls = [r["console_calls"] for r in rows if r["mode"] == mode]
    med[mode] = statistics.median(walls)
    print(f"{mode:>4}: runs {len(walls)}  wall median {med[mode]:.3f} s  "
          f"(min {min(walls):.3f}, max {max(walls):.3f})  GetConsoleOutput calls {calls}")
extra = med["auto"] - med["off"]
ok = extra <= 0.1
print(f"auto - off: {extra:+.3f} s (target <= 0.1 s: {'ok' if ok else 'MISSED'})")
sys.exit(0 if ok else 1)
PY
