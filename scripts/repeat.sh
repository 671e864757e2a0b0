#!/usr/bin/env bash
# scripts/repeat.sh: runs one test program (or one of its cases) many times,
# several at once, each with a shuffled run queue of its own seed, to catch a
# test that fails only now and then. Prints each failing seed with the lines
# that say why, and `N runs, F failed` last; exit status 1 if any failed.
#
#   scripts/repeat.sh TEST [CATCH_FILTER] [--runs 150] [--parallel 3]
#                     [--backend io_uring|epoll|sim] [--build build-test] [--no-shuffle]
#
#   scripts/repeat.sh examples_echo "echo_server's comparison flags*" --runs 300
#   CORIO_SHUFFLE=SEED build-test/tests/TEST     replays one failing seed
#
# Running several at once on 2 cores is the point: a test that depends on
# timing shows it under load. (Found this way: a blocking client that did not
# retry on EINTR, 20 failures in 450 runs; temporary names repeated in forked
# children, 3 in 120.) A failing run's whole output is kept in
# ${TMPDIR:-/tmp}/corio-repeat-RUN.txt (its path is printed): what a child
# process printed is there even when the lines shown here miss it.
set -u
cd "$(dirname "$0")/.."

test="" filter="" runs=150 parallel=3 backend=io_uring build=build-test shuffle=1
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --parallel) parallel=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --no-shuffle) shuffle=0; shift ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "repeat.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
        *)
            if [ -z "$test" ]; then test=$1; elif [ -z "$filter" ]; then filter=$1; else
                echo "repeat.sh: unexpected argument '$1' (try --help)" >&2; exit 2
            fi
            shift ;;
    esac
done
[ -n "$test" ] || { echo "repeat.sh: which test? (try --help)" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ && $parallel =~ ^[1-9][0-9]*$ ]] ||
    { echo "repeat.sh: --runs and --parallel want positive numbers" >&2; exit 2; }
bin=$build/tests/$test
[ -x "$bin" ] || { echo "repeat.sh: $bin not built (ninja -C $build tests/$test)" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
one() { # N: one run; its output kept only if it failed
    local seed=$(( (RANDOM << 15) | RANDOM )) args=() envs=(CORIO_BACKEND="$backend" CORIO_LOG=warn)
    [ -n "$filter" ] && args=("$filter")
    [ "$shuffle" = 1 ] && envs+=(CORIO_SHUFFLE="$seed")
    if ! env "${envs[@]}" timeout 300 "$bin" "${args[@]}" >"$out/$1.txt" 2>&1; then
        local kept="${TMPDIR:-/tmp}/corio-repeat-$1.txt"
        cp "$out/$1.txt" "$kept"
        { echo "FAILED run $1: ${envs[*]} $bin ${filter:+\"$filter\"} (output: $kept)"
          grep -E "FAILED|with expansion|^  [^ ]|error|Error" "$out/$1.txt" | head -12; } >"$out/$1.fail"
    fi
    rm -f "$out/$1.txt"
}
for i in $(seq 1 "$runs"); do
    one "$i" &
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
done
wait
failed=$(find "$out" -name '*.fail' | wc -l)
cat "$out"/*.fail 2>/dev/null
echo "$runs runs, $failed failed"
[ "$failed" -eq 0 ]
