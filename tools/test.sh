#!/usr/bin/env bash
# ./tools/test.sh — installs what is missing, builds with AddressSanitizer and UBSan into
# build/ (Debug), and runs every suite with ctest.  Extra arguments go to ctest (e.g. -R engine).
# Then, when no arguments were given, the integration suites again against the Release server
# (build-release/, mimalloc), and a short libFuzzer run of every fuzz target (tools/fuzz.sh,
# CODISPATCH_FUZZ_SECONDS each, default 20; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps
# The first ctest run is of the Debug build's own server, whatever the caller's shell holds.
unset CODISPATCH_TEST_SERVER
# The browser suite's one npm package (playwright-core, pinned in its lock file); fetched here
# so the download is not inside ctest's time limit.  Node 20 is on the machine image.
[ -d tests/browser/node_modules/playwright-core ] ||
    (cd tests/browser && npm ci --silent --no-audit --no-fund)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DCODISPATCH_SANITIZE=ON
cmake --build build -j "$(nproc)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
(cd build && ctest --output-on-failure -j 2 --timeout 600 "$@")

if [ $# -eq 0 ]; then
    # The server tools/run.sh and tools/bench.sh build is linked with mimalloc, which the
    # sanitizer build cannot be: the integration suites that start codispatchd (not the
    # browser's) run once more against bench.sh's Release server, the test programs themselves
    # still sanitized.  Suites labelled noserver start none.
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCODISPATCH_SANITIZE=OFF \
        -DCODISPATCH_MIMALLOC=ON -DCODISPATCH_TESTS=OFF >/dev/null
    cmake --build build-release -j "$(nproc)" --target codispatchd >/dev/null
    build-release/bin/codispatchd --version | grep -q 'allocator: mimalloc' || {
        echo "test.sh: the Release server is not linked with mimalloc" >&2
        exit 1
    }
    (cd build && CODISPATCH_TEST_SERVER="$PWD/../build-release/bin/codispatchd" \
        ctest --output-on-failure -j 2 --timeout 600 -L integration -LE 'browser|noserver')
fi

fuzz_seconds="${CODISPATCH_FUZZ_SECONDS:-20}"
if [ $# -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
    # Its own build (clang, build-fuzz/) and its own sanitizer options.
    env -u ASAN_OPTIONS -u UBSAN_OPTIONS ./tools/fuzz.sh "$fuzz_seconds"
fi
