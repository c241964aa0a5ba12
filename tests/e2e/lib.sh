#!/usr/bin/env bash
# Helpers for cfgsync's end-to-end tests. Source it from a *_test.sh script:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Environment: CFGSYNC (the binary under test, required), CFGSYNC_SOURCE_DIR (the source tree;
# defaults to two levels above this file), E2E_KEEP=1 keeps the work directory for a post-mortem.
#
# What it gives:
#   - E2E_TMP, a work directory removed on exit; every background process started through
#     bg_start (servers, cfgsync) is stopped on exit, whatever the way out.
#   - free_port; start_moto / start_s3rver / start_server KIND; stop_server; restart_server
#     (same kind, same port, same data for s3rver; bucket `backups` re-created for moto).
#   - use_s3 PATH: exports RCLONE_CONFIG_S3_*, SYNC_BUCKET and SYNC_PATH for the running server.
#   - s3_get KEY / s3_has KEY / s3_list (awscli, an independent client; KEY relative to SYNC_PATH)
#     and remote_keys / keys_are KEY... / remote_size KEY (through `$CFGSYNC ls`, fast enough to
#     poll with).
#   - wait_for [-t SECONDS] CMD..., and assertion helpers that print a clear failure and exit 1.
#   - start_cfgsync LOG ARGS... / stop_cfgsync / kill_cfgsync for the process under test;
#     find_http_port LOG for its health server; num A OP B to compare metric values.
# shellcheck shell=bash
# `$(echo $x)` below flattens lists onto one line for messages, on purpose:
# shellcheck disable=SC2005,SC2046,SC2086,SC2116
# CFG_RC, BG_RC, CMD_OUT, CMD_ERR are results for the calling script:
# shellcheck disable=SC2034

set -euo pipefail

: "${CFGSYNC:?set CFGSYNC to the cfgsync binary under test}"
[[ -x $CFGSYNC ]] || { echo "CFGSYNC=$CFGSYNC is not an executable" >&2; exit 1; }
CFGSYNC=$(cd "$(dirname "$CFGSYNC")" && pwd)/$(basename "$CFGSYNC")
CFGSYNC_SOURCE_DIR=${CFGSYNC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CFGSYNC CFGSYNC_SOURCE_DIR

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfgsync-e2e.XXXXXX")
# Test a private copy: a rebuild of the original while the tests run must not pull it away.
for _try in 1 2 3 4 5 6 7 8 9 10; do
  if cp "$CFGSYNC" "$E2E_TMP/cfgsync" 2>/dev/null && "$E2E_TMP/cfgsync" version >/dev/null 2>&1; then
    break
  fi
  ((_try < 10)) || { echo "cannot copy a working $CFGSYNC" >&2; rm -rf "$E2E_TMP"; exit 1; }
  sleep 3
done
unset _try
CFGSYNC=$E2E_TMP/cfgsync
E2E_PIDS=()          # background processes still to stop on exit
E2E_SCENARIO=""      # shown in failure messages
E2E_FAIL_LOGS=()     # files whose tail is printed when an assertion fails
E2E_BUCKET=backups
E2E_DEFAULT_TIMEOUT=${E2E_DEFAULT_TIMEOUT:-10}

# Keep cfgsync's own CFGSYNC_* flag fallbacks and stray AWS settings out of the tests.
while IFS= read -r _var; do
  case $_var in
    CFGSYNC | CFGSYNC_SOURCE_DIR) ;;
    CFGSYNC_* | RCLONE_CONFIG_* | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | \
      AWS_ENDPOINT_URL | AWS_REGION | AWS_PROFILE | SYNC_BUCKET | SYNC_PATH) unset "$_var" ;;
  esac
done < <(compgen -e)
unset _var
# Parallel sidecars must not fight over the default health/metrics port.
export CFGSYNC_HTTP_ADDR=127.0.0.1:0

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and clean-up

