#!/usr/bin/env bash
# ./tools/fuzz.sh [SECONDS] [TARGET...] — builds the libFuzzer targets (tests/fuzz/) with clang
# into build-fuzz/ (-fsanitize=fuzzer,address,undefined) and runs each for SECONDS (default
# 300) from its committed seed corpus, with leak detection on.  Exits non-zero on the first
# crash, leak, UB report or timeout; the input that did it is left in build-fuzz/artifacts/.
# New inputs found go to build-fuzz/corpus/<target>/ (not the committed corpus: copy the
# ones worth keeping, e.g. a regression input, into tests/fuzz/corpus/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps

seconds="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_envelope fuzz_session fuzz_plan_groups fuzz_http_query fuzz_sim_csv fuzz_cli_reply)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCODISPATCH_FUZZ=ON \
    -DCODISPATCH_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p build-fuzz/artifacts
status=0
for t in "${targets[@]}"; do
    corpus=tests/fuzz/corpus/$t
    work=build-fuzz/corpus/$t
    mkdir -p "$work"
    extra=()
    [ -f "tests/fuzz/$t.dict" ] && extra+=("-dict=tests/fuzz/$t.dict")
    # The scenario reader prints every refusal to stderr, as it does for users.
    [ "$t" = fuzz_sim_csv ] && extra+=(-close_fd_mask=2)
    echo "== $t: ${seconds}s" >&2
    if ! "build-fuzz/fuzz/$t" "$work" "$corpus" -max_total_time="$seconds" -detect_leaks=1 \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/artifacts/$t-" "${extra[@]}" \
        >"build-fuzz/$t.log" 2>&1; then
        echo "== $t FAILED (build-fuzz/$t.log):" >&2
        tail -40 "build-fuzz/$t.log" >&2
        status=1
        continue
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "build-fuzz/$t.log" |
        sed "s/^/   $t /" >&2 || true
done
exit $status
