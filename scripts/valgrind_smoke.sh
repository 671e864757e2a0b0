#!/usr/bin/env bash
# valgrind_smoke.sh [BUILD_DIR]: the examples' smoke tests under valgrind's
# memcheck. Starts echo_server (1 and 2 loops) and, when it is built,
# http_server, each under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# drives them (echo_bench for a second; a handful of HTTP requests: GET, HEAD,
# 404, a malformed request, two pipelined requests), stops them with SIGTERM
# and requires exit status 0: no memcheck error, no definite leak, a clean
# shutdown.
#
# Every case runs on epoll. valgrind 3.19 cannot follow io_uring all the way,
# so the io_uring cases are fewer and narrower:
#   - memcheck does not see the kernel write into buffers through the ring,
#     so data received that way looks uninitialised: the io_uring cases run
#     with --undef-value-errors=no (invalid reads/writes, bad frees and leaks
#     are still errors);
#   - valgrind runs one thread at a time, and a thread blocked in
#     io_uring_enter keeps the others from running: the multi-loop case runs
#     on epoll only.
# When io_uring cannot start under valgrind at all the case is skipped.
#
# Ends with one line: `valgrind smoke: N passed, N failed, N skipped (S s)`;
# exit status 0 when nothing failed. BUILD_DIR defaults to build (made with
# meson/ninja if missing).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build=${1:-build}
need_pkgs valgrind || exit 1
if [ ! -f "$build/build.ninja" ]; then
    need_pkgs "${base_pkgs[@]}" || exit 1
    configure "$build" -Dbenchmarks=false || exit 1
fi
ninja -C "$build" -j "$(jobs)" examples/echo_server examples/echo_bench >/dev/null || exit 1
http_bin=""
# The target list is read whole before grep looks at it: `ninja | grep -q` under pipefail
# failed whenever grep's early exit cut ninja off (SIGPIPE), and http_server went unchecked.
targets=$(ninja -C "$build" -t targets all 2>/dev/null)
if grep -q '^examples/http_server/http_server:' <<<"$targets"; then
    ninja -C "$build" -j "$(jobs)" examples/http_server/http_server >/dev/null &&
        http_bin="$build/examples/http_server/http_server"
fi

tmp=$(mktemp -d /tmp/corio-valgrind.XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
skipped=0
start_all=$(date +%s)

vg=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --num-callers=30)

