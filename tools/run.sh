#!/usr/bin/env bash
# ./tools/run.sh [codispatchd flags...]
# Installs what is missing, builds into build/, and starts codispatchd in the foreground on the
# embedded PostgreSQL (data in ./var unless --data-dir or CODISPATCH_DATA_DIR says otherwise),
# with a demo roster of units on first start.
# Ctrl-C stops the server and its embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCODISPATCH_SANITIZE=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

# A demo roster (16 units around Los Angeles) on first start, so a new user can try
# `codispatch call create ...` and `codispatch recommend` at once.  CODISPATCH_DEMO_ROSTER=no
# (or --demo-roster no) starts with an empty roster.
export CODISPATCH_DEMO_ROSTER="${CODISPATCH_DEMO_ROSTER:-yes}"
exec ./build/bin/codispatchd "$@"
