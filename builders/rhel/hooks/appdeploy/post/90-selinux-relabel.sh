#!/usr/bin/env bash
# RHEL only: give the freshly deployed app tree its default SELinux labels.
set -euo pipefail
if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" != Disabled ] && [ -z "${EB_NODEJS_ROOT:-}" ]; then
  restorecon -R /var/app/current
fi
