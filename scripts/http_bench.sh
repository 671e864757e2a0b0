#!/usr/bin/env bash
# scripts/http_bench.sh: examples/http_server (one loop, io_uring and epoll)
# against nginx (one worker, access log off) and h2o (one thread, no access
# log) serving the same small file, in the same run. Installs wrk, nginx and
# h2o (Debian) if missing.
#
#   scripts/http_bench.sh [--quick]
#   SECS=5 REPS=3 CONNS=50 SIZE=612 SERVER_CPU=0 CLIENT_CPU=1 scripts/http_bench.sh
#   BASELINE=old-build/examples/http_server/http_server scripts/http_bench.sh
#
# BASELINE adds another http_server binary (io_uring), e.g. one built from an
# older commit, to compare against in the same interleaved rounds.
#
# Every server is pinned to SERVER_CPU, wrk (one thread) to CLIENT_CPU. The
# runs are interleaved (each server once per round, REPS rounds) and the
# table gives the median requests/s, the ratio to nginx, and the server's CPU
# time per request: utime+stime from /proc/PID/stat over the run (nginx:
# master + worker) divided by the requests wrk counted. On a 2-core machine
# wrk may saturate before a server does; the CPU column still ranks them.
#
# nginx gets its best static-file setup for this test: sendfile, tcp_nopush,
# open_file_cache (descriptors and stat results kept 1 s, like http_server's
# own revalidation), and keepalive_requests raised so that wrk's connections
# are never closed under it. http_server runs with its defaults (small files
# cached in memory, re-checked after 1 s).
#   --quick   2 s runs, 1 round
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

SECS=${SECS:-5}
REPS=${REPS:-3}
CONNS=${CONNS:-50}
SIZE=${SIZE:-612}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-$(($(jobs) - 1))}
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "http_bench.sh: unknown option $a (try --help)" >&2; exit 2 ;;
    esac
done
if [ "${QUICK:-0}" = 1 ]; then
    SECS=2
    REPS=1
fi

need_pkgs "${base_pkgs[@]}" wrk nginx h2o || exit 1

# Use BUILD's http_server if BUILD is given and can build it; otherwise an
# optimised build of our own.
BIN=""
if [ -n "${BUILD:-}" ] && ninja -C "$BUILD" examples/http_server/http_server >/dev/null 2>&1; then
    BIN="$BUILD/examples/http_server/http_server"
else
    BUILD=build-httpbench
    configure "$BUILD" -Dbuildtype=release -Dtests=false -Dexamples=true -Dbenchmarks=false
    ninja -C "$BUILD" -j "$(jobs)" examples/http_server/http_server >/dev/null
    BIN="$BUILD/examples/http_server/http_server"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/sbin/h2o)

tmp=$(mktemp -d)
chmod 755 "$tmp"  # nginx's worker may run as another user
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/www"
head -c "$SIZE" /dev/zero | tr '\0' 'x' >"$tmp/www/index.html"
chmod -R a+rX "$tmp/www"

# ---- servers -------------------------------------------------------------------
declare -A port pid_of
start_corio() { # NAME BACKEND [BINARY]
    local name=$1 be=$2 bin=${3:-$BIN} line
    taskset -c "$SERVER_CPU" "$bin" --root "$tmp/www" --port 0 --loops 1 --backend "$be" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid_of[$name]=$!
    pids+=($!)
    for _ in $(seq 1 100); do
        line=$(head -n 1 "$tmp/$name.out" 2>/dev/null || true)
        [ -n "$line" ] && break
        sleep 0.05
    done
    [[ $line =~ :([0-9]+)\ backend=([a-z_]+) ]] || { echo "http_bench.sh: $name did not start: $(cat "$tmp/$name.err")" >&2; exit 1; }
    port[$name]=${BASH_REMATCH[1]}
    if [ "${BASH_REMATCH[2]}" != "$be" ]; then
        echo "http_bench.sh: $name runs on ${BASH_REMATCH[2]}, not $be" >&2
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() {
    local p
    p=$(free_port)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    types { text/html html; }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    open_file_cache max=1000 inactive=20s;
    open_file_cache_valid 1s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$p;
        root $tmp/www;
    }
}
EOF
    taskset -c "$SERVER_CPU" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx.err" &
    pid_of[nginx]=$!
    pids+=($!)
    port[nginx]=$p
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "http_bench.sh: nginx did not start: $(cat "$tmp/nginx.err" "$tmp/nginx/error.log" 2>/dev/null)" >&2
    exit 1
}

