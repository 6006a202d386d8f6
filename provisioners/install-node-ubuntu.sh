# shellcheck shell=bash
# Ubuntu (22.04, 24.04) package steps for eb_builder.sh. No third-party apt repository:
# Node.js comes from the distribution when its major matches the request (22.04 ships 12,
# 24.04 ships 18), otherwise from the official release tarball, found and checksum-verified
# through SHASUMS256.txt on $NODE_DIST_MIRROR (default https://nodejs.org/dist).

NODE_DIST_MIRROR="${NODE_DIST_MIRROR:-https://nodejs.org/dist}"
# Where tarballs are unpacked and where node/npm/npx are linked; overridable for tests only
# (builders/ubuntu and the systemd unit expect the defaults).
NODE_TARBALL_DIR="${NODE_TARBALL_DIR:-/opt/nodejs}"
NODE_LINK_DIR="${NODE_LINK_DIR:-/usr/local/bin}"

apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confold "$@"
}

apt_updated=0
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$apt_updated" = 0 ]; then
    apt_get update || die "apt-get update failed"
    apt_updated=1
  fi
  apt_get install --no-install-recommends "${missing[@]}" || die "apt-get could not install ${missing[*]}"
}

os_install_base_packages() {
  apt_install_missing unzip tar xz-utils curl ca-certificates
}

os_install_nginx() {
  apt_install_missing nginx
}

# Major version of the distribution's nodejs candidate ("" when there is none). A fresh
# image may ship without package lists, so an empty answer triggers one apt-get update.
distro_node_major() {
  local cand
  cand=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  if { [ -z "$cand" ] || [ "$cand" = "(none)" ]; } && [ "$apt_updated" = 0 ]; then
    apt_get update >&2 || die "apt-get update failed"
    apt_updated=1
    cand=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  case "$cand" in
    "" | "(none)") return 0 ;;
  esac
  cand=${cand#*:}
  printf '%s' "${cand%%.*}"
}

os_install_node() {
  local major want_full=0
  major=$(node_major "$NODE_VERSION")
  [[ "${NODE_VERSION#v}" == *.* ]] && want_full=1
  if [ "$want_full" = 0 ] && [ "$(distro_node_major)" = "$major" ]; then
    log "Node.js $major is the distribution's version; installing it with apt"
    apt_install_missing nodejs npm
    return 0
  fi
  install_node_tarball
}

node_arch() {
  case "$(uname -m)" in
    x86_64) printf 'x64' ;;
    aarch64 | arm64) printf 'arm64' ;;
    *) die "no official Node.js tarball for machine type $(uname -m)" ;;
  esac
}

install_node_tarball() {
  local major arch dir tmp file version current
  major=$(node_major "$NODE_VERSION")
  arch=$(node_arch)
  if [ -x "$NODE_TARBALL_DIR/current/bin/node" ]; then
    current=$("$NODE_TARBALL_DIR/current/bin/node" --version)
    if [ "v${NODE_VERSION#v}" = "$current" ] ||
      { [[ "${NODE_VERSION#v}" != *.* ]] && [ "$(node_major "$current")" = "$major" ]; }; then
      log "Node.js $current already installed in $NODE_TARBALL_DIR"
      link_node_bins
      return 0
    fi
  fi
  if [[ "${NODE_VERSION#v}" == *.* ]]; then
    dir="v${NODE_VERSION#v}"
  else
    dir="latest-v${major}.x"
  fi
  tmp=$(mktemp -d)
  log "fetching $NODE_DIST_MIRROR/$dir/SHASUMS256.txt"
  curl -fsSL --retry 3 "$NODE_DIST_MIRROR/$dir/SHASUMS256.txt" -o "$tmp/SHASUMS256.txt" ||
    die "could not download $NODE_DIST_MIRROR/$dir/SHASUMS256.txt (is Node.js $NODE_VERSION released? set NODE_DIST_MIRROR for a mirror)"
  file=$(awk '{print $2}' "$tmp/SHASUMS256.txt" | grep -E "^node-v[0-9]+\.[0-9]+\.[0-9]+-linux-$arch\.tar\.xz$" | head -n 1 || true)
  [ -n "$file" ] || die "no linux-$arch .tar.xz listed in $NODE_DIST_MIRROR/$dir/SHASUMS256.txt"
  version=${file#node-}
  version=${version%-linux-*}
  log "downloading $file"
  curl -fsSL --retry 3 "$NODE_DIST_MIRROR/$dir/$file" -o "$tmp/$file" ||
    die "could not download $NODE_DIST_MIRROR/$dir/$file"
  (cd "$tmp" && grep -E "  $file\$" SHASUMS256.txt | sha256sum -c --status -) ||
    die "checksum mismatch for $file against SHASUMS256.txt"
  mkdir -p "$NODE_TARBALL_DIR"
  tar -xJf "$tmp/$file" -C "$NODE_TARBALL_DIR" || die "could not unpack $file"
  ln -sfn "node-$version-linux-$arch" "$NODE_TARBALL_DIR/current"
  rm -rf "$tmp"
  link_node_bins
}

link_node_bins() {
  local b
  for b in node npm npx corepack; do
    [ -e "$NODE_TARBALL_DIR/current/bin/$b" ] || continue
    if [ "$(readlink "$NODE_LINK_DIR/$b" 2>/dev/null || true)" != "$NODE_TARBALL_DIR/current/bin/$b" ]; then
      ln -sfn "$NODE_TARBALL_DIR/current/bin/$b" "$NODE_LINK_DIR/$b"
    fi
  done
}
