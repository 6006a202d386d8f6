#!/usr/bin/env bash
# Amazon Linux 2023 builder: nginx runs as "nginx" and loads dynamic modules from
# /usr/share/nginx/modules; Node.js binaries live in /usr/bin (alternatives).
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EB_FLAVOR=amazon
NGINX_USER=nginx
NGINX_MODULES='/usr/share/nginx/modules/*.conf'
NODE_BIN_DIRS=/usr/local/bin:/usr/bin
# shellcheck source=../common/builder-lib.sh
. "$here/../common/builder-lib.sh"

flavor_extras() {
  # The distribution's default server block also listens on :80; ours replaces it.
  if [ -f "$(rp /etc/nginx/conf.d/default.conf)" ]; then
    rm -f "$(rp /etc/nginx/conf.d/default.conf)"
  fi
}

builder_main
