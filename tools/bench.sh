#!/usr/bin/env bash
# ./tools/bench.sh — the benchmarks of issue 7, measured against PostgreSQL's own floor on the
# same machine in the same run.  Builds Release into build-release/, starts the server on an
# embedded cluster in a temporary directory (the server's normal settings: fsync and
# synchronous_commit on) and measures, in order:
#   1. the floor: pgbench with a one-row INSERT into a table shaped like `events` (1 and 16
#      clients, BENCH_PGBENCH_S seconds each) and a ZeroMQ round trip (`bench rtt`, with the
#      1-client pgbench the 1-client floor), each right before the intake figure it is
#      compared with; pgbench at 1 client, the round trip and intake at
#      1, and pgbench at 16 clients and intake at 64, run as BENCH_PAIRS back-to-back pairs
#      each, and each ratio is the median of its pairs' (the machine's speed drifts from one
#      minute to the next; a pair shares its minute; five, so that a slow spell must cover
#      three pairs, not two, to decide a median);
#   2. `bench stream` (1000 subscribers, 1000 changes/s for 10 s after a 1 s ramp at that rate,
#      whose lag is reported apart) first, on a fresh server, then again with the bench's
#      subscribers on libzmq; `bench intake` at 1, 64 (and 64 on libzmq)
#      and 16 clients; `bench lifecycle`;
#   3. restart: a second cluster loaded with 100,000 open calls and 2,000 units (SQL bulk
#      insert), the server restarted, time until /readyz answers 200, and its RSS;
#   4. `sim offline` over a generated Los Angeles-scale day (3,000 calls, 200 units).
# Prints a Markdown table (paste it into README's Benchmarks section) and writes every figure
# to build/bench.json.  Speed is never a test: this script fails only when a step fails.
#
# Knobs (environment): BENCH_PGBENCH_S (10), BENCH_PAIRS (5, odd), BENCH_INTAKE_CALLS_1 (5000),
# _16 (40000), _64 (50000, per pair), BENCH_LIFECYCLE_CALLS (2000), BENCH_STREAM_SUBS (1000), BENCH_STREAM_RATE
# (1000), BENCH_STREAM_S (10), BENCH_RESTART_CALLS (100000), BENCH_RESTART_UNITS (2000),
# BENCH_SKIP_BUILD=1, BENCH_STEPS ("floor load restart sim": which parts to run; the figures
# of the others are null).  Each measured run of a pair also records its CPU time (server,
# cluster, client) in "cpu"; the table gives it per call or transaction for the median runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. tools/deps.sh
codispatch_install_deps jq curl postgresql-client
# The server runs as tools/run.sh starts it: 2 MiB pages for its heap (README, Configuration).
export MIMALLOC_LARGE_OS_PAGES="${MIMALLOC_LARGE_OS_PAGES:-1}"

PGBENCH_S=${BENCH_PGBENCH_S:-10}
INTAKE_1=${BENCH_INTAKE_CALLS_1:-5000}
INTAKE_16=${BENCH_INTAKE_CALLS_16:-40000}
INTAKE_64=${BENCH_INTAKE_CALLS_64:-50000}
PAIRS=${BENCH_PAIRS:-5}
if ! [[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || ((PAIRS % 2 == 0)); then
    # Odd, so that every median is one of the runs, not between two of them.
    echo "bench: BENCH_PAIRS must be an odd number of pairs (1, 3, 5...), not '$PAIRS'" >&2
    exit 2
fi
LIFE_CALLS=${BENCH_LIFECYCLE_CALLS:-2000}
STREAM_SUBS=${BENCH_STREAM_SUBS:-1000}
STREAM_RATE=${BENCH_STREAM_RATE:-1000}
STREAM_S=${BENCH_STREAM_S:-10}
RESTART_CALLS=${BENCH_RESTART_CALLS:-100000}
RESTART_UNITS=${BENCH_RESTART_UNITS:-2000}
STEPS=" ${BENCH_STEPS:-floor load restart sim} "
s_step() { [[ "$STEPS" == *" $1 "* ]]; }
rtt_runs=() in16=null in64_libzmq=null life=null stream=null
pg1_runs=() in1_runs=() pg16_runs=() in64_runs=()
stream_libzmq=null restart=null sim=null sim_wall=null

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    echo "bench: building Release into build-release/" >&2
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCODISPATCH_SANITIZE=OFF \
        -DCODISPATCH_MIMALLOC=ON -DCODISPATCH_TESTS=OFF >/dev/null
    cmake --build build-release -j "$(nproc)" >/dev/null
fi
bin="$root/build-release/bin"
mkdir -p build
: >build/bench-main.log
: >build/bench-restart.log

# 1000 subscribers are 1000 sockets in the bench tool and as many connections in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((STREAM_SUBS + 256)) ]; then
    echo "bench: the open-file limit ($(ulimit -n)) is too low for $STREAM_SUBS subscribers;" \
        "raise the hard limit (ulimit -Hn) or set BENCH_STREAM_SUBS" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/codispatch-bench.XXXXXX)
chmod 755 "$tmp" # the embedded cluster runs as postgres when we are root
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

s_free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
        (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
            echo "$p"
            return
        }
    done
    echo "bench: no free port" >&2
    exit 1
}