_e2e_forget_pid() {
  local pid=$1 keep=() p
  for p in "${E2E_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  E2E_PIDS=("${keep[@]}")
}

_e2e_cleanup() {
  local rc=$? pid i alive
  set +e
  trap - EXIT INT TERM
  for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 30; i++)); do
    alive=0
    for pid in "${E2E_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${E2E_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [[ ${E2E_KEEP:-} == 1 ]]; then
    echo "work directory kept: $E2E_TMP" >&2
  else
    rm -rf "$E2E_TMP"
  fi
  exit "$rc"
}
trap _e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg_start LOG CMD...: runs CMD in the background with stdout and stderr in LOG; the pid is in
# BG_PID (not printed: call it directly, never inside $(...), so that the script can `wait`).
# LOG exists when it returns, so that a `tail -f LOG` right after cannot miss it.
bg_start() {
  local log=$1
  shift
  : >"$log"
  "$@" >>"$log" 2>&1 &
  BG_PID=$!
  E2E_PIDS+=("$BG_PID")
}

# bg_wait PID: waits for a background process; its exit code is in BG_RC.
bg_wait() {
  local pid=$1
  BG_RC=0
  wait "$pid" 2>/dev/null || BG_RC=$?  # no "Killed" notice for a process killed on purpose
  _e2e_forget_pid "$pid"
}

# ---------------------------------------------------------------------------------------------
# Messages and assertions

now_ms() { date +%s%3N; }

log() { printf '%s  %s\n' "$(date +%T.%3N)" "$*" >&2; }

# scenario NAME: starts a named scenario (for messages).
scenario() {
  E2E_SCENARIO=$1
  E2E_FAIL_LOGS=()
  log "--- ${SERVER_KIND:+[$SERVER_KIND] }$1"
}

# fail MESSAGE: prints the failure, the tail of the logs registered with watch_log, and exits 1.
fail() {
  local f
  {
    echo "FAIL: ${SERVER_KIND:+[$SERVER_KIND] }${E2E_SCENARIO:+$E2E_SCENARIO: }$*"
    for f in "${E2E_FAIL_LOGS[@]}"; do
      [[ -f $f ]] || continue
      echo "----- last lines of $f"
      tail -n 40 "$f" | sed 's/^/    /'
    done
  } >&2
  exit 1
}

# watch_log FILE: prints FILE's tail when the current scenario fails.
watch_log() { E2E_FAIL_LOGS+=("$1"); }

assert_eq() { # ACTUAL EXPECTED WHAT
  [[ $1 == "$2" ]] || fail "$3: expected [$2], got [$1]"
}

assert_contains() { # FILE PATTERN(grep -E) WHAT
  grep -Eq -- "$2" "$1" || fail "$3: no line matching /$2/ in $1"
}

assert_not_contains() { # FILE PATTERN(grep -E) WHAT
  if grep -Eq -- "$2" "$1"; then
    fail "$3: unexpected line(s) matching /$2/ in $1: $(grep -E -- "$2" "$1" | head -3)"
  fi
}

count_lines() { # FILE PATTERN(grep -E)
  grep -Ec -- "$2" "$1" || true
}

# assert_exit CODE CMD...: runs CMD (stdout in CMD_OUT, stderr in CMD_ERR) and checks its code.
assert_exit() {
  local want=$1 rc=0
  shift
  CMD_OUT=$E2E_TMP/cmd.out
  CMD_ERR=$E2E_TMP/cmd.err
  "$@" >"$CMD_OUT" 2>"$CMD_ERR" || rc=$?
  if [[ $rc != "$want" ]]; then
    fail "\`$*\` exited $rc, expected $want; stdout: $(head -c 400 "$CMD_OUT"); stderr: $(head -c 800 "$CMD_ERR")"
  fi
}