# h2o: one thread, no access log (none is configured), the same file.
start_h2o() {
    local p user_line=""
    p=$(free_port)
    mkdir -p "$tmp/h2o"
    # h2o refuses to run as root without dropping privileges.
    [ "$(id -u)" = 0 ] && user_line="user: nobody"
    cat >"$tmp/h2o/h2o.conf" <<EOF
num-threads: 1
$user_line
error-log: $tmp/h2o/error.log
listen:
  host: 127.0.0.1
  port: $p
hosts:
  default:
    paths:
      /:
        file.dir: $tmp/www
EOF
    taskset -c "$SERVER_CPU" "$H2O" -c "$tmp/h2o/h2o.conf" >"$tmp/h2o.out" 2>"$tmp/h2o.err" &
    pid_of[h2o]=$!
    pids+=($!)
    port[h2o]=$p
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "http_bench.sh: h2o did not start: $(cat "$tmp/h2o.err" "$tmp/h2o/error.log" 2>/dev/null)" >&2
    exit 1
}

# cpu_ticks PID: utime+stime of PID and its children processes (nginx's worker).
cpu_ticks() {
    local total=0 p f
    for p in "$1" $(pgrep -P "$1" || true); do
        f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
        # After "pid (comm)": field 3 is state; utime/stime are fields 14/15.
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

servers=(corio_io_uring corio_epoll nginx h2o)
start_corio corio_io_uring io_uring
start_corio corio_epoll epoll
start_nginx
start_h2o
if [ -n "${BASELINE:-}" ]; then
    servers+=(baseline)
    start_corio baseline io_uring "$BASELINE"
fi

hz=$(getconf CLK_TCK)
url() { echo "http://127.0.0.1:${port[$1]}/index.html"; }

# Sanity: every server answers with the file.
for s in "${servers[@]}"; do
    got=$(curl -s "$(url "$s")" | wc -c 2>/dev/null || true)
    if [ -n "$got" ] && [ "$got" != "$SIZE" ]; then
        echo "http_bench.sh: $s answered $got bytes, not $SIZE" >&2
        exit 1
    fi
done

# Warm up (caches, page faults, TCP).
for s in "${servers[@]}"; do
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d1s "$(url "$s")" >/dev/null
done

declare -A rps cpu
for rep in $(seq 1 "$REPS"); do
    for s in "${servers[@]}"; do
        before=$(cpu_ticks "${pid_of[$s]}")
        out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" "$(url "$s")")
        after=$(cpu_ticks "${pid_of[$s]}")
        reqs=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
        r=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
        errs=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p')
        [ -n "$errs" ] && echo "http_bench.sh: $s: $errs non-2xx responses" >&2
        us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", (n > 0) ? (t / hz * 1e6 / n) : 0 }')
        rps[$s]="${rps[$s]:-} ${r%.*}"
        cpu[$s]="${cpu[$s]:-} $us"
        echo "round $rep: $s ${r%.*} req/s, $us us CPU/req" >&2
    done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

nginx_rps=$(echo "${rps[nginx]}" | median)
h2o_rps=$(echo "${rps[h2o]}" | median)
echo "HTTP: wrk -t1 -c$CONNS -d${SECS}s, GET of a $SIZE-byte file, keep-alive; server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; median of $REPS interleaved runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %12s %10s %10s %16s   %s\n' server "req/s" "vs nginx" "vs h2o" "CPU us/request" "runs (req/s)"
for s in "${servers[@]}"; do
    m=$(echo "${rps[$s]}" | median)
    c=$(echo "${cpu[$s]}" | median)
    ratio=$(awk -v a="$m" -v b="$nginx_rps" 'BEGIN { printf "%.2f", (b > 0) ? (a / b) : 0 }')
    ratio_h2o=$(awk -v a="$m" -v b="$h2o_rps" 'BEGIN { printf "%.2f", (b > 0) ? (a / b) : 0 }')
    name=$s
    case $s in
        corio_io_uring) name="http_server io_uring" ;;
        corio_epoll) name="http_server epoll" ;;
        nginx) name="nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///')" ;;
        h2o) name="h2o $("$H2O" --version 2>&1 | sed -n 's/^h2o version //p' | head -n 1)" ;;
        baseline) name="baseline io_uring" ;;
    esac
    printf '%-22s %12s %10s %10s %16s  %s\n' "$name" "$m" "$ratio" "$ratio_h2o" "$c" "${rps[$s]}"
done