# Starts codispatchd on DATA_DIR with fresh ports (and room for the stream's WebSocket
# clients past the default --max-ws); sets server, control, http.
s_start() {
    local dir=$1 log=$2
    control="tcp://127.0.0.1:$(s_free_port)"
    http="127.0.0.1:$(s_free_port)"
    "$bin/codispatchd" --data-dir "$dir" --control "$control" \
        --units "tcp://127.0.0.1:$(s_free_port)" --stream "tcp://127.0.0.1:$(s_free_port)" \
        --http "$http" --max-ws $((STREAM_SUBS > 1000 ? STREAM_SUBS : 1000)) >>"$log" 2>&1 &
    server=$!
}

# Waits (bounded) until /readyz says 200; prints the seconds it took since $1 (date +%s.%N).
s_wait_ready() {
    local t0=$1
    for _ in $(seq 6000); do
        if curl -sf -o /dev/null "http://$http/readyz"; then
            awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }'
            return 0
        fi
        kill -0 "$server" 2>/dev/null || break
        sleep 0.02
    done
    echo "bench: the server did not become ready; see build/bench-main.log and" \
        "build/bench-restart.log" >&2
    exit 1
}

s_stop() {
    kill -TERM "$server"
    wait "$server" || true
    server=""
}

s_sql() { # DATA_DIR SQL
    psql -X -q -v ON_ERROR_STOP=1 -h "$1/pg" -U postgres -d codispatch -Atc "$2"
}

cli() { "$bin/codispatch" --server "$control" --timeout 20000 "$@"; }
# A bench mode's JSON; one that reports errors (exit 1) still gives its figures, with its
# "errors" count, and the run goes on.  Nothing at all on stdout stops the run.
bench() {
    local out rc=0
    out=$(cli bench "$@") || rc=$?
    [ "$rc" = 0 ] || echo "bench: 'bench $*' exited $rc (see its errors field)" >&2
    [ -n "$out" ] || { echo "bench: 'bench $*' gave no result" >&2; exit 1; }
    echo "$out"
}

