#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 900 = the 15 CPU-minutes per
# target the README's testing section reports), one after the other, at low CPU priority.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Seed corpora are built from the repository's own fixtures (templates, platform.yaml files,
# the recorded `packer console` expressions, keys made with ssh-keygen) plus a few inputs that
# reach deep structures; the corpus grows in fuzz/corpus/<target> (not committed). Crashes land
# in fuzz/artifacts/<target>: keep each one as a regression test in src/fuzzing/regressions/<target>/
# (see the README). Needs cargo-fuzz (`cargo install --locked cargo-fuzz`); the nightly-only
# flags it needs are enabled on a stable toolchain with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-900}
shift || true
ALL=(json template_engine variables decode platform_yaml ssh_key masking)
TARGETS=("${@:-${ALL[@]}}")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
# Long enough for deep nesting (10,000 levels) and long single lines.
MAX_LEN=${FUZZ_MAX_LEN:-262144}
export RUSTC_BOOTSTRAP=1

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
    masking)
      printf 'hunter2\tcorrect horse\n1,hunter2,x\ncorrect horse battery\n' | put
      printf 'a\tab\tabc\nabcabcab\r\n,,' | put
      ;;
  esac
}

for t in "${TARGETS[@]}"; do
  seed "$t"
  mkdir -p "fuzz/artifacts/$t"
  dict=()
  [ "$t" = template_engine ] && dict=(-dict=fuzz/dict/template.dict)
  echo "== $t: ${SECONDS_EACH}s"
  nice -n 15 cargo fuzz run -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" 2>&1 |
    tee "fuzz/artifacts/$t/last-run.log" | grep -E '^(#[0-9]+ +DONE|stat::|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)' || true
done
