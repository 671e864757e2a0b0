#!/usr/bin/env bash
# bench/http_ab.sh: paired A/B of two http_server builds (or flag sets): server
# CPU per request, alternating A and B N times on a keep-alive wrk load, so
# that slow phases of a shared machine hit both alike. Prints one line per
# pair and the median B/A (> 1: A uses less CPU per request).
#
#   bench/http_ab.sh [-n N] [-s SECS] "A command" "B command"
#   bench/http_ab.sh -n 8 "build-bench/examples/http_server/http_server" \
#       "build-bench/examples/http_server/http_server --no-multishot"
#
# Each command gets `--root DIR --port 0 --loops 1` added (DIR holds a
# 612-byte index.html) and runs on CPU 0, wrk -t1 -c50 on CPU 1. CPU time is
# the server's schedstat run time over the measured run (after a 1 s warm-up)
# divided by the requests wrk counted. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
n=8
secs=4
while getopts "n:s:" o; do
    case $o in
        n) n=$OPTARG ;;
        s) secs=$OPTARG ;;
        *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
command -v wrk >/dev/null || { echo "http_ab.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/www"
head -c 612 /dev/zero | tr '\0' 'x' >"$dir/www/index.html"

# run CMD: one measured run; prints CPU ns per request.
run() {
    # shellcheck disable=SC2086
    taskset -c 0 $1 --root "$dir/www" --port 0 --loops 1 >"$dir/out" 2>"$dir/err" &
    local pid=$! port
    port=$(ready_port "$dir/out") ||
        { echo "http_ab.sh: no ready line from: $1" >&2; cat "$dir/err" >&2; exit 1; }
    local url=http://127.0.0.1:$port/index.html
    taskset -c 1 wrk -t1 -c50 -d1s "$url" >/dev/null
    local c0 c1 reqs
    c0=$(awk '{print $1}' /proc/$pid/schedstat)
    reqs=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "$url" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    c1=$(awk '{print $1}' /proc/$pid/schedstat)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo $(((c1 - c0) / reqs))
}

echo "A: $1"
echo "B: $2"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for i in $(seq "$n"); do
    a=$(run "$1")
    b=$(run "$2")
    r=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", b/a}')
    ratios+=("$r")
    echo "pair $i: A $a ns/request, B $b ns/request, B/A $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median B/A %.3f over %d pairs\n", m, NR}'
