#!/usr/bin/env bash
# Reject invalid option values before anything is changed.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" validate
