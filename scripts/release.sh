#!/usr/bin/env bash
# Builds a release of rpack for this machine's platform into dist/ (or OUT_DIR), the way
# HashiCorp ships Packer: one self-contained binary and a SHA-256 checksum file.
#
#   scripts/release.sh [OUT_DIR]
#
# Produces, for version V (Cargo.toml) on linux_amd64:
#   rpack_V_linux_amd64            the binary (depends only on glibc: checked here with ldd)
#   rpack_V_linux_amd64.tar.gz     rpack + completions/{rpack.bash,_rpack,rpack.fish}
#                                  + man/man1/rpack*.1 + README.md + LICENSE (when present)
#   rpack_V_SHA256SUMS             `sha256sum -c rpack_V_SHA256SUMS` checks both
# Completions and man pages are generated from the clap definitions (examples/dist_docs.rs).
# The build embeds the commit (build.rs): HEAD of this checkout, or $RPACK_COMMIT when set
# (a build from a tarball without git). RPACK_BIN=path packages that binary instead of building.
# Fails when the binary links anything beyond glibc's own
# libraries or is larger than the 30 MB budget.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${1:-$repo/dist}"
budget=$((30 * 1000 * 1000))

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
os=$(uname -s | tr '[:upper:]' '[:lower:]')
name="rpack_${version}_${os}_${arch}"

if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "release: warning: the work tree has uncommitted changes; the binary names HEAD's commit" >&2
fi

if [ -n "${RPACK_BIN:-}" ]; then
  bin=$RPACK_BIN
  echo "release: packaging $bin (RPACK_BIN; not building)"
else
  echo "release: building rpack $version (release profile)"
  nice -n 10 cargo build --release --locked --bin rpack
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  bin="$target_dir/release/rpack"
fi

# Only glibc's own libraries (and the vDSO) may be needed at run time.
bad=$(ldd "$bin" | awk '{print $1}' |
  grep -Ev '^(linux-vdso\.so\.1|linux-gate\.so\.1|/?.*ld-linux[^ ]*\.so\.[0-9]+|lib(c|m|dl|rt|pthread|gcc_s|util|resolv)\.so\.[0-9]+)$' || true)
if [ -n "$bad" ]; then
  echo "release: $bin needs libraries beyond glibc's: $bad" >&2
  exit 1
fi
size=$(stat -c %s "$bin")
if [ "$size" -gt "$budget" ]; then
  echo "release: $bin is $size bytes, over the budget of $budget" >&2
  exit 1
fi
"$bin" --version

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
install -m 0755 "$bin" "$stage/$name/rpack"
echo "release: generating completions and man pages from the clap definitions"
# --release: the example reuses the release build's compiled dependencies (a debug build here
# would compile every dependency a second time on a clean checkout).
nice -n 10 cargo run --quiet --release --locked --example dist_docs -- "$stage/$name" >/dev/null
cp README.md "$stage/$name/"
[ -f LICENSE ] && cp LICENSE "$stage/$name/"

mkdir -p "$out"
rm -f "$out/$name" "$out/$name.tar.gz" "$out/rpack_${version}_SHA256SUMS"
install -m 0755 "$bin" "$out/$name"
# Reproducible archive: fixed owner, order and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' -C "$stage" -cf - "$name" |
  gzip -n -9 >"$out/$name.tar.gz"
(cd "$out" && sha256sum "$name" "$name.tar.gz" >"rpack_${version}_SHA256SUMS")
(cd "$out" && sha256sum -c "rpack_${version}_SHA256SUMS")
echo "release: $out/$name ($size bytes), $out/$name.tar.gz, $out/rpack_${version}_SHA256SUMS"
