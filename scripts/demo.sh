#!/usr/bin/env bash
# scripts/demo.sh: installs what is missing, builds, then runs the echo server
# and its load generator on io_uring and on epoll, with 1 loop and with one
# loop per core, and prints one table. Under a minute once built.
#
#   scripts/demo.sh [--duration SECS] [--conns N] [--size BYTES]
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

duration=4
conns=50
size=64
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

need_pkgs "${base_pkgs[@]}" util-linux || exit 1
dir=build-release
configure "$dir" -Dbuildtype=release -Dtests=false -Dbenchmarks=false || exit 1
echo "building corio (release) in $dir ..."
ninja -C "$dir" -j "$(jobs)" examples/echo_server examples/echo_bench >"$dir/build-output.txt" 2>&1 || {
    tail -30 "$dir/build-output.txt"
    exit 1
}

cores=$(nproc)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
clk=$(getconf CLK_TCK)

# cpu_ticks PID: utime+stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '\n%-9s %5s %12s %9s %9s %14s %7s\n' backend loops "msgs/s" "p50 us" "p99 us" "server us/msg" errors
for backend in io_uring epoll; do
    for loops in 1 "$cores"; do
        # One loop: server on core 0, load generator on core 1, so they do not
        # compete. All loops: the cores are shared and the client competes.
        spin=""
        cpin=""
        if [ "$loops" = 1 ] && [ "$cores" -ge 2 ]; then
            spin="taskset -c 0"
            cpin="taskset -c 1"
        fi
        $spin "$dir/examples/echo_server" --backend "$backend" --loops "$loops" >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        line=""
        for _ in $(seq 50); do
            line=$(head -n 1 "$tmp/out")
            [ -n "$line" ] && break
            sleep 0.1
        done
        port=$(echo "$line" | sed -n 's/^listening [^ ]*:\([0-9]*\) .*/\1/p')
        if [ -z "$port" ]; then
            echo "echo_server did not start: $(cat "$tmp/err")"
            kill "$pid" 2>/dev/null
            continue
        fi
        got=$(echo "$line" | sed -n 's/.*backend=\([a-z_]*\).*/\1/p')
        before=$(cpu_ticks "$pid")
        res=$($cpin "$dir/examples/echo_bench" --port "$port" --conns "$conns" --size "$size" \
            --duration "$duration" --backend "$backend" 2>"$tmp/berr")
        after=$(cpu_ticks "$pid")
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null
        msgs=$(echo "$res" | sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p')
        p50=$(echo "$res" | sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p')
        p99=$(echo "$res" | sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p')
        errs=$(echo "$res" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
        cpu=$(awk -v t=$((after - before)) -v c="$clk" -v m="${msgs:-0}" -v d="$duration" \
            'BEGIN { n = m * d; if (n > 0) printf "%.2f", t / c * 1e6 / n; else print "-" }')
        printf '%-9s %5s %12s %9s %9s %14s %7s\n' "$got" "$loops" "${msgs:--}" "${p50:--}" \
            "${p99:--}" "$cpu" "${errs:-?}"
        [ -s "$tmp/berr" ] && sed 's/^/    /' "$tmp/berr"
    done
done
echo
echo "$conns connections, $size-byte messages, ping-pong, ${duration}s per row, $cores cores."
echo "server us/msg: the server's CPU time (utime+stime) per echoed message."
