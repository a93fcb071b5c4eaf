#!/usr/bin/env bash
# ./tools/chaos.sh [ROUNDS] [OUTAGE_S] — the reliability scenarios at full length, against the
# test build (build/, AddressSanitizer + UBSan, built here as ./tools/test.sh builds it):
#   test_chaos   64 clients and 8 tablets under load, the server killed with SIGKILL at a
#                random moment and restarted ROUNDS times (default 20; ctest runs 5);
#   test_outage  PostgreSQL stopped for OUTAGE_S seconds under load (default 30, as in ctest);
#   test_standby a hot standby taking over from a primary killed with SIGKILL.
# Each prints what it measured (times to serve again, retries, takeover time).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
outage="${2:-30}"
. tools/deps.sh
codispatch_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DCODISPATCH_SANITIZE=ON
cmake --build build -j "$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
CODISPATCH_CHAOS_ROUNDS="$rounds" build/bin/test_chaos
CODISPATCH_OUTAGE_S="$outage" build/bin/test_outage
build/bin/test_standby
echo "chaos: all scenarios passed ($rounds kill -9 rounds, a ${outage} s database outage, a standby takeover)"