# CPU time used so far, in clock ticks, and the cluster's live processes: "server postgres
# client processes".  PostgreSQL's is that of the main cluster's postmaster and its children,
# the backends that have ended included (the postmaster reaped them: its cutime); the
# client's is that of the finished children of the shell SHELL_PID, so a run counts once that
# shell has waited for it.  Fields are read after the ") " that ends the command name: $3
# ppid, $13 utime, $14 stime, $15/$16 the reaped children's.
s_cpu() { # SHELL_PID
    local pm
    pm=$(head -1 "$tmp/main/pg/postmaster.pid" 2>/dev/null || echo 0)
    cat /proc/[0-9]*/stat 2>/dev/null | sed 's/^\([0-9]*\) (.*) /\1 /' |
        awk -v srv="${server:-0}" -v pm="$pm" -v me="$1" '
            srv > 0 && $1 == srv { s += $13 + $14 }
            pm > 0 && ($1 == pm || $3 == pm) { p += $13 + $14 }
            pm > 0 && $3 == pm { n++ }
            pm > 0 && $1 == pm { p += $15 + $16 }
            $1 == me { c = $15 + $16 }
            END { print s + 0, p + 0, c + 0, n + 0 }'
}
# s_cpu once no backend is ending: a backend the postmaster reaps between the reads of its
# line and the postmaster's would be counted in neither.  With BASELINE, once the cluster has
# no more processes than that (the run's own backends, pgbench's sixteen, are gone); without,
# once their number holds for 20 ms (the settling's psql sessions have ended).  Bounded: 2 s.
s_cpu_quiet() { # SHELL_PID [BASELINE]
    local now last=""
    for _ in $(seq 100); do
        now=$(s_cpu "$1")
        if [ -n "${2:-}" ]; then
            [ "${now##* }" -le "$2" ] && break
        else
            [ "${now##* }" = "${last##* }" ] && break
        fi
        last=$now
        sleep 0.02
    done
    echo "$now"
}
# Runs a measured command (its JSON on stdout) and adds what the run cost the machine:
# {"cpu": {"wall_s", "server_s", "postgres_s", "client_s"}}, seconds of CPU time of the server,
# of the cluster and of the command itself (the bench client or pgbench, with its start-up
# and the jq that shapes its output), and the wall time of all that (a little longer than
# the run's own: connecting, starting, shaping).  Their sum over wall_s is the cores the run
# kept busy, which says whether it was bound by the CPU or spent part of it waiting.
s_measured() {
    local me=$BASHPID before after t0 t1 out
    before=$(s_cpu_quiet "$me")
    t0=$(date +%s.%N)
    out=$("$@") || return
    t1=$(date +%s.%N)
    after=$(s_cpu_quiet "$me" "${before##* }")
    jq -c --arg b "$before" --arg a "$after" --argjson hz "$(getconf CLK_TCK)" \
        --argjson wall "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" '
        ($b | split(" ") | map(tonumber)) as $b | ($a | split(" ") | map(tonumber)) as $a |
        . + {cpu: {wall_s: $wall, server_s: (($a[0] - $b[0]) / $hz),
                   postgres_s: (($a[1] - $b[1]) / $hz), client_s: (($a[2] - $b[2]) / $hz)}}' \
        <<<"$out"
}

# ---------------------------------------------------------------- 1. the floor
if s_step floor || s_step load; then
echo "bench: starting the server on an embedded cluster in $tmp" >&2
s_start "$tmp/main" build/bench-main.log
s_wait_ready "$(date +%s.%N)" >/dev/null
fi
if s_step floor; then

# What a commit's flush costs on this disk: group commit pays off in proportion to it.
fsync_bin=$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | tail -1)
if [ -n "$fsync_bin" ]; then
    echo "bench: fdatasync latency (pg_test_fsync)" >&2
    fsync_us=$("$fsync_bin" -s 2 -f "$tmp/fsync.test" 2>/dev/null |
        awk '/fdatasync/ { for (i = 1; i < NF; i++) if ($(i + 1) == "usecs/op") { print $i; exit } }')
    rm -f "$tmp/fsync.test"
fi

s_sql "$tmp/main" "CREATE TABLE bench_floor (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES);
                   CREATE SEQUENCE bench_floor_seq;"
cat >"$tmp/floor.sql" <<'EOF'
INSERT INTO bench_floor (seq, at, actor, kind, call_id, request_id, payload)
VALUES (nextval('bench_floor_seq'), now(), 'console', 'call.created',
        'F-' || currval('bench_floor_seq'), md5(random()::text),
        '{"type": "mental_health", "priority": 3, "lat": 34.05, "lon": -118.25, "area": "SPA 4"}');
EOF
s_pgbench() { # CLIENTS -> {"clients", "tps", "latency_ms", "transactions"}
    local out
    out=$(pgbench -n -M prepared -h "$tmp/main/pg" -U postgres -f "$tmp/floor.sql" -c "$1" \
        -j "$(($1 < 2 ? 1 : 2))" -T "$PGBENCH_S" codispatch 2>&1)
    jq -n --argjson c "$1" \
        --argjson tps "$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')" \
        --argjson lat "$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')" \
        --argjson n "$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')" \
        '{clients: $c, tps: $tps, latency_ms: $lat, transactions: $n}'
}
# A fresh cluster's first WAL segments are being created and synced: warm it up first.
echo "bench: warming the cluster up (pgbench, 16 clients, 3 s)" >&2
pgbench -n -h "$tmp/main/pg" -U postgres -f "$tmp/floor.sql" -c 16 -j 2 -T 3 codispatch \
    >/dev/null 2>&1
fi