# wait_for [-t SECONDS] CMD...: polls CMD every 0.1 s until it succeeds; returns 1 after the
# timeout (default E2E_DEFAULT_TIMEOUT).
wait_for() {
  local timeout=$E2E_DEFAULT_TIMEOUT
  if [[ ${1:-} == -t ]]; then
    timeout=$2
    shift 2
  fi
  local deadline
  deadline=$(($(now_ms) + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')))
  while :; do
    if "$@"; then return 0; fi
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------------
# S3 servers

SERVER_KIND=""
SERVER_PORT=""
SERVER_PID=""
SERVER_DATA=""
SERVER_LOG=""
S3_ENDPOINT=""
S3_KEY=""
S3_SECRET=""

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _wait_ready CHECK...: waits (30 s at most) for the server to pass CHECK; fails if it died.
_wait_ready() {
  local deadline=$(($(now_ms) + 30000))
  while ! "$@"; do
    kill -0 "$SERVER_PID" 2>/dev/null ||
      fail "$SERVER_KIND on port $SERVER_PORT exited while starting: $(tail -n 5 "$SERVER_LOG")"
    (($(now_ms) < deadline)) || fail "$SERVER_KIND on port $SERVER_PORT not ready within 30 s"
    sleep 0.1
  done
}

_moto_ready() { curl -s -o /dev/null "http://127.0.0.1:$SERVER_PORT/" 2>/dev/null; }
_s3rver_ready() { grep -q '^ready' "$SERVER_LOG" 2>/dev/null; }

# _start_bound SPAWN_FN: a restarted server may find its port still held for a moment: retry.
_start_bound() {
  local attempt
  for attempt in 1 2 3 4 5; do
    "$@"
    sleep 0.3
    if kill -0 "$SERVER_PID" 2>/dev/null; then return 0; fi
    bg_wait "$SERVER_PID"
    log "$SERVER_KIND did not start on port $SERVER_PORT (attempt $attempt): $(tail -n 2 "$SERVER_LOG")"
    sleep 1
  done
  fail "$SERVER_KIND could not start on port $SERVER_PORT"
}

_spawn_s3rver() {
  bg_start "$SERVER_LOG" node --openssl-legacy-provider "$CFGSYNC_SOURCE_DIR/tests/support/s3rver.js" \
    "$SERVER_PORT" "$SERVER_DATA" "$E2E_BUCKET"
  SERVER_PID=$BG_PID
}

# start_moto [PORT]: moto_server on 127.0.0.1 (in memory), with bucket `backups`.
start_moto() {
  SERVER_KIND=moto
  SERVER_PORT=${1:-$(free_port)}
  SERVER_LOG=$E2E_TMP/moto-$SERVER_PORT.log
  SERVER_DATA=""
  S3_KEY=moto-key
  S3_SECRET=moto-secret
  S3_ENDPOINT=http://127.0.0.1:$SERVER_PORT
  # Appends to the log across restarts (each start gets a marker line).
  echo "=== start $(date +%T.%3N)" >>"$SERVER_LOG"
  _start_bound _spawn_moto_append
  _wait_ready _moto_ready
  curl -sf -X PUT "$S3_ENDPOINT/$E2E_BUCKET" -o /dev/null ||
    fail "moto: cannot create bucket $E2E_BUCKET"
}
_spawn_moto_append() {
  moto_server -H 127.0.0.1 -p "$SERVER_PORT" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  E2E_PIDS+=("$SERVER_PID")
}

# start_s3rver [PORT]: s3rver 4 on 127.0.0.1 storing under SERVER_DATA (kept across restarts),
# with bucket `backups`.
start_s3rver() {
  SERVER_KIND=s3rver
  SERVER_PORT=${1:-$(free_port)}
  SERVER_LOG=$E2E_TMP/s3rver-$SERVER_PORT.log
  SERVER_DATA=$E2E_TMP/s3rver-data-$SERVER_PORT
  S3_KEY=S3RVER
  S3_SECRET=S3RVER
  S3_ENDPOINT=http://127.0.0.1:$SERVER_PORT
  mkdir -p "$SERVER_DATA"
  : >"$SERVER_LOG"
  _start_bound _spawn_s3rver
  _wait_ready _s3rver_ready
}

# start_server KIND [PORT]: KIND is moto or s3rver.
start_server() {
  case $1 in
    moto) start_moto "${2:-}" ;;
    s3rver) start_s3rver "${2:-}" ;;
    *) fail "unknown server kind $1" ;;
  esac
}

