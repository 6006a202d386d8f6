#!/usr/bin/env bash
# make-bundle.sh PLATFORM OUTDIR: assemble a self-contained platform definition folder
# (what `ebp create` zips and EB's builder unpacks) from templates/PLATFORM: platform.yaml
# and the template at the root, plus the builders/ and provisioners/ the template uploads.
# In the repository the template finds them two levels up (repo_dir = {{template_dir}}/../..);
# in the bundle they sit beside it, so repo_dir's default becomes {{template_dir}}.
set -euo pipefail

die() {
  echo "make-bundle: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || die "usage: make-bundle.sh PLATFORM OUTDIR (PLATFORM: a folder of templates/)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
src="$here/$1"
out=$2
[ -f "$src/platform.yaml" ] || die "$src/platform.yaml not found"
template=$(sed -n 's/^  template: *//p' "$src/platform.yaml" | tr -d '"')
{ [ -n "$template" ] && [ -f "$src/$template" ]; } || die "provisioner.template of $src/platform.yaml not found"
flavor=$(grep -o '"EB_FLAVOR=[a-z]*"' "$src/$template" | head -n 1 | sed 's/.*=//; s/"//')
[ -n "$flavor" ] || die "no EB_FLAVOR=... in $src/$template"
grep -q '"repo_dir": "{{template_dir}}/../.."' "$src/$template" ||
  die "$src/$template has no default repo_dir of {{template_dir}}/../.."
[ ! -e "$out" ] || [ -z "$(ls -A "$out")" ] || die "$out exists and is not empty"

mkdir -p "$out/builders"
cp "$src/platform.yaml" "$out/"
sed 's|"repo_dir": "{{template_dir}}/../.."|"repo_dir": "{{template_dir}}"|' "$src/$template" >"$out/$template"
cp -R "$repo/builders/common" "$repo/builders/$flavor" "$out/builders/"
cp -R "$repo/provisioners" "$out/"
echo "make-bundle: $out holds platform.yaml, $template, builders/{common,$flavor}, provisioners/"
