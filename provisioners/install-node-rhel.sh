# shellcheck shell=bash
# RHEL 9 package steps for eb_builder.sh: base tools, nginx from AppStream, Node.js from
# the AppStream "nodejs" module stream matching the requested major (dnf module).

os_install_base_packages() {
  dnf_install_missing unzip tar xz shadow-utils util-linux findutils policycoreutils
}

os_install_nginx() {
  dnf_install_missing nginx
}

installed_node_major() {
  if command -v node >/dev/null 2>&1; then
    node_major "$(node --version)"
  fi
}

os_install_node() {
  local major
  major=$(node_major "$NODE_VERSION")
  if rpm -q nodejs npm >/dev/null 2>&1 && [ "$(installed_node_major)" = "$major" ]; then
    log "Node.js $major already installed from AppStream"
    return 0
  fi
  dnf -y module reset nodejs || die "dnf module reset nodejs failed"
  dnf -y module enable "nodejs:$major" ||
    die "RHEL 9 has no nodejs:$major module stream (see 'dnf module list nodejs')"
  if rpm -q nodejs >/dev/null 2>&1; then
    dnf -y distro-sync nodejs npm || die "dnf could not switch nodejs to the $major stream"
  else
    dnf -y install nodejs npm || die "dnf could not install nodejs:$major"
  fi
}
