#!/usr/bin/env bash
# Ubuntu 22.04/24.04 builder: nginx runs as "www-data", dynamic modules come from
# /etc/nginx/modules-enabled, and the packaged "default" site must go (it owns :80).
# Node.js is either the distribution's (/usr/bin) or the tarball (/opt/nodejs/current).
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EB_FLAVOR=ubuntu
NGINX_USER=www-data
NGINX_MODULES='/etc/nginx/modules-enabled/*.conf'
NODE_BIN_DIRS=/usr/local/bin:/opt/nodejs/current/bin:/usr/bin
# shellcheck source=../common/builder-lib.sh
. "$here/../common/builder-lib.sh"

flavor_extras() {
  local site
  site=$(rp /etc/nginx/sites-enabled/default)
  if [ -e "$site" ] || [ -L "$site" ]; then
    rm -f "$site"
  fi
}

builder_main
