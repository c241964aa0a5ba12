#!/usr/bin/env bash
# The big-tree row of run.sh alone, for development: memory per file and start → ready of
# `cfgsync watch` on an N-file tree already in sync with a local-directory remote.
#
#   bash bench/huge.sh [--binary PATH] [--files N] [--rounds R] [--work DIR]
#
# The tree and its backup are made once in --work (default /tmp/cfgsync-huge) and reused by later
# runs with the same N, so that two binaries can be compared on the same files. Prints one line
# per round and the medians (the figures run.sh reports as huge_ready_s and huge_bytes_per_file).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
BIN=build/release/cfgsync
N=100000
ROUNDS=3
WORK=/tmp/cfgsync-huge
while (($#)); do
  case $1 in
    --binary) BIN=$2 && shift 2 ;;
    --files) N=$2 && shift 2 ;;
    --rounds) ROUNDS=$2 && shift 2 ;;
    --work) WORK=$2 && shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--files N] [--rounds R] [--work DIR]" >&2 && exit 2 ;;
  esac
done
MEASURE=(python3 "$BENCH/measure.py")
CFG=$WORK/cfgsync
mkdir -p "$WORK"
cp "$BIN" "$CFG"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [[ ! -f $WORK/tree-$N.done ]]; then
  rm -rf "$WORK/huge" "$WORK/huge-remote" "$WORK/huge-base" "$WORK"/tree-*.done
  "${MEASURE[@]}" tree "$WORK/huge" "$N" 100
  mkdir -p "$WORK/huge-remote" "$WORK/huge-base"
  printf 'one=1\n' >"$WORK/huge-base/one.conf"
  "$CFG" sync --dir "$WORK/huge" --remote "$WORK/huge-remote/app" --log-level warn
  "$CFG" sync --dir "$WORK/huge-base" --remote "$WORK/huge-remote/base" --log-level warn
  touch "$WORK/tree-$N.done"
fi

: >"$WORK/ready" && : >"$WORK/hwm" && : >"$WORK/base"
for ((r = 1; r <= ROUNDS; r++)); do
  port=$(free_port)
  read -r -a fig <<<"$("${MEASURE[@]}" startup --url "http://127.0.0.1:$port/readyz" --log "$WORK/watch.log" -- \
    "$CFG" watch --dir "$WORK/huge" --remote "$WORK/huge-remote/app" --http-addr "127.0.0.1:$port")"
  echo "${fig[0]}" >>"$WORK/ready"
  echo "${fig[1]}" >>"$WORK/hwm"
  port=$(free_port)
  read -r -a one <<<"$("${MEASURE[@]}" startup --url "http://127.0.0.1:$port/readyz" --log "$WORK/watch.log" -- \
    "$CFG" watch --dir "$WORK/huge-base" --remote "$WORK/huge-remote/base" --http-addr "127.0.0.1:$port")"
  echo "${one[1]}" >>"$WORK/base"
  echo "round $r: ready ${fig[0]} s, VmHWM ${fig[1]} KiB (RssAnon ${fig[2]}), one file ${one[1]} KiB"
done
hwm=$(median <"$WORK/hwm")
base=$(median <"$WORK/base")
echo "median: ready $(median <"$WORK/ready") s, VmHWM $hwm KiB, one file $base KiB," \
  "bytes/file $(awk -v h="$hwm" -v b="$base" -v n="$N" 'BEGIN { printf "%.0f", (h - b) * 1024 / n }')"
