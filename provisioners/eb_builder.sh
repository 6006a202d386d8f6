#!/usr/bin/env bash
# Entry point of the Node.js Elastic Beanstalk platform build, run on the instance by the
# Packer shell provisioner (as root, "sudo -E"). It installs Node.js, pm2 and nginx with
# the OS package manager, runs builders/<flavor>/builder.sh, then installs the platform
# hooks and runtime under /opt/elasticbeanstalk and /opt/eb-nodejs.
#
# Environment (all optional):
#   EB_FLAVOR                 amazon | ubuntu | rhel (default: detected from /etc/os-release)
#   NODE_VERSION              major ("22") or exact ("22.11.0"); default 22
#   PM2_VERSION               npm version spec for pm2; default "latest"
#   NODE_DIST_MIRROR          Ubuntu tarball mirror; default https://nodejs.org/dist
#   EB_STAGE_DIR              where builders/ and provisioners/ were uploaded
#                             (default: the parent of this script's directory)
#   EB_BUILDER_ROOT           install into this root instead of "/" (tests, local stack);
#                             requires EB_BUILDER_SKIP_PACKAGES=1 and never starts services,
#                             creates users or touches anything outside the root
#   EB_BUILDER_SKIP_PACKAGES  1 = make no package-manager or npm calls
#
# Idempotent: a second run writes nothing and exits 0. Any failure stops the build with
# "FAILED in step '<step>'" on stderr.

# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EB_STAGE_DIR="${EB_STAGE_DIR:-$(dirname "$script_dir")}"
lib="$EB_STAGE_DIR/provisioners/lib/common.sh"
if [ ! -f "$lib" ]; then
  echo "[eb_builder] FAILED in step 'startup': $lib not found; set EB_STAGE_DIR to the directory holding builders/ and provisioners/" >&2
  exit 1
fi
# shellcheck source=lib/common.sh
. "$lib"
eb_strict

NODE_VERSION="${NODE_VERSION:-22}"
PM2_VERSION="${PM2_VERSION:-latest}"
export NODE_VERSION PM2_VERSION EB_STAGE_DIR

detect_flavor() {
  local id="" id_like=""
  if [ -n "${EB_FLAVOR:-}" ]; then
    return 0
  fi
  [ -r /etc/os-release ] || die "EB_FLAVOR is not set and /etc/os-release is missing"
  # shellcheck disable=SC1091
  id=$(. /etc/os-release && printf '%s' "${ID:-}")
  # shellcheck disable=SC1091
  id_like=$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")
  case " $id $id_like " in
    *" amzn "*) EB_FLAVOR=amazon ;;
    *" ubuntu "* | *" debian "*) EB_FLAVOR=ubuntu ;;
    *" rhel "* | *" centos "* | *" fedora "*) EB_FLAVOR=rhel ;;
    *) die "cannot map OS '$id' to a platform flavor; set EB_FLAVOR=amazon|ubuntu|rhel" ;;
  esac
}

preflight() {
  eb_root_init
  detect_flavor
  case "$EB_FLAVOR" in
    amazon | ubuntu | rhel) ;;
    *) die "unknown EB_FLAVOR '$EB_FLAVOR' (expected amazon, ubuntu or rhel)" ;;
  esac
  export EB_FLAVOR
  [[ "${NODE_VERSION#v}" =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]] ||
    die "NODE_VERSION must be a major (22) or an exact version (22.11.0), got '$NODE_VERSION'"
  for d in "builders/common" "builders/$EB_FLAVOR" "provisioners"; do
    [ -d "$EB_STAGE_DIR/$d" ] || die "$EB_STAGE_DIR/$d is missing (was it uploaded?)"
  done
  if on_real_root; then
    [ "$(id -u)" = 0 ] || die "must run as root to install into / (the template runs it with sudo -E)"
  elif packages_enabled; then
    die "EB_BUILDER_ROOT=$EB_ROOT installs into a scratch root; set EB_BUILDER_SKIP_PACKAGES=1 (package managers only install into /)"
  fi
  log "flavor=$EB_FLAVOR node=$NODE_VERSION root=${EB_ROOT:-/} packages=$(packages_enabled && echo yes || echo skipped) stage=$EB_STAGE_DIR"
}

wait_for_cloud_init() {
  if ! on_real_root || ! command -v cloud-init >/dev/null 2>&1; then
    log "no cloud-init to wait for"
    return 0
  fi
  # "status --wait" exits non-zero when cloud-init finished with recoverable errors; that
  # is not ours to judge, the package steps below fail loudly if the system is unusable.
  timeout 600 cloud-init status --wait >/dev/null || warn "cloud-init status --wait returned $?"
}

