#!/usr/bin/env bash
# bench/echo/profile.sh: profiles one echo server under load, the way the
# report's diagnosis was made: system calls per message (strace -c -f) or where
# the CPU goes (perf record -e cpu-clock; this machine has no hardware counters).
#
#   bench/echo/profile.sh SERVER [--tool strace|perf] [--conns 500] [--size 64]
#                         [--pipeline 1] [--duration 5] [--build build-bench] [--json FILE]
#   SERVER: corio-uring, corio-uring-plain, corio-epoll, uring-c, uring-c-nofixed, uring-c-ms,
#           epoll-c, asio
#
# Server on CPU 0, load generator on CPU 1, each in a session of its own with
# autogroup nice -20 (as root), as in bench/echo/run.py. Prints the load
# generator's line, then the strace table with calls per message, or perf's
# top symbols, the split between kernel and user space, and what the stacks
# were doing (bench/echo/stacks.py: sending, receiving, io_uring, user space). Files go to
# /tmp/corio-profile/. strace slows every system call, so read its counts, not
# its msgs/s. --json FILE (perf only): adds the stack split to FILE's list
# (bench/echo/stacks.py --json), labelled "SERVER CONNS SIZE PIPELINE".
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

server=${1:-}
[ -n "$server" ] && shift
tool=perf conns=500 size=64 pipeline=1 duration=5 build=build-bench json=""
while [ $# -gt 0 ]; do
    case $1 in
        --tool) tool=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "profile.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/echo/servers.sh
source bench/echo/servers.sh
echo_server_cmd "$server" "$build" ||
    { echo "profile.sh: SERVER is one of $echo_server_names" >&2; exit 2; }
case $tool in strace | perf) ;; *) echo "profile.sh: --tool strace|perf" >&2; exit 2 ;; esac
command -v "$tool" >/dev/null || { echo "profile.sh: $tool is not installed" >&2; exit 1; }
[ -x "${cmd[0]}" ] || { echo "profile.sh: ${cmd[0]} is not built (scripts/bench.sh builds it)" >&2; exit 1; }

out=/tmp/corio-profile
mkdir -p "$out"
hi='[ "$(id -u)" = 0 ] && echo -20 >/proc/self/autogroup 2>/dev/null; exec "$@"'
spid="" tpid=""
cleanup() {
    [ -n "$tpid" ] && kill -INT "$tpid" 2>/dev/null
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

env "${envs[@]}" setsid sh -c "$hi" sh taskset -c 0 "${cmd[@]}" --port 0 --buf-size 4096 \
    >"$out/$server.ready" 2>"$out/$server.err" &
spid=$!
port=$(ready_port "$out/$server.ready" 200) ||
    { echo "profile.sh: $server did not start: $(cat "$out/$server.err")" >&2; exit 1; }

if [ "$tool" = strace ]; then
    timeout $((duration + 30)) strace -c -f -p "$spid" -o "$out/$server.strace" 2>/dev/null &
else
    timeout $((duration + 30)) perf record -q -e cpu-clock -F 4999 -g -p "$spid" \
        -o "$out/$server.perf.data" >/dev/null 2>&1 &
fi
tpid=$!
sleep 0.5
res=$(setsid sh -c "$hi" sh taskset -c 1 "$build/examples/echo_bench" --port "$port" \
    --conns "$conns" --size "$size" --pipeline "$pipeline" --duration "$duration" --backend io_uring)
kill -INT "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
tpid=""
kill -TERM "$spid"
wait "$spid" 2>/dev/null
spid=""
echo "$server, $conns conns, $size B, pipeline $pipeline: $res"
msgs=$(echo "$res" | sed -n 's/.*msgs_per_sec=\([0-9]*\).*/\1/p')
msgs=$((${msgs:-0} * ${duration%.*}))
if [ "$tool" = strace ]; then
    awk -v m="$msgs" 'NR <= 2 { print; next }
        /^-/ { print; next }
        { printf "%s   %.3f/msg\n", $0, (m > 0 ? $4 / m : 0) }' "$out/$server.strace"
else
    perf report -i "$out/$server.perf.data" --no-children --sort dso -q -g none 2>/dev/null | head -4
    perf report -i "$out/$server.perf.data" --no-children --sort sym -q -g none 2>/dev/null | head -40
    echo
    python3 bench/echo/stacks.py "$out/$server.perf.data"
    if [ -n "$json" ]; then
        python3 bench/echo/stacks.py --json "$json" --label "$server $conns $size $pipeline" \
            "$out/$server.perf.data" || exit 1
    fi
    echo "(perf data: $out/$server.perf.data; compare servers: bench/echo/stacks.py A.perf.data B.perf.data)"
fi
