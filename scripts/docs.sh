#!/usr/bin/env bash
# scripts/docs.sh [OUT_DIR]: builds the API reference from the `///` comments of
# the public headers (include/corio/*.hpp, runtime/, net/, fs/, http/; no
# detail namespace, of runtime/detail/ only the public types: see docs/Doxyfile)
# with doxygen, into OUT_DIR/html (OUT_DIR defaults to build-docs in the
# repository; a relative OUT_DIR is taken from the current directory).
# Doxygen's warnings (an undocumented public member, a broken reference, a
# malformed comment) go to OUT_DIR/doxygen-warnings.log; any warning is
# printed and fails the script (exit 1). Otherwise it prints the path of
# index.html and exits 0.
set -u
caller=$PWD
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

case ${1:-} in
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
need_pkgs doxygen || exit 1

out=${1:-build-docs}
[ -n "${1:-}" ] && [ "${out#/}" = "$out" ] && out=$caller/$out
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/doxygen-warnings.log
version=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -n 1)
rm -rf "$out/html"

start=$(date +%s)
# The settings that depend on this run are appended to docs/Doxyfile on stdin.
{
    cat docs/Doxyfile
    echo "OUTPUT_DIRECTORY = \"$out\""
    echo "WARN_LOGFILE = \"$log\""
    echo "PROJECT_NUMBER = \"$version\""
} | doxygen - >"$out/doxygen-output.txt" 2>&1
status=$?
secs=$(($(date +%s) - start))

# With WARN_AS_ERROR doxygen writes each warning as "error:", some twice.
warnings=$(grep -E ': (warning|error):' "$log" 2>/dev/null | sort -u | wc -l)
if [ "$warnings" -ne 0 ] || [ $status -ne 0 ] || [ ! -f "$out/html/index.html" ]; then
    grep -E ': (warning|error):' "$log" 2>/dev/null | sort -u
    grep -v '^$' "$out/doxygen-output.txt"
    echo "docs: $warnings warnings, doxygen exit status $status ($secs s); log: $log" >&2
    exit 1
fi
echo "docs: no warnings ($secs s)"
echo "$out/html/index.html"