# stop_server: SIGTERM, then SIGKILL after 5 s; waits until the port is closed.
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  local i
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  bg_wait "$SERVER_PID"
  SERVER_PID=""
  for ((i = 0; i < 50; i++)); do
    _port_open "$SERVER_PORT" || return 0
    sleep 0.1
  done
  fail "port $SERVER_PORT still open after stopping $SERVER_KIND"
}

# restart_server: same kind, same port. s3rver keeps its objects; moto starts empty (the bucket
# is created again, its objects are gone).
restart_server() {
  local kind=$SERVER_KIND port=$SERVER_PORT
  [[ -z $SERVER_PID ]] || stop_server
  start_server "$kind" "$port"
}

# ---------------------------------------------------------------------------------------------
# cfgsync's configuration and the backup's contents

# use_s3 PATH: points cfgsync at the running server, prefix PATH in bucket `backups`.
use_s3() {
  export RCLONE_CONFIG_S3_TYPE=s3
  export RCLONE_CONFIG_S3_PROVIDER=Other
  export RCLONE_CONFIG_S3_ACCESS_KEY_ID=$S3_KEY
  export RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$S3_SECRET
  export RCLONE_CONFIG_S3_ENDPOINT=$S3_ENDPOINT
  export SYNC_BUCKET=$E2E_BUCKET
  export SYNC_PATH=$1
}

# awscli, past any pyenv shim (which costs a few hundred ms per call).
E2E_AWS=$(pyenv which aws 2>/dev/null || command -v aws || true)
[[ -n $E2E_AWS ]] || { echo "awscli (aws) is not installed" >&2; exit 1; }

# aws_s3api ARGS...: awscli against the running server.
aws_s3api() {
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$E2E_AWS" --endpoint-url "$S3_ENDPOINT" s3api "$@"
}

# aws_s3 ARGS...: the high-level awscli commands against the running server.
aws_s3() {
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$E2E_AWS" --endpoint-url "$S3_ENDPOINT" s3 "$@"
}

_full_key() { printf '%s' "${SYNC_PATH:+${SYNC_PATH%/}/}$1"; }

# s3_get KEY: prints the object's body (KEY relative to SYNC_PATH); fails if it is missing.
s3_get() {
  local out=$E2E_TMP/s3_get.$$.$RANDOM rc=0
  aws_s3api get-object --bucket "$E2E_BUCKET" --key "$(_full_key "$1")" "$out" >/dev/null 2>&1 || rc=$?
  if ((rc == 0)); then cat "$out"; fi
  rm -f "$out"
  return "$rc"
}

# s3_has KEY: whether the object exists (one HEAD, about 1 s with awscli: do not poll with it).
s3_has() {
  aws_s3api head-object --bucket "$E2E_BUCKET" --key "$(_full_key "$1")" >/dev/null 2>&1
}

# s3_list: every key under SYNC_PATH, relative to it, sorted, one per line (recursive listing
# without a delimiter: s3rver's delimiter listings miss some folders).
s3_list() {
  local prefix
  prefix=$(_full_key "")
  aws_s3api list-objects-v2 --bucket "$E2E_BUCKET" ${prefix:+--prefix "$prefix"} \
    --query 'Contents[].[Key]' --output text |
    { grep -v '^None$' || true; } | sed "s#^$prefix##" | LC_ALL=C sort
}

# remote_ls: `$CFGSYNC ls` as "SIZE KEY" lines (fast: one listing plus parallel HEADs).
remote_ls() {
  "$CFGSYNC" ls 2>/dev/null |
    sed -nE 's/^ *([0-9]+)  [^ ]+ [^ ]+  +(-|[0-7]+)  (.*)$/\1 \3/p' | LC_ALL=C sort -k2
}

