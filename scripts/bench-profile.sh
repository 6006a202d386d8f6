#!/usr/bin/env bash
# The release profile's knobs, one at a time (issue #20): for each variant, the stripped binary's
# size, what `ldd` lists beyond glibc, the build's CPU and wall time, and two speed checks: the
# wall time of `rpack validate` on a generated 1,000-variable template (median of N runs) and a
# 256 MiB upload over SSH (scripts/bench-xfer.sh's "big" case, rpack and scp in one run, medians
# of XFER_N runs, default 5: single runs of either tool spread by 2x on a shared machine).
#
#   scripts/bench-profile.sh [VARIANT...]        (default: all; N=15 validate runs)
#
# Variants (the shipped profile is lto = "fat", codegen-units = 1, strip = true, panic = "unwind"):
#   shipped    `cargo build --release` as Cargo.toml says
#   thin       lto = "thin"    } only the final crate is rebuilt, in target/release on the
#   nostrip    strip = none    } shipped build's dependencies (their rustc flags do not change
#   abortfinal panic = abort   } with these knobs; for panic only the final crate is compiled
#                                to abort, the dependencies keep their unwind tables). The
#                                shipped binary is rebuilt at the end.
#   o3         opt-level = 3 (the profile before 2026-12-06), a full build in target/knob-o3
#   defaults   cargo's defaults: lto = false, codegen-units = 16 (a full build of every
#              dependency in target/knob-defaults)
#   abort      panic = "abort" everywhere (a full build in target/knob-abort)
# Full builds take about 1,500-1,700 CPU-seconds each here. Results go to target/bench-profile.tsv.
# PREBUILT=1 measures the binaries already in target/bench-profile/<variant> (with their build
# times in <variant>.build, "CPU-seconds wall-seconds") instead of building them.
# Needs what scripts/test-deps.sh installs (the xfer case needs root for its sshd).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-15}
VARIANTS=("${@:-shipped thin nostrip abortfinal defaults abort}")
# shellcheck disable=SC2206
VARIANTS=(${VARIANTS[*]})
OUT=target/bench-profile
mkdir -p "$OUT"
TSV=target/bench-profile.tsv
[ -f "$TSV" ] || printf 'variant\tbytes\tldd_extra\tbuild_cpu_s\tbuild_wall_s\tvalidate_median_s\tupload_mib_s\tscp_mib_s\n' > "$TSV"

# A 1,000-variable, 200-provisioner template (the shape bench-validate.sh generates).
TPL=$OUT/validate.json
python3 - "$TPL" <<'EOF'
import json, sys
v = {f"v{i}": f"value-{i}" for i in range(1000)}
p = [{"type": "shell-local", "inline": [f"echo {{{{user `v{i}`}}}}"]} for i in range(200)]
json.dump({"variables": v, "builders": [{"type": "null", "communicator": "none"}],
           "provisioners": p}, open(sys.argv[1], "w"))
EOF

timed() { # timed LOG CMD... : runs CMD, appends "cpu wall" to LOG
  local log=$1
  shift
  /usr/bin/time -f '%U %S %e' -o "$log.time" "$@" > "$log" 2>&1
  awk '{ printf "%.0f %.0f\n", $1 + $2, $3 }' "$log.time"
}

build() { # build VARIANT -> path of the binary; prints "cpu wall" to $OUT/VARIANT.build
  local v=$1 bin
  case $v in
    shipped)
      timed "$OUT/$v.log" cargo build --release --bin rpack > "$OUT/$v.build"
      bin=target/release/rpack ;;
    thin | nostrip | abortfinal)
      [ -x "$OUT/shipped" ] || { echo "build 'shipped' first" >&2; exit 1; }
      local flag
      case $v in
        thin) flag="-C lto=thin" ;;
        nostrip) flag="-C strip=none" ;;
        abortfinal) flag="-C panic=abort" ;;
      esac
      # shellcheck disable=SC2086
      timed "$OUT/$v.log" cargo rustc --release --bin rpack -- $flag > "$OUT/$v.build"
      bin=target/release/rpack
      RESTORE=1 ;;
    o3)
      CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
        timed "$OUT/$v.log" cargo build --release --bin rpack --target-dir target/knob-o3 \
        > "$OUT/$v.build"
      bin=target/knob-o3/release/rpack ;;
    defaults)
      CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        timed "$OUT/$v.log" cargo build --release --bin rpack --target-dir target/knob-defaults \
        > "$OUT/$v.build"
      bin=target/knob-defaults/release/rpack ;;
    abort)
      CARGO_PROFILE_RELEASE_PANIC=abort \
        timed "$OUT/$v.log" cargo build --release --bin rpack --target-dir target/knob-abort \
        > "$OUT/$v.build"
      bin=target/knob-abort/release/rpack ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
  cp "$bin" "$OUT/$v"
}

median_validate() { # median wall seconds of N validate runs (nanosecond clock: a validate
  local bin=$1 i s e   # takes about 10 ms, finer than time(1)'s 10 ms steps)
  for ((i = 0; i < N; i++)); do
    s=$(date +%s%N)
    "$bin" validate "$TPL" > /dev/null 2>&1
    e=$(date +%s%N)
    echo $(((e - s) / 1000))
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.4f\n", a[int((NR + 1) / 2)] / 1e6 }'
}

RESTORE=0
for v in "${VARIANTS[@]}"; do
  if [ -n "${PREBUILT:-}" ] && [ -x "$OUT/$v" ] && [ -s "$OUT/$v.build" ]; then
    echo "== $v: prebuilt"
  else
    echo "== $v: building"
    build "$v"
  fi
  read -r cpu wall < "$OUT/$v.build"
  bytes=$(stat -c %s "$OUT/$v")
  extra=$(ldd "$OUT/$v" | awk '{ print $1 }' |
    grep -vE '^(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libgcc_s\.so|libpthread\.so|libdl\.so|librt\.so)' |
    tr '\n' ' ' || true)
  echo "== $v: $bytes bytes; build $cpu CPU-s, $wall s wall; measuring"
  med=$(median_validate "$OUT/$v")
  RPACK_BIN="$PWD/$OUT/$v" XFER_CASES=big XFER_TOOLS="rpack scp" scripts/bench-xfer.sh "${XFER_N:-5}" \
    > "$OUT/$v.xfer" 2>&1 || true
  # The summary (10+ fields, unlike the per-run lines): tool case method runs wall net
  # MiB/s_net MiB/s_wall rss checks.
  up=$(awk 'NF >= 10 && $1 == "rpack" && $2 == "big" { print $8 }' "$OUT/$v.xfer")
  scp=$(awk 'NF >= 10 && $1 == "scp" && $2 == "big" { print $8 }' "$OUT/$v.xfer")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$bytes" "${extra:-none}" "$cpu" "$wall" "$med" \
    "${up:-?}" "${scp:-?}" | tee -a "$TSV"
done
if [ "$RESTORE" = 1 ]; then
  echo "== restoring the shipped target/release/rpack"
  cargo build --release --bin rpack > "$OUT/restore.log" 2>&1
fi
