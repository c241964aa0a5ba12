#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format (Google base, .clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null || find src tests -name '*.cc' -o -name '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "format ok: ${#files[@]} files"
