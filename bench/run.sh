#!/usr/bin/env bash
# Benchmark of cfgsync against the pattern it replaces, the rclone + inotifywait loop
#
#   while true; do inotifywait -r -e modify,create,delete,move DIR; rclone sync DIR s3:BUCKET/PATH \
#     --exclude "*.db*" --exclude "*.log"; sleep 5; done
#
# run in the same run against the same local S3 servers (s3rver 4 for times, moto_server for
# request counts): change → durable latency, a burst of changes, HTTP requests per change,
# restore time against `rclone copy` and against the server's own limit (parallel curl, with and
# without the listing a restore needs), peak RSS, idle CPU, and a 100,000-file tree. Prints one
# markdown table; see bench/README.md for what each figure means and how it is measured.
#
#   bash bench/run.sh [--quick] [--binary PATH] [--out FILE]
#
#   --quick    reduced sizes and one round (< 2 minutes); writes the table to stdout and --out
#              (default build/bench-quick.md), never to docs/. Asserts no timing, but exits
#              non-zero when a measurement itself failed (a restore that did not restore, curl
#              errors, a sidecar that died or never pushed).
#   full mode  (default) median of BENCH_ROUNDS (3) rounds, writes docs/BENCHMARKS.md with the
#              machine it ran on (and --out if given).
#   --binary   the cfgsync under test (default build/release/cfgsync).
#
# Installs what it needs when missing (apt: rclone inotify-tools curl procps time nodejs npm, as
# root; `npm ci` in tests/support for s3rver). moto_server must be on PATH (it comes with these
# machines' Python). Knobs for development: BENCH_ROUNDS, BENCH_RESTORE_ROUNDS (5 in full mode),
# BENCH_REWRITES, BENCH_LOOP_REWRITES, BENCH_IDLE (s), BENCH_HUGE (files in the big tree; 0 skips
# it), BENCH_PHASES (a subset of "latency requests restore rss_idle huge"), BENCH_KEEP=1 keeps the
# work directory.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

