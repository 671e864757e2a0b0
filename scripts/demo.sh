#!/usr/bin/env bash
# scripts/demo.sh: installs what is missing, builds, then runs the echo server
# on io_uring and on epoll (1 loop, and several loops where the machine has
# the cores for it) against one load generator that always uses the same
# backend, and prints one table: throughput, latency, the CPU both sides used
# and which side limited the row. Under a minute once built.
#
#   scripts/demo.sh [--duration SECS] [--conns N] [--size BYTES]
#                   [--client-backend io_uring|epoll] [--all-rows]
#
# --all-rows also runs the multi-loop rows on a machine with too few cores to
# give the server its loops and the load generator a core of its own (they are
# then labelled: the two share cores, so the row measures the sharing).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

duration=4
conns=50
size=64
client_backend=""
all_rows=0
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --client-backend) client_backend=$2; shift 2 ;;
        --all-rows) all_rows=1; shift ;;
        -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
case $client_backend in
    "" | io_uring | epoll) ;;
    *) echo "demo.sh: --client-backend wants io_uring or epoll" >&2; exit 2 ;;
esac

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

# cpu_ticks PID: utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# start_server BACKEND LOOPS PIN: starts echo_server; sets pid, port, got.
start_server() {
    local pin=$3
    # shellcheck disable=SC2086
    $pin "$dir/examples/echo_server" --backend "$1" --loops "$2" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    local line=""
    for _ in $(seq 50); do
        line=$(head -n 1 "$tmp/out")
        [ -n "$line" ] && break
        sleep 0.1
    done
    port=$(echo "$line" | sed -n 's/^listening [^ ]*:\([0-9]*\) .*/\1/p')
    got=$(echo "$line" | sed -n 's/.*backend=\([a-z_]*\).*/\1/p')
}

# The load generator's backend is fixed for the whole table, so that rows
# differ only in the server: io_uring where it starts, else epoll.
if [ -z "$client_backend" ]; then
    start_server auto 1 ""
    client_backend=${got:-epoll}
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
fi

# Rows: 1 loop, server on core 0 and load generator on core 1; then, with
# at least 3 cores, cores-1 loops on cores 0..cores-2 and the load generator
# on the last core. With fewer cores a multi-loop server would share its cores
# with the load generator: left out, or labelled with --all-rows.
rows=("1")
multi=$((cores - 1))
if [ "$cores" -ge 3 ]; then
    rows+=("$multi")
elif [ $all_rows -eq 1 ] && [ "$cores" -ge 2 ]; then
    rows+=("$cores")
fi

window_start=0.5
window=$(awk -v d="$duration" 'BEGIN { w = d - 1; if (w < 0.5) w = d / 2; print w }')

printf '\n%-8s %5s %11s %8s %8s %9s %9s %9s %8s %6s\n' server loops "msgs/s" "p50 us" "p99 us" \
    "srv us/msg" "srv CPU" "cli CPU" "limit" errors
notes=()
for backend in io_uring epoll; do
    for loops in "${rows[@]}"; do
        spin=""
        cpin=""
        shared=0
        if [ "$cores" -ge 2 ]; then
            if [ "$loops" -lt "$cores" ]; then
                spin="taskset -c 0-$((loops - 1))"
                cpin="taskset -c $((cores - 1))"
            else
                shared=1  # --all-rows on too few cores: nobody pinned
            fi
        fi
        start_server "$backend" "$loops" "$spin"
        if [ -z "$port" ]; then
            echo "echo_server did not start: $(cat "$tmp/err")"
            kill "$pid" 2>/dev/null
            continue
        fi
        # shellcheck disable=SC2086
        $cpin "$dir/examples/echo_bench" --port "$port" --conns "$conns" --size "$size" \
            --duration "$duration" --backend "$client_backend" >"$tmp/res" 2>"$tmp/berr" &
        cpid=$!
        # Both sides' CPU over the same window inside the run (from /proc).
        sleep "$window_start"
        s0=$(cpu_ticks "$pid")
        c0=$(cpu_ticks "$cpid")
        sleep "$window"
        s1=$(cpu_ticks "$pid")
        c1=$(cpu_ticks "$cpid")
        wait "$cpid"
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null
        res=$(cat "$tmp/res")
        msgs=$(echo "$res" | sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p')
        p50=$(echo "$res" | sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p')
        p99=$(echo "$res" | sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p')
        errs=$(echo "$res" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
        # CPU used, in cores (1.00 = one core busy all the window); server
        # CPU per message over the window; the limiting side is the one whose
        # CPU is (nearly) all it may use: the client runs one thread, the
        # server one per loop.
        read -r scpu ccpu permsg limit <<<"$(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) \
            -v hz="$clk" -v w="$window" -v m="${msgs:-0}" -v loops="$loops" -v shared="$shared" \
            'BEGIN {
                sc = s / hz / w; cc = c / hz / w; n = m * w
                pm = n > 0 ? sprintf("%.2f", s / hz * 1e6 / n) : "-"
                if (shared) lim = "shared"
                else if (cc >= 0.9) lim = "client"
                else if (sc >= 0.9 * loops) lim = "server"
                else lim = "neither"
                printf "%.2f %.2f %s %s\n", sc, cc, pm, lim
            }')"
        label="$loops"
        [ "$shared" -eq 1 ] && label="$loops*"
        printf '%-8s %5s %11s %8s %8s %9s %9s %9s %8s %6s\n' "$got" "$label" "${msgs:--}" \
            "${p50:--}" "${p99:--}" "$permsg" "$scpu" "$ccpu" "$limit" "${errs:-?}"
        [ -s "$tmp/berr" ] && sed 's/^/    /' "$tmp/berr"
    done
done
echo
echo "$conns connections, $size-byte messages, ping-pong, ${duration}s per row, $cores cores;"
echo "load generator: echo_bench on $client_backend in every row (only the server changes)."
echo "srv us/msg: the server's CPU time (utime+stime, /proc/PID/stat) per echoed message."
echo "srv CPU, cli CPU: cores each side kept busy over the same ${window}s window."
echo "limit: the side whose CPU was (nearly) all it may use (client: 1 core, server: 1 per loop);"
echo "  with 'client' the msgs/s measure the load generator, compare servers by srv us/msg;"
echo "  'neither': no side had its CPU fully (waiting on each other, or other processes took"
echo "  the cores: load average $(cut -d' ' -f1-3 /proc/loadavg) when the table ended)."
if [ "$cores" -lt 3 ]; then
    if [ $all_rows -eq 1 ]; then
        echo "*: $cores loops on $cores cores: the server shares its cores with the load generator,"
        echo "   so this row measures the sharing, not how the server scales."
    else
        echo "No multi-loop row: $cores cores cannot hold a multi-loop server and the load generator"
        echo "  apart (--all-rows runs it anyway, labelled). Scaling over loops: see the README."
    fi
fi
