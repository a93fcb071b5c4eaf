#!/usr/bin/env bash
# Installs what codispatch needs to build, run and test, if it is missing.
# Sourced by run.sh, test.sh and bench.sh; safe to run on its own.  Debian 12.
set -euo pipefail

# Build and runtime libraries (the -dev packages pull in their runtime halves).
CODISPATCH_PACKAGES=(
    cmake pkg-config make gcc
    clang libfuzzer-14-dev libclang-rt-14-dev
    libuv1-dev libzmq3-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler
    libpq-dev libcjson-dev uthash-dev check libmimalloc-dev
    libwebsockets-dev libwebsockets-evlib-uv
    chromium
)

s_missing() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    echo "${missing[@]:-}"
}

s_have_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

codispatch_install_deps() {
    local extra=("$@") missing
    missing=$(s_missing "${CODISPATCH_PACKAGES[@]}" "${extra[@]}")
    s_have_initdb || missing="$missing postgresql"
    missing=$(echo "$missing" | xargs)
    [ -z "$missing" ] && return 0
    echo "codispatch: installing missing packages: $missing" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "codispatch: need root (or sudo) to install: $missing" >&2
            return 1
        }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    codispatch_install_deps "$@"
fi
