#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy) on every src/**/*.cc, product and tests, with the
# release build's compile_commands.json; fails on any warning.
#
# clang-tidy 16, not 14: clang 14 cannot instantiate libstdc++ 12's std::expected for a type
# with a non-trivial destructor (it lacks conditionally trivial special members, P0848), and no
# flag fixes that. Clang <= 16 also reports __cpp_concepts below what libstdc++'s <expected>
# asks for, hence the -D below; -std=c++2b is clang's name for C++23.
set -euo pipefail
cd "$(dirname "$0")/.."

tidy=${CLANG_TIDY:-clang-tidy-16}
build=build/release
if [ ! -f "$build/compile_commands.json" ]; then
  cmake --preset release >/dev/null
fi
jobs=${TIDY_JOBS:-2}
mapfile -t files < <(git ls-files 'src/*.cc' 2>/dev/null || find src -name '*.cc')
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${files[@]}" | xargs -P"$jobs" -n1 "$tidy" -p "$build" --quiet \
  --extra-arg=-std=c++2b --extra-arg=-D__cpp_concepts=202002L \
  --extra-arg=-Wno-builtin-macro-redefined --extra-arg=-Wno-error \
  --extra-arg=-Wno-unknown-warning-option >"$log" 2>&1 || status=$?
# clang-tidy prints "N warnings generated." for system headers too: only diagnostics count.
if [ "$status" -ne 0 ] || grep -qE '(warning|error):' "$log"; then
  grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" >&2 || true
  echo "clang-tidy: findings in ${#files[@]} files ($(($(date +%s) - start))s)" >&2
  exit 1
fi
echo "clang-tidy ok: ${#files[@]} files in $(($(date +%s) - start))s"
