#!/usr/bin/env bash
# scripts/http_bench.sh: examples/http_server (one loop, io_uring and epoll)
# against nginx (one worker, access log off) and h2o (one thread, no access
# log) serving the same small file, in the same run. Installs wrk, nginx and
# h2o (Debian) if missing.
#
#   scripts/http_bench.sh [--quick]
#   SECS=5 REPS=3 CONNS=50 SIZE=612 SERVER_CPU=0 CLIENT_CPU=1 scripts/http_bench.sh
#   BASELINE=old-build/examples/http_server/http_server scripts/http_bench.sh
#   PIPELINE=16 scripts/http_bench.sh
#   LOADGEN=http_load scripts/http_bench.sh
#
# PIPELINE=N makes wrk send N requests at a time on each connection (HTTP/1.1
# pipelining, as TechEmpower's plaintext test does): wrk's cost per request
# falls by about N, so the servers, not wrk, run out of CPU and requests/s
# ranks them directly. Unset (or 1): one request at a time, keep-alive.
#
# LOADGEN=http_load drives the servers with examples/http_load (corio's own
# keep-alive client, one loop, io_uring; the same -c and -d, PIPELINE as its
# --pipeline) instead of wrk. It checks every response's framing and spends
# less than half wrk's CPU per request, so on 2 cores the server, not the client,
# runs out of CPU first and requests/s measures the server. wrk stays the
# default and the reference: run both and quote both.
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
# shellcheck source=scripts/web_bench_lib.sh
source scripts/web_bench_lib.sh
me=http_bench.sh

SECS=${SECS:-5}
REPS=${REPS:-3}
CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-1}
LOADGEN=${LOADGEN:-wrk}
case $LOADGEN in
    wrk | http_load) ;;
    *) echo "http_bench.sh: LOADGEN is wrk or http_load, not '$LOADGEN'" >&2; exit 2 ;;
esac
SIZE=${SIZE:-612}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-$(($(jobs) - 1))}
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
targets=(examples/http_server/http_server)
[ "$LOADGEN" = http_load ] && targets+=(examples/http_load)
if [ -z "${BUILD:-}" ] || ! ninja -C "$BUILD" "${targets[@]}" >/dev/null 2>&1; then
    BUILD=build-httpbench
    configure "$BUILD" -Dbuildtype=release -Dtests=false -Dexamples=true -Dbenchmarks=false
    ninja -C "$BUILD" -j "$(jobs)" "${targets[@]}" >/dev/null
fi
BIN="$BUILD/examples/http_server/http_server"
LOAD_BIN="$BUILD/examples/http_load"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/sbin/h2o)

web_tmp
load_args=()
if [ "$LOADGEN" = http_load ]; then
    load_args=(--pipeline "$PIPELINE")
elif [ "$PIPELINE" -gt 1 ]; then
    # wrk counts responses, so requests/s counts each pipelined request.
    cat >"$tmp/pipeline.lua" <<'EOF2'
init = function(args)
  local batch = {}
  for i = 1, tonumber(args[1]) do batch[i] = wrk.format(nil) end
  req = table.concat(batch)
end
request = function() return req end
EOF2
    load_args=(-s "$tmp/pipeline.lua" -- "$PIPELINE")
fi

# ---- servers -------------------------------------------------------------------
declare -A port pid_of
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
    wait_port "$p" nginx "$tmp/nginx.err" "$tmp/nginx/error.log"
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
    wait_port "$p" h2o "$tmp/h2o.err" "$tmp/h2o/error.log"
}

servers=(corio_io_uring corio_epoll nginx h2o)
start_corio corio_io_uring io_uring "$BIN"
start_corio corio_epoll epoll "$BIN"
start_nginx
start_h2o
if [ -n "${BASELINE:-}" ]; then
    servers+=(baseline)
    start_corio baseline io_uring "$BASELINE"
fi

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
    SECS=1 load_run "$(url "$s")" "${load_args[@]}" >/dev/null
done

declare -A rps cpu
for rep in $(seq 1 "$REPS"); do
    for s in "${servers[@]}"; do
        read -r r us < <(measured_run "$s" "$(url "$s")" "${load_args[@]}")
        rps[$s]="${rps[$s]:-} $r"
        cpu[$s]="${cpu[$s]:-} $us"
        echo "round $rep: $s $r req/s, $us us CPU/req" >&2
    done
done


nginx_rps=$(echo "${rps[nginx]}" | median)
h2o_rps=$(echo "${rps[h2o]}" | median)
if [ "$LOADGEN" = wrk ]; then
    gen="wrk -t1 -c$CONNS -d${SECS}s"
else
    gen="http_load --conns $CONNS --duration $SECS (corio's client, io_uring)"
fi
echo "HTTP: $gen, GET of a $SIZE-byte file, keep-alive$([ "$PIPELINE" -gt 1 ] && echo ", $PIPELINE requests pipelined per connection"); server on CPU $SERVER_CPU, $LOADGEN on CPU $CLIENT_CPU; median of $REPS interleaved runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
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
# Paired ratios: each round's servers ran back to back, so a slow phase of a
# shared machine hits them alike; the median of the per-round ratios is
# steadier than the ratio of the medians above.
paired() { # A B FIELD(rps|cpu): median [min-max] of the per-round A/B (cpu: B/A)
    local -a a b
    local field=$3
    if [ "$field" = rps ]; then
        read -r -a a <<<"${rps[$1]}"
        read -r -a b <<<"${rps[$2]}"
    else
        read -r -a b <<<"${cpu[$1]}"
        read -r -a a <<<"${cpu[$2]}"
    fi
    local rs=() i
    for i in "${!a[@]}"; do
        rs+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.2f", (y > 0) ? x / y : 0 }')")
    done
    local med lo hi
    med=$(printf '%s\n' "${rs[@]}" | median)
    lo=$(printf '%s\n' "${rs[@]}" | sort -g | head -n 1)
    hi=$(printf '%s\n' "${rs[@]}" | sort -g | tail -n 1)
    printf '%.2f [%s-%s]' "$med" "$lo" "$hi"
}
for s in corio_io_uring corio_epoll; do
    [ -n "${rps[$s]:-}" ] || continue
    echo "paired per round, $s: req/s vs nginx $(paired "$s" nginx rps), vs h2o $(paired "$s" h2o rps); CPU per request nginx/corio $(paired "$s" nginx cpu), h2o/corio $(paired "$s" h2o cpu)"
done
