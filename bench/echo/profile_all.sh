#!/usr/bin/env bash
# bench/echo/profile_all.sh: perf profiles of the four io_uring echo servers in
# each config, their stack splits added to a JSON list (bench/echo/stacks.py
# --json): corio io_uring, corio without multishot receive and registered
# descriptors (corio-uring-plain), the plain liburing peer (uring-c-nofixed)
# and the one with corio's kernel features (uring-c-ms). scripts/bench.sh runs
# it as the part echo-profile; RESULTS.md's "Where the CPU goes" reads FILE.
#
#   bench/echo/profile_all.sh --json FILE [--build build-bench] [--duration 3] CONFIG...
#   CONFIG: CONNS:SIZE:PIPELINE, e.g. 500:64:1 (64 B ping-pong, 500 connections)
set -u
cd "$(dirname "$0")/../.." || exit 1
json="" build=build-bench duration=3 configs=()
while [ $# -gt 0 ]; do
    case $1 in
        --json) json=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *:*:*) configs+=("$1"); shift ;;
        *) echo "profile_all.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
[ -n "$json" ] && [ ${#configs[@]} -gt 0 ] ||
    { echo "profile_all.sh: --json FILE and at least one CONNS:SIZE:PIPELINE are needed" >&2; exit 2; }
for c in "${configs[@]}"; do
    IFS=: read -r conns size pipe <<<"$c"
    for s in corio-uring corio-uring-plain uring-c-nofixed uring-c-ms; do
        bench/echo/profile.sh "$s" --conns "$conns" --size "$size" --pipeline "$pipe" \
            --duration "$duration" --build "$build" --json "$json" || exit 1
    done
done
