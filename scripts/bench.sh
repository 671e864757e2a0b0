#!/usr/bin/env bash
# scripts/bench.sh: installs what is missing, builds an optimised release in
# build-bench, runs every benchmark (echo against the peers, micro, files,
# HTTP, WebSocket against Boost.Beast, multi-loop scaling), writes bench/results/RESULTS.md with PNG charts and
# the raw data, and prints the tables.
#
#   scripts/bench.sh [--quick] [--reps N] [--out DIR] [--skip PART,...]
#
#   --quick   under 2 minutes once built: the core echo comparison only (64 B
#             ping-pong, 50 and 500 connections, 3 interleaved repetitions of
#             1 s), short micro, files and the other parts' quick modes
#   --skip    leave parts out: echo, micro, fs, http, http-load, http-pipelined,
#             https, ws, multi
# A part whose script or binary is not there is skipped and the report says so.
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

quick=0
reps=3
out=bench/results
skip=","
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; shift ;;
        --reps) reps=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --skip) skip=",$2,"; shift 2 ;;
        -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
case $reps in '' | *[!0-9]* | 0) echo "bench.sh: --reps wants a number >= 1" >&2; exit 2 ;; esac

started=$(date +%s)
need_pkgs "${base_pkgs[@]}" libboost1.81-dev gnuplot-nox fio wrk nginx util-linux linux-perf || exit 1

build=build-bench
configure "$build" -Dbuildtype=release -Dtests=false -Dexamples=true -Dbenchmarks=true \
    -Dparts=runtime,net,fs,http,tls || exit 1
echo "bench.sh: building corio (release) in $build ..." >&2
# has_target T: the build defines T (a part's folder may not be there yet).
has_target() { ninja -C "$build" -t query "$1" >/dev/null 2>&1; }
required=(examples/echo_server examples/echo_bench bench/peers/peer_uring_echo bench/peers/peer_epoll_echo)
optional=(bench/peers/peer_asio_echo bench/micro bench/fs/fs_bench bench/multi/multi_bench
    examples/http_server/http_server examples/http_server examples/http_load
    bench/ws/ws_echo bench/ws/ws_load bench/peers/peer_beast_ws_echo)
if ! ninja -C "$build" -j "$(jobs)" "${required[@]}" >"$build/build-output.txt" 2>&1; then
    tail -30 "$build/build-output.txt"
    echo "bench.sh: build failed (full log: $build/build-output.txt)" >&2
    exit 1
fi
# The other parts' binaries one by one: one that does not build is skipped
# (the report says so), not the whole run.
build_failed=""
for t in "${optional[@]}"; do
    has_target "$t" || continue
    if ! ninja -C "$build" -j "$(jobs)" "$t" >>"$build/build-output.txt" 2>&1; then
        echo "bench.sh: $t does not build; its part is skipped (log: $build/build-output.txt)" >&2
        build_failed+=" $t"
    fi
done
# built T: T was built by this run.
built() { [ -x "$build/$1" ] && [[ " $build_failed " != *" $1 "* ]]; }

