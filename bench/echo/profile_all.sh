#!/usr/bin/env bash
# bench/echo/profile_all.sh: bench/echo/profile.sh for each of the four io_uring
# echo servers in each config: corio io_uring, corio without multishot receive
# and registered descriptors (corio-uring-plain), the plain liburing peer
# (uring-c-nofixed) and the one with corio's kernel features (uring-c-ms).
# scripts/bench.sh runs it as the part echo-profile with --json FILE; RESULTS.md's
# "Where the CPU goes" reads FILE.
#
#   bench/echo/profile_all.sh [profile.sh options...] CONFIG...
#   CONFIG: CONNS:SIZE:PIPELINE, e.g. 500:64:1 (64 B ping-pong, 500 connections)
set -u
cd "$(dirname "$0")/../.." || exit 1
configs=() opts=()
for a in "$@"; do
    case $a in
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*:[0-9]*:[0-9]*) configs+=("$a") ;;
        *) opts+=("$a") ;;
    esac
done
[ ${#configs[@]} -gt 0 ] || { echo "profile_all.sh: no CONNS:SIZE:PIPELINE given (try --help)" >&2; exit 2; }
for c in "${configs[@]}"; do
    IFS=: read -r conns size pipe <<<"$c"
    for s in corio-uring corio-uring-plain uring-c-nofixed uring-c-ms; do
        bench/echo/profile.sh "$s" "${opts[@]}" --conns "$conns" --size "$size" --pipeline "$pipe" ||
            exit 1
    done
done
