#!/usr/bin/env bash
# scripts/test_consumers.sh [WORK_DIR]: builds tests/consumers/consumer.cpp three
# ways against corio as another project would, runs each, and prints one line
# per way ("consumer <way>: ok|FAILED") and last `N passed, N failed`:
#   cmake       find_package(corio 0.2 CONFIG REQUIRED) on a fresh `meson install --destdir`
#   pkg-config  `pkg-config --cflags --libs corio` and a plain g++ line, same install
#   subproject  a meson project with subprojects/corio -> this source tree
# The install comes from a release build of the library only (no tests,
# examples or benchmarks). WORK_DIR defaults to build-consumers.
# CORIO_INSTALL_FROM=BUILD_DIR installs from that already-built tree instead
# (configured with --prefix=/usr/local --libdir=lib -Dpkgconfig.relocatable=true,
# as scripts/test.sh does for build-test): one library build fewer.
set -u
cd "$(dirname "$0")/.." || exit 1
src=$(pwd)
work=${1:-build-consumers}
mkdir -p "$work"
work=$(cd "$work" && pwd)
log=$work/log.txt
: >"$log"
jobs=$(nproc 2>/dev/null || echo 2)
pass=0
fail=0

result() { # NAME OK(0/1)
    if [ "$2" -eq 0 ]; then
        echo "consumer $1: ok ($(tail -n 1 "$work/$1.out" 2>/dev/null))"
        pass=$((pass + 1))
    else
        echo "consumer $1: FAILED (see $log)"
        fail=$((fail + 1))
    fi
}

# The install tree: prefix /usr/local, staged under $work/destdir. corio.pc is
# relocatable (pkgconfig.relocatable: its prefix is found from where it lies),
# so plain pkg-config works on the staged tree.
dest=$work/destdir
prefix=$dest/usr/local
rm -rf "$dest"
installed=1
if [ -n "${CORIO_INSTALL_FROM:-}" ]; then
    meson install -C "$CORIO_INSTALL_FROM" --no-rebuild --destdir "$dest" >>"$log" 2>&1 || installed=0
else {
    if [ -f "$work/lib/build.ninja" ]; then
        meson setup --reconfigure "$work/lib" "$src" --buildtype=release --prefix=/usr/local --libdir=lib -Dpkgconfig.relocatable=true \
            -Dtests=false -Dexamples=false -Dbenchmarks=false
    else
        meson setup "$work/lib" "$src" --buildtype=release --prefix=/usr/local --libdir=lib -Dpkgconfig.relocatable=true \
            -Dtests=false -Dexamples=false -Dbenchmarks=false
    fi &&
        ninja -C "$work/lib" -j "$jobs" &&
        meson install -C "$work/lib" --no-rebuild --destdir "$dest"
} >>"$log" 2>&1 || installed=0
fi
[ $installed -eq 1 ] || echo "consumers: building or installing corio failed (see $log)"

# 1. CMake find_package.
ok=1
if [ $installed -eq 1 ]; then
    rm -rf "$work/cmake"
    {
        cmake -S tests/consumers/cmake -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_PREFIX_PATH="$prefix" &&
            ninja -C "$work/cmake" &&
            "$work/cmake/consumer" >"$work/cmake.out"
    } >>"$log" 2>&1 && ok=0
fi
result cmake $ok

# 2. pkg-config and a plain compiler line.
ok=1
if [ $installed -eq 1 ]; then
    # shellcheck disable=SC2086
    {
        flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs corio) &&
            echo "pkg-config: $flags" &&
            g++ -std=c++20 -O2 tests/consumers/consumer.cpp -o "$work/pkgconfig-consumer" $flags \
                -Wl,-rpath,"$prefix/lib" &&
            "$work/pkgconfig-consumer" >"$work/pkg-config.out"
    } >>"$log" 2>&1 && ok=0
fi
result pkg-config $ok

# 3. A meson subproject (symlinked into a copy of the consumer project).
ok=1
proj=$work/meson-project
rm -rf "$proj"
mkdir -p "$proj/subprojects"
cp tests/consumers/meson/meson.build "$proj/"
cp tests/consumers/consumer.cpp "$proj/"
ln -s "$src" "$proj/subprojects/corio"
if [ -f "$work/meson/build.ninja" ]; then
    meson setup --reconfigure "$work/meson" "$proj" --buildtype=release --force-fallback-for=corio
else
    meson setup "$work/meson" "$proj" --buildtype=release --force-fallback-for=corio
fi >>"$log" 2>&1 &&
    { ninja -C "$work/meson" -j "$jobs" consumer && "$work/meson/consumer" >"$work/subproject.out"; } >>"$log" 2>&1 &&
    ok=0
result subproject $ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
