#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a budget of CPU time each (default 900 CPU-seconds =
# the 15 CPU-minutes per target the README's testing section reports), at the lowest CPU
# priority. The budget is CPU time of the fuzzer process (from /proc/PID/stat), not wall time,
# so a loaded machine only makes a run take longer, not fuzz less.
#
#   scripts/fuzz.sh [CPU_SECONDS] [TARGET...]
#
# Environment: FUZZ_JOBS (targets at once, default 1), FUZZ_WALL (also stop a run after this
# many wall-clock seconds, to share a short window between targets; the corpus is kept, so a
# later run goes on from it), FUZZ_UNTIL (a UTC time such as 08:25: every run still going then
# is stopped), FUZZ_MAX_LEN (default 262144), FUZZ_NICE (default 19), FUZZ_NO_BUILD=1 (run
# the fuzzers already built), FUZZ_SANITIZER (default none; `address` for AddressSanitizer).
# Every target is safe Rust (the key parser included: it does not call OpenSSL), so
# AddressSanitizer finds nothing a panic would not; without it a fuzzer runs several times more
# inputs per CPU-second, and the build needs a fraction of the memory (with it, compiling
# aws-sdk-ec2 instrumented took 13.6 GB).
# A run is stopped with SIGINT, so libFuzzer prints its final statistics. One line per target
# goes to fuzz/artifacts/summary.tsv: target, CPU-seconds, executions, cov, ft, exit status,
# crash/timeout/oom files.
#
# Seed corpora are built from the repository's own fixtures (templates, platform.yaml files,
# the recorded `packer console` expressions, keys made with ssh-keygen) plus a few inputs that
# reach deep structures; the corpus grows in fuzz/corpus/<target> (not committed). Crashes land
# in fuzz/artifacts/<target>: keep each one as a regression test in src/fuzzing/regressions/<target>/
# (see the README). Needs cargo-fuzz (`cargo install --locked cargo-fuzz`); the nightly-only
# flags it needs are enabled on a stable toolchain with RUSTC_BOOTSTRAP=1. The fuzzers run with
# a 64 MiB stack, as the CLI does (see main.rs), so 10,000 levels of JSON are not a false alarm.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=${1:-900}
shift || true
ALL=(json template_engine variables decode platform_yaml ssh_key masking hcl2 console_output)
TARGETS=("${@:-${ALL[@]}}")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
# Long enough for deep nesting (10,000 levels) and long single lines.
MAX_LEN=${FUZZ_MAX_LEN:-262144}
JOBS=${FUZZ_JOBS:-1}
NICE=${FUZZ_NICE:-19}
WALL=${FUZZ_WALL:-0}
UNTIL=0
[ -n "${FUZZ_UNTIL:-}" ] && UNTIL=$(date -u -d "$FUZZ_UNTIL" +%s)
export RUSTC_BOOTSTRAP=1
BIN=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
TCK=$(getconf CLK_TCK)

seed() {
  local t=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  local n=0
  put() { n=$((n + 1)); cat > "$dir/seed-$n"; }
  case $t in
    json | variables | decode)
      for f in tests/fixtures/templates/*.json templates/*.json templates/*/*.json; do
        [ -f "$f" ] && cp "$f" "$dir/seed-$(basename "$f")"
      done
      printf '%s' '{"variables":{"a":"x","b":"{{user `a`}}{{user `a`}}","c":"{{user `b`}}"},"builders":[{"type":"null","communicator":"none"}]}' | put
      printf '%s' '{"variables":{"a":"{{user `b`}}","b":"{{user `a`}}"}}' | put
      python3 -c "print('{\"a\":' + '[' * 9999 + ']' * 9999 + '}')" | put
      python3 -c "print('[' + '1,' * 20000 + '1]')" | put
      ;;
    template_engine)
      grep -v '^#' src/template/interp/testdata/packer_console.txt | cut -f1 | head -400 |
        while IFS= read -r line; do printf '%s' "$line" | put; done
      ;;
    platform_yaml)
      for f in templates/*/platform.yaml; do cp "$f" "$dir/seed-$(basename "$(dirname "$f")").yaml"; done
      printf 'global:\n  application_name: x\n  default_region: us-east-1\nbranch-defaults:\n  main:\n    environment: null\n' | put
      python3 -c "print('version: ' + '[' * 200)" | put
      ;;
    ssh_key)
      local tmp
      tmp=$(mktemp -d)
      for kt in ed25519 rsa ecdsa; do
        ssh-keygen -q -t "$kt" -N '' -C fuzz -f "$tmp/$kt" >/dev/null
        cp "$tmp/$kt" "$dir/seed-$kt"
      done
      rm -rf "$tmp"
      ;;
    hcl2)
      # The first byte picks the syntax (odd: HCL's JSON syntax), the rest is the file.
      for f in templates/*.pkr.hcl tests/fixtures/hcl2/*.pkr.hcl tests/fixtures/hcl2/*/*.pkr.hcl; do
        [ -f "$f" ] && { printf 'h'; cat "$f"; } > "$dir/seed-$(basename "$f")"
      done
      for f in tests/fixtures/hcl2/*.pkr.json tests/fixtures/hcl2/*/*.pkr.json; do
        [ -f "$f" ] && { printf 'i'; cat "$f"; } > "$dir/seed-$(basename "$f")"
      done
      printf 'h%s' 'variable "a" { default = "x" }
