#!/usr/bin/env bash
# tests/browser/run.sh — the dashboard's browser test: installs playwright-core from the
# committed lock file if needed (it downloads no browser: the test drives Debian's chromium),
# then runs the test with node's test runner.  Environment: CODISPATCH_BIN_DIR,
# CODISPATCH_BUILD_DIR, CODISPATCH_CHROMIUM (see dashboard.test.mjs).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
    npm ci --silent --no-audit --no-fund
fi
exec node --test dashboard.test.mjs
