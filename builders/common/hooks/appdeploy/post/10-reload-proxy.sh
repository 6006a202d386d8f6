#!/usr/bin/env bash
# Validate and reload nginx.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" reload-proxy