# ---------------------------------------------------------------- 2. the server under load
# The stream first, while the server holds a dispatch centre's state rather than the 125,000
# open calls the intake runs leave behind: every WebSocket subscriber starts from a snapshot
# of the open calls, and at that size the run would time the snapshots' transfer, not the
# delivery of changes (the restart step measures a state that large).
if s_step load; then
    echo "bench: stream, $STREAM_SUBS subscribers at $STREAM_RATE changes/s" >&2
    stream=$(bench stream --subscribers "$STREAM_SUBS" --rate "$STREAM_RATE" \
        --seconds "$STREAM_S")
    # The same with libzmq SUB sockets in the bench process (the server does the same work):
    # what the bench's own share of the two cores costs the figure.
    echo "bench: stream again, the ZeroMQ subscribers on libzmq" >&2
    stream_libzmq=$(bench stream --subscribers "$STREAM_SUBS" --rate "$STREAM_RATE" \
        --seconds "$STREAM_S" --libzmq)
fi
# Before every measured run below, the floor's and the server's alike: a vacuum of the tables
# written so far and a checkpoint, so that no run pays for an autovacuum or a checkpoint (and
# the full-page writes after it) that the run before it caused.  pgbench vacuums its own
# standard tables before a run in the same spirit; -n turns that off, bench_floor not being one.
floor_table=""
s_settle() {
    [ -n "$server" ] || return 0
    s_sql "$tmp/main" "VACUUM ANALYZE events, calls${floor_table:+, bench_floor}"
    s_sql "$tmp/main" "CHECKPOINT"
}
s_step floor && floor_table=1
# Each floor figure is taken right before the intake figure it is compared with, so that a
# machine whose disk or CPU gets busier in between skews the ratio as little as possible, and
# PAIRS times: the machine's speed drifts, and one pair's 1-client latencies move by more than
# the target's margin.
# The 1-client floor's other half, the ZeroMQ round trip, is taken in each pair too, right
# before its intake run: the machine's slow minutes lengthen every wake-up, and a round trip
# taken once at the start would leave them all to the intake side of the ratio.
# s_pairs PG_CLIENTS INTAKE_CLIENTS CALLS PG_RUNS INTAKE_RUNS RTT_RUNS [WRAPPER]: PAIRS
# back-to-back pairs, each run's JSON appended to the arrays named (RTT_RUNS "" for no round
# trips), each pgbench and intake run through WRAPPER if given.
s_pairs() {
    local -n pg_out=$4 in_out=$5
    local rtt_name=$6 wrap=("${@:7}") i
    for i in $(seq "$PAIRS"); do
        if s_step floor; then
            echo "bench: pgbench, $1 client(s), ${PGBENCH_S} s (pair $i of $PAIRS)" >&2
            s_settle
            pg_out+=("$("${wrap[@]}" s_pgbench "$1")")
        fi
        if s_step load; then
            s_settle
            if [ -n "$rtt_name" ] && s_step floor; then
                echo "bench: ZeroMQ round trip (StatusRequest, no database; pair $i of $PAIRS)" >&2
                local -n rtt_out=$rtt_name
                rtt_out+=("$(bench rtt --count 5000)")
            fi
            echo "bench: intake, $2 client(s) (pair $i of $PAIRS)" >&2
            in_out+=("$("${wrap[@]}" bench intake --clients "$2" --calls "$3")")
        fi
    done
}
s_pairs 1 1 "$INTAKE_1" pg1_runs in1_runs rtt_runs
# The headline ratio: pgbench at 16 clients and intake at 64, with each run's CPU time.
s_pairs 16 64 "$INTAKE_64" pg16_runs in64_runs "" s_measured
if s_step floor; then
    s_sql "$tmp/main" "DROP TABLE bench_floor; DROP SEQUENCE bench_floor_seq;"
    floor_table=""
fi
if s_step load; then
echo "bench: intake, 64 clients on libzmq" >&2
s_settle
in64_libzmq=$(bench intake --clients 64 --calls "$INTAKE_64" --libzmq)
echo "bench: intake, 16 clients" >&2
s_settle
in16=$(bench intake --clients 16 --calls "$INTAKE_16")
echo "bench: lifecycle" >&2
s_settle
life=$(bench lifecycle --units 64 --calls "$LIFE_CALLS" --clients 16)
fi
[ -n "$server" ] && s_stop