# remote_keys: the keys `$CFGSYNC ls` shows, sorted.
remote_keys() { remote_ls | cut -d' ' -f2- | LC_ALL=C sort; }

# remote_size KEY: the size `$CFGSYNC ls` shows for KEY; fails if absent.
remote_size() {
  local line
  line=$(remote_ls | awk -v k="$1" '{ s = $1; sub(/^[0-9]+ /, ""); if ($0 == k) { print s; found = 1 } } END { exit !found }') ||
    return 1
  printf '%s\n' "$line"
}

remote_has() { remote_keys | grep -qxF -- "$1"; }
remote_lacks() { ! remote_has "$1"; }
# keys_are KEY...: the backup holds exactly these keys.
keys_are() { [[ $(remote_keys) == "$(printf '%s\n' "$@" | LC_ALL=C sort)" ]]; }
remote_count_is() { [[ $(remote_keys | grep -c .) == "$1" ]]; }

# remote_content_is KEY TEXT: the size matches (cheap check first), then the body (awscli).
remote_content_is() {
  local want_size
  want_size=$(printf '%s' "$2" | wc -c)
  [[ $(remote_size "$1" 2>/dev/null) == "$want_size" ]] || return 1
  [[ $(s3_get "$1" 2>/dev/null) == "$2" ]]
}

# wait_content [-t SECONDS] KEY TEXT: waits until the object holds TEXT; fails otherwise.
wait_content() {
  local t=()
  if [[ $1 == -t ]]; then
    t=(-t "$2")
    shift 2
  fi
  wait_for "${t[@]}" remote_content_is "$1" "$2" ||
    fail "$1: expected content [$2] in the backup; have [$(s3_get "$1" 2>&1 | head -c 200)]"
}

# assert_s3_content KEY TEXT: checked once, with awscli.
assert_s3_content() {
  local got
  got=$(s3_get "$1") || fail "$1: missing from the backup (awscli get-object failed)"
  [[ $got == "$2" ]] || fail "$1: expected content [$2], backup holds [$got]"
}

# assert_s3_keys KEY...: the backup under SYNC_PATH holds exactly these keys (awscli listing).
assert_s3_keys() {
  local want got
  want=$(printf '%s\n' "$@" | { grep . || true; } | LC_ALL=C sort)
  got=$(s3_list)
  [[ $got == "$want" ]] || fail "backup keys differ; expected: [$(echo $want)], got: [$(echo $got)]"
}

# s3_download DIR: every object under SYNC_PATH into DIR (one awscli call).
s3_download() {
  rm -rf "$1"
  mkdir -p "$1"
  aws_s3 cp --recursive --only-show-errors "s3://$E2E_BUCKET/$(_full_key "")" "$1" >/dev/null
}

