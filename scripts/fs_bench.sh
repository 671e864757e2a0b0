#!/usr/bin/env bash
# Random 4 KiB reads from a page-cached file at queue depth 1 and 32:
# corio on io_uring and on epoll (with and without the page-cache fast path,
# with registered buffers, and without the registered descriptor) against
# fio's io_uring engine with the same settings, in the same run. Installs
# fio (Debian) if missing.
#
#   scripts/fs_bench.sh                 # 256 MiB file, 3 s per run, 3 rounds
#   SECS=5 ROUNDS=5 CPU=0 SIZE_MIB=512 scripts/fs_bench.sh
#   BUILD=build-bench scripts/fs_bench.sh   # that build's fs_bench (else build-fsbench)
#
# Every run is pinned to one core (CPU, default the last one); rounds are
# interleaved (every config once per round) and the table shows the median.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-256}
CPU=${CPU:-$(($(jobs) - 1))}
FILE=${FILE:-/tmp/corio-fs-bench.dat}

need_pkgs "${base_pkgs[@]}" fio || exit 1

# BUILD's fs_bench if BUILD is given and can build it (its options are left
# as they are); otherwise an optimised build of our own.
if [ -z "${BUILD:-}" ] || ! ninja -C "$BUILD" -j "$(jobs)" bench/fs/fs_bench >/dev/null 2>&1; then
    BUILD=build-fsbench
    configure "$BUILD" -Dbuildtype=release -Dtests=false -Dexamples=false -Dbenchmarks=true
    ninja -C "$BUILD" -j "$(jobs)" bench/fs/fs_bench >/dev/null
fi
BENCH="$BUILD/bench/fs/fs_bench"

"$BENCH" --file "$FILE" --size "$SIZE_MIB" --prepare-only
trap 'rm -f "$FILE"' EXIT

# corio NAME DEPTH ARGS...: one run; prints reads/s.
corio() {
    local depth=$2
    shift 2
    # fs_bench reads the file once before measuring, so it is cached.
    taskset -c "$CPU" "$BENCH" --file "$FILE" --size "$SIZE_MIB" --depth "$depth" \
        --seconds "$SECS" "$@" | sed -n 's/.*reads_per_sec=\([0-9]*\).*/\1/p'
}

# fio DEPTH ARGS...: one run; prints reads/s. --invalidate=0: fio would
# otherwise drop the file from the page cache before starting.
fio_run() {
    local depth=$1
    shift
    cat "$FILE" >/dev/null
    taskset -c "$CPU" fio --name=randread --filename="$FILE" --size="${SIZE_MIB}M" \
        --rw=randread --bs=4k --direct=0 --invalidate=0 --norandommap --randrepeat=0 \
        --iodepth="$depth" --runtime="$SECS" --time_based --output-format=json "$@" 2>/dev/null |
        python3 -c 'import json,sys; t=sys.stdin.read(); print(round(json.loads(t[t.index("{"):])["jobs"][0]["read"]["iops"]))'
}

configs=(
    "corio io_uring|corio io_uring --backend io_uring --fast-path on"
    "corio io_uring, no registered file|corio io_uring --backend io_uring --fast-path on --registered-file off"
    "corio io_uring, no fast path|corio io_uring --backend io_uring --fast-path off"
    "corio io_uring, no fast path, fixed bufs|corio io_uring --backend io_uring --fast-path off --fixed"
    "corio epoll|corio epoll --backend epoll --fast-path on"
    "corio epoll, no fast path (pool)|corio epoll --backend epoll --fast-path off"
    "fio io_uring|fio_run --ioengine=io_uring"
    "fio io_uring, fixedbufs+registerfiles+batch|fio_run --ioengine=io_uring --fixedbufs --registerfiles BATCH"
    "fio psync (plain pread)|fio_run --ioengine=psync"
)

results=$(mktemp)
trap 'rm -f "$FILE" "$results"' EXIT
for round in $(seq "$ROUNDS"); do
    for depth in 1 32; do
        for c in "${configs[@]}"; do
            name=${c%%|*}
            cmd=${c#*|}
            cmd=${cmd//BATCH/--iodepth_batch_submit=$depth --iodepth_batch_complete_max=$depth}
            read -r -a argv <<<"$cmd"
            if [ "${argv[0]}" = corio ]; then
                v=$(corio "${argv[1]}" "$depth" "${argv[@]:2}")
            else
                v=$(fio_run "$depth" "${argv[@]:1}")
            fi
            printf '%s\t%s\t%s\n' "$depth" "$name" "$v" >>"$results"
        done
    done
    echo "round $round/$ROUNDS done" >&2
done

python3 - "$results" "$SECS" "$ROUNDS" "$SIZE_MIB" "$CPU" <<'EOF'
import statistics, sys
path, secs, rounds, size, cpu = sys.argv[1:]
runs = {}
order = []
for line in open(path):
    depth, name, v = line.rstrip("\n").split("\t")
    key = (int(depth), name)
    if key not in runs:
        order.append(key)
    runs.setdefault(key, []).append(int(v))
med = {k: statistics.median(v) for k, v in runs.items()}
print(f"random 4 KiB reads, page-cached {size} MiB file, 1 core (cpu {cpu}), "
      f"{secs} s x {rounds} rounds, median reads/s")
print()
print(f"| depth | config | reads/s | vs fio io_uring | vs fio io_uring tuned |")
print(f"|---:|---|---:|---:|---:|")
for key in order:
    depth, name = key
    fio = med[(depth, "fio io_uring")]
    tuned = med[(depth, "fio io_uring, fixedbufs+registerfiles+batch")]
    print(f"| {depth} | {name} | {med[key]:,.0f} | {med[key] / fio:.2f}x | {med[key] / tuned:.2f}x |")
# The same comparison paired within each round (both runs met the same load).
print()
for depth in sorted({d for d, _ in order}):
    a = runs.get((depth, "corio io_uring"), [])
    t = runs.get((depth, "fio io_uring, fixedbufs+registerfiles+batch"), [])
    r = sorted(x / y for x, y in zip(a, t) if y > 0)
    if r:
        print(f"depth {depth}, corio io_uring / fio tuned paired per round: median "
              f"{statistics.median(r):.2f} [{r[0]:.2f}-{r[-1]:.2f}]")
EOF
