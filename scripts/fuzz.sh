#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz, clang 16) and runs each one for a bounded time over
# its seed corpus in fuzz/corpus/<target>/, as many at once as there are cores. Exits 1 when any
# target finds a crash, a sanitizer report, a timeout or a broken invariant; the input is kept
# in build/fuzz/runs/<target>/artifacts/ (replay it with build/fuzz/fuzz/fuzz_<target> FILE).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 60 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

runs=build/fuzz/runs
# One target: new inputs go to a scratch corpus, never into the checked-in seeds.
run_one() {
  local name=$1 work=$runs/$1
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  "build/fuzz/fuzz/fuzz_$name" "$work/corpus" "fuzz/corpus/$name" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1
}

declare -A pid_of
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  run_one "$name" &
  pid_of[$name]=$!
done

failed=0
for name in "${targets[@]}"; do
  if wait "${pid_of[$name]}"; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$runs/$name/log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$runs/$name/log")
    echo "fuzz: $name: ${seconds}s without a finding, $execs runs, $rate runs/s"
  else
    failed=1
    echo "fuzz: $name FAILED; its log ends with:" >&2
    tail -n 40 "$runs/$name/log" >&2
    ls "$runs/$name/artifacts" >&2
  fi
done
exit "$failed"
