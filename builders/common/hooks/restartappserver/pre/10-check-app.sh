#!/usr/bin/env bash
# Fail early when no app is deployed.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" check
