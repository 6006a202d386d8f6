#!/usr/bin/env bash
# encrypt_boot benchmark: rpack against Packer 1.6.6 (`packer` on PATH, `apt-get install packer`),
# turn about, on the repository's test stack (moto + tests/support-py/ec2_proxy.py + a loopback
# sshd), with BENCH_TRANSITION_S (default 5) simulated seconds on every state transition the
# tools wait for: instance running, stopped and terminated, AMI available after CreateImage
# and after CopyImage. The template has `encrypt_boot: true` and a `kms_key_id`: Packer makes
# an unencrypted intermediary AMI, copies it encrypted and deregisters the intermediary; rpack
# launches with encrypted volumes and images once (see README, "encrypt_boot").
#
#   scripts/bench-encrypt.sh            (env: BENCH_RUNS=3 BENCH_TRANSITION_S=5
#                                         RPACK_BIN=<binary> PACKER_BIN=packer)
#
# RPACK_BIN defaults to target/release/rpack, built here (nice; ~15 min from scratch on 2 cores).
# Prints each run and the medians; target: rpack's wall <= 0.3x Packer's, fewer EC2 calls.
# The test stack is private to this run (own moto, proxy and sshd on free loopback ports).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export BENCH_RUNS="${BENCH_RUNS:-3}" BENCH_TRANSITION_S="${BENCH_TRANSITION_S:-5}"
if [ -z "${RPACK_BIN:-}" ]; then
  nice cargo build --release --quiet --bin rpack
  RPACK_BIN="$repo/target/release/rpack"
fi
export RPACK_BIN PACKER_BIN="${PACKER_BIN:-packer}"
command -v "$PACKER_BIN" >/dev/null || { echo "bench-encrypt: $PACKER_BIN not found (apt-get install packer)" >&2; exit 2; }
out="$(mktemp)"
trap 'rm -f "$out" "$out.err"' EXIT
nice cargo test --test it encrypt_boot_bench::bench_encrypt_boot_side_by_side -- --ignored --nocapture --exact \
  2>"$out.err" | grep '^BENCH ' | sed 's/^BENCH //' >"$out" || true
[ -s "$out" ] || { tail -40 "$out.err" >&2; exit 1; }
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
if not rows:
    sys.exit("no benchmark output (run the test with --nocapture to see why)")
for r in rows:
    print(f"{r['tool']:>6} run {r['run']}: wall {r['wall_s']:7.2f} s  exit {r['exit']}  EC2 calls {r['calls']:3}"
          f"  CopyImage {r['by_action'].get('CopyImage', 0)}  DeregisterImage {r['by_action'].get('DeregisterImage', 0)}"
          + (f"  [{r['path']}]" if r['path'] else ""))
med = {}
for tool in ("rpack", "packer"):
    rs = [r for r in rows if r["tool"] == tool and r["exit"] == 0]
    if not rs:
        sys.exit(f"no successful {tool} build")
    med[tool] = (statistics.median(r["wall_s"] for r in rs), statistics.median(r["calls"] for r in rs), len(rs))
    print(f"{tool:>6}: {med[tool][2]} successful builds, median wall {med[tool][0]:.2f} s, median EC2 calls {med[tool][1]:g}")
ratio = med["rpack"][0] / med["packer"][0]
ok = ratio <= 0.3 and med["rpack"][1] < med["packer"][1]
print(f"transitions {rows[0]['transition_s']:g} s: wall ratio rpack/Packer {ratio:.2f}x (target <= 0.3x), "
      f"EC2 calls {med['rpack'][1]:g} vs {med['packer'][1]:g} (target: fewer): {'ok' if ok else 'MISSED'}")
sys.exit(0 if ok else 1)
PY
