#!/usr/bin/env bash
# bench/http_instr.sh: user-space instructions per request of http_server,
# counted by callgrind under a keep-alive wrk load. Unlike CPU time this does
# not move with the machine's load, so it shows small changes to the request
# path that a timed A/B cannot (the kernel's share is not counted).
#
#   bench/http_instr.sh [BINARY] [http_server flags...]
#   bench/http_instr.sh build-bench/examples/http_server/http_server --no-multishot
#   BACKEND=epoll bench/http_instr.sh
#
# BINARY defaults to build-bench's http_server. It serves a 612-byte
# index.html from a temporary root on one loop; wrk (-t1 -c4) warms up for
# 2 s, then callgrind's counters are zeroed, wrk runs 6 s, and the counters
# are dumped. Prints `requests=N Ir=I Ir/request=R` and keeps the callgrind
# file in /tmp/corio-http-instr/ (read it with callgrind_annotate). Needs
# valgrind and wrk (apt-get install valgrind wrk).
set -u
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

bin=${1:-build-bench/examples/http_server/http_server}
[ $# -gt 0 ] && shift
for tool in valgrind callgrind_control wrk; do
    command -v "$tool" >/dev/null || { echo "http_instr.sh: needs $tool" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "http_instr.sh: no $bin (build it first)" >&2; exit 1; }

dir=/tmp/corio-http-instr
rm -rf "$dir"
mkdir -p "$dir/www"
head -c 612 /dev/zero | tr '\0' 'x' >"$dir/www/index.html"

valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --dump-instr=no \
    "$bin" --root "$dir/www" --port 0 --loops 1 --backend "${BACKEND:-io_uring}" "$@" \
    >"$dir/server.out" 2>"$dir/valgrind.err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
port=$(ready_port "$dir/server.out" 300) ||
    { echo "http_instr.sh: the server did not start" >&2; cat "$dir/valgrind.err" >&2; exit 1; }
url="http://127.0.0.1:$port/index.html"

wrk -t1 -c4 -d2s "$url" >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
requests=$(wrk -t1 -c4 -d6s "$url" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 0.5
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
file=$dir/cg.out.1  # the one dump callgrind_control -d asked for
if [ ! -s "$file" ] || [ -z "$requests" ] || [ "$requests" -eq 0 ]; then
    echo "http_instr.sh: no dump or no requests" >&2
    exit 1
fi
ir=$(grep -m1 '^summary:\|^totals:' "$file" | awk '{print $2}')
echo "requests=$requests Ir=$ir Ir/request=$((ir / requests)) file=$file"