# ---------------------------------------------------------------- 3. restart
if s_step restart; then
echo "bench: restart with $RESTART_CALLS open calls and $RESTART_UNITS units" >&2
s_start "$tmp/restart" build/bench-restart.log
s_wait_ready "$(date +%s.%N)" >/dev/null
# One real call and one real unit, made by the server, are the templates for the rest.
cli unit add --id BENCH-TEMPLATE --type mh_team --languages es,en --area "SPA 4" \
    --lat 34.05 --lon -118.25 --status available >/dev/null
template=$(cli call create --type mental_health --priority 4 --lat 34.05 --lon -118.25 \
    --area "SPA 4" --language es --summary "bench restart template")
s_sql "$tmp/restart" "
  INSERT INTO calls
  SELECT (jsonb_populate_record(t, jsonb_build_object(
            'call_id', 'C-' || lpad((m.mx + g)::text, greatest(6, length((m.mx + g)::text)), '0'),
            'call_no', m.mx + g))).*
  FROM calls t, (SELECT max(call_no) AS mx FROM calls) m, generate_series(1, $RESTART_CALLS - 1) g
  WHERE t.call_id = '$template';
  INSERT INTO units
  SELECT (jsonb_populate_record(u, jsonb_build_object(
            'unit_id', 'R-' || g,
            'doc', jsonb_set(u.doc, '{unit_id}', to_jsonb('R-' || g))))).*
  FROM units u, generate_series(1, $RESTART_UNITS - 1) g
  WHERE u.unit_id = 'BENCH-TEMPLATE';"
open_calls=$(s_sql "$tmp/restart" "SELECT count(*) FROM calls WHERE status NOT IN ('closed', 'cancelled')")
units=$(s_sql "$tmp/restart" "SELECT count(*) FROM units")
s_stop
t0=$(date +%s.%N)
s_start "$tmp/restart" build/bench-restart.log
ready_s=$(s_wait_ready "$t0")
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
loaded=$(cli --json status | jq '.open_calls')
# What a dashboard's first screen costs at this size: /api/snapshot answered, and the
# server's own time rendering it.
snapshot_s=$(curl -s -o /dev/null -w '%{time_total}' "http://$http/api/snapshot")
render_s=$(curl -s "http://$http/metrics" | awk '$1 == "codispatch_http_snapshot_render_seconds" {print $2}')
s_stop
restart=$(jq -n --argjson calls "$open_calls" --argjson units "$units" \
    --argjson ready "$ready_s" --argjson rss "$rss_kb" --argjson loaded "$loaded" \
    --argjson snap "${snapshot_s:-null}" --argjson render "${render_s:-null}" \
    '{open_calls: $calls, units: $units, loaded_open_calls: $loaded, ready_s: $ready,
      rss_mb: ($rss / 1024), snapshot_s: $snap, snapshot_render_s: $render}')
fi

# ---------------------------------------------------------------- 4. offline simulation
if s_step sim; then
echo "bench: sim offline over a generated day (3000 calls, 200 units)" >&2
"$bin/codispatch" sim generate --calls 3000 --hours 24 --seed 1 --out "$tmp/calls.csv" \
    --roster-out "$tmp/roster.csv" --units 200 >/dev/null
t0=$(date +%s.%N)
sim=$("$bin/codispatch" --json sim offline --roster "$tmp/roster.csv" --calls "$tmp/calls.csv")
sim_wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }')
fi

# ---------------------------------------------------------------- results
machine=$(jq -n --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    --argjson cores "$(nproc)" \
    --argjson mem "$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" \
    --arg kernel "$(uname -r)" --arg pg "$(pgbench --version | sed -n 's/^pgbench (PostgreSQL) \([0-9.]*\).*/\1/p')" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg server "$("$bin/codispatchd" --version)" \
    '{cpu: $cpu, cores: $cores, mem_mb: $mem, kernel: $kernel, postgresql: $pg,
      loadavg_at_end: $load, server: $server}')
