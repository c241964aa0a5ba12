#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: dependencies, the format check, a build with
# AddressSanitizer + UBSan running the unit tests, the threaded tests under ThreadSanitizer,
# each libFuzzer target for a bounded time, and a release build running everything (unit,
# integration against moto_server and s3rver 4 on loopback, end-to-end shell tests).
# CFGSYNC_FUZZ_SECONDS sets the time per fuzz target (default 60; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Prints each stage's heading, and how long the one before it took.
stage_name="dependencies"
stage_start=$(date +%s)
stage() {
  echo "== ${stage_name} took $(($(date +%s) - stage_start))s"
  stage_name=$1
  stage_start=$(date +%s)
  [ -z "$1" ] || echo "== $1"
}

bash scripts/install-deps.sh --test
if ! command -v moto_server >/dev/null; then
  echo "moto_server is missing: it is part of these machines' image (pip package moto[server])" >&2
  exit 1
fi
for dir in tests/support tests/deploy; do
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
if ! command -v kubectl >/dev/null; then
  echo "kubectl is missing: it is part of these machines' image (renders deploy/ offline)" >&2
  exit 1
fi

stage "format check"
bash scripts/check-format.sh

stage "clang-tidy"
cmake --preset release >/dev/null  # compile_commands.json for clang-tidy
bash scripts/tidy.sh

jobs=$(nproc)
stage "ASan/UBSan build, unit tests"
cmake --preset asan -DCFGSYNC_WERROR=ON >/dev/null
cmake --build --preset asan -j "$jobs" --target unit_tests
ctest --preset asan -L unit

stage "ThreadSanitizer build, threaded tests"
cmake --preset tsan -DCFGSYNC_WERROR=ON >/dev/null
cmake --build --preset tsan -j "$jobs"
ctest --preset tsan

fuzz_seconds=${CFGSYNC_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" -gt 0 ]; then
  stage "libFuzzer targets, ${fuzz_seconds}s each"
  bash scripts/fuzz.sh "$fuzz_seconds"
fi

stage "release build, all tests"
cmake --preset release -DCFGSYNC_WERROR=ON >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release

stage "benchmark smoke run (--quick: no timing assertions)"
bash bench/run.sh --quick --binary build/release/cfgsync
stage ""
