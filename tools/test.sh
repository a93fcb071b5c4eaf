#!/usr/bin/env bash
# ./tools/test.sh — installs what is missing, builds with AddressSanitizer and UBSan into
# build/ (Debug), and runs every suite with ctest.  Extra arguments go to ctest (e.g. -R engine).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DCODISPATCH_SANITIZE=ON
cmake --build build -j "$(nproc)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd build
ctest --output-on-failure -j 2 --timeout 600 "$@"
