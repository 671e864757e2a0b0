# Shared by scripts/*.sh: package installation and small helpers.
# shellcheck shell=bash

# need_pkgs PKG...: installs the Debian packages that are missing (as root), or
# says in one line what to install and returns 1.
need_pkgs() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "corio: missing packages; run as root: apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "corio: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # No recommended packages: clang alone would pull llvm-14-dev (270 MB)
    # that nothing here uses, a minute of a fresh CI machine's time.
    local opts=(-y -qq --no-install-recommends)
    if ! apt-get install "${opts[@]}" "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install "${opts[@]}" "${missing[@]}" >/dev/null || {
            echo "corio: apt-get install ${missing[*]} failed" >&2
            return 1
        }
    fi
}

# The packages every build needs.
base_pkgs=(g++ meson ninja-build pkg-config liburing-dev libfmt-dev libssl-dev openssl zlib1g-dev catch2 libbenchmark-dev python3)

# configure DIR ARGS...: meson setup (or reconfigure) DIR with ARGS.
configure() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

jobs() { nproc 2>/dev/null || echo 2; }

# ready_port FILE [TRIES]: waits (TRIES x 0.1 s, default 100) for a corio
# example's ready line, `listening ADDR:PORT ...`, in FILE and prints PORT;
# returns 1 if none came.
ready_port() {
    local file=$1 tries=${2:-100} port=""
    for _ in $(seq "$tries"); do
        port=$(sed -n 's/^listening [^ ]*:\([0-9]*\) .*/\1/p' "$file" 2>/dev/null)
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        sleep 0.1
    done
    return 1
}
