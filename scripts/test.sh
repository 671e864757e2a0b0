#!/usr/bin/env bash
# scripts/test.sh: installs what is missing, builds, and runs every test on both
# backends: the suite, the suite under ASan+UBSan with a shuffled run queue,
# the multi-loop tests under TSan (built with clang, which also compiles the
# examples and the docs' snippets), the fuzz targets briefly, three consumer
# builds (CMake, pkg-config, meson subproject),
# the API reference (doxygen, no warning) and the example programs' command
# contract. Last line: `N passed, N failed`.
#
#   scripts/test.sh [--quick]     --quick: one plain build and run only
#   scripts/test.sh --busy        the plain suite with both cores kept busy by
#                                 two CPU hogs at normal priority (no test may
#                                 depend on the machine's speed)
#   scripts/test.sh --clang       the whole plain suite built with clang 14
#                                 instead of g++ 12 (build-clang); a separate
#                                 CI step, as a third full build does not fit
#                                 test.sh's time budget on 2 cores
#   CORIO_SHUFFLE=SEED            replay a shuffled run with that seed
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

quick=0
busy=0
clang=0
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        --clang)
            quick=1
            clang=1
            ;;
        --busy)
            quick=1
            busy=1
            ;;
        -h | --help)
            sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test.sh: unknown option $a (try --help)" >&2
            exit 2
            ;;
    esac
done

pkgs=("${base_pkgs[@]}")
pkgs+=(strace) # tests/examples_sim_crawl: a simulated run makes no I/O system call
pkgs+=(publicsuffix) # tests/http_public_suffix: the system's Public Suffix List
[ $quick -eq 1 ] || pkgs+=(clang libclang-rt-14-dev valgrind)
[ $quick -eq 1 ] || pkgs+=(cmake) # the consumers step
[ $quick -eq 1 ] || pkgs+=(doxygen) # the API reference step
[ $quick -eq 1 ] || pkgs+=(nginx) # tests/examples_https: the crawler against nginx over https
need_pkgs "${pkgs[@]}" || exit 1

pass=0
fail=0
summary=()

# run_suite NAME BUILD_DIR [meson test args...]: runs meson test, counts results
# per suite from the JSON log.
run_suite() {
    local name=$1 dir=$2 t=$(date +%s)
    shift 2
    echo "== $name"
    # Two tests per core: most of a test's time is waiting (sockets, child
    # processes, timers), so one per core leaves the cores half idle.
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$(( 2 * $(jobs) ))" "$@" \
        >"$dir/test-output.txt" 2>&1
    local counts
    counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys, collections
ok = collections.Counter(); bad = collections.Counter(); failed = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    name = t['name']
    suite = 'io_uring' if name.endswith('@io_uring') else 'epoll' if name.endswith('@epoll') else 'once'
    if t['result'] in ('OK', 'EXPECTEDFAIL', 'SKIP'):
        ok[suite] += 1
    else:
        bad[suite] += 1
        failed.append(t['name'] + ' ' + t['result'])
for s in sorted(set(ok) | set(bad)):
    print(f"{s}: {ok[s]} passed, {bad[s]} failed")
for f in failed:
    print("FAILED " + f)
print(f"TOTAL {sum(ok.values())} {sum(bad.values())}")
PY
)
    echo "$counts" | grep -v '^TOTAL' | sed 's/^/   /'
    local p f
    read -r _ p f <<<"$(echo "$counts" | grep '^TOTAL')"
    pass=$((pass + p))
    fail=$((fail + f))
    summary+=("$name: $p passed, $f failed ($(( $(date +%s) - t )) s)")
    if [ "$f" -ne 0 ]; then
        grep -E "^(FAILED|.*FAILED:)" -A6 "$dir/test-output.txt" | head -60
    fi
}

# suite_targets DIR SUITE: the ninja targets of the tests in SUITE.
suite_targets() {
    meson introspect "$1" --tests | python3 -c '
import json, os, sys
d, suite = sys.argv[1], sys.argv[2]
out = set()
for t in json.load(sys.stdin):
    if any(s.split(":")[-1] == suite for s in t["suite"]):
        out.add(os.path.relpath(t["cmd"][0], os.path.abspath(d)))
print(" ".join(sorted(out)))' "$1" "$2"
}

# dir_targets DIR SUBDIR: the programs defined under SUBDIR (examples, docs/examples).
dir_targets() {
    meson introspect "$1" --targets | python3 -c '
import json, os, sys
d, sub = os.path.abspath(sys.argv[1]), os.sep + sys.argv[2] + os.sep
print(" ".join(sorted(os.path.relpath(t["filename"][0], d) for t in json.load(sys.stdin)
                      if t["type"] == "executable" and sub in t["defined_in"])))' "$1" "$2"
}

