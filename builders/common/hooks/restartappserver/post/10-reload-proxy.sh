#!/usr/bin/env bash
# Reload nginx so upstream keepalive connections are renewed.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" reload-proxy
