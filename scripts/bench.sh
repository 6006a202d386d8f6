#!/usr/bin/env bash
# rpack vs Packer 1.6.6, side by side in one run, on the shared bench harness (moto + a counting
# proxy + a loopback sshd playing the instance; see ../shared/bench/README.md).
#
#   scripts/bench.sh [N]        # N runs per cell (default 3); medians are compared
#
# Prints one table of ratios (rpack / Packer) with the targets:
#   end-to-end build, instant API        wall ≤ 0.6×, API calls ≤ Packer's
#   whole-process-tree peak memory       ≤ 0.1×
#   build with 5 s state transitions     wall ≤ 0.37× Packer's default (4 waits)
#   validate                             wall ≤ 0.1×, tree memory ≤ 0.05×
#   16 builds in one template            memory per extra build ≤ 1 MiB
# Without Packer installed (`apt-get install packer`), only rpack's numbers are printed.
# Env: RPACK_BENCH_HARNESS (default ../shared/bench next to the repo), RPACK_BIN (default the
# release build, built here). Needs root (the harness starts sshd and uses the ec2-user account).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="${RPACK_BENCH_HARNESS:-$repo/../shared/bench}"
N="${1:-3}"
[ -x "$harness/bench.sh" ] || { echo "bench: harness not found at $harness (set RPACK_BENCH_HARNESS)" >&2; exit 2; }
if [ -z "${RPACK_BIN:-}" ]; then
  (cd "$repo" && cargo build --release --quiet --bin rpack)
  RPACK_BIN="$repo/target/release/rpack"
fi
# The harness's own venv takes whatever moto pip resolves that day, and a newer moto bundles a
# newer Amazon Linux AMI than the harness's expectations name (its BASELINE.md, note 7): run it
# on the project's pinned moto (scripts/test-deps.sh makes target/test-venv).
venv_moto="$repo/target/test-venv/bin/moto_server"
[ -x "$venv_moto" ] || { echo "bench: $venv_moto missing (run scripts/test-deps.sh)" >&2; exit 2; }
export MOTO_SERVER="${MOTO_SERVER:-$venv_moto}"
packer_bin="$(command -v packer || true)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Stop the harness at the end when this run started it (moto listens on 127.0.0.1:5000).
if ss -ltn 2>/dev/null | grep -q '127.0.0.1:5000 '; then started_harness=0; else started_harness=1; fi
"$harness/up.sh" >/dev/null
trap 'rm -rf "$out"; [ "$started_harness" = 1 ] && "$harness/down.sh" >/dev/null 2>&1' EXIT

# bench TOOL TEMPLATE LABEL [env...] -> $out/LABEL.txt (the harness' medians)
bench() {
  local tool=$1 tpl=$2 label=$3; shift 3
  env "$@" "$harness/bench.sh" "$tool" "$harness/templates/$tpl" "$N" -color=false >"$out/$label.txt" 2>&1 || {
    echo "bench: $label failed:"; tail -20 "$out/$label.txt"; exit 1; }
  grep -q "PASS: $N" "$out/$label.txt" || { echo "bench: $label did not pass every run:"; cat "$out/$label.txt"; exit 1; }
}

tools=(rpack)
[ -n "$packer_bin" ] && tools+=(packer)
for t in "${tools[@]}"; do
  bin="$RPACK_BIN"; [ "$t" = packer ] && bin="$packer_bin"
  echo "bench: $t: end-to-end build (instant API) x$N"
  bench "$bin" tara-ebcustom-platform.json "$t-instant"
  echo "bench: $t: end-to-end build (5 s transitions) x$N"
  bench "$bin" tara-ebcustom-platform.json "$t-slow" SIM_STATE_DELAY_S=5
  echo "bench: $t: 1 and 16 builds in one template x$N"
  bench "$bin" parallel1.json "$t-p1"
  bench "$bin" parallel16.json "$t-p16"
  echo "bench: $t: validate x10"
  "$harness/validate_bench.sh" "$bin" "$harness/templates/tara-ebcustom-platform.json" 10 >"$out/$t-validate.txt" 2>&1
done

python3 - "$out" "${tools[@]}" <<'PY'
import re, sys
out, tools = sys.argv[1], sys.argv[2:]
def read(label):
    try:
        return open(f"{out}/{label}.txt").read()
    except FileNotFoundError:
        return ""
def num(pattern, text, cast=float):
    m = re.search(pattern, text, re.M)
    return cast(m.group(1)) if m else None
def cell(t, label):
    txt = read(f"{t}-{label}")
    return {
        "wall": num(r"wall s: median ([0-9.]+)", txt),
        "tree": num(r"whole process tree (\d+)", txt, int),
        "calls": num(r"EC2 API calls total per run: \[(\d+)", txt, int),
    }
def validate(t):
    txt = read(f"{t}-validate")
    tree = num(r"^validate .*?tree peak median (\d+) KiB", txt, int)
    largest = num(r"^validate .*?maxRSS median (\d+) KiB", txt, int)
    # A process that ends within the sampler's 5 ms interval shows a tree peak of 0; GNU time's
    # max RSS of the largest process is then the whole tree for a single-process tool.
    return {"wall": num(r"^validate .*?wall median ([0-9.]+)s", txt), "tree": max(tree or 0, largest or 0) or None}
r = {t: {k: cell(t, k) for k in ("instant", "slow", "p1", "p16")} for t in tools}
for t in tools:
    r[t]["validate"] = validate(t)
rows = []
def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"
def add(what, key, field, target, fmt):
    a = r["rpack"][key][field]
    b = r["packer"][key][field] if "packer" in r else None
    rows.append((what, fmt(a), fmt(b), ratio(a, b), target))
fs = lambda v: "-" if v is None else f"{v:.3f} s"
fk = lambda v: "-" if v is None else f"{v / 1024:.1f} MiB"
fn = lambda v: "-" if v is None else str(v)
add("build, instant API: wall", "instant", "wall", "<= 0.6x", fs)
add("build, instant API: EC2 calls", "instant", "calls", "<= 1x (Packer 22)", fn)
add("build: whole-tree peak memory", "instant", "tree", "<= 0.1x", fk)
add("build, 5 s transitions: wall", "slow", "wall", "<= 0.37x", fs)
add("build, 5 s transitions: EC2 calls", "slow", "calls", "<= Packer@1s poll (42)", fn)
for t in tools:
    p1, p16 = r[t]["p1"]["tree"], r[t]["p16"]["tree"]
    r[t]["per_extra"] = (p16 - p1) / 15 if p1 and p16 else None
a = r["rpack"]["per_extra"]; b = r.get("packer", {}).get("per_extra")
rows.append(("16 builds: memory per extra build", fk(a), fk(b), ratio(a, b), "<= 1 MiB"))
add("16 builds: wall", "p16", "wall", "-", fs)
add("validate: wall", "validate", "wall", "<= 0.1x", fs)
add("validate: whole-tree peak memory", "validate", "tree", "<= 0.05x", fk)
print()
print(f"{'measure':40} {'rpack':>12} {'packer':>12} {'ratio':>8}  target")
for what, a, b, q, tgt in rows:
    print(f"{what:40} {a:>12} {b:>12} {q:>8}  {tgt}")
PY
