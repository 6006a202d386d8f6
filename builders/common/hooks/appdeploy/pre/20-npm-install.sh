#!/usr/bin/env bash
# Install the staged app's production dependencies.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" npm-install
