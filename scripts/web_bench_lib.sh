# Shared by scripts/http_bench.sh and scripts/https_bench.sh: the web server
# benchmarks' scratch directory, server start-up and measurements.
# shellcheck shell=bash
# Callers set: SIZE, SERVER_CPU, and `me` (the script's name for messages).

# web_tmp: a scratch directory $tmp with www/index.html of SIZE bytes; every
# PID added to `pids` is stopped (TERM, then KILL) and $tmp removed on exit.
web_tmp() {
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # nginx's worker may run as another user
    pids=()
    trap web_cleanup EXIT
    mkdir -p "$tmp/www"
    head -c "$SIZE" /dev/zero | tr '\0' 'x' >"$tmp/www/index.html"
    chmod -R a+rX "$tmp/www"
}
web_cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT NAME [LOG...]: waits up to 5 s for a listener on PORT; exits
# the script naming NAME (and showing the LOGs) if none comes.
wait_port() {
    local p=$1 name=$2
    shift 2
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$me: $name did not start: $(cat "$@" 2>/dev/null)" >&2
    exit 1
}

# start_corio NAME BACKEND BINARY [ARGS...]: http_server on SERVER_CPU, one
# loop; sets port[NAME] and pid_of[NAME] from its ready line.
start_corio() {
    local name=$1 be=$2 bin=$3 line=""
    shift 3
    taskset -c "$SERVER_CPU" "$bin" --root "$tmp/www" --port 0 --loops 1 --backend "$be" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid_of[$name]=$!
    pids+=($!)
    for _ in $(seq 1 100); do
        line=$(head -n 1 "$tmp/$name.out" 2>/dev/null || true)
        [ -n "$line" ] && break
        sleep 0.05
    done
    [[ $line =~ :([0-9]+)\ backend=([a-z_]+) ]] || {
        echo "$me: $name did not start: $(cat "$tmp/$name.err")" >&2
        exit 1
    }
    port[$name]=${BASH_REMATCH[1]}
    [ "${BASH_REMATCH[2]}" = "$be" ] || echo "$me: $name runs on ${BASH_REMATCH[2]}, not $be" >&2
}

# cpu_ticks PID: utime+stime of PID and its children (nginx's worker), in ticks.
cpu_ticks() {
    local total=0 p f
    for p in "$1" $(pgrep -P "$1" || true); do
        f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
        # After "pid (comm)": field 3 is state; utime/stime are fields 14/15.
        # shellcheck disable=SC2086
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# median: the median of the numbers on stdin (space or newline separated).
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# load_run URL [ARGS...]: one run of the load generator (LOADGEN: wrk, the
# default, or http_load at LOAD_BIN) on CLIENT_CPU, CONNS connections, SECS
# seconds; prints "REQUESTS REQ_PER_S NON_2XX" read from its output.
load_run() {
    local url=$1 out
    shift
    if [ "${LOADGEN:-wrk}" = http_load ]; then
        out=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" "$url" --conns "$CONNS" --duration "$SECS" "$@") ||
            echo "$me: http_load against $url failed" >&2
        echo "$out" | sed -n 's/.*requests=\([0-9]*\).*req_per_sec=\([0-9.]*\).*non2xx=\([0-9]*\).*/\1 \2 \3/p'
    else
        out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" "$url" "$@")
        echo "$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')" \
            "$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')" \
            "$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' | grep . || echo 0)"
    fi
}

# measured_run NAME URL [ARGS...]: one load_run against NAME; prints
# "REQ_PER_S US_CPU_PER_REQUEST" (server CPU from cpu_ticks over the run).
measured_run() {
    local name=$1 url=$2 before after reqs r errs
    shift 2
    before=$(cpu_ticks "${pid_of[$name]}")
    read -r reqs r errs < <(load_run "$url" "$@")
    after=$(cpu_ticks "${pid_of[$name]}")
    [ "${errs:-0}" -gt 0 ] && echo "$me: $name: $errs non-2xx responses" >&2
    echo "${r%.*} $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
        'BEGIN { printf "%.2f", (n > 0) ? (t / hz * 1e6 / n) : 0 }')"
}
