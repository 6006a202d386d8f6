#!/usr/bin/env bash
# Restart the app with the new environment.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" restart
