#!/usr/bin/env bash
# Reject invalid option values before the bundle is unpacked.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" validate
