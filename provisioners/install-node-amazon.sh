# shellcheck shell=bash
# Amazon Linux 2023 package steps for eb_builder.sh: base tools, nginx and Node.js from
# the distribution's namespaced nodejs<major> packages (18 is the un-namespaced "nodejs"),
# made the active "node" through the alternatives system.

os_install_base_packages() {
  dnf_install_missing unzip tar xz shadow-utils util-linux findutils
}

os_install_nginx() {
  dnf_install_missing nginx
}

os_install_node() {
  local major pkgs
  major=$(node_major "$NODE_VERSION")
  if [ "$major" = 18 ]; then
    pkgs=(nodejs nodejs-npm)
  else
    pkgs=("nodejs$major" "nodejs$major-npm")
  fi
  if ! rpm -q "${pkgs[@]}" >/dev/null 2>&1; then
    dnf -y install "${pkgs[@]}" ||
      die "dnf could not install ${pkgs[*]}; Amazon Linux 2023 packages only some Node.js majors (see 'dnf list available nodejs*')"
  fi
  if [ "$major" != 18 ]; then
    if [ "$(readlink -f /usr/bin/node 2>/dev/null || true)" != "$(readlink -f "/usr/bin/node-$major")" ]; then
      alternatives --set node "/usr/bin/node-$major" ||
        die "could not make /usr/bin/node-$major the active node (alternatives --set node)"
    fi
  fi
}
