#!/usr/bin/env bash
# Installs every Debian 12 package that Reef's build, tests and benchmarks need.
# Idempotent; run as root. Usage: tools/install-deps.sh [--minimal]
#   --minimal  only what building and testing the enabled modules needs (no load
#              generators, peers or comparison allocators)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: run as root (it calls apt-get)" >&2
    exit 1
fi

build_pkgs=(
    meson ninja-build pkgconf git python3
    clang-16 libclang-rt-16-dev lld-16 llvm-16 clang-format-16
    catch2 libfmt-dev liburing-dev libhwloc-dev
    libgnutls28-dev libc-ares-dev nlohmann-json3-dev libabsl-dev
)
peer_pkgs=(
    wrk apache2-utils nghttp2-client curl nginx-light memcached libmemcached-tools
    socat dnsmasq openssl iproute2 iputils-ping fio valgrind linux-perf procps time
    libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev
    libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
)

pkgs=("${build_pkgs[@]}")
if [[ ${1:-} != --minimal ]]; then
    pkgs+=("${peer_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps.sh: all ${#pkgs[@]} packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps.sh: installed ${#missing[@]} packages"