mkdir -p "$out"
# Results of an earlier run must not be mistaken for this one's.
rm -f "$out"/{parts.tsv,run.json,echo.json,echo_runs.csv,echo-profile.json,micro.json,fs.txt,http.txt,http-load.txt,http-pipelined.txt,https.txt,multi.txt,ws.txt} \
    "$out"/*.png "$out"/*.dat "$out"/*.log
tmp=$(mktemp -d)
child=""
cleanup() {
    # Every part runs in a session of its own (see prio); end that session.
    [ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
busy=$(awk -v n="$(nproc)" '{ print ($1 > n) ? 1 : 0 }' /proc/loadavg)
[ "$busy" = 1 ] && echo "bench.sh: the machine is busy (load $load_start on $(nproc) cores): numbers will be noisier" >&2

# prio LIMIT CMD...: runs CMD in a session of its own whose autogroup has nice
# -20 (as root), for at most LIMIT seconds. With sched_autogroup_enabled a
# plain nice counts only inside one session, so this is what keeps other work
# on a shared machine off the measured processes' cores.
prio() {
    local limit=$1
    shift
    setsid sh -c '[ "$(id -u)" = 0 ] && echo -20 >/proc/self/autogroup 2>/dev/null
                  exec timeout -k 10 "$0" "$@"' "$limit" "$@" &
    child=$!
    wait "$child"
    local rc=$?
    child=""
    return $rc
}

# part NAME LIMIT OUTFILE CMD...: runs one part, records it in parts.tsv.
part() {
    local name=$1 limit=$2 file=$3
    shift 3
    local t0 rc
    if [[ $skip == *",$name,"* ]]; then
        printf '%s\tskipped\t0\t%s\t%s\n' "$name" "$*" "left out with --skip" >>"$out/parts.tsv"
        return
    fi
    echo "bench.sh: $name: $*" >&2
    t0=$(date +%s)
    # stdout: the part's result (or its log); stderr: progress, shown and kept.
    local dest="$out/$name.log"
    [ -n "$file" ] && dest="$tmp/$name.out"
    prio "$limit" "$@" >"$dest" 2> >(tee -a "$out/$name.log" >&2)
    rc=$?
    local secs=$(($(date +%s) - t0))
    if [ $rc -eq 0 ]; then
        [ -n "$file" ] && cp "$tmp/$name.out" "$out/$file"
        printf '%s\tok\t%s\t%s\t\n' "$name" "$secs" "$(printf '%s' "$*" | tr '\n' ' ')" >>"$out/parts.tsv"
        [ -s "$out/$name.log" ] || rm -f "$out/$name.log"
    else
        local why="exit status $rc"
        [ $rc -eq 124 ] && why="timed out after ${limit}s"
        echo "bench.sh: $name failed ($why); log in $out/$name.log" >&2
        tail -5 "$out/$name.log" >&2
        printf '%s\tfailed\t%s\t%s\t%s; see %s\n' "$name" "$secs" "$(printf '%s' "$*" | tr '\n' ' ')" "$why" \
            "$name.log" >>"$out/parts.tsv"
    fi
}

# skipped NAME CMD WHY
skipped() {
    echo "bench.sh: $1 skipped: $3" >&2
    printf '%s\tskipped\t0\t%s\t%s\n' "$1" "$2" "$3" >>"$out/parts.tsv"
}

# ---- echo: corio against the peers -------------------------------------------
servers=corio-uring,corio-uring-plain,corio-epoll,uring-c,uring-c-nofixed,uring-c-ms,epoll-c
built bench/peers/peer_asio_echo && servers+=,asio
if [ "$quick" = 1 ]; then
    part echo 300 "" python3 bench/echo/run.py --build "$build" --out "$out" --quick --reps "$reps" \
        --servers "$servers"
else
    part echo 1500 "" python3 bench/echo/run.py --build "$build" --out "$out" --reps "$reps" \
        --servers "$servers"
fi

# ---- echo-profile: where each server's CPU goes ------------------------------
# perf profiles of the eight echo configs issue 16 counts (CONNS:SIZE:PIPELINE):
# the report reads from them how much of each server's CPU is the kernel's TCP
# work, which every server pays alike per message (the floor under issue 16's
# ratios), and says per row where a missed bound went.
if command -v perf >/dev/null; then
    psecs=3
    pconfigs="50:64:1 500:64:1 50:4096:1 500:4096:1 50:64:16 500:64:16 50:4096:16 500:4096:16"
    [ "$quick" = 1 ] && psecs=1 pconfigs=500:64:1
    # shellcheck disable=SC2086
    part echo-profile 900 "" bench/echo/profile_all.sh --json "$out/echo-profile.json" \
        --build "$build" --duration "$psecs" $pconfigs
else
    skipped echo-profile "bench/echo/profile.sh" "perf is not installed (linux-perf)"
fi

# ---- micro -----------------------------------------------------------------
if built bench/micro; then
    if [ "$quick" = 1 ]; then
        mflags=(--benchmark_min_time=0.05 "--benchmark_filter=task|spawn\+run|nop round trip")
    else
        mflags=(--benchmark_min_time=0.5)
    fi
    part micro 600 "" taskset -c 0 "$build/bench/micro" --benchmark_repetitions=3 \
        --benchmark_report_aggregates_only=true --benchmark_format=console \
        --benchmark_out_format=json "--benchmark_out=$out/micro.json" "${mflags[@]}"
else
    skipped micro "$build/bench/micro" "not built (Google Benchmark missing, or it does not build)"
fi

# ---- multi-loop scaling ------------------------------------------------------
# Its own script if bench/multi has one; else the multi_bench binary itself,
# run 3 times (the report takes the median of each line).
if [ -x scripts/multi_bench.sh ]; then
    if [ "$quick" = 1 ]; then
        part multi 60 multi.txt env BUILD="$build" QUICK=1 scripts/multi_bench.sh --quick
    else
        part multi 600 multi.txt env BUILD="$build" scripts/multi_bench.sh
    fi
elif built bench/multi/multi_bench; then
    margs=(--pin --work-us 100)
    [ "$quick" = 1 ] && margs+=(--messages 200000 --roundtrips 10000 --requests 2000)
    part multi "$([ "$quick" = 1 ] && echo 60 || echo 600)" multi.txt sh -c \
        'for i in 1 2 3; do "$0" "$@" || exit; done' "$build/bench/multi/multi_bench" "${margs[@]}"
elif has_target bench/multi/multi_bench; then
    skipped multi "$build/bench/multi/multi_bench" "bench/multi/multi_bench does not build in this tree"
else
    skipped multi "bench/multi" "no multi-loop benchmark in this tree yet (bench/multi)"
fi

# ---- http ------------------------------------------------------------------
if [ -x scripts/http_bench.sh ]; then
    if [ "$quick" = 1 ]; then
        part http 90 http.txt env BUILD="$build" QUICK=1 scripts/http_bench.sh --quick
    else
        part http 600 http.txt env BUILD="$build" scripts/http_bench.sh
        # The same driven by examples/http_load (corio's client, less CPU per
        # request than wrk): the servers, not the client, run out of CPU.
        part http-load 600 http-load.txt env BUILD="$build" LOADGEN=http_load \
            scripts/http_bench.sh
        # The same with 4 requests pipelined per connection: wrk stops being
        # the ceiling, so requests/s ranks the servers' capacity.
        part http-pipelined 600 http-pipelined.txt env BUILD="$build" PIPELINE=4 REPS=5 \
            scripts/http_bench.sh
    fi
else
    skipped http "scripts/http_bench.sh" "scripts/http_bench.sh is not in this tree yet"
fi

# ---- https -----------------------------------------------------------------
if [ -x scripts/https_bench.sh ]; then
    if [ "$quick" = 1 ]; then
        part https 90 https.txt env BUILD="$build" scripts/https_bench.sh --quick
    else
        part https 400 https.txt env BUILD="$build" REPS=5 scripts/https_bench.sh
    fi
else
    skipped https "scripts/https_bench.sh" "scripts/https_bench.sh is not in this tree"
fi

# ---- websocket ---------------------------------------------------------------
if built bench/ws/ws_echo && built bench/ws/ws_load && built bench/peers/peer_beast_ws_echo; then
    if [ "$quick" = 1 ]; then
        part ws 60 ws.txt bench/ws/run.sh --build "$build" --reps 1 --duration 1 --configs 64:50
    else
        part ws 300 ws.txt bench/ws/run.sh --build "$build"
    fi
else
    skipped ws "bench/ws/run.sh" "bench/ws or its Beast peer (Boost 1.81) is not built"
fi

# ---- files -------------------------------------------------------------------
# fs_bench.sh uses its own build dir (build-fsbench): it configures the dir it
# is given with examples off, and meson then deletes their binaries.
if [ -x scripts/fs_bench.sh ]; then
    if [ "$quick" = 1 ]; then
        part fs 300 fs.txt env SECS=1 ROUNDS=1 SIZE_MIB=64 scripts/fs_bench.sh
    else
        part fs 900 fs.txt env SECS=2 ROUNDS=3 scripts/fs_bench.sh
    fi
else
    skipped fs "scripts/fs_bench.sh" "scripts/fs_bench.sh is not in this tree"
fi

# ---- report ------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The results folder is what this run rewrites: a change there is not a change to the code.
dirty=false
[ -n "$(git status --porcelain --untracked-files=no -- . ':!bench/results' 2>/dev/null)" ] &&
    dirty=true
cat >"$out/run.json" <<EOF
{"quick": $([ "$quick" = 1 ] && echo true || echo false), "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
 "commit": "$commit", "dirty": $dirty, "build": "$build", "reps": $reps,
 "load_start": "$load_start", "load_end": "$(load)", "busy": $([ "$busy" = 1 ] && echo true || echo false),
 "elapsed": $(($(date +%s) - started))}
EOF
python3 bench/report/report.py --results "$out" || exit 1
echo
echo "bench.sh: report in $out/RESULTS.md ($(($(date +%s) - started)) s)" >&2
