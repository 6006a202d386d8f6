#!/usr/bin/env bash
# Amazon Linux 2023 builder: the distribution's default server block also listens on :80,
# so ours replaces it. The nginx and Node.js layout is the rpm one in builder-lib.sh.
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
EB_FLAVOR=amazon
# shellcheck source=../common/builder-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/builder-lib.sh"

flavor_extras() {
  remove_file /etc/nginx/conf.d/default.conf
}

builder_main
