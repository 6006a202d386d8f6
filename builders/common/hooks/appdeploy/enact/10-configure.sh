#!/usr/bin/env bash
# Render env, start script, systemd unit and nginx site from the options.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" configure
