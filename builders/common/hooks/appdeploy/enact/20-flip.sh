#!/usr/bin/env bash
# Make the staged app the current app.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" flip
