#!/usr/bin/env bash
# Ubuntu 22.04/24.04 builder: the packaged "default" site must go (it owns :80). nginx
# runs as "www-data" with modules from /etc/nginx/modules-enabled (see builder-lib.sh).
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
EB_FLAVOR=ubuntu
# shellcheck source=../common/builder-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/builder-lib.sh"

flavor_extras() {
  remove_file /etc/nginx/sites-enabled/default
}

builder_main
