#!/usr/bin/env bash
# Whole-process `validate` cost, rpack vs Packer 1.6.6 side by side in one run:
#   * a generated template with 1,000 variables and 200 provisioners;
#   * the same template written in HCL2 (500 variables, 500 locals built from them, the same 200
#     provisioners), which Packer 1.6.6's beta HCL2 also reads: rpack's HCL2 path against Packer
#     (target <= 0.1x) and against rpack's own JSON path (target <= 1.5x), the latter also run
#     interleaved (JSON, HCL2, JSON, ...; 3N rounds, median of the per-round ratios);
#   * the shipped tara template, JSON against its HCL2 twin, rpack only (Packer 1.6.6 cannot read
#     the twin: its source name has spaces and it has a `packer` block);
#   * the Elastic Beanstalk sample template (skipped when ../shared is not beside the repo,
#     or set EB_TEMPLATE=path).
# Wall time via hyperfine when installed (else a loop, median of N), peak RSS via
# /usr/bin/time -v (largest process) and a /proc sampler summing the whole process tree
# (Packer starts plugin processes). Targets: rpack <= 0.1x Packer's wall time, <= 0.05x its memory.
#
#   scripts/bench-validate.sh            # builds rpack --release first
#   RPACK=path/to/rpack N=30 PACKER_N=3 scripts/bench-validate.sh
# Packer needs ~40 s for the generated template (it starts a plugin process per provisioner),
# so it gets PACKER_N runs (default 3) and no warm-up.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-20}"
PACKER_N="${PACKER_N:-3}"
if [ -z "${RPACK:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin rpack) || exit 1
  RPACK="$ROOT/target/release/rpack"
fi
if ! command -v packer >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y packer >/dev/null; else echo "packer not installed (apt-get install packer)" >&2; exit 2; fi
fi
PACKER="$(command -v packer)"
EB_TEMPLATE="${EB_TEMPLATE:-$ROOT/../shared/conformance/corpus/aws-samples__eb-custom-platforms-samples/NodePlatform_AmazonLinux/custom_platform.json}"

WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
export CHECKPOINT_DISABLE=1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_DEFAULT_REGION=us-east-1

# --- the generated template (same shape as benches/validate.rs)
python3 - "$WORK/generated.json" <<'PY'
import json, sys
variables = {}
for i in range(1000):
    variables[f"var_{i}"] = f"value-{i}" if i < 500 else f"{{{{user `var_{i-500}`}}}}-{i}"
provisioners = [{"type": "shell", "inline": [f"echo {{{{user `var_{i*5}`}}}}", f"echo step {i}"],
                 "environment_vars": [f"STEP={i}"]} for i in range(200)]
tpl = {"variables": variables, "builders": [{"type": "null", "communicator": "none"}], "provisioners": provisioners}
json.dump(tpl, open(sys.argv[1], "w"), indent=2)
PY
python3 - "$WORK/hcl2/generated.pkr.hcl" <<'PY'
import os, sys
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
out = []
for i in range(500):
    out.append(f'variable "var_{i}" {{\n  type    = string\n  default = "value-{i}"\n}}\n')
out.append("locals {\n")
for i in range(500, 1000):
    out.append(f'  var_{i} = "${{var.var_{i - 500}}}-{i}"\n')
out.append("}\n")
out.append('source "null" "n" {\n  communicator = "none"\n}\n')
out.append('build {\n  sources = ["source.null.n"]\n')
for i in range(200):
    ref = f"var.var_{i * 5}" if i * 5 < 500 else f"local.var_{i * 5}"
    out.append(f'  provisioner "shell" {{\n    inline           = ["echo ${{{ref}}}", "echo step {i}"]\n'
               f'    environment_vars = ["STEP={i}"]\n  }}\n')
out.append("}\n")
open(sys.argv[1], "w").write("".join(out))
PY

# Peak RSS of the whole process tree, sampled every 2 ms, plus GNU time's largest process.
cat > "$WORK/peak.py" <<'PY'
import os, subprocess, sys, time
def tree_rss(root):
    # Parent links from /proc/*/stat, not /proc/PID/task/PID/children: that file lists only the
    # children the main thread forked, and Go (Packer) starts its plugins from other threads.
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/statm") as f:
                pages = int(f.read().split()[1])
        except OSError:
            continue
        parent[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
        rss[int(d)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [root]
    kids = {}
    for p, pp in parent.items():
        kids.setdefault(pp, []).append(p)
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(kids.get(pid, []))
    return total
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = 0
while p.poll() is None:
    peak = max(peak, tree_rss(p.pid))
    time.sleep(0.002)
print(peak)
PY

measure() { # label dir template tool runs warmup
  local label=$1 dir=$2 tpl=$3 tool=$4 runs=$5 warmup=$6 wall rss tree
  if command -v hyperfine >/dev/null; then
    (cd "$dir" && hyperfine -N -i --warmup "$warmup" --runs "$((runs < 2 ? 2 : runs))" --export-json "$WORK/$label.json" "$tool validate $tpl" >/dev/null 2>&1)
    wall=$(python3 -c "import json;r=json.load(open('$WORK/$label.json'))['results'][0];print('%.4f'%r['median'])")
  else
    local ts=()
    for _ in $(seq "$runs"); do
      local t0 t1; t0=$(date +%s.%N); (cd "$dir" && "$tool" validate "$tpl" >/dev/null 2>&1 || true); t1=$(date +%s.%N)
      ts+=("$(echo "$t1 - $t0" | bc)")
    done
    wall=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  fi
  rss=$(cd "$dir" && /usr/bin/time -v "$tool" validate "$tpl" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p' | tail -1)
  tree=0
  for _ in $(seq "$((runs < 3 ? 1 : 3))"); do
    local t; t=$(cd "$dir" && python3 "$WORK/peak.py" "$tool" validate "$tpl"); [ "$t" -gt "$tree" ] && tree=$t
  done
  [ "$rss" -gt "$tree" ] && tree=$rss
  local rc; rc=$(cd "$dir" && { "$tool" validate "$tpl" >/dev/null 2>&1; echo $?; })
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$wall" "$rss" "$tree" "$rc" >> "$WORK/results.tsv"
}

: > "$WORK/results.tsv"
measure generated-rpack "$WORK" generated.json "$RPACK" "$N" 3
measure generated-packer "$WORK" generated.json "$PACKER" "$PACKER_N" 0
measure generated_hcl2-rpack "$WORK/hcl2" generated.pkr.hcl "$RPACK" "$N" 3
measure generated_hcl2-packer "$WORK/hcl2" generated.pkr.hcl "$PACKER" "$PACKER_N" 0
measure tara_json-rpack "$ROOT/templates" tara-ebcustom-platform.json "$RPACK" "$N" 3
measure tara_hcl2-rpack "$ROOT/templates" tara-ebcustom-platform.pkr.hcl "$RPACK" "$N" 3
if [ -f "$EB_TEMPLATE" ]; then
  EB_DIR="$(dirname "$EB_TEMPLATE")"
  measure eb-rpack "$EB_DIR" "$(basename "$EB_TEMPLATE")" "$RPACK" "$N" 3
  measure eb-packer "$EB_DIR" "$(basename "$EB_TEMPLATE")" "$PACKER" "$N" 3
fi

# rpack's HCL2 against its own JSON path, interleaved (JSON, HCL2, JSON, HCL2, ...) so that a
# machine whose speed drifts between the two blocks above does not skew the ratio: the median
# of the per-round ratios of wall time and of CPU time (user + system).
python3 - "$RPACK" "$WORK" "$((N * 3))" > "$WORK/interleaved.txt" <<'PY'
import os, statistics, sys, time
rpack, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cases = [("json", work, "generated.json"), ("hcl2", os.path.join(work, "hcl2"), "generated.pkr.hcl")]
null = os.open(os.devnull, os.O_WRONLY)
got = {name: [] for name, _, _ in cases}
for i in range(rounds + 3):
    for name, cwd, tpl in cases:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.chdir(cwd); os.dup2(null, 1); os.dup2(null, 2)
            os.execv(rpack, [rpack, "validate", tpl])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        if i >= 3:  # warm-up rounds
            got[name].append((wall, usage.ru_utime + usage.ru_stime))
wall = statistics.median(h[0] / j[0] for h, j in zip(got["hcl2"], got["json"]))
cpu = statistics.median(h[1] / j[1] for h, j in zip(got["hcl2"], got["json"]))
med = {n: statistics.median(w for w, _ in v) * 1000 for n, v in got.items()}
print(f"generated_hcl2, interleaved ({rounds} rounds): rpack HCL2/JSON wall {wall:.3f}x "
      f"(target <= 1.5x; medians {med['hcl2']:.1f} / {med['json']:.1f} ms), CPU {cpu:.3f}x")
PY

python3 - "$WORK/results.tsv" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, wall, rss, tree, rc = line.split()
    rows[label] = (float(wall), int(rss), int(tree), rc)
print("%-18s %10s %16s %16s %4s" % ("case", "wall (s)", "largest RSS KiB", "tree peak KiB", "rc"))
for label, (w, r, t, rc) in rows.items():
    print("%-18s %10.4f %16d %16d %4s" % (label, w, r, t, rc))
for case in ("generated", "generated_hcl2", "eb"):
    if f"{case}-rpack" in rows and f"{case}-packer" in rows:
        rw, _, rt, _ = rows[f"{case}-rpack"]; pw, _, pt, _ = rows[f"{case}-packer"]
        print(f"{case}: rpack/packer wall {rw/pw:.3f}x (target <= 0.1x), peak memory {rt/pt:.3f}x (target <= 0.05x)")
for hcl2, json in (("generated_hcl2-rpack", "generated-rpack"), ("tara_hcl2-rpack", "tara_json-rpack")):
    if hcl2 in rows and json in rows:
        print(f"{hcl2[:-6]}: rpack HCL2/JSON wall {rows[hcl2][0]/rows[json][0]:.3f}x (target <= 1.5x), "
              f"peak memory {rows[hcl2][2]/rows[json][2]:.3f}x")
PY
cat "$WORK/interleaved.txt"
