#!/usr/bin/env bash
# bench/ws/run.sh: WebSocket echo, corio's server (io_uring and epoll) against
# Boost.Beast's (bench/peers/beast_ws_echo.cpp, one thread, Asio's epoll
# reactor), driven by bench/ws/ws_load (corio's client, every echo checked).
#
#   bench/ws/run.sh [--build build-bench] [--reps 3] [--duration 3] [--configs "64:50 4096:50 64:500"] [--deflate]
#
# --deflate: every server accepts permessage-deflate (zlib level 6, memLevel 8,
# window 15 on both) and ws_load offers it and sends JSON text messages of SIZE
# bytes, each a little different from the one before.
#
# Each config is SIZE:CONNECTIONS: binary messages of SIZE bytes, ping-pong on
# every connection. The server is pinned to CPU 0 and the load generator to
# CPU 1; per repetition every server runs once, the starting server rotated,
# so that a shared machine's drift hits all alike. Reported per config and
# server: medians of msgs/s and of the server's CPU time per message (its
# threads' on-CPU time from /proc/PID/task/*/schedstat over the counted
# seconds, after a 1 s warm-up), then per repetition the ratio
# Beast / corio of CPU per message (>= 1: corio uses less), as median [min-max].
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

build=build-bench reps=3 duration=3 configs="64:50 4096:50 64:500" deflate=""
while [ $# -gt 0 ]; do
    case $1 in
        --deflate) deflate=--deflate; shift ;;
        --build) build=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --configs) configs=$2; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
declare -A cmd=(
    [corio-uring]="$build/bench/ws/ws_echo --backend io_uring $deflate"
    [corio-epoll]="$build/bench/ws/ws_echo --backend epoll $deflate"
    [beast]="$build/bench/peers/peer_beast_ws_echo $deflate"
)
servers=(corio-uring corio-epoll beast)
for s in "${servers[@]}"; do
    exe=${cmd[$s]%% *}
    [ -x "$exe" ] || { echo "run.sh: $exe is not built (ninja -C $build)" >&2; exit 1; }
done
load=$build/bench/ws/ws_load
[ -x "$load" ] || { echo "run.sh: $load is not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A rate cpu
kind=binary
[ -z "$deflate" ] || kind="permessage-deflate, JSON text"
echo "WebSocket echo: $kind ping-pong, server on CPU 0, ws_load on CPU 1, $reps repetitions of ${duration} s (after 1 s warm-up), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the start, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
for rep in $(seq "$reps"); do
    for config in $configs; do
        size=${config%%:*} conns=${config##*:}
        n=${#servers[@]}
        for k in $(seq 0 $((n - 1))); do
            s=${servers[$(((k + rep) % n))]}
            # shellcheck disable=SC2086
            taskset -c 0 ${cmd[$s]} >"$tmp/server.out" 2>"$tmp/server.err" &
            pid=$!
            port=$(ready_port "$tmp/server.out" 100) || { echo "run.sh: $s did not start" >&2; cat "$tmp/server.err" >&2; kill $pid; exit 1; }
            line=$(taskset -c 1 "$load" --url "ws://127.0.0.1:$port/" --conns "$conns" --size "$size" \
                --duration "$duration" --warmup 1 --server-pid "$pid" $deflate) ||
                { echo "run.sh: ws_load failed against $s: $line" >&2; kill $pid; exit 1; }
            kill -TERM $pid
            wait $pid 2>/dev/null
            key="$config/$s"
            rate[$key]="${rate[$key]:-} $(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")"
            cpu[$key]="${cpu[$key]:-} $(sed -n 's/.*cpu_us_per_msg=\([0-9.]*\).*/\1/p' <<<"$line")"
        done
    done
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
printf '\n| size | conns | server | msgs/s | server CPU µs/msg |\n|---:|---:|---|---:|---:|\n'
for config in $configs; do
    for s in "${servers[@]}"; do
        key="$config/$s"
        printf '| %s | %s | %s | %.0f | %.2f |\n' "${config%%:*}" "${config##*:}" "$s" \
            "$(median <<<"${rate[$key]}")" "$(median <<<"${cpu[$key]}")"
    done
done
printf '\nBeast / corio, CPU per message, per repetition: median [min-max]\n'
for config in $configs; do
    for s in corio-uring corio-epoll; do
        read -r -a b <<<"${cpu[$config/beast]}"
        read -r -a c <<<"${cpu[$config/$s]}"
        ratios=""
        for i in "${!b[@]}"; do ratios+=" $(awk -v x="${b[$i]}" -v y="${c[$i]}" 'BEGIN {printf "%.3f", x / y}')"; done
        lo=$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | head -1)
        hi=$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | tail -1)
        printf '%s bytes, %s connections: beast/%s %.2f [%.2f-%.2f]\n' "${config%%:*}" "${config##*:}" "$s" \
            "$(median <<<"$ratios")" "$lo" "$hi"
    done
done