# build DIR ARGS...: sets up and builds DIR; TARGETS="..." builds only those,
# where suite:NAME stands for the tests of a suite and dir:SUBDIR for the
# programs defined under SUBDIR.
build() {
    local dir=$1 targets="" t
    shift
    configure "$dir" "$@" || { echo "meson setup $dir failed"; exit 1; }
    for t in ${TARGETS:-}; do
        case $t in
            suite:*) targets+=" $(suite_targets "$dir" "${t#suite:}")" ;;
            dir:*) targets+=" $(dir_targets "$dir" "${t#dir:}")" ;;
            *) targets+=" $t" ;;
        esac
    done
    # shellcheck disable=SC2086
    if ! ninja -C "$dir" -j "$(jobs)" $targets >"$dir/build-output.txt" 2>&1; then
        grep -E "error|Error" -A3 "$dir/build-output.txt" | head -40
        echo "build in $dir failed"
        fail=$((fail + 1))
        return 1
    fi
}

# --busy: CPU hogs (busy loops at normal priority, one per core) while the
# suite runs; always stopped, whatever ends the script.
hogs=()
stop_hogs() {
    for h in "${hogs[@]}"; do
        kill "$h" 2>/dev/null
        wait "$h" 2>/dev/null
    done
    hogs=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM

start=$(date +%s)
# step_time START: seconds since START, for the summary (CI has a time budget).
step_time() { echo "$(( $(date +%s) - $1 )) s"; }
t0=$(date +%s)
# The prefix and libdir are the ones the consumers step installs with (it
# installs this tree instead of building the library again).
if [ $clang -eq 1 ]; then
    need_pkgs clang || exit 1
    # meson takes the compiler from CC/CXX when it sets up a new directory.
    if CC=clang CXX=clang++ build build-clang -Dbuildtype=debugoptimized -Dbenchmarks=false \
        -Dparts=runtime,net,fs,http,tls; then
        summary+=("build-clang built ($(step_time "$t0"))")
        run_suite "tests, clang" build-clang --no-suite peers
    fi
# -O2 with line tables only (-g1): stack traces and valgrind keep file and
# line; full debug information cost a fifth of the build's time. The tests'
# own code at -O1 (the library and examples stay at -O2): a fifth less time
# for the half of the build that is tests (which tests/meson.build compiles
# a few files to a translation unit: this script went from 1,191 s to 905 s).
# gold links the programs in two thirds of bfd's time.
elif build build-test -Dbuildtype=debugoptimized -Ddebug=false -Dcpp_args=-g1 -Dbenchmarks=false \
    -Dtest_optimization=1 -Dcpp_link_args=-fuse-ld=gold \
    -Dparts=runtime,net,fs,http,tls --prefix=/usr/local --libdir=lib -Dpkgconfig.relocatable=true; then
    summary+=("build-test built ($(step_time "$t0"))")
    if [ $busy -eq 1 ]; then
        for _ in $(seq "$(jobs)"); do
            (while :; do :; done) &
            hogs+=($!)
        done
        echo "== $(jobs) CPU hogs running (pids ${hogs[*]})"
        run_suite "tests, $(jobs) CPU hogs busy" build-test --no-suite peers
        stop_hogs
    else
        run_suite "tests" build-test --no-suite peers
    fi
fi

if [ $quick -eq 0 ]; then
    t0=$(date +%s)
    # -O0 and line tables only (-g1): a third of the compile time of -O1 -g,
    # which kept this step alone near 15 minutes on a busy 2-core machine;
    # the reports still name file and line. The header check is the plain
    # build's (it compiles, it runs nothing); gold links the programs in
    # two thirds of bfd's time.
    if build build-asan -Dbuildtype=debug -Doptimization=0 -Ddebug=false -Dcpp_args=-g1 \
        -Db_sanitize=address,undefined -Dwerror=false \
        -Db_lundef=false -Dbenchmarks=false -Dparts=runtime,net,fs,http,tls \
        -Dheader_check=false -Dcpp_link_args=-fuse-ld=gold; then
        summary+=("build-asan built ($(step_time "$t0"))")
        # One run serves two checks: the sanitizers, and a shuffled run queue
        # (code that depends on an accidental order of ready tasks fails).
        seed=${CORIO_SHUFFLE:-$(( (RANDOM << 15) | RANDOM ))}
        echo "   shuffle seed: $seed (replay: CORIO_SHUFFLE=$seed scripts/test.sh)"
        CORIO_SHUFFLE=$seed ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            run_suite "tests under ASan+UBSan, shuffled run queue (seed $seed)" build-asan
    fi
    # The TSan build is clang's (g++ builds the two above), with -Werror: the
    # library, the examples, the docs' programs and snippets must compile
    # cleanly on clang 14 too (it warns where g++ 12 does not, e.g. on a
    # Result dropped after co_await). TSan finds the same races whichever
    # compiler instruments the code. Only the multi-loop tests run.
    t0=$(date +%s)
    if CC=clang CXX=clang++ TARGETS="suite:multi dir:examples dir:docs/examples tests/docs_snippets" \
        build build-tsan-clang -Dbuildtype=debug -Doptimization=1 -Db_sanitize=thread \
        -Db_lundef=false -Dwerror=true -Dbenchmarks=false -Dparts=runtime,net,fs,http,tls; then
        summary+=("build-tsan-clang built ($(step_time "$t0"))")
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            run_suite "multi-loop tests under TSan (clang)" build-tsan-clang --suite multi
    fi
    if [ -x scripts/fuzz.sh ]; then
        echo "== fuzz targets (short runs)"
        t0=$(date +%s)
        # 3 s per target: a smoke test that each builds and runs clean; the
        # long runs are `scripts/fuzz.sh 200`, by hand.
        if scripts/fuzz.sh 3 >build-test/fuzz-output.txt 2>&1; then
            pass=$((pass + 1))
            summary+=("fuzz: 1 passed, 0 failed ($(step_time "$t0"))")
        else
            fail=$((fail + 1))
            summary+=("fuzz: 0 passed, 1 failed")
            tail -20 build-test/fuzz-output.txt
        fi
        grep -E "^fuzz" build-test/fuzz-output.txt | sed 's/^/   /'
    fi
fi

if [ $quick -eq 0 ] && [ -x scripts/test_consumers.sh ]; then
    echo "== consumers (CMake find_package, pkg-config, meson subproject)"
    cstart=$(date +%s)
    mkdir -p build-consumers
    # Installs build-test's library (no second build of it) when that built.
    from=""
    [ -f build-test/libcorio.so ] || [ -f build-test/libcorio.a ] && from=build-test
    CORIO_INSTALL_FROM=$from scripts/test_consumers.sh build-consumers >build-consumers/output.txt 2>&1
    grep '^consumer' build-consumers/output.txt | sed 's/^/   /'
    read -r p _ f _ <<<"$(tail -n 1 build-consumers/output.txt)"
    if [[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]]; then
        pass=$((pass + p))
        fail=$((fail + f))
        summary+=("consumers: $p passed, $f failed ($(( $(date +%s) - cstart )) s)")
    else
        fail=$((fail + 1))
        summary+=("consumers: 0 passed, 1 failed")
        tail -20 build-consumers/output.txt
    fi
fi

if [ $quick -eq 0 ] && [ -x scripts/docs.sh ]; then
    echo "== API reference (doxygen, no warnings)"
    dstart=$(date +%s)
    mkdir -p build-docs
    if scripts/docs.sh build-docs >build-docs/output.txt 2>&1; then
        pass=$((pass + 1))
        summary+=("API reference: 1 passed, 0 failed ($(( $(date +%s) - dstart )) s)")
    else
        fail=$((fail + 1))
        summary+=("API reference: 0 passed, 1 failed")
        tail -30 build-docs/output.txt
    fi
    grep '^docs:' build-docs/output.txt | sed 's/^/   /'
fi

if [ $clang -eq 0 ] && [ -x ../shared/tools/contract-check.sh ] && ls build-test/examples/* >/dev/null 2>&1; then
    echo "== example command contract"
    ../shared/tools/contract-check.sh build-test >build-test/contract-output.txt 2>&1
    read -r p _ f _ <<<"$(tail -n 1 build-test/contract-output.txt)"
    if [[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]]; then
        pass=$((pass + p))
        fail=$((fail + f))
        summary+=("contract: $p passed, $f failed")
        grep '^FAIL' build-test/contract-output.txt
    fi
fi

if [ $quick -eq 0 ] && [ -x scripts/valgrind_smoke.sh ] && ls build-test/examples/* >/dev/null 2>&1; then
    echo "== examples under valgrind memcheck"
    scripts/valgrind_smoke.sh build-test >build-test/valgrind-output.txt 2>&1
    vline=$(grep '^valgrind smoke:' build-test/valgrind-output.txt | tail -n 1)
    echo "   ${vline:-valgrind smoke: no result}"
    read -r p f <<<"$(echo "$vline" | sed -n 's/^valgrind smoke: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p')"
    if [[ "${p:-}" =~ ^[0-9]+$ && "${f:-}" =~ ^[0-9]+$ ]]; then
        pass=$((pass + p))
        fail=$((fail + f))
        summary+=("valgrind: $p passed, $f failed")
    else
        fail=$((fail + 1))
        summary+=("valgrind: 0 passed, 1 failed")
        tail -20 build-test/valgrind-output.txt
    fi
fi

echo
echo "== summary ($(( $(date +%s) - start )) s)"
for s in "${summary[@]}"; do echo "   $s"; done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
