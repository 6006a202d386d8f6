#!/usr/bin/env bash
# Apply changed options.
exec "${EB_NODEJS_ROOT:-}/opt/eb-nodejs/bin/ebnode" configure