QUICK=0
BINARY=build/release/cfgsync
OUT=""
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --binary) BINARY=${2:?--binary needs a path}; shift ;;
    --binary=*) BINARY=${1#*=} ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --out=*) OUT=${1#*=} ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
  shift
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
MEASURE=(python3 "$BENCH/measure.py")
BUCKET=backups
START_TIME=$EPOCHREALTIME

if ((QUICK)); then
  N_SMALL=50 N_BIG=200 N_HUGE=${BENCH_HUGE:-10000}
  ROUNDS=${BENCH_ROUNDS:-1} REWRITES=${BENCH_REWRITES:-10} IDLE=${BENCH_IDLE:-5} RSS_REWRITES=3
  RESTORE_ROUNDS=${BENCH_RESTORE_ROUNDS:-$ROUNDS}
  LOOP_REWRITES=${BENCH_LOOP_REWRITES:-3}  # each costs the loop's `sleep 5`
  OUT=${OUT:-$REPO/build/bench-quick.md}
else
  N_SMALL=50 N_BIG=2000 N_HUGE=${BENCH_HUGE:-100000}
  ROUNDS=${BENCH_ROUNDS:-3} REWRITES=${BENCH_REWRITES:-30} IDLE=${BENCH_IDLE:-60} RSS_REWRITES=10
  # A restore round takes ~10 s and its time swings with the disk: five rounds for the median.
  RESTORE_ROUNDS=${BENCH_RESTORE_ROUNDS:-5}
  LOOP_REWRITES=${BENCH_LOOP_REWRITES:-$REWRITES}
fi
TARGET_FILE=d000/f000007.conf  # the file every rewrite changes (present in every tree)

log() { printf '%s  %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# What the benchmark needs

install_deps() {
  local missing=()
  command -v rclone >/dev/null || missing+=(rclone)
  command -v inotifywait >/dev/null || missing+=(inotify-tools)
  command -v curl >/dev/null || missing+=(curl)
  command -v ps >/dev/null || missing+=(procps)
  [[ -x /usr/bin/time ]] || missing+=(time)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "missing ${missing[*]}; run as root to install them with apt"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v python3 >/dev/null || die "python3 is required"
  command -v moto_server >/dev/null || die "moto_server is not on PATH (pip package moto[server])"
  if [[ ! -f $REPO/tests/support/node_modules/@20minutes/s3rver/package.json ]]; then
    log "installing s3rver (npm ci in tests/support)"
    (cd "$REPO/tests/support" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# ---------------------------------------------------------------------------------------------
# Work directory, processes, clean-up

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfgsync-bench.XXXXXX")
RESULTS=$WORK/results.env
MACHINE=$WORK/machine.env
: >"$RESULTS"
PIDS=()    # every process started here leads its own process group (setsid): killed as a group
PHASE=setup

cleanup() {
  local rc=$? pid i alive
  set +e
  trap - EXIT INT TERM
  [[ -z $FG_PID ]] || kill -TERM "$FG_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if ((rc != 0)) && [[ -s $MACHINE ]]; then
    if ((rc == 130 || rc == 143)); then
      echo "failed=interrupted during: $PHASE" >>"$RESULTS"
    else
      echo "failed=$PHASE" >>"$RESULTS"
    fi
    echo "duration_s=$(elapsed "$START_TIME" "$EPOCHREALTIME" | cut -d. -f1)" >>"$RESULTS"
    log "partial results:"
    "${MEASURE[@]}" report --results "$RESULTS" --machine "$MACHINE" \
      --mode "$( ((QUICK)) && echo quick || echo full)" >&2
  fi
  if [[ ${BENCH_KEEP:-} == 1 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn OUT ERR CMD...: CMD in the background, in a session of its own, stdout in OUT and stderr
# in ERR; pid (also the process group) in SPAWNED.
spawn() {
  local out=$1 err=$2
  shift 2
  if [[ $out == "$err" ]]; then
    setsid "$@" >"$out" 2>&1 </dev/null &
  else
    setsid "$@" >"$out" 2>"$err" </dev/null &
  fi
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

# step CMD...: CMD in the foreground, but as a background job that `wait` waits for: a SIGTERM or
# SIGINT then reaches the clean-up at once instead of after CMD (minutes for some steps).
FG_PID=""
step() {
  "$@" &
  FG_PID=$!
  wait "$FG_PID"
}

# stop PID: SIGTERM to its process group, waits (30 s at most, then SIGKILL); exit code in STOP_RC.
stop() {
  local pid=$1 i keep=() p
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  STOP_RC=0
  wait "$pid" 2>/dev/null || STOP_RC=$?
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
put() { echo "$1=$2" >>"$RESULTS"; }
stat_of() { # WHAT FILE...: a statistic of the numbers in the files
  local what=$1
  shift
  cat "$@" | "${MEASURE[@]}" stats "$what"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.1 s.
wait_until() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null; do
    (($(date +%s) < deadline)) || die "timed out after ${secs} s waiting for $what"
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------------
# The binary, the environment, the servers

install_deps
[[ -x $BINARY ]] || die "--binary $BINARY is not an executable"
# Measure a private copy: a rebuild of the original during the run must not pull it away.
for try in 1 2 3 4 5 6 7 8 9 10; do
  if cp "$BINARY" "$WORK/cfgsync" 2>/dev/null && "$WORK/cfgsync" version >/dev/null 2>&1; then break; fi
  ((try < 10)) || die "cannot copy a working $BINARY"
  sleep 3
done
CFG=$WORK/cfgsync

# Only the settings given here: no stray CFGSYNC_* flag, rclone remote or AWS credential.
while IFS= read -r var; do
  case $var in
    CFGSYNC_* | RCLONE_* | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | \
      AWS_ENDPOINT_URL | AWS_REGION | AWS_DEFAULT_REGION | AWS_PROFILE | SYNC_BUCKET | SYNC_PATH)
      unset "$var" ;;
  esac
done < <(compgen -e)
: >"$WORK/rclone.conf"
export RCLONE_CONFIG=$WORK/rclone.conf  # no "config file not found" notice
# rclone 1.60 fails with LoadCustomCABundleError when this machine's AWS_CA_BUNDLE is set.
RCLONE=(env -u AWS_CA_BUNDLE rclone)
# shellcheck disable=SC2016  # expanded by the loop's own shell
SEED_LOOP='while true; do inotifywait -r -e modify,create,delete,move "$1"; rclone sync "$1" "s3:$2" --exclude "*.db*" --exclude "*.log"; sleep 5; done'

S3RVER_PORT=$(free_port)
S3RVER_REQLOG=$WORK/s3rver-requests.log
MOTO_PORT=$(free_port)
MOTO_LOG=$WORK/moto.log

start_servers() {
  mkdir -p "$WORK/s3rver-data"
  : >"$S3RVER_REQLOG"
  spawn "$WORK/s3rver.out" "$WORK/s3rver.err" node --openssl-legacy-provider "$BENCH/s3rver.js" \
    "$REPO/tests/support" "$S3RVER_PORT" "$WORK/s3rver-data" "$S3RVER_REQLOG" "$BUCKET"
  S3RVER_PID=$SPAWNED
  spawn "$WORK/moto.out" "$MOTO_LOG" moto_server -H 127.0.0.1 -p "$MOTO_PORT"
  MOTO_PID=$SPAWNED
  s3rver_ready() {
    kill -0 "$S3RVER_PID" 2>/dev/null || die "s3rver exited: $(tail -n 5 "$WORK/s3rver.err")"
    grep -q '^ready' "$WORK/s3rver.out"
  }
  moto_ready() {
    kill -0 "$MOTO_PID" 2>/dev/null || die "moto_server exited: $(tail -n 5 "$MOTO_LOG")"
    curl -s -o /dev/null "http://127.0.0.1:$MOTO_PORT/"
  }
  wait_until 60 "s3rver to start" s3rver_ready
  wait_until 60 "moto_server to start" moto_ready
  curl -sf -X PUT "http://127.0.0.1:$MOTO_PORT/$BUCKET" -o /dev/null || die "moto: cannot create the bucket"
}

# use_server s3rver|moto: the rclone-style variables both cfgsync and rclone read.
use_server() {
  export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other
  case $1 in
    s3rver)
      export RCLONE_CONFIG_S3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=S3RVER
      export RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:$S3RVER_PORT ;;
    moto)
      export RCLONE_CONFIG_S3_ACCESS_KEY_ID=bench-key RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=bench-secret
      export RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:$MOTO_PORT ;;
  esac
}

machine_info() {
  {
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "cores=$(nproc)"
    echo "ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    # shellcheck disable=SC1091
    echo "os=$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cfgsync=$("$CFG" version | head -1 | sed 's/^cfgsync //')"
    echo "rclone=$(rclone version 2>/dev/null | head -1 | sed 's/^rclone //')"
    echo "inotifywait=$(inotifywait --help 2>&1 | head -1 | sed 's/^inotifywait //')"
    echo "s3rver=$(node -p "require('$REPO/tests/support/node_modules/@20minutes/s3rver/package.json').version")"
    echo "node=$(node --version)"
    echo "moto=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo unknown)"
    echo "curl=$(curl --version | head -1 | cut -d' ' -f2)"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  } >"$MACHINE"
}

# ---------------------------------------------------------------------------------------------
# The sidecars

# tree DIR COUNT SIZE: COUNT files of SIZE bytes, 100 per folder (d000/f000000.conf, ...).
tree() { step "${MEASURE[@]}" tree "$@"; }

# seed_cfgsync DIR PATH / seed_rclone DIR PATH: the backup starts equal to the folder, as after a
# restore (the loop has no initial sync of its own).
seed_cfgsync() {
  SYNC_BUCKET=$BUCKET SYNC_PATH=$2 "$CFG" sync --dir "$1" >>"$WORK/seed.log" 2>&1 ||
    die "cfgsync sync of $1 to $2 failed: $(tail -n 3 "$WORK/seed.log")"
}
seed_rclone() {
  "${RCLONE[@]}" sync "$1" "s3:$BUCKET/$2" --exclude "*.db*" --exclude "*.log" >>"$WORK/seed.log" 2>&1 ||
    die "rclone sync of $1 to $2 failed: $(tail -n 3 "$WORK/seed.log")"
}

# start_watch NAME DIR PATH ARGS...: `cfgsync watch`, waits for /readyz; pid in WATCH_PID[NAME].
declare -A WATCH_PID WATCH_PORT
start_watch() {
  local name=$1 dir=$2 path=$3 port
  shift 3
  port=$(free_port)
  spawn "$WORK/$name.log" "$WORK/$name.log" env SYNC_BUCKET=$BUCKET SYNC_PATH="$path" \
    "$CFG" watch --dir "$dir" --http-addr "127.0.0.1:$port" "$@"
  WATCH_PID[$name]=$SPAWNED
  WATCH_PORT[$name]=$port
  wait_until 300 "cfgsync watch ($name) to be ready" watch_ready "$name"
}
watch_ready() {
  kill -0 "${WATCH_PID[$1]}" 2>/dev/null || die "cfgsync watch ($1) exited: $(tail -n 5 "$WORK/$1.log")"
  curl -sf -o /dev/null "http://127.0.0.1:${WATCH_PORT[$1]}/readyz"
}

stop_watch() {
  stop "${WATCH_PID[$1]}"
  ((STOP_RC == 0)) || die "cfgsync watch ($1) exited $STOP_RC on SIGTERM: $(tail -n 5 "$WORK/$1.log")"
}

# start_loop NAME DIR PATH: the seed's loop, verbatim (DIR and BUCKET/PATH as $1 and $2); pid of
# its shell in LOOP_PID[NAME], inotifywait's messages in $WORK/NAME.err.
declare -A LOOP_PID
start_loop() {
  local name=$1 dir=$2 path=$3
  spawn "$WORK/$name.out" "$WORK/$name.err" env -u AWS_CA_BUNDLE bash -c "$SEED_LOOP" loop "$dir" "$BUCKET/$path"
  LOOP_PID[$name]=$SPAWNED
  wait_until 120 "the loop's inotifywait ($name)" loop_ready "$name"
}
loop_ready() {
  kill -0 "${LOOP_PID[$1]}" 2>/dev/null || die "the loop ($1) exited: $(tail -n 5 "$WORK/$1.err")"
  grep -q 'Watches established' "$WORK/$1.err"
}

stop_loop() { stop "${LOOP_PID[$1]}"; }

loop_target() { # NAME DIR PATH: a measure.py target spec for a running loop
  echo "name=loop,kind=loop,dir=$2,prefix=$BUCKET/$3,pid=${LOOP_PID[$1]},errlog=$WORK/$1.err"
}
cfg_target() { # LABEL DIR PATH
  echo "name=$1,kind=cfgsync,dir=$2,prefix=$BUCKET/$3"
}

# ---------------------------------------------------------------------------------------------
# Change → durable latency and the burst (s3rver; "durable" from its request log)

bench_latency() {
  PHASE="change → durable latency"
  log "--- $PHASE: $ROUNDS round(s) of $REWRITES atomic rewrites ($LOOP_REWRITES for the loop), $N_SMALL-file trees (s3rver)"
  use_server s3rver
  local v r
  for v in d0 def loop; do tree "$WORK/lat-$v" "$N_SMALL" 300; done
  seed_cfgsync "$WORK/lat-d0" lat-d0
  seed_cfgsync "$WORK/lat-def" lat-def
  seed_rclone "$WORK/lat-loop" lat-loop
  start_watch lat-d0 "$WORK/lat-d0" lat-d0 --debounce 0
  start_watch lat-def "$WORK/lat-def" lat-def
  start_loop lat-loop "$WORK/lat-loop" lat-loop
  # One rewrite per sidecar in turn, the loop first: the cfgsync rewrites then fall in the loop's
  # `sleep 5`, when it has no process running but its shell, so nobody competes for the CPU.
  for ((r = 1; r <= ROUNDS; r++)); do
    step "${MEASURE[@]}" changes latency --log "$S3RVER_REQLOG" --out-dir "$WORK/lat/$r" \
      --file "$TARGET_FILE" --rewrites "$REWRITES" \
      --target "$(loop_target lat-loop "$WORK/lat-loop" lat-loop),rewrites=$LOOP_REWRITES" \
      --target "$(cfg_target d0 "$WORK/lat-d0" lat-d0)" \
      --target "$(cfg_target def "$WORK/lat-def" lat-def)"
    for v in d0 def loop; do
      stat_of p50 "$WORK/lat/$r/$v.ms" >>"$WORK/lat/$v.p50"
      stat_of p99 "$WORK/lat/$r/$v.ms" >>"$WORK/lat/$v.p99"
      stat_of p50 "$WORK/lat/$r/$v.reached.ms" >>"$WORK/lat/$v.reached.p50"
    done
    log "round $r: p50 ms: --debounce 0 $(tail -1 "$WORK/lat/d0.p50"), defaults $(tail -1 "$WORK/lat/def.p50"), loop $(tail -1 "$WORK/lat/loop.p50")"
  done
  for v in d0 def loop; do
    put "lat_${v}_p50" "$(stat_of median "$WORK/lat/$v.p50")"
    put "lat_${v}_p99" "$(stat_of median "$WORK/lat/$v.p99")"
    put "lat_${v}_reached_p50" "$(stat_of median "$WORK/lat/$v.reached.p50")"
  done
  put lat_samples "$((ROUNDS * REWRITES))"
  put lat_loop_samples "$((ROUNDS * LOOP_REWRITES))"

  PHASE="burst"
  log "--- $PHASE: 3 files changed 1 s apart, durable within 5 s of the last change"
  for ((r = 1; r <= ROUNDS; r++)); do
    step "${MEASURE[@]}" changes burst --log "$S3RVER_REQLOG" --out-dir "$WORK/burst" \
      --files d000/f000001.conf,d000/f000002.conf,d000/f000003.conf --spacing 1 --window 5 \
      --target "$(cfg_target cfgsync "$WORK/lat-def" lat-def)" \
      --target "$(loop_target lat-loop "$WORK/lat-loop" lat-loop)"
    log "round $r: cfgsync $(tail -1 "$WORK/burst/cfgsync.burst"); loop $(tail -1 "$WORK/burst/loop.burst")"
  done
  put burst_cfgsync "$(cut -d' ' -f1 "$WORK/burst/cfgsync.burst" | "${MEASURE[@]}" stats median)"
  put burst_loop "$(cut -d' ' -f1 "$WORK/burst/loop.burst" | "${MEASURE[@]}" stats median)"
  stop_watch lat-d0
  stop_watch lat-def
  stop_loop lat-loop
}

# ---------------------------------------------------------------------------------------------
# HTTP requests per one-file change (moto: its log has one line per request)

bench_requests() {
  local size n name
  use_server moto
  for size in small big; do
    n=$N_SMALL
    [[ $size == big ]] && n=$N_BIG
    PHASE="requests per change, $n files"
    log "--- $PHASE (moto)"
    for name in cfg loop; do tree "$WORK/req-$name-$size" "$n" 300; done
    seed_cfgsync "$WORK/req-cfg-$size" "req-cfg-$size"
    seed_rclone "$WORK/req-loop-$size" "req-loop-$size"
    start_watch "req-cfg-$size" "$WORK/req-cfg-$size" "req-cfg-$size"
    start_loop "req-loop-$size" "$WORK/req-loop-$size" "req-loop-$size"
    step "${MEASURE[@]}" requests --log "$MOTO_LOG" --file "$TARGET_FILE" --rounds "$ROUNDS" \
      --target "$(loop_target "req-loop-$size" "$WORK/req-loop-$size" "req-loop-$size")" \
      >"$WORK/req-loop-$size.counts"
    step "${MEASURE[@]}" requests --log "$MOTO_LOG" --file "$TARGET_FILE" --rounds "$ROUNDS" \
      --target "$(cfg_target cfgsync "$WORK/req-cfg-$size" "req-cfg-$size")" \
      >"$WORK/req-cfg-$size.counts"
    log "cfgsync: $(paste -sd';' "$WORK/req-cfg-$size.counts"); loop: $(paste -sd';' "$WORK/req-loop-$size.counts")"
    put "req_${size}_cfgsync" "$(cut -d' ' -f1 "$WORK/req-cfg-$size.counts" | "${MEASURE[@]}" stats median)"
    put "req_${size}_loop" "$(cut -d' ' -f1 "$WORK/req-loop-$size.counts" | "${MEASURE[@]}" stats median)"
    stop_watch "req-cfg-$size"
    stop_loop "req-loop-$size"
  done
}

# ---------------------------------------------------------------------------------------------
# Restore of N_BIG files of 2 KB: cfgsync, rclone copy --transfers 4, and curl (the server's limit)

# same_tree SRC DST WHAT: DST holds exactly SRC's files with SRC's contents.
# cfgsync's marker (.cfgsync-marker: which remote the folder holds) is no part of the backup.
same_tree() {
  diff -rq -x .cfgsync-marker "$1" "$2" >"$WORK/diff.out" 2>&1 || die "$3: the restored tree differs: $(head -n 3 "$WORK/diff.out")"
}

# settle: the work of whatever ran before (the previous tool's tree, the seeding upload) is
# written out before the clock starts. cfgsync makes its files durable before renaming them, and
# a flush would otherwise pay for the others' pending writes too.
settle() { sync; }

# Every run restores into a folder of its own, and the trees are deleted only after the last
# round: right after `rm -rf` of 2,000 files, ext4 (without a journal, as on these VMs) skips the
# recently freed inodes one by one on every file creation (`recently_deleted` in perf), which
# slowed whichever tool ran next by up to a second. A pod restores into an empty volume.
restore_dst() { echo "$WORK/restore-runs/$1-$2"; }

# restore_TOOL ROUND: the restore's wall time in seconds.
restore_cfgsync() {
  local dst t0 t1
  dst=$(restore_dst cfgsync "$1")
  mkdir -p "$dst"
  settle
  t0=$(now)
  SYNC_BUCKET=$BUCKET SYNC_PATH=restore "$CFG" restore --dir "$dst" >"$WORK/restore-cfgsync.log" 2>&1 ||
    die "cfgsync restore failed: $(tail -n 3 "$WORK/restore-cfgsync.log")"
  t1=$(now)
  same_tree "$WORK/restore-src" "$dst" "cfgsync restore"
  elapsed "$t0" "$t1"
}

restore_rclone() {
  local dst t0 t1
  dst=$(restore_dst rclone "$1")
  settle
  t0=$(now)
  "${RCLONE[@]}" copy --transfers 4 "s3:$BUCKET/restore" "$dst" >"$WORK/restore-rclone.log" 2>&1 ||
    die "rclone copy failed: $(tail -n 3 "$WORK/restore-rclone.log")"
  t1=$(now)
  same_tree "$WORK/restore-src" "$dst" "rclone copy"
  elapsed "$t0" "$t1"
}

restore_curl() {
  local dst t0 t1 rc=0 bad
  dst=$(restore_dst curl "$1")
  mkdir -p "$dst"
  sed "s#^output = \"$WORK/restore-curl/#output = \"$dst/#" "$WORK/curl.cfg" >"$WORK/curl-run.cfg"
  settle
  t0=$(now)
  curl --parallel --parallel-max 16 --config "$WORK/curl-run.cfg" >"$WORK/curl.codes" 2>"$WORK/curl.err" || rc=$?
  t1=$(now)
  ((rc == 0)) || die "curl exited $rc: $(head -n 3 "$WORK/curl.err")"
  # Every transfer must be a 200 with a 2,048-byte body: an S3 error is a small XML body.
  bad=$(awk '$0 != "200 2048" { bad++ } END { print bad + 0 }' "$WORK/curl.codes")
  ((bad == 0)) || die "curl: $bad responses were not '200 2048': $(grep -v '^200 2048$' "$WORK/curl.codes" | sort | uniq -c | head -3)"
  [[ $(wc -l <"$WORK/curl.codes") == "$N_BIG" ]] || die "curl: $(wc -l <"$WORK/curl.codes") transfers, expected $N_BIG"
  same_tree "$WORK/restore-src" "$dst" "curl"
  elapsed "$t0" "$t1"
}

# curl 7.88 signs without sending the payload hash, which S3 servers require: the requests state
# it (the SHA-256 of an empty body), and curl signs with it.
CURL_PAYLOAD_HASH='x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

# list_curl: the wall time of listing the restore's prefix with curl, page after page
# (ListObjectsV2, 1,000 keys a page), checking that it names all N_BIG keys. A restore has to
# learn its keys; the curl run above is handed them.
list_curl() {
  local t0 t1 token="" query keys=0 page=0
  settle
  t0=$(now)
  while :; do
    # The canonical query of SigV4 is sorted and encoded: build it so, and curl signs it as sent.
    query="list-type=2&prefix=restore%2F"
    [[ -n $token ]] && query="continuation-token=$token&$query"
    curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" -H "$CURL_PAYLOAD_HASH" \
      -u "$RCLONE_CONFIG_S3_ACCESS_KEY_ID:$RCLONE_CONFIG_S3_SECRET_ACCESS_KEY" \
      "http://127.0.0.1:$S3RVER_PORT/$BUCKET?$query" -o "$WORK/list-page.xml" ||
      die "curl: listing page $((page + 1)) failed"
    keys=$((keys + $(grep -o '<Key>' "$WORK/list-page.xml" | wc -l)))
    page=$((page + 1))
    grep -q '<IsTruncated>true</IsTruncated>' "$WORK/list-page.xml" || break
    token=$(sed -n 's#.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*#\1#p' "$WORK/list-page.xml")
    token=${token//+/%2B}
    token=${token//\//%2F}
    token=${token//=/%3D}
    [[ -n $token ]] || die "curl: listing page $page is truncated but has no continuation token"
  done
  t1=$(now)
  ((keys == N_BIG)) || die "curl: the listing named $keys keys, expected $N_BIG"
  elapsed "$t0" "$t1"
}

bench_restore() {
  PHASE="restore of $N_BIG × 2 KB"
  log "--- $PHASE (s3rver): cfgsync restore, rclone copy --transfers 4, curl --parallel-max 16"
  use_server s3rver
  local r tool order t k
  tree "$WORK/restore-src" "$N_BIG" 2048
  seed_cfgsync "$WORK/restore-src" restore
  # curl's configuration: the signing and the per-transfer report once, then url/output pairs.
  {
    echo 'no-progress-meter'
    echo 'create-dirs'
    echo 'aws-sigv4 = "aws:amz:us-east-1:s3"'
    echo "header = \"$CURL_PAYLOAD_HASH\""
    echo "user = \"$RCLONE_CONFIG_S3_ACCESS_KEY_ID:$RCLONE_CONFIG_S3_SECRET_ACCESS_KEY\""
    printf '%s\n' 'write-out = "%{http_code} %{size_download}\n"'
    (cd "$WORK/restore-src" && find . -type f ! -name .cfgsync-marker | sed 's#^\./##' |
      LC_ALL=C sort) | while IFS= read -r k; do
      echo "url = \"http://127.0.0.1:$S3RVER_PORT/$BUCKET/restore/$k\""
      echo "output = \"$WORK/restore-curl/$k\""
    done
  } >"$WORK/curl.cfg"
  chmod 600 "$WORK/curl.cfg"
  # Round 0 is a warm-up, not counted: the server's first listing and first GETs after the upload
  # are slower (cold code paths), and would always land on the round's first tool.
  for ((r = 0; r <= RESTORE_ROUNDS; r++)); do
    # The order rotates from round to round: no tool always runs first (or last) on a warm server.
    case $((r % 3)) in
      1) order="cfgsync rclone curl" ;;
      2) order="rclone curl cfgsync" ;;
      0) order="curl cfgsync rclone" ;;
    esac
    declare -A took=()
    for tool in $order; do took[$tool]=$("restore_$tool" "$r"); done
    took[list]=$(list_curl)
    if ((r == 0)); then
      log "warm-up round ($order): cfgsync ${took[cfgsync]} s, rclone ${took[rclone]} s, curl ${took[curl]} s (not counted)"
      continue
    fi
    for tool in cfgsync rclone curl list; do echo "${took[$tool]}" >>"$WORK/restore-$tool.s"; done
    awk -v c="${took[cfgsync]}" -v u="${took[curl]}" 'BEGIN { printf "%.4f\n", c / u }' >>"$WORK/restore-ratio-curl"
    awk -v c="${took[cfgsync]}" -v u="${took[rclone]}" 'BEGIN { printf "%.4f\n", c / u }' >>"$WORK/restore-ratio-rclone"
    awk -v c="${took[cfgsync]}" -v u="${took[curl]}" -v l="${took[list]}" 'BEGIN { printf "%.4f\n", c / (u + l) }' \
      >>"$WORK/restore-ratio-curl-listed"
    log "round $r ($order): cfgsync ${took[cfgsync]} s, rclone ${took[rclone]} s, curl ${took[curl]} s, curl's listing ${took[list]} s"
  done
  # The restore's peak RSS, in a run of its own (not timed). GNU time, not measure.py: Linux
  # carries ru_maxrss across exec, so a child forked from Python would report Python's RSS.
  local dst
  dst=$(restore_dst cfgsync rss)
  mkdir -p "$dst"
  SYNC_BUCKET=$BUCKET SYNC_PATH=restore /usr/bin/time -f %M -o "$WORK/restore-rss" \
    "$CFG" restore --dir "$dst" >"$WORK/restore-cfgsync.log" 2>&1 ||
    die "cfgsync restore (peak RSS run) failed: $(tail -n 3 "$WORK/restore-cfgsync.log")"
  same_tree "$WORK/restore-src" "$dst" "cfgsync restore (peak RSS run)"
  put restore_cfgsync_hwm_kib "$(tail -n 1 "$WORK/restore-rss")"
  rm -rf "$WORK/restore-runs"
  for t in cfgsync rclone curl list; do put "restore_${t}_s" "$(stat_of median "$WORK/restore-$t.s")"; done
  put restore_ratio_curl "$(stat_of median "$WORK/restore-ratio-curl")"
  put restore_ratio_rclone "$(stat_of median "$WORK/restore-ratio-rclone")"
  put restore_ratio_curl_listed "$(stat_of median "$WORK/restore-ratio-curl-listed")"
}

# ---------------------------------------------------------------------------------------------
# Peak RSS with N_BIG files and CPU while idle (s3rver)

bench_rss_idle() {
  PHASE="peak RSS and idle CPU, $N_BIG files"
  log "--- $PHASE (s3rver)"
  use_server s3rver
  local r loop_pid inw before after mem hz
  tree "$WORK/rss-cfg" "$N_BIG" 300
  tree "$WORK/rss-loop" "$N_BIG" 300
  seed_cfgsync "$WORK/rss-cfg" rss-cfg
  seed_rclone "$WORK/rss-loop" rss-loop
  start_watch rss-cfg "$WORK/rss-cfg" rss-cfg
  start_loop rss-loop "$WORK/rss-loop" rss-loop
  loop_pid=${LOOP_PID[rss-loop]}
  # Working sidecars, not fresh ones: a few changes through cfgsync (during the loop's sleep),
  # one full cycle of the loop.
  step "${MEASURE[@]}" changes latency --log "$S3RVER_REQLOG" --out-dir "$WORK/rss-changes" \
    --file "$TARGET_FILE" --rewrites "$RSS_REWRITES" \
    --target "$(loop_target rss-loop "$WORK/rss-loop" rss-loop),rewrites=1" \
    --target "$(cfg_target cfgsync "$WORK/rss-cfg" rss-cfg)"
  loop_inotifywait() { pgrep -P "$loop_pid" -x inotifywait; }  # once the loop waits again
  wait_until 60 "the loop to wait in inotifywait again" loop_inotifywait
  sleep 0.5  # let both settle (sockets closed, logs written) before the idle windows
  hz=$(getconf CLK_TCK)
  for ((r = 1; r <= ROUNDS; r++)); do
    inw=$(loop_inotifywait) || die "the loop is not waiting in inotifywait"
    read -r -a before <<<"$("${MEASURE[@]}" cpu "${WATCH_PID[rss-cfg]}") $("${MEASURE[@]}" cpu "$loop_pid" "$inw")"
    step sleep "$IDLE"
    [[ $(loop_inotifywait) == "$inw" ]] || die "the loop woke up during the idle window"
    read -r -a after <<<"$("${MEASURE[@]}" cpu "${WATCH_PID[rss-cfg]}") $("${MEASURE[@]}" cpu "$loop_pid" "$inw")"
    echo $((after[0] - before[0])) >>"$WORK/idle-cfg.ticks"
    echo $((after[1] - before[1])) >>"$WORK/idle-cfg.wakeups"
    echo $((after[2] - before[2])) >>"$WORK/idle-loop.ticks"
    echo $((after[3] - before[3])) >>"$WORK/idle-loop.wakeups"
    log "idle round $r (${IDLE} s): cfgsync $(tail -1 "$WORK/idle-cfg.ticks") ticks, $(tail -1 "$WORK/idle-cfg.wakeups") wake-ups; loop $(tail -1 "$WORK/idle-loop.ticks") ticks, $(tail -1 "$WORK/idle-loop.wakeups") wake-ups"
  done
  put idle_cfgsync_cpu "$(awk -v t="$(stat_of median "$WORK/idle-cfg.ticks")" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')"
  put idle_loop_cpu "$(awk -v t="$(stat_of median "$WORK/idle-loop.ticks")" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')"
  put idle_cfgsync_wakeups "$(stat_of median "$WORK/idle-cfg.wakeups")"
  put idle_loop_wakeups "$(stat_of median "$WORK/idle-loop.wakeups")"

  read -r -a mem <<<"$("${MEASURE[@]}" mem "${WATCH_PID[rss-cfg]}")"
  put rss_cfgsync_hwm "${mem[0]}"
  put rss_cfgsync_anon "${mem[1]}"
  put rss_cfgsync_file "${mem[2]}"
  read -r -a mem <<<"$("${MEASURE[@]}" mem "$(loop_inotifywait)")"
  put rss_loop_inotifywait "${mem[0]}"
  local inw_kib=${mem[0]}
  read -r -a mem <<<"$("${MEASURE[@]}" mem "$loop_pid")"
  put rss_loop_shell "${mem[0]}"
  local shell_kib=${mem[0]}
  stop_watch rss-cfg
  stop_loop rss-loop
  # The loop's `rclone sync` after a one-file change, alone (its peak RSS as a child, ru_maxrss).
  for ((r = 1; r <= ROUNDS; r++)); do
    printf 'rss round %s\n' "$r" >"$WORK/rss-loop/d000/.tmp" && mv "$WORK/rss-loop/d000/.tmp" "$WORK/rss-loop/$TARGET_FILE"
    "${MEASURE[@]}" maxrss -- "${RCLONE[@]}" sync "$WORK/rss-loop" "s3:$BUCKET/rss-loop" \
      --exclude "*.db*" --exclude "*.log" >>"$WORK/rss-rclone.kib"
  done
  local rclone_kib
  rclone_kib=$(stat_of median "$WORK/rss-rclone.kib")
  put rss_loop_rclone "$rclone_kib"
  put rss_loop_total "$(awk -v a="$rclone_kib" -v b="$inw_kib" -v c="$shell_kib" 'BEGIN { print a + b + c }')"
  log "peak RSS KiB: cfgsync $(grep rss_cfgsync_hwm "$RESULTS" | cut -d= -f2); loop: rclone $rclone_kib + inotifywait $inw_kib + shell $shell_kib"
}

# ---------------------------------------------------------------------------------------------
# A big tree (local-directory remote: the figure is cfgsync's own, not an S3 server's)

bench_huge() {
  if ((N_HUGE == 0)); then
    put huge_skipped 1
    return
  fi
  PHASE="$N_HUGE-file tree"
  log "--- $PHASE (local-directory remote)"
  local t0 t1 r port fig
  tree "$WORK/huge" "$N_HUGE" 100
  mkdir -p "$WORK/huge-remote" "$WORK/huge-base"
  printf 'one=1\n' >"$WORK/huge-base/one.conf"
  t0=$(now)
  step "$CFG" sync --dir "$WORK/huge" --remote "$WORK/huge-remote/app" --log-level warn >"$WORK/huge-sync.log" 2>&1 ||
    die "cfgsync sync of the big tree failed: $(tail -n 3 "$WORK/huge-sync.log")"
  t1=$(now)
  put huge_first_sync_s "$(elapsed "$t0" "$t1")"
  "$CFG" sync --dir "$WORK/huge-base" --remote "$WORK/huge-remote/base" --log-level warn >>"$WORK/huge-sync.log" 2>&1 ||
    die "cfgsync sync of the one-file tree failed"
  for ((r = 1; r <= ROUNDS; r++)); do
    port=$(free_port)
    read -r -a fig <<<"$("${MEASURE[@]}" startup --url "http://127.0.0.1:$port/readyz" --log "$WORK/huge-watch.log" -- \
      "$CFG" watch --dir "$WORK/huge" --remote "$WORK/huge-remote/app" --http-addr "127.0.0.1:$port")"
    echo "${fig[0]}" >>"$WORK/huge.ready"
    echo "${fig[1]}" >>"$WORK/huge.hwm"
    port=$(free_port)
    read -r -a fig <<<"$("${MEASURE[@]}" startup --url "http://127.0.0.1:$port/readyz" --log "$WORK/huge-watch.log" -- \
      "$CFG" watch --dir "$WORK/huge-base" --remote "$WORK/huge-remote/base" --http-addr "127.0.0.1:$port")"
    echo "${fig[1]}" >>"$WORK/huge-base.hwm"
    log "round $r: ready after $(tail -1 "$WORK/huge.ready") s, peak RSS $(tail -1 "$WORK/huge.hwm") KiB (one file: ${fig[1]} KiB)"
  done
  local hwm base
  hwm=$(stat_of median "$WORK/huge.hwm")
  base=$(stat_of median "$WORK/huge-base.hwm")
  put huge_ready_s "$(stat_of median "$WORK/huge.ready")"
  put huge_hwm "$hwm"
  put huge_base_hwm "$base"
  put huge_bytes_per_file "$(awk -v h="$hwm" -v b="$base" -v n="$N_HUGE" 'BEGIN { printf "%.0f", (h - b) * 1024 / n }')"
}

# ---------------------------------------------------------------------------------------------

start_servers
machine_info
put rounds "$ROUNDS"
put restore_rounds "$RESTORE_ROUNDS"
put n_small "$N_SMALL"
put n_big "$N_BIG"
put n_huge "$N_HUGE"
put idle_secs "$IDLE"
log "cfgsync $(grep '^cfgsync=' "$MACHINE" | cut -d= -f2-); work directory $WORK; $( ((QUICK)) && echo quick || echo full) mode"

for phase in ${BENCH_PHASES:-latency requests restore rss_idle huge}; do "bench_$phase"; done

PHASE=report
put duration_s "$(elapsed "$START_TIME" "$EPOCHREALTIME" | cut -d. -f1)"
MODE=$( ((QUICK)) && echo quick || echo full)
"${MEASURE[@]}" report --results "$RESULTS" --machine "$MACHINE" --mode "$MODE" >"$WORK/table.md"
cat "$WORK/table.md"
if [[ -n $OUT ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$WORK/table.md" "$OUT"
fi
if ((!QUICK)) && [[ -z ${BENCH_PHASES:-} ]]; then  # only a complete full run is the reference
  {
    echo "# Benchmarks"
    echo
    echo "cfgsync against the \`inotifywait -r …; rclone sync …; sleep 5\` loop it replaces, on local S3"
    echo "servers (s3rver 4 for times, moto_server for request counts), produced by"
    echo "\`bash bench/run.sh\`; how each figure is measured is in [bench/README.md](../bench/README.md)."
    echo "Regenerate on a quiet machine: the figures move with the load."
    echo
    cat "$WORK/table.md"
    [[ ! -f $REPO/bench/missed-targets.md ]] || cat "$REPO/bench/missed-targets.md"
  } >"$REPO/docs/BENCHMARKS.md"
  log "wrote docs/BENCHMARKS.md"
fi
