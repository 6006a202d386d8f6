# shellcheck shell=bash
# Shared helpers for eb_builder.sh and builders/<flavor>/builder.sh: logging, the named-step
# runner that turns any failure into "FAILED in step '...'", and idempotent file/dir
# installers that honour EB_BUILDER_ROOT (a scratch root for tests; "/" on a real instance).

EB_LOG_TAG="${EB_LOG_TAG:-eb_builder}"
# Set to 1 by put_file when it writes something; callers report "changed/up to date".
export EB_CHANGED=0
EB_CURRENT_STEP="${EB_CURRENT_STEP:-startup}"

log() { printf '[%s] %s\n' "$EB_LOG_TAG" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$EB_LOG_TAG" "$*" >&2; }
die() {
  printf '[%s] ERROR in step %s: %s\n' "$EB_LOG_TAG" "'$EB_CURRENT_STEP'" "$*" >&2
  exit 1
}

# ERR trap: name the step, the command and the line, then let set -e end the script.
eb_on_error() {
  local rc=$?
  printf "[%s] FAILED in step '%s' (exit %s at %s line %s): %s\n" \
    "$EB_LOG_TAG" "$EB_CURRENT_STEP" "$rc" "${BASH_SOURCE[1]:-?}" "${BASH_LINENO[0]:-?}" \
    "${BASH_COMMAND:-?}" >&2
}

eb_strict() {
  set -Eeuo pipefail
  trap eb_on_error ERR
}

# step NAME FUNCTION [ARGS...]: run one named phase of the build.
step() {
  local name=$1
  shift
  EB_CURRENT_STEP=$name
  log "==> $name"
  "$@"
}

# Normalised root: "" for "/", else the path without a trailing slash.
eb_root_init() {
  local root="${EB_BUILDER_ROOT:-/}"
  case "$root" in
    /*) ;;
    *) die "EB_BUILDER_ROOT must be an absolute path, got '$root'" ;;
  esac
  root="${root%/}"
  if [ -n "$root" ] && [ ! -d "$root" ]; then
    die "EB_BUILDER_ROOT '$root' does not exist"
  fi
  EB_ROOT="$root"
  EB_SKIP_PACKAGES="${EB_BUILDER_SKIP_PACKAGES:-0}"
  case "$EB_SKIP_PACKAGES" in
    0 | 1) ;;
    *) die "EB_BUILDER_SKIP_PACKAGES must be 0 or 1, got '$EB_SKIP_PACKAGES'" ;;
  esac
  export EB_ROOT EB_SKIP_PACKAGES
}

# True when installing into the real system (root "/"), where services, users and
# SELinux may be touched. In a scratch root only files under the root are written.
on_real_root() { [ -z "${EB_ROOT:-}" ]; }

# rp PATH: PATH inside the target root.
rp() { printf '%s%s' "${EB_ROOT:-}" "$1"; }

# ensure_dir PATH MODE [OWNER[:GROUP]]: create PATH (inside the root) if missing, then fix
# mode/owner only when they differ, so a second run changes nothing.
ensure_dir() {
  local dir mode=$2 owner=${3:-}
  dir=$(rp "$1")
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
  fi
  if [ "$(stat -c '%a' "$dir")" != "${mode#0}" ]; then
    chmod "$mode" "$dir"
  fi
  if [ -n "$owner" ] && on_real_root; then
    if [ "$(stat -c '%U:%G' "$dir")" != "$owner" ]; then
      chown "$owner" "$dir"
    fi
  fi
}

# put_file SRC DEST MODE: install SRC as DEST (inside the root) unless it is already
# identical; returns 0 and sets EB_CHANGED=1 when something was written.
put_file() {
  local src=$1 dest mode=$3
  dest=$(rp "$2")
  [ -f "$src" ] || die "missing source file '$src'"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    if [ "$(stat -c '%a' "$dest")" != "${mode#0}" ]; then
      chmod "$mode" "$dest"
      EB_CHANGED=1
    fi
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest.eb-new"
  mv -f "$dest.eb-new" "$dest"
  EB_CHANGED=1
}

# put_content DEST MODE <<<CONTENT: like put_file, from stdin.
put_content() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  put_file "$tmp" "$1" "$2"
  rm -f "$tmp"
}

# render TEMPLATE KEY=VALUE...: print TEMPLATE with every @KEY@ replaced by VALUE.
render() {
  local tpl=$1 kv key val content
  shift
  [ -f "$tpl" ] || die "missing template '$tpl'"
  content=$(<"$tpl")
  for kv in "$@"; do
    key=${kv%%=*}
    val=${kv#*=}
    content=${content//@${key}@/$val}
  done
  if grep -qE '@[A-Z_]+@' <<<"$content"; then
    die "template '$tpl' still has unfilled placeholders: $(grep -oE '@[A-Z_]+@' <<<"$content" | sort -u | tr '\n' ' ')"
  fi
  printf '%s\n' "$content"
}

# install_tree SRC DESTDIR: mirror the files of SRC under DESTDIR (inside the root),
# scripts (*.sh and files under hooks/ or bin/) mode 755, others 644.
install_tree() {
  local src=$1 dest=$2 f rel mode
  [ -d "$src" ] || die "missing directory '$src'"
  while IFS= read -r -d '' f; do
    rel=${f#"$src"/}
    case "$rel" in
      *.sh | bin/*) mode=755 ;;
      *) mode=644 ;;
    esac
    put_file "$f" "$dest/$rel" "$mode"
  done < <(find "$src" -type f ! -name '.*' -print0 | LC_ALL=C sort -z)
}

# remove_file PATH: delete PATH (inside the root) when it exists, also as a dangling
# symlink; sets EB_CHANGED=1 when something was removed.
remove_file() {
  local path
  path=$(rp "$1")
  if [ -e "$path" ] || [ -L "$path" ]; then
    rm -f "$path"
    EB_CHANGED=1
  fi
}

# Packages: refuse silently doing nothing; every package call goes through here.
packages_enabled() { [ "${EB_SKIP_PACKAGES:-0}" != 1 ]; }

# dnf_install_missing PKG...: install with dnf (Amazon Linux, RHEL) the packages rpm does
# not know yet; no dnf call at all when every one is installed.
dnf_install_missing() {
  local missing=() p
  for p in "$@"; do
    rpm -q "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  dnf -y install "${missing[@]}" || die "dnf could not install ${missing[*]}"
}

# node_major VERSION: "22" from "22", "v22.11.0" or "22.11.0".
node_major() {
  local v=${1#v}
  printf '%s' "${v%%.*}"
}
