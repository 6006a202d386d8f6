#!/usr/bin/env bash
# Restart the app service.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" restart
