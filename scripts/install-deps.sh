#!/usr/bin/env bash
# Installs what building and testing cfgsync needs on Debian 12 (run as root). Idempotent: a
# package already installed is not fetched again.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config libcurl4-openssl-dev libssl-dev libpugixml-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  clang-format clang-tidy-16 ca-certificates)
# clang 16 builds the libFuzzer targets (scripts/fuzz.sh) and runs clang-tidy: clang 14 cannot
# compile libstdc++ 12's <expected>. g++'s ThreadSanitizer runtime (libtsan2) comes with g++.
test_pkgs=(awscli rclone inotify-tools nodejs npm curl procps prometheus strace
  clang-16 libfuzzer-16-dev libclang-rt-16-dev)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere than Debian's packages: a working node and npm are enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
