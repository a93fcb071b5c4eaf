#!/usr/bin/env bash
# ./tools/run.sh [--no-demo] [codispatchd flags...]
# Installs what is missing, builds into build/, and starts codispatchd in the foreground on the
# embedded PostgreSQL (data in ./var unless --data-dir or CODISPATCH_DATA_DIR says otherwise).
# Unless --no-demo is given, a simulated day (tools/demo: ~60 units, a day of calls) is
# replayed against it in the background at a pace a person can watch (one simulated minute
# per second), so units move on the board at once; its progress goes to var/demo-sim.log.
# Ctrl-C stops the simulation, the server and its embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
codispatch_install_deps

demo=yes
args=()
for a in "$@"; do
    if [ "$a" = "--no-demo" ]; then demo=no; else args+=("$a"); fi
done

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCODISPATCH_SANITIZE=OFF \
    -DCODISPATCH_MIMALLOC=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
# 2 MiB pages for the server's heap from mimalloc's first segment on (README, Configuration).
export MIMALLOC_LARGE_OS_PAGES="${MIMALLOC_LARGE_OS_PAGES:-1}"

if [ "$demo" = no ]; then
    exec ./build/bin/codispatchd "${args[@]}"
fi

./build/bin/codispatchd "${args[@]}" &
server=$!
sim=""
stop() {
    [ -n "$sim" ] && kill "$sim" 2>/dev/null || true
    kill -TERM "$server" 2>/dev/null || true
}
trap stop INT TERM

# The control endpoint the server uses (a flag or the environment may have moved it).
control="${CODISPATCH_CONTROL:-tcp://127.0.0.1:7401}"
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
    --control) control="${args[$((i + 1))]:-$control}" ;;
    --control=*) control="${args[$i]#--control=}" ;;
    esac
done
cli=(./build/bin/codispatch --server "$control")
for _ in $(seq 120); do
    kill -0 "$server" 2>/dev/null || break
    if "${cli[@]}" --timeout 1000 status 2>/dev/null | grep -q '^database *ok'; then
        mkdir -p var
        echo "codispatch: replaying tools/demo in the background (log: var/demo-sim.log;" \
            "--no-demo to skip)" >&2
        "${cli[@]}" sim run --roster tools/demo/roster.csv --calls tools/demo/calls.csv \
            --speed 60 >var/demo-sim.log 2>&1 &
        sim=$!
        break
    fi
    sleep 0.5
done

set +e
wait "$server"
rc=$?
while kill -0 "$server" 2>/dev/null; do wait "$server"; rc=$?; done
[ -n "$sim" ] && kill "$sim" 2>/dev/null
exit "$rc"