locals { b = "${var.a}${var.a}" }
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }' | put
      python3 -c "print('hx = ' + '[' * 200 + ']' * 200)" | put
      ;;
    console_output)
      # Consoles as cloud-init prints them: host keys made with ssh-keygen between the markers,
      # kernel noise and CRs around them, a second boot, a block cut off.
      local tmp kt keys=""
      tmp=$(mktemp -d)
      for kt in ed25519 rsa ecdsa; do
        ssh-keygen -q -t "$kt" -N '' -C "root@ip-10-0-0-1" -f "$tmp/$kt" >/dev/null
        keys+="$(cat "$tmp/$kt.pub")"$'\n'
      done
      rm -rf "$tmp"
      printf '[    0.000000] Linux version 6.1\r\n-----BEGIN SSH HOST KEY KEYS-----\r\n%s-----END SSH HOST KEY KEYS-----\r\nCloud-init v. 23.1 finished at Thu, 01 Jan 2026 00:00:00 +0000. Datasource DataSourceEc2.\n' "$keys" | put
      printf 'ec2: -----BEGIN SSH HOST KEY KEYS-----\n%s' "$keys" | sed 's/^/ec2: /' | put
      printf '%s\n-----BEGIN SSH HOST KEY KEYS-----\n-----END SSH HOST KEY KEYS-----\n' "$keys" | put
      ;;
    masking)
      printf 'hunter2\tcorrect horse\n1,hunter2,x\ncorrect horse battery\n' | put
      printf 'a\tab\tabc\nabcabcab\r\n,,' | put
      ;;
  esac
}

# CPU-seconds (user + system, all threads) of a running process.
cpu_secs() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo $(((${12} + ${13}) / TCK))
}

run_one() {
  local t=$1 log=fuzz/artifacts/$1/last-run.log cpu=0 pid rc
  local dict=()
  [ "$t" = template_engine ] && dict=(-dict=fuzz/dict/template.dict)
  (
    ulimit -s 65536
    exec nice -n "$NICE" "$BIN/$t" -artifact_prefix="fuzz/artifacts/$t/" -max_len="$MAX_LEN" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${dict[@]}" "fuzz/corpus/$t"
  ) >"$log" 2>&1 &
  pid=$!
  local stop=$UNTIL
  if [ "$WALL" -gt 0 ] && { [ "$stop" -eq 0 ] || [ $(($(date +%s) + WALL)) -lt "$stop" ]; }; then
    stop=$(($(date +%s) + WALL))
  fi
  while kill -0 "$pid" 2>/dev/null; do
    cpu=$(cpu_secs "$pid")
    if [ "$cpu" -ge "$BUDGET" ] || { [ "$stop" -gt 0 ] && [ "$(date +%s)" -ge "$stop" ]; }; then
      kill -INT "$pid" 2>/dev/null || true
      break
    fi
    sleep 5
  done
  rc=0
  wait "$pid" || rc=$?
  local execs cov ft found
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  found=$(cd "fuzz/artifacts/$t" && find . -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | tr '\n' ' ' || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$cpu" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$rc" \
    "${found:-none}" | tee -a fuzz/artifacts/summary.tsv
}

[ -n "${FUZZ_NO_BUILD:-}" ] || (cd fuzz && nice -n "$NICE" cargo fuzz build -O -s "${FUZZ_SANITIZER:-none}")
mkdir -p fuzz/artifacts
for t in "${TARGETS[@]}"; do
  seed "$t"
  mkdir -p "fuzz/artifacts/$t"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  echo "== $t: up to ${BUDGET} CPU-seconds"
  run_one "$t" &
done
wait
