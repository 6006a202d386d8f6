#!/usr/bin/env bash
# Register pids with EB enhanced health.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" health