# start NAME BACKEND ARGS...: runs ARGS under valgrind in the background;
# waits (up to 30 s: valgrind starts slowly) for the `listening HOST:PORT` line
# and sets `port`. Returns 1 if the server did not come up.
start() {
    local name=$1 be=$2
    shift 2
    local extra=()
    [ "$be" = io_uring ] && extra=(--undef-value-errors=no)
    : >"$tmp/$name.out"
    "${vg[@]}" "${extra[@]}" --log-file="$tmp/$name.vg" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    server_pid=$!
    port=""
    local i
    for i in $(seq 1 300); do
        if grep -q '^listening ' "$tmp/$name.out"; then
            port=$(sed -n 's/^listening [^:]*:\([0-9]*\) .*/\1/p' "$tmp/$name.out" | head -1)
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# stop NAME: SIGTERM, waits up to 60 s; sets `rc` to the exit status.
stop() {
    local name=$1 i
    kill -TERM "$server_pid" 2>/dev/null
    for i in $(seq 1 600); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "   $name: did not exit within 60 s of SIGTERM" >&2
        kill -KILL "$server_pid" 2>/dev/null
    fi
    wait "$server_pid"
    rc=$?
    server_pid=""
}

# verdict NAME BACKEND DRIVEN: counts the case, shows valgrind's summary.
verdict() {
    local name=$1 be=$2 driven=$3
    if [ "$rc" -eq 0 ] && [ "$driven" -eq 1 ]; then
        passed=$((passed + 1))
        local how="full memcheck"
        [ "$be" = io_uring ] && how="memcheck without uninitialised-value checks"
        echo "   ok   $name ($how: no errors, no definite leaks, exit 0)"
        return
    fi
    failed=$((failed + 1))
    if [ "$rc" -eq 99 ]; then
        echo "   FAIL $name --backend $be: memcheck found errors:"
    else
        echo "   FAIL $name --backend $be: exit status $rc, driven=$driven"
    fi
    sed 's/^/        /' "$tmp/$name.vg" | grep -v '^        ==[0-9]*== *$' | tail -60
    tail -5 "$tmp/$name.err" | sed 's/^/        stderr: /'
}

# io_uring_refused NAME: true when the server could not start io_uring under
# valgrind (valgrind does not know some of its setup flags or opcodes).
io_uring_refused() {
    grep -qiE 'io_uring|backend' "$tmp/$1.err" && ! grep -q '^listening ' "$tmp/$1.out"
}

# ---- echo_server ---------------------------------------------------------------

echo_case() {
    local be=$1 loops=$2
    local name="echo_server-$be-loops$loops"
    if ! start "$name" "$be" "$build/examples/echo_server" --port 0 --loops "$loops" --backend "$be"; then
        [ -n "$server_pid" ] && { kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
        server_pid=""
        if [ "$be" = io_uring ] && io_uring_refused "$name"; then
            skipped=$((skipped + 1))
            echo "   skip $name: io_uring does not start under valgrind: $(tail -1 "$tmp/$name.err")"
            return
        fi
        failed=$((failed + 1))
        echo "   FAIL $name: did not start"
        tail -n 20 "$tmp/$name.err" "$tmp/$name.vg" | sed 's/^/        /'
        return
    fi
    local driven=0
    # The load generator runs natively (epoll), the server under valgrind.
    if "$build/examples/echo_bench" --port "$port" --conns 8 --size 512 --duration 1 \
        --backend epoll >"$tmp/$name.bench" 2>&1 && [ -s "$tmp/$name.bench" ]; then
        driven=1
    else
        echo "   $name: echo_bench failed: $(tail -2 "$tmp/$name.bench")"
    fi
    stop "$name"
    verdict "$name" "$be" "$driven"
}

# ---- http_server ---------------------------------------------------------------

# request PORT TEXT: sends TEXT, prints the whole answer (the server closes).
request() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}

http_case() {
    local be=$1
    local name="http_server-$be"
    mkdir -p "$tmp/root/sub"
    echo "hello from valgrind" >"$tmp/root/index.html"
    head -c 225000 /dev/urandom | base64 >"$tmp/root/sub/big.txt"  # larger than the file cache
    if ! start "$name" "$be" "$http_bin" --root "$tmp/root" --port 0 --backend "$be" --grace-ms 500; then
        [ -n "$server_pid" ] && { kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
        server_pid=""
        if [ "$be" = io_uring ] && io_uring_refused "$name"; then
            skipped=$((skipped + 1))
            echo "   skip $name: io_uring does not start under valgrind: $(tail -1 "$tmp/$name.err")"
            return
        fi
        failed=$((failed + 1))
        echo "   FAIL $name: did not start"
        tail -n 20 "$tmp/$name.err" "$tmp/$name.vg" | sed 's/^/        /'
        return
    fi
    local driven=1 r
    r=$(request "$port" 'GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ $r == "HTTP/1.1 200"* && $r == *"hello from valgrind"* ]] || { driven=0; echo "   $name: GET: ${r:0:80}"; }
    r=$(request "$port" 'HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ $r == "HTTP/1.1 200"* ]] || { driven=0; echo "   $name: HEAD: ${r:0:80}"; }
    r=$(request "$port" 'GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ $r == "HTTP/1.1 404"* ]] || { driven=0; echo "   $name: 404: ${r:0:80}"; }
    r=$(request "$port" 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n')
    [[ $r == "HTTP/1.1 400"* ]] || { driven=0; echo "   $name: smuggling attempt: ${r:0:80}"; }
    r=$(request "$port" 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ $(grep -c "HTTP/1.1 200" <<<"$r") -eq 2 ]] || { driven=0; echo "   $name: pipelined: ${r:0:80}"; }
    stop "$name"
    verdict "$name" "$be" "$driven"
}

echo "== valgrind memcheck smoke tests ($build)"
for be in epoll io_uring; do
    echo_case "$be" 1
    [ "$be" = epoll ] && echo_case "$be" 2
    if [ -n "$http_bin" ]; then
        http_case "$be"
    fi
done
[ -n "$http_bin" ] || echo "   (http_server is not built: only echo_server was checked)"
echo "valgrind smoke: $passed passed, $failed failed, $skipped skipped ($(($(date +%s) - start_all)) s)"
[ "$failed" -eq 0 ]
