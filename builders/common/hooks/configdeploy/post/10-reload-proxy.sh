#!/usr/bin/env bash
# Pick up the regenerated nginx site.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" reload-proxy
