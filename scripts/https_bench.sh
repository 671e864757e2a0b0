#!/usr/bin/env bash
# scripts/https_bench.sh: examples/http_server over https (--cert/--key, one
# loop, io_uring and epoll) against nginx (one worker, access log off) with
# the same certificate (ECDSA P-256, made here by a throwaway CA), TLS 1.3 and
# OpenSSL's default cipher on both, serving the same small file. Two modes:
# keep-alive (many requests per connection) and one request per connection
# (`Connection: close`: a handshake per request, so req/s there is
# handshakes/s). Installs wrk and nginx (Debian) if missing.
#
#   scripts/https_bench.sh [--quick]
#   SECS=5 REPS=3 CONNS=50 SIZE=612 SERVER_CPU=0 CLIENT_CPU=1 scripts/https_bench.sh
#
# Servers are pinned to SERVER_CPU, wrk (one thread) to CLIENT_CPU; runs are
# interleaved (each server once per round, REPS rounds); the table gives the
# median requests/s, the ratio to nginx, and the server's CPU time per request
# (utime+stime from /proc/PID/stat over the run, divided by wrk's count). On a
# 2-core machine wrk saturates first: the CPU column ranks the servers.
#   --quick   2 s runs, 1 round
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=scripts/web_bench_lib.sh
source scripts/web_bench_lib.sh
LOADGEN=wrk # http_load speaks no TLS
me=https_bench.sh

SECS=${SECS:-5}
REPS=${REPS:-3}
CONNS=${CONNS:-50}
SIZE=${SIZE:-612}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-$(($(jobs) - 1))}
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "https_bench.sh: unknown option $a (try --help)" >&2; exit 2 ;;
    esac
done
if [ "${QUICK:-0}" = 1 ]; then
    SECS=2
    REPS=1
fi

need_pkgs "${base_pkgs[@]}" wrk nginx || exit 1

# Use BUILD's http_server if BUILD is given and can build it (bench.sh passes
# its build-bench); otherwise an optimised build of our own.
if [ -n "${BUILD:-}" ] && ninja -C "$BUILD" examples/http_server/http_server >/dev/null 2>&1; then
    :
else
    BUILD=build-httpsbench
    configure "$BUILD" -Dbuildtype=release -Dtests=false -Dexamples=true -Dbenchmarks=false
    nice -n 10 ninja -C "$BUILD" -j "$(jobs)" examples/http_server/http_server >/dev/null
fi
BIN="$BUILD/examples/http_server/http_server"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

web_tmp

# The certificate: a throwaway CA signs localhost/127.0.0.1 (ECDSA P-256).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 \
    -subj /CN=bench-ca 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/key.pem" -out "$tmp/cert.csr" -subj /CN=localhost 2>/dev/null
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tmp/san.cnf"
openssl x509 -req -in "$tmp/cert.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 2 -out "$tmp/cert.pem" -extfile "$tmp/san.cnf" 2>/dev/null
chmod a+r "$tmp"/*.pem

declare -A port pid_of
start_tls() { # NAME BACKEND: http_server with the certificate; its ready line says tls=on
    start_corio "$1" "$2" "$BIN" --cert "$tmp/cert.pem" --key "$tmp/key.pem"
    grep -q 'tls=on' "$tmp/$1.out" || { echo "$me: $1 does not say tls=on" >&2; exit 1; }
}
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
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    open_file_cache max=1000 inactive=20s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    server {
        listen 127.0.0.1:$p ssl;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;
        root $tmp/www;
    }
}
EOF
    taskset -c "$SERVER_CPU" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
        -e "$tmp/nginx/error.log" 2>"$tmp/nginx.err" &
    pid_of[nginx]=$!
    pids+=($!)
    port[nginx]=$p
    wait_port "$p" nginx "$tmp/nginx.err" "$tmp/nginx/error.log"
}

servers=(corio_io_uring corio_epoll nginx)
start_tls corio_io_uring io_uring
start_tls corio_epoll epoll
start_nginx
url() { echo "https://127.0.0.1:${port[$1]}/index.html"; }

for s in "${servers[@]}"; do
    got=$(curl -s --cacert "$tmp/ca.pem" "$(url "$s")" | wc -c || true)
    [ "$got" = "$SIZE" ] || { echo "https_bench.sh: $s answered $got bytes, not $SIZE" >&2; exit 1; }
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d1s "$(url "$s")" >/dev/null
done

declare -A rps cpu
for mode in keepalive close; do
    hdr=()
    [ $mode = close ] && hdr=(-H "Connection: close")
    for rep in $(seq 1 "$REPS"); do
        for s in "${servers[@]}"; do
            read -r r us < <(measured_run "$s" "$(url "$s")" "${hdr[@]}")
            rps[$mode.$s]="${rps[$mode.$s]:-} $r"
            cpu[$mode.$s]="${cpu[$mode.$s]:-} $us"
            echo "$mode round $rep: $s $r req/s, $us us CPU/req" >&2
        done
    done
done

echo "HTTPS: wrk -t1 -c$CONNS -d${SECS}s, GET of a $SIZE-byte file, TLS 1.3, ECDSA P-256; server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; median of $REPS interleaved runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-22s %12s %10s %16s   %s\n' mode server "req/s" "vs nginx" "CPU us/request" "runs (req/s)"
for mode in keepalive close; do
    ng=$(echo "${rps[$mode.nginx]}" | median)
    for s in "${servers[@]}"; do
        m=$(echo "${rps[$mode.$s]}" | median)
        c=$(echo "${cpu[$mode.$s]}" | median)
        ratio=$(awk -v a="$m" -v b="$ng" 'BEGIN { printf "%.2f", (b > 0) ? (a / b) : 0 }')
        printf '%-10s %-22s %12s %10s %16s  %s\n' "$mode" "$s" "$m" "$ratio" "$c" "${rps[$mode.$s]}"
    done
done