jq -n --argjson rtt_runs "$(printf '%s\n' "${rtt_runs[@]}" | jq -s .)" \
    --argjson pg1_runs "$(printf '%s\n' "${pg1_runs[@]}" | jq -s .)" \
    --argjson in1_runs "$(printf '%s\n' "${in1_runs[@]}" | jq -s .)" \
    --argjson pg16_runs "$(printf '%s\n' "${pg16_runs[@]}" | jq -s .)" \
    --argjson in64_runs "$(printf '%s\n' "${in64_runs[@]}" | jq -s .)" \
    --argjson fsync_us "${fsync_us:-null}" \
    --argjson in16 "$in16" \
    --argjson in64_libzmq "$in64_libzmq" --argjson stream_libzmq "$stream_libzmq" \
    --argjson life "$life" --argjson stream "$stream" --argjson restart "$restart" \
    --argjson sim "$sim" --argjson sim_wall "$sim_wall" --argjson machine "$machine" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    # The middle of the sorted values (the upper middle of an even count); null when none.
    def median: if length == 0 then null else sort | .[length / 2 | floor] end;
    def median_by(f): if length == 0 then null else sort_by(f) | .[length / 2 | floor] end;
    # A run'"'"'s CPU time per call (or transaction) in µs, and the cores its processes kept busy.
    def cpu_per(n): if . != null and .cpu != null and n > 0 then
        {server_us: (.cpu.server_s * 1e6 / n), postgres_us: (.cpu.postgres_s * 1e6 / n),
         client_us: (.cpu.client_s * 1e6 / n),
         cores_busy: ((.cpu.server_s + .cpu.postgres_s + .cpu.client_s) / .cpu.wall_s)}
        else null end;
    # f of each pair [intake run, floor run], over the pairs both lists have.
    def pairwise($in; $floor; f):
        [range(0; [($in | length), ($floor | length)] | min) as $i | [$in[$i], $floor[$i]] | f];
    pairwise($in64_runs; $pg16_runs; .[0].throughput_per_s / .[1].tps) as $ratios |
    ($pg16_runs | median_by(.tps)) as $pg16 | ($in64_runs | median_by(.throughput_per_s)) as $in64 |
    # The 1-client pairs: each intake p50 against the floor of its own pair (its pgbench
    # latency and its round trip); the runs shown are those of the median pair.
    pairwise($pg1_runs; $rtt_runs; .[0].latency_ms + .[1].p50_ms) as $floors1 |
    pairwise($in1_runs; $floors1; .[0].p50_ms / .[1]) as $ratios1 |
    ([range(0; $ratios1 | length)] | median_by($ratios1[.])) as $mid1 |
    # A list'"'"'s run of the median pair (without pairs, its median run by f).
    def of_mid1(f): if $mid1 != null then .[$mid1] else median_by(f) end;
    ($pg1_runs | of_mid1(.latency_ms)) as $pg1 | ($in1_runs | of_mid1(.p50_ms)) as $in1 |
    ($rtt_runs | of_mid1(.p50_ms)) as $rtt |
    {date: $date, machine: $machine,
     zmq_rtt: $rtt, zmq_rtt_runs: $rtt_runs, fdatasync_us: $fsync_us, pgbench_1: $pg1,
     pgbench_16: $pg16, pgbench_1_runs: $pg1_runs, intake_1_runs: $in1_runs,
     intake_1_p99_median_ms: ($in1_runs | map(.p99_ms) | median),
     intake1_p50_vs_floor_pairs: $ratios1,
     pgbench_16_runs: $pg16_runs, intake_64_runs: $in64_runs,
     intake_64_p99_median_ms: ($in64_runs | map(.p99_ms) | median),
     intake64_vs_pgbench16_pairs: $ratios,
     intake_64_cpu_per_call: ($in64 | cpu_per($in64.calls // 0)),
     pgbench_16_cpu_per_transaction: ($pg16 | cpu_per($pg16.transactions // 0)),
     intake_1: $in1, intake_16: $in16, intake_64: $in64, intake_64_libzmq: $in64_libzmq,
     lifecycle: $life, stream: $stream, stream_libzmq: $stream_libzmq, restart: $restart,
     sim_offline: (if $sim then $sim + {measured_wall_s: $sim_wall} else null end),
     floor_ms: (if $mid1 != null then $floors1[$mid1] else null end),
     intake64_vs_pgbench16: ($ratios | median),
     intake1_p50_vs_floor: ($ratios1 | median)}' \
    >build/bench.json

# The table (Markdown), from bench.json alone, so it can be made again from a saved file.
jq -r '
  def r(x): if x == null then "–" else (x * 100 | round) / 100 end;
  # A figure judged against target t: with four decimals where two would round it onto t,
  # which hides its side (2.0006 is a miss of "≤ 2.0", not "2").
  def rt(x; t): if x != null and x != t and r(x) == t then (x * 10000 | round) / 10000 else r(x) end;
  def ok(x; c): if x == null then "" elif c then "yes" else "**no**" end;
  def errors(runs): [(runs // [])[].errors] | add;
  "| Measure | Result | Target | Met |",
  "|---|---|---|---|",
  "| ZeroMQ round trip p50 (`bench rtt`, right before each 1-client intake run; the median pair'"'"'s, of each) | \(r(.zmq_rtt.p50_ms)) ms (\([(.zmq_rtt_runs // [])[] | r(.p50_ms)] | join(", ")) ms) | | |",
  "| fdatasync of one 8 kB write (`pg_test_fsync`): the cost of a commit flush here | \(r(.fdatasync_us)) µs | | |",
  "| pgbench 1 client: TPS / latency (the median pair'"'"'s run; the latency of each) | \(r(.pgbench_1.tps)) / \(r(.pgbench_1.latency_ms)) ms (\([(.pgbench_1_runs // [])[] | r(.latency_ms)] | join(", ")) ms) | | |",
  "| pgbench 16 clients: TPS / latency (the median of \(.pgbench_16_runs | length) runs; the TPS of each) | \(r(.pgbench_16.tps)) / \(r(.pgbench_16.latency_ms)) ms (\([.pgbench_16_runs[] | r(.tps)] | join(", "))) | | |",
  "| floor = pgbench 1-client latency + ZeroMQ round trip (the median pair'"'"'s) | \(r(.floor_ms)) ms | | |",
  "| intake 1 client: calls/s, p50 / p99 / p99.9 (the median pair'"'"'s run; the p50 of each) | \(r(.intake_1.throughput_per_s)), \(r(.intake_1.p50_ms)) / \(r(.intake_1.p99_ms)) / \(r(.intake_1.p999_ms)) ms (\([(.intake_1_runs // [])[] | r(.p50_ms)] | join(", ")) ms) | | |",
  "| intake 1 client, p99: the median of the runs (of each) | \(rt(.intake_1_p99_median_ms; 3)) ms (\([(.intake_1_runs // [])[] | r(.p99_ms)] | join(", ")) ms) | p99 ≤ 3 ms | \(ok(.intake_1_p99_median_ms; .intake_1_p99_median_ms <= 3)) |",
  "| intake 16 clients: calls/s, p50 / p99 | \(r(.intake_16.throughput_per_s)), \(r(.intake_16.p50_ms)) / \(r(.intake_16.p99_ms)) ms | | |",
  "| intake 64 clients: calls/s, p50 / p99 (the median of \(.intake_64_runs | length) runs by calls/s; the calls/s of each) | \(r(.intake_64.throughput_per_s)), \(r(.intake_64.p50_ms)) / \(r(.intake_64.p99_ms)) ms (\([.intake_64_runs[] | r(.throughput_per_s)] | join(", "))) | | |",
  "| intake 64 clients, p99: the median of the runs (of each) | \(rt(.intake_64_p99_median_ms; 15)) ms (\([.intake_64_runs[] | r(.p99_ms)] | join(", ")) ms) | p99 ≤ 15 ms | \(ok(.intake_64_p99_median_ms; .intake_64_p99_median_ms <= 15)) |",
  "| intake 64 clients, the bench on libzmq DEALERs: calls/s, p50 / p99 | \(r(.intake_64_libzmq.throughput_per_s)), \(r(.intake_64_libzmq.p50_ms)) / \(r(.intake_64_libzmq.p99_ms)) ms | | |",
  "| `intake64_vs_pgbench16`: the median of the pairs (of each) | \(rt(.intake64_vs_pgbench16; 2)) (\([.intake64_vs_pgbench16_pairs[] | rt(.; 2)] | join(", "))) | ≥ 2.0 | \(ok(.intake64_vs_pgbench16; .intake64_vs_pgbench16 >= 2)) |",
  "| CPU time per call, intake 64 (its median run): server / PostgreSQL / bench client; cores kept busy | \(r(.intake_64_cpu_per_call.server_us)) / \(r(.intake_64_cpu_per_call.postgres_us)) / \(r(.intake_64_cpu_per_call.client_us)) µs; \(r(.intake_64_cpu_per_call.cores_busy)) of \(.machine.cores) | | |",
  "| CPU time per transaction, pgbench 16 (its median run): PostgreSQL / pgbench; cores kept busy | \(r(.pgbench_16_cpu_per_transaction.postgres_us)) / \(r(.pgbench_16_cpu_per_transaction.client_us)) µs; \(r(.pgbench_16_cpu_per_transaction.cores_busy)) of \(.machine.cores) | | |",
  "| `intake1_p50_vs_floor`: the median of the pairs (of each) | \(rt(.intake1_p50_vs_floor; 2)) (\([(.intake1_p50_vs_floor_pairs // [])[] | rt(.; 2)] | join(", "))) | ≤ 2.0 | \(ok(.intake1_p50_vs_floor; .intake1_p50_vs_floor <= 2)) |",
  "| lifecycle (\(.lifecycle.clients) consoles, \(.lifecycle.units) tablets): calls/s, whole call p50 / p99 | \(r(.lifecycle.calls_per_s)), \(r(.lifecycle.total_p50_ms)) / \(r(.lifecycle.total_p99_ms)) ms | | |",
  "| lifecycle steps p50 / p99 (ms) | \([(.lifecycle.steps // {}) | to_entries[] | "\(.key) \(r(.value.p50_ms))/\(r(.value.p99_ms))"] | join(", ")) | | |",
  "| stream \(.stream.subscribers) subscribers (\(.stream.ws_subscribers) WebSocket) at \(.stream.rate)/s: gaps, missed | \(.stream.gaps), \(.stream.missed) of \(.stream.expected) | 0 gaps | \(ok(.stream; .stream.gaps == 0 and .stream.missed == 0)) |",
  "| stream lag p50 / p99 (commit to receipt, from \(.stream.lag_from // "at_ms")) | \(r(.stream.lag_p50_ms)) / \(rt(.stream.lag_p99_ms; 50)) ms | p99 ≤ 50 ms | \(ok(.stream; .stream.lag_p99_ms <= 50)) |",
  "| stream lag from the event time (`at_ms`, before the commit) p50 / p99 | \(r(.stream.event_lag_p50_ms)) / \(r(.stream.event_lag_p99_ms)) ms | | |",
  "| stream lag in the ramp (the first \(.stream.ramp_seconds // 0) s at \(.stream.rate)/s, from idle; what is read then, not in the lag rows above) p99 / max | \(r(.stream.ramp_lag_p99_ms)) / \(r(.stream.ramp_lag_max_ms)) ms | | |",
  "| stream again, the bench on libzmq SUB sockets: gaps, missed; lag p50 / p99 (commit; event time) | \(.stream_libzmq.gaps), \(.stream_libzmq.missed) of \(.stream_libzmq.expected); \(r(.stream_libzmq.lag_p50_ms)) / \(r(.stream_libzmq.lag_p99_ms)) ms; \(r(.stream_libzmq.event_lag_p50_ms)) / \(r(.stream_libzmq.event_lag_p99_ms)) ms | | |",
  "| restart with \(.restart.open_calls) open calls, \(.restart.units) units: ready / RSS | \(rt(.restart.ready_s; 2)) s / \(rt(.restart.rss_mb; 200)) MB | ≤ 2 s, ≤ 200 MB | \(ok(.restart; .restart.ready_s <= 2 and .restart.rss_mb <= 200)) |",
  "| errors (intake 1 / 16 / 64 / 64 on libzmq, lifecycle, stream / on libzmq) | \(errors(.intake_1_runs)) / \(.intake_16.errors) / \(errors(.intake_64_runs)) / \(.intake_64_libzmq.errors), \(.lifecycle.errors), \(.stream.errors) / \(.stream_libzmq.errors) | 0 | \(ok(.intake_1; ([errors(.intake_1_runs), .intake_16.errors, errors(.intake_64_runs), .intake_64_libzmq.errors, .lifecycle.errors, .stream.errors, .stream_libzmq.errors] | add) == 0)) |",
  "| /api/snapshot after that restart: answered in / rendered in | \(r(.restart.snapshot_s)) s / \(r(.restart.snapshot_render_s)) s | | |",
  "| sim offline, 3000 calls and 200 units | \(rt(.sim_offline.measured_wall_s; 60)) s | ≤ 60 s | \(ok(.sim_offline; .sim_offline.measured_wall_s <= 60)) |",
  "",
  "Machine: \(.machine.cpu), \(.machine.cores) cores, \(.machine.mem_mb) MB, Linux \(.machine.kernel), PostgreSQL \(.machine.postgresql), \(.machine.server); load average at the end \(.machine.loadavg_at_end); \(.date)."
' build/bench.json
echo "bench: every figure is in build/bench.json" >&2