install_packages() {
  if ! packages_enabled; then
    log "EB_BUILDER_SKIP_PACKAGES=1: not installing base tools, nginx, Node.js or pm2"
    return 0
  fi
  # shellcheck source=install-node-amazon.sh
  . "$EB_STAGE_DIR/provisioners/install-node-$EB_FLAVOR.sh"
  EB_CURRENT_STEP="packages: base tools"
  os_install_base_packages
  EB_CURRENT_STEP="packages: nginx"
  os_install_nginx
  EB_CURRENT_STEP="packages: Node.js $NODE_VERSION"
  os_install_node
  PATH="/usr/local/bin:$PATH"
  local got
  got=$(node --version) || die "node is not runnable after installation"
  [ "$(node_major "$got")" = "$(node_major "$NODE_VERSION")" ] ||
    die "installed node is $got but NODE_VERSION=$NODE_VERSION was requested"
  if [[ "${NODE_VERSION#v}" == *.* ]] && [ "$got" != "v${NODE_VERSION#v}" ]; then
    warn "exact Node.js $NODE_VERSION requested; the package manager provides $got"
  fi
  log "node $got, npm $(npm --version)"
  EB_CURRENT_STEP="packages: pm2"
  local pm2_pkg=/usr/local/lib/node_modules/pm2/package.json have_pm2=""
  if [ -f "$pm2_pkg" ]; then
    have_pm2=$(node -p "require('$pm2_pkg').version")
  fi
  if [ -n "$have_pm2" ] && { [ "$PM2_VERSION" = latest ] || [ "$PM2_VERSION" = "$have_pm2" ]; }; then
    log "pm2 $have_pm2 already installed in /usr/local"
  else
    npm install -g --prefix /usr/local --no-fund --no-audit "pm2@$PM2_VERSION" ||
      die "npm could not install pm2@$PM2_VERSION"
  fi
}

run_flavor_builder() {
  EB_LOG_TAG="builder/$EB_FLAVOR" bash "$EB_STAGE_DIR/builders/$EB_FLAVOR/builder.sh"
}

install_platform() {
  local common="$EB_STAGE_DIR/builders/common" flavor="$EB_STAGE_DIR/builders/$EB_FLAVOR"
  EB_CHANGED=0
  install_tree "$common/hooks" /opt/elasticbeanstalk/hooks
  if [ -d "$flavor/hooks" ]; then
    install_tree "$flavor/hooks" /opt/elasticbeanstalk/hooks
  fi
  install_tree "$common/tasks" /opt/elasticbeanstalk/tasks
  install_tree "$common/runtime" /opt/eb-nodejs
  # Render the default app configuration (nginx site, systemd unit, env) the same way a
  # deployment does, so the image serves a sane config even before the first deploy.
  EB_NODEJS_ROOT="${EB_ROOT:-}" EB_NODEJS_NO_SERVICES=1 "$(rp /opt/eb-nodejs/bin/ebnode)" configure
  if [ "$EB_CHANGED" = 1 ]; then
    log "platform files installed"
  else
    log "platform files already up to date"
  fi
}

verify() {
  local p
  for p in /opt/elasticbeanstalk/hooks/appdeploy/enact /opt/elasticbeanstalk/hooks/configdeploy/enact \
    /opt/elasticbeanstalk/hooks/restartappserver/enact /var/app/staging /var/app/current \
    /var/log/nginx/healthd /etc/nginx/nginx.conf /etc/nginx/conf.d/eb-nodejs.conf \
    /etc/eb-nodejs/platform.env /etc/systemd/system/eb-nodejs.service; do
    [ -e "$(rp "$p")" ] || die "expected $(rp "$p") after the build"
  done
  if on_real_root && packages_enabled; then
    nginx -t || die "nginx rejects the generated configuration"
    # /run/systemd/system exists only when systemd is PID 1 (sd_booted). Building inside a
    # chroot or container it is absent: there is no manager to reload, while "enable" below
    # still works offline by writing the unit symlinks.
    if [ -d /run/systemd/system ]; then
      systemctl daemon-reload
    else
      log "systemd is not running (chroot or container build): no daemon-reload"
    fi
    # nginx serves from boot; eb-nodejs.service is enabled by the first deployment.
    systemctl enable nginx >/dev/null 2>&1 || die "could not enable nginx"
  fi
  if packages_enabled; then
    log "platform ready: node $(node --version), npm $(npm --version), $(nginx -v 2>&1)"
  else
    log "platform files ready under ${EB_ROOT:-/} (packages skipped)"
  fi
}

clean_package_caches() {
  if ! packages_enabled; then
    return 0
  fi
  case "$EB_FLAVOR" in
    amazon | rhel) dnf -y clean all >/dev/null ;;
    ubuntu) apt-get clean ;;
  esac
  npm cache clean --force >/dev/null 2>&1 || true
}

step preflight preflight
step "wait for cloud-init" wait_for_cloud_init
step packages install_packages
step "builder $EB_FLAVOR" run_flavor_builder
step "platform hooks" install_platform
step verify verify
step "clean package caches" clean_package_caches
