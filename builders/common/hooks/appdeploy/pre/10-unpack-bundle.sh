#!/usr/bin/env bash
# Unpack the application source bundle into /var/app/staging.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" unpack