# assert_s3_files KEY=TEXT...: the backup under SYNC_PATH holds exactly these keys with exactly
# these contents (checked with one recursive awscli download).
assert_s3_files() {
  local dir=$E2E_TMP/s3-download pair key want got keys=()
  s3_download "$dir" || fail "awscli could not download the backup under $SYNC_PATH"
  for pair in "$@"; do
    key=${pair%%=*}
    want=${pair#*=}
    keys+=("$key")
    [[ -f $dir/$key ]] || fail "$key: missing from the backup (have: $(cd "$dir" && echo $(find . -type f | sed 's#^\./##' | LC_ALL=C sort)))"
    got=$(cat "$dir/$key")
    [[ $got == "$want" ]] || fail "$key: expected content [$want], backup holds [$got]"
  done
  got=$(cd "$dir" && find . -type f | sed 's#^\./##' | LC_ALL=C sort)
  want=$(printf '%s\n' "${keys[@]}" | LC_ALL=C sort)
  [[ $got == "$want" ]] || fail "backup keys differ; expected: [$(echo $want)], got: [$(echo $got)]"
}

# ---------------------------------------------------------------------------------------------
# The process under test

CFG_PID=""
CFG_LOG=""

# start_cfgsync LOG ARGS...: `$CFGSYNC ARGS...` in the background (pid in CFG_PID); its
# output goes to LOG (appended, so that a restart keeps the earlier lines).
start_cfgsync() {
  CFG_LOG=$1
  shift
  echo "=== start $(date +%T.%3N): cfgsync $*" >>"$CFG_LOG"
  "$CFGSYNC" "$@" >>"$CFG_LOG" 2>&1 &
  CFG_PID=$!
  E2E_PIDS+=("$CFG_PID")
  watch_log "$CFG_LOG"
}

# wait_reconciled [N]: waits until LOG shows N (default 1) start-up/periodic reconcile lines.
_reconciles_at_least() {
  (($(count_lines "$CFG_LOG" ' (info|warn|warning|error) reconcile') >= $1)) && return 0
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited before its first reconcile"
  return 1
}
wait_reconciled() {
  local n=${1:-1}
  wait_for -t 15 _reconciles_at_least "$n" || fail "no reconcile line in the log after 15 s"
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited early"
}

# stop_cfgsync [SIGNAL]: sends SIGNAL (default TERM) and waits (25 s at most); exit code in
# CFG_RC.
stop_cfgsync() {
  local sig=${1:-TERM} i
  [[ -n $CFG_PID ]] || return 0
  # bash reports a job killed by a signal ("Killed") on its stderr when it reaps it: hide that.
  exec 4>&2 2>/dev/null
  kill -"$sig" "$CFG_PID" 2>/dev/null || true
  for ((i = 0; i < 250; i++)); do
    kill -0 "$CFG_PID" 2>/dev/null || break
    sleep 0.1
  done
  exec 2>&4 4>&-
  if kill -0 "$CFG_PID" 2>/dev/null; then
    kill -KILL "$CFG_PID" 2>/dev/null || true
    bg_wait "$CFG_PID"
    CFG_PID=""
    fail "cfgsync did not exit within 25 s of SIG$sig"
  fi
  bg_wait "$CFG_PID"
  CFG_RC=$BG_RC
  CFG_PID=""
}

# kill_cfgsync: SIGKILL, as when the node dies.
kill_cfgsync() { stop_cfgsync KILL; }

# find_http_port LOG: HTTP_PORT from the sidecar's start-up line "serving /healthz, /readyz,
# /metrics" (field `port`: text port=N, JSON "port":N), written by the latest start in LOG
# (start_cfgsync appends a "=== start" line each time). With --http-addr 127.0.0.1:0 (as this
# file exports) the kernel picks the port.
_port_in_log() {
  HTTP_PORT=$(awk '/^=== start / { n = 0; split("", l) } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' \
    "$1" 2>/dev/null | grep -F 'serving /healthz, /readyz, /metrics' |
    sed -nE 's/.*[" ]port"?[=:]([0-9]+).*/\1/p' | tail -n 1)
  [[ -n $HTTP_PORT ]] && return 0
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited before serving HTTP"
  return 1
}
find_http_port() {
  wait_for -t 20 _port_in_log "$1" || fail "no 'serving /healthz, /readyz, /metrics ... port' line in $1"
  [[ $HTTP_PORT != 0 ]] || fail "the serving line gives port 0, not the bound port"
}

# num A OP B: numeric comparison (values may be written as 1e+06); false when A is "absent"
# or empty.
num() {
  [[ $1 != absent && -n $1 ]] || return 1
  awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
  a += 0; b += 0
  if (op == "==") r = a == b; else if (op == ">=") r = a >= b; else if (op == ">") r = a > b
  else if (op == "<=") r = a <= b; else if (op == "<") r = a < b; else r = 0
  exit !r }'
}
