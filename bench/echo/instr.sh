#!/usr/bin/env bash
# bench/echo/instr.sh: user-space instructions per echoed message of an echo
# server, counted by callgrind under examples/echo_bench's load. Unlike CPU
# time this does not move with the machine's load, so it compares the
# runtime's own cost per message with the hand-written C peers' exactly (the
# kernel's share, most of an echo server's CPU, is not counted: see profile.sh).
#
#   bench/echo/instr.sh SERVER [--conns 50] [--size 64] [--pipeline 1] [--duration 5]
#                       [--build build-bench] [-- extra server flags]
#   SERVER: corio-uring, corio-uring-plain, corio-epoll, uring-c, uring-c-nofixed, uring-c-ms,
#           epoll-c, asio
#
#   bench/echo/instr.sh corio-uring --conns 500
#   bench/echo/instr.sh uring-c-ms --conns 500
#
# The server runs under valgrind on one loop; echo_bench warms up for 2 s,
# callgrind's counters are zeroed, echo_bench runs --duration seconds, and the
# counters are dumped. Messages = echo_bench's msgs/s x the duration. Prints
# `SERVER conns=C size=S pipeline=P msgs=M Ir=I Ir/msg=R` and keeps the
# callgrind file in /tmp/corio-echo-instr/ (read it with callgrind_annotate;
# build with -g for line-level counts). Needs valgrind.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

server=${1:-}
[ -n "$server" ] && shift
conns=50 size=64 pipeline=1 duration=5 build=build-bench extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --conns) conns=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "instr.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/echo/servers.sh
source bench/echo/servers.sh
echo_server_cmd "$server" "$build" ||
    { echo "instr.sh: SERVER is one of $echo_server_names" >&2; exit 2; }
for tool in valgrind callgrind_control; do
    command -v "$tool" >/dev/null || { echo "instr.sh: needs $tool (apt-get install valgrind)" >&2; exit 1; }
done
bench=$build/examples/echo_bench
for b in "${cmd[0]}" "$bench"; do
    [ -x "$b" ] || { echo "instr.sh: $b is not built (scripts/bench.sh builds it)" >&2; exit 1; }
done

dir=/tmp/corio-echo-instr
mkdir -p "$dir"
tag=$server-$conns-$size-$pipeline
rm -f "$dir/$tag".*
env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/$tag.cg" --dump-instr=no \
    "${cmd[@]}" "${extra[@]}" >"$dir/$tag.server.out" 2>"$dir/$tag.valgrind.err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
port=$(ready_port "$dir/$tag.server.out" 300) ||
    { echo "instr.sh: the server did not start" >&2; cat "$dir/$tag.valgrind.err" >&2; exit 1; }
load=(--port "$port" --conns "$conns" --size "$size" --pipeline "$pipeline")
"$bench" "${load[@]}" --duration 2 >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
line=$("$bench" "${load[@]}" --duration "$duration")
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 0.5
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
file=$dir/$tag.cg.1  # the one dump callgrind_control -d asked for
rate=$(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")
if [ ! -s "$file" ] || [ -z "$rate" ]; then
    echo "instr.sh: no dump or no load generator line ($line)" >&2
    exit 1
fi
ir=$(grep -m1 '^summary:\|^totals:' "$file" | awk '{print $2}')
awk -v s="$server" -v c="$conns" -v z="$size" -v p="$pipeline" -v r="$rate" -v d="$duration" \
    -v ir="$ir" -v f="$file" 'BEGIN {
        m = r * d; printf "%s conns=%s size=%s pipeline=%s msgs=%d Ir=%d Ir/msg=%.0f file=%s\n",
        s, c, z, p, m, ir, ir / m, f }'
