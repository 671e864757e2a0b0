#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*.cpp) with clang and runs each for SECONDS (default 20).
#
#   scripts/fuzz.sh [SECONDS]
#
# The targets are compiled directly with clang++ (-fsanitize=fuzzer,address,undefined) from the
# pure sources they test (http/codec, http/url, http/router, http/websocket_frames and
# websocket_deflate and http/content_coding (with zlib), http/sse_codec, http/form,
# http/multipart_codec, http/cookie_jar, http/public_suffix, net/dns_message, the crawler's HTML
# links), so this
# needs neither meson nor liburing. Output
# goes to build-fuzz/ (override with FUZZ_DIR): binaries, the grown corpora (corpus/<target>/;
# the seeds in fuzz/corpus/ are only read) and crash reproducers (crashes/). Prints the
# executions per target; exits non-zero when a target crashes or fails an invariant.
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX_FUZZ:-clang++}
if ! command -v "$cxx" >/dev/null; then
    echo "fuzz.sh: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi
mkdir -p "$out/obj" "$out/crashes"

common=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I"$root/include"
        -fno-sanitize-recover=all)
# The code under test gets coverage instrumentation without libFuzzer's main.
# (The crawler's HTML links scanner is a header: fuzz/html_links.cpp compiles it in, with url.)
declare -A sources=([codec]=http/codec [url]=http/url [router]=http/router [dns]=net/dns_message
                   [websocket]=http/websocket_frames [deflate]=http/websocket_deflate [coding]=http/content_coding
                   [sse]=http/sse_codec [form]=http/form [multipart]=http/multipart_codec
                   [jar]=http/cookie_jar [psl]=http/public_suffix
                   [result]=runtime/result)
# Up to PARALLEL compiles and runs at a time (default: one per core); each
# run's time is SECONDS whatever the machine, so runs side by side only
# share the cores.
parallel=${PARALLEL:-$(nproc 2>/dev/null || echo 2)}
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done; }

compile_obj() { # SRC
    local obj="$out/obj/$1.o" path="$root/${sources[$1]}"
    if [ ! -f "$obj" ] || [ "$path.cpp" -nt "$obj" ] || [ "$path.hpp" -nt "$obj" ]; then
        echo "compile ${sources[$1]}.cpp"
        "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$path.cpp" -o "$obj"
    fi
}
rm -f "$out/build-failed"
for src in codec url router dns websocket deflate coding sse form multipart jar psl result; do
    throttle
    { compile_obj "$src" || touch "$out/build-failed"; } &
done
wait
[ ! -f "$out/build-failed" ] || { echo "fuzz.sh: a compile failed" >&2; exit 1; }

declare -A needs=([http_request]=codec [http_response]=codec [url]=url [html_links]=url
                  [http_router]="router codec" [http_chunked]=codec [dns_response]=dns
                  [websocket_frames]="websocket deflate" [content_coding]="coding result"
                  [sse]="sse result" [form]=form [multipart]="multipart codec result"
                  [cookie_jar]="jar url codec result" [public_suffix]="psl result")
targets=(http_request http_response url html_links http_router http_chunked dns_response
         websocket_frames content_coding sse form multipart cookie_jar public_suffix)
for t in "${targets[@]}"; do
    throttle
    echo "build fuzz_$t"
    objs=()
    for o in ${needs[$t]}; do objs+=("$out/obj/$o.o"); done
    { "$cxx" "${common[@]}" -fsanitize=fuzzer,address,undefined "$root/fuzz/$t.cpp" \
        "${objs[@]}" -lz -lfmt -o "$out/fuzz_$t" || touch "$out/build-failed"; } &
done
wait
[ ! -f "$out/build-failed" ] || { echo "fuzz.sh: a fuzz target did not build" >&2; exit 1; }

# run_one TARGET: one timed run; its summary line goes to fuzz_TARGET.result.
run_one() {
    local t=$1 log="$out/fuzz_$1.log" rc execs cov
    mkdir -p "$out/corpus/$t"
    set +e
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "$root/fuzz/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
    if [ "$rc" -ne 0 ]; then
        echo "$t: FAILED (exit $rc) after ${execs:-?} executions; see $log" >"$out/fuzz_$t.result"
        grep -E 'ERROR|invariant violated|SUMMARY|Test unit written' "$log" | head -n 5 || true
    else
        echo "$t: ${execs:-?} executions, ${cov:-cov: ?}" >"$out/fuzz_$t.result"
    fi
}
for t in "${targets[@]}"; do
    throttle
    echo "run fuzz_$t for ${seconds}s"
    rm -f "$out/fuzz_$t.result"
    run_one "$t" &
done
wait

status=0
summary=()
for t in "${targets[@]}"; do
    line=$(cat "$out/fuzz_$t.result" 2>/dev/null || echo "$t: FAILED (no result)")
    case $line in *FAILED*) status=1 ;; esac
    summary+=("$line")
done

echo
for line in "${summary[@]}"; do echo "$line"; done
exit $status
