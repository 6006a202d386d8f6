#!/usr/bin/env bash
# Re-register the new app pid with EB enhanced health.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" health
