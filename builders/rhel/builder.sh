#!/usr/bin/env bash
# RHEL 9 builder. SELinux is enforcing on RHEL images: nginx may only proxy to the app once
# httpd_can_network_connect is on, and the app tree needs its default labels (restored
# after each deployment by hooks/appdeploy/post/90-selinux-relabel.sh). The nginx and
# Node.js layout is the rpm one in builder-lib.sh.
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
EB_FLAVOR=rhel
# shellcheck source=../common/builder-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/builder-lib.sh"

flavor_extras() {
  if ! on_real_root; then
    log "scratch root: leaving SELinux booleans alone"
    return 0
  fi
  if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" != Disabled ]; then
    if [ "$(getsebool httpd_can_network_connect | awk '{print $3}')" != on ]; then
      setsebool -P httpd_can_network_connect 1 || die "could not set SELinux boolean httpd_can_network_connect"
    fi
    restorecon -R /var/log/nginx /var/app || die "restorecon failed on /var/log/nginx /var/app"
  fi
}

builder_main
