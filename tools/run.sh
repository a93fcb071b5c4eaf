#!/usr/bin/env bash
# ./tools/run.sh [codispatchd flags...]
# Installs what is missing, builds into build/, and starts codispatchd in the foreground on the
# embedded PostgreSQL (data in ./var unless --data-dir or CODISPATCH_DATA_DIR says otherwise).
# Ctrl-C stops the server and its embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCODISPATCH_SANITIZE=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

exec ./build/bin/codispatchd "$@"
