#!/usr/bin/env bash
# End-to-end tests of cfgsync against a hostile or broken S3 server (tests/support/fault_s3.py):
# errors with and without Retry-After, short and corrupted bodies, trickling downloads, broken
# listings (a repeated or empty continuation token), redirects, writes refused, huge headers,
# a skewed clock, a failed multipart upload and a stale one, and a listing of many keys. Each
# case runs the real binary and checks: the exit code, a clear error line, a bounded number of
# requests, a bounded time, and that nothing was lost or half-written (the local folder as it
# was, no temporary file left, no object deleted from the backup).
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/hostile_test.sh
#
# Every case runs even when an earlier one failed; the table "case | requests | seconds | exit
# code" is printed at the end, then the failures.
# shellcheck disable=SC2119
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FAULT_S3=$CFGSYNC_SOURCE_DIR/tests/support/fault_s3.py
FAULT_PID=""
FAULT_PORT=""
FAULT_N=0
ROWS=()
FAILURES=()
RUN_PREFIX=()  # a command run_case puts before cfgsync (/usr/bin/time)
LOCAL=""
SEED=$E2E_TMP/seed
SEEDED_KEYS="app/a.ini app/big.txt app/sub/b.json"

mkdir -p "$SEED/sub"
printf 'alpha\n' >"$SEED/a.ini"
printf '{"b": 1}\n' >"$SEED/sub/b.json"
head -c 10000 /dev/zero | tr '\0' 'x' >"$SEED/big.txt"

# start_fault ARGS...: a fresh fault_s3.py (the seed stored under app/) with ARGS; cfgsync is
# pointed at it.
start_fault() {
  stop_fault
  FAULT_N=$((FAULT_N + 1))
  local log=$E2E_TMP/fault-$FAULT_N.log
  bg_start "$log" python3 "$FAULT_S3" --max-seconds 300 --seed "$SEED" app "$@"
  FAULT_PID=$BG_PID
  wait_for -t 10 grep -q '^ready' "$log" || fail "fault_s3.py did not start: $(tail -n 5 "$log")"
  FAULT_PORT=$(sed -n 's/^ready //p' "$log")
  S3_KEY=hostile-key
  S3_SECRET=hostile-secret
  S3_ENDPOINT=http://127.0.0.1:$FAULT_PORT
  use_s3 app
}

stop_fault() {
  [[ -n $FAULT_PID ]] || return 0
  kill -TERM "$FAULT_PID" 2>/dev/null || true
  bg_wait "$FAULT_PID"
  FAULT_PID=""
}

# stat_field EXPR: a value from the server's /__stats (a Python expression over `s`).
stat_field() {
  curl -sf "http://127.0.0.1:$FAULT_PORT/__stats" |
    python3 -c "import json, sys; s = json.load(sys.stdin); print($1)"
}

# check CONDITION MESSAGE: records a failure of the current case instead of stopping.
check() {
  if ! eval "$1"; then
    FAILURES+=("$E2E_SCENARIO: $2")
    log "FAIL: $2"
  fi
}

# file_state DIR FILE...: size, mode, mtime and checksum of each FILE under DIR.
file_state() {
  local dir=$1
  shift
  (cd "$dir" && stat -c '%n %s %a %Y' "$@" && md5sum "$@")
}

# local_dir: a --dir holding a file of its own and an older a.ini (which a restore may replace
# only with the whole stored file); their state in LOCAL_BEFORE.
local_dir() {
  LOCAL=$E2E_TMP/local-$FAULT_N
  rm -rf "$LOCAL"
  mkdir -p "$LOCAL"
  printf 'mine\n' >"$LOCAL/own.ini"
  printf 'old alpha\n' >"$LOCAL/a.ini"
  touch -d '2001-01-01' "$LOCAL/a.ini"
  read -ra PRESERVED <<<"${PRESERVE:-own.ini a.ini}"
  LOCAL_BEFORE=$(file_state "$LOCAL" "${PRESERVED[@]}")
}

# local_intact: the preserved files are as they were; every other file is a whole stored file
# (no temporary file, no partial download).
local_intact() {
  [[ "$(file_state "$LOCAL" "${PRESERVED[@]}" 2>&1)" == "$LOCAL_BEFORE" ]] || return 1
  local f
  while IFS= read -r f; do
    case $f in
      own.ini | .cfgsync-marker) ;;
      a.ini | big.txt | sub/b.json) cmp -s "$LOCAL/$f" "$SEED/$f" || [[ $f == a.ini ]] || return 1 ;;
      *) return 1 ;;
    esac
  done < <(cd "$LOCAL" && find . -type f | sed 's#^\./##')
}

# run_case NAME WANT_RC MAX_REQUESTS MIN_S MAX_S ERROR_RE CMD...: runs cfgsync CMD... against
# the running fault server and checks the exit code, the error line, the request count and the
# time; then that --dir is as it was and the backup still holds every seeded key.
run_case() {
  local name=$1 want_rc=$2 max_req=$3 min_s=$4 max_s=$5 error_re=$6
  shift 6
  scenario "$name"
  curl -sf -X POST "http://127.0.0.1:$FAULT_PORT/__reset" -o /dev/null
  local out=$E2E_TMP/case.out err=$E2E_TMP/case.err rc=0 t0 ms reqs
  t0=$(now_ms)
  timeout -k 2 "$((max_s + 10))" "${RUN_PREFIX[@]}" "$CFGSYNC" "$@" >"$out" 2>"$err" || rc=$?
  ms=$(($(now_ms) - t0))
  reqs=$(stat_field 's["total"]')
  ROWS+=("$(printf '%-34s | %8s | %7s | %s' "$name" "$reqs" "$(awk -v m="$ms" 'BEGIN { printf "%.1f", m / 1000 }')" "$rc")")
  check "[[ $rc == $want_rc ]]" "exit code $rc, expected $want_rc; stderr: $(head -c 300 "$err" | tr '\n' ' ')"
  check "((reqs <= max_req))" "$reqs requests, expected at most $max_req"
  check "((ms >= min_s * 1000))" "took ${ms} ms, expected at least ${min_s} s (pauses between retries)"
  check "((ms <= max_s * 1000))" "took ${ms} ms, expected at most ${max_s} s"
  if [[ -n $error_re ]]; then
    check "grep -Eq -- \"\$error_re\" \"$err\"" "no error line matching /$error_re/; stderr: $(tail -c 400 "$err" | tr '\n' ' ')"
  fi
  if [[ -n ${LOCAL:-} && -d $LOCAL ]]; then
    check local_intact "--dir changed or holds a partial file: $(cd "$LOCAL" && find . -type f -printf '%p(%s) ' | tr '\n' ' ')"
  fi
  local keys
  keys=$(stat_field '" ".join(k for k in s["objects"] if not k.startswith("app/synthetic/"))')
  check "[[ \"$keys\" == \"$SEEDED_KEYS\"* ]]" "backup keys changed: [$keys]"
}

restore_case() { # NAME WANT_RC MAX_REQUESTS MIN_S MAX_S ERROR_RE [FLAGS...]
  local args=("$@")
  local_dir
  run_case "${args[@]:0:6}" restore --dir "$LOCAL" "${args[@]:6}"
}

# ---------------------------------------------------------------------------------------------
# Server errors and Retry-After: one budget per operation, the server's pause honoured.

start_fault --fault status=500
restore_case "restore: 500 on every request" 1 6 0 30 '500 InternalError.*6 attempts'

start_fault --fault status=503 --fault retry-after=2
restore_case "restore: 503 Retry-After: 2" 1 3 4 20 '503 SlowDown' --retries 3

start_fault --fault status=503 --fault retry-after=date+2
restore_case "restore: 503 Retry-After: HTTP date" 1 3 3 20 '503 SlowDown' --retries 3

start_fault --fault status=500 --times 2
LOCAL=""
run_case "restore: two 500s, then fine" 0 12 0 20 '' restore --dir "$E2E_TMP/recovered"
check "[[ \$(cat \"\$E2E_TMP/recovered/sub/b.json\") == '{\"b\": 1}' ]]" "sub/b.json not restored"

# ---------------------------------------------------------------------------------------------
# Bodies: short, corrupted, trickling.

start_fault --fault short-body --only get
restore_case "restore: short bodies" 1 40 0 40 'get .*(transfer closed|Transferred a partial file|partial)'

start_fault --fault bad-md5 --only get
restore_case "restore: wrong MD5 on every GET" 1 20 1 40 'does not match the stored'
check "(($(stat_field 's["by_op"].get("get", 0)') <= 18))" "more than 6 GETs for each of 3 objects"

start_fault --fault trickle=2 --only get
restore_case "restore: body at 2 bytes/s" 1 12 0 25 'too slow|deadline|no answer' \
  --stall-timeout 2s --retries 2

start_fault --fault delay=60
restore_case "restore: no answer for 60 s" 1 3 0 15 'too slow|no answer' \
  --stall-timeout 2s --retries 2

# SIGTERM while the downloads wait on a server that stopped answering: the restore stops within
# seconds (long before the 30 s stall timeout), says it was interrupted, exits non-zero and
# leaves no partial or temporary file in --dir.
start_fault --fault delay=60 --only get
scenario "restore: SIGTERM during stalled downloads"
local_dir
gets_started() { (($(stat_field 's["by_op"].get("get", 0)') >= 1)); }
bg_start "$E2E_TMP/sigterm.log" "$CFGSYNC" restore --dir "$LOCAL"
SIGTERM_PID=$BG_PID
check "wait_for -t 15 gets_started" "no download started"
sleep 0.5
t0=$(now_ms)
kill -TERM "$SIGTERM_PID"
check "wait_for -t 10 eval '! kill -0 $SIGTERM_PID 2>/dev/null'" "still running 10 s after SIGTERM"
ms=$(($(now_ms) - t0))
kill -KILL "$SIGTERM_PID" 2>/dev/null || true
bg_wait "$SIGTERM_PID"
ROWS+=("$(printf '%-34s | %8s | %7s | %s' "restore: SIGTERM mid-download" "-" "$(awk -v m="$ms" 'BEGIN { printf "%.1f", m / 1000 }')" "$BG_RC")")
check "[[ $BG_RC == 1 ]]" "exit code $BG_RC after SIGTERM, expected 1: $(tail -c 300 "$E2E_TMP/sigterm.log")"
check "((ms <= 5000))" "exited ${ms} ms after SIGTERM, expected at most 5 s"
check "grep -q 'restore interrupted' '$E2E_TMP/sigterm.log'" "no 'restore interrupted' line: $(tail -c 300 "$E2E_TMP/sigterm.log")"
check local_intact "--dir changed or holds a partial file: $(cd "$LOCAL" && find . -type f -printf '%p(%s) ' | tr '\n' ' ')"

# A full disk (an 8 kB tmpfs, where root may mount one): the error says so, and no temporary
# file is left behind.
FULL=$E2E_TMP/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=8k tmpfs "$FULL" 2>/dev/null; then
  start_fault
  LOCAL=""
  run_case "restore: disk full" 1 8 0 20 'No space left on device' restore --dir "$FULL"
  check "[[ -z \$(find \"\$FULL\" -name '.cfgsync-tmp-*') ]]" "temporary files left in --dir"
  umount "$FULL"
else
  log "skipped: restore into a full disk (cannot mount a tmpfs here)"
fi

# ---------------------------------------------------------------------------------------------
# Broken listings: an error naming the server's fault, never an endless loop.

start_fault --fault repeat-token
# The first page is sound: what it lists is restored (a.ini, older here, is replaced).
PRESERVE=own.ini restore_case "restore: repeated continuation token" 1 6 0 10 'repeated the continuation token'
LOCAL=""
run_case "ls: repeated continuation token" 1 5 0 10 'repeated the continuation token' ls
local_dir
run_case "status: repeated continuation token" 1 3 0 10 'repeated the continuation token' \
  status --dir "$LOCAL"
run_case "sync: repeated continuation token" 1 5 0 10 'repeated the continuation token' \
  sync --dir "$LOCAL"
check "(($(stat_field 's["by_op"].get("put", 0) + s["by_op"].get("multi-delete", 0)') == 0))" \
  "sync wrote or deleted after a broken listing"

start_fault --fault empty-token
restore_case "restore: truncated without a token" 1 2 0 10 'truncated page without'


# The sidecar's reconciles against a repeated token: bounded requests while it waits.
start_fault --fault repeat-token
scenario "watch: repeated continuation token for 4 s"
local_dir
curl -sf -X POST "http://127.0.0.1:$FAULT_PORT/__reset" -o /dev/null
start_cfgsync "$E2E_TMP/watch.log" watch --dir "$LOCAL" --shutdown-quiet 0s
sleep 4
WATCH_REQ=$(stat_field 's["total"]')
stop_cfgsync
ROWS+=("$(printf '%-34s | %8s | %7s | %s' "$E2E_SCENARIO" "$WATCH_REQ" "4.0" "$CFG_RC")")
check "((WATCH_REQ <= 30))" "$WATCH_REQ requests in 4 s"
check "grep -q 'repeated the continuation token' \"\$CFG_LOG\"" "the log does not name the broken listing"
check "[[ \$(cat \"\$LOCAL/own.ini\") == mine ]]" "own.ini changed"
LOCAL=""

# ---------------------------------------------------------------------------------------------
# Redirects, refusals, huge headers, skewed clock.

start_fault --fault redirect=301
restore_case "restore: 301 PermanentRedirect" 1 2 0 10 'redirects to http://127.0.0.1:9/.*region eu-west-3'
start_fault --fault redirect=307
restore_case "restore: 307 redirect" 1 2 0 10 'redirects to http://127.0.0.1:9/'

start_fault --fault deny-put
local_dir
run_case "sync: 403 on PUT only" 1 4 0 10 '403 AccessDenied' sync --dir "$LOCAL"
check "(($(stat_field 's["by_op"].get("multi-delete", 0) + s["by_op"].get("delete", 0)') == 0))" \
  "sync deleted objects while its uploads were refused"

start_fault --fault huge-header=300000
restore_case "restore: 300 kB response header" 1 8 0 30 'response headers are too large'

# A length no 64-bit number holds: an error, never an abort (exit 134) or a temporary file left.
start_fault --fault huge-length
restore_case "restore: 20-digit Content-Length" 1 20 0 30 'Content-Length "99999999999999999999", not a size'
LOCAL=""
run_case "ls: 20-digit Content-Length" 1 5 0 10 'Content-Length.*not a size' ls

start_fault --fault skew=7200
restore_case "restore: RequestTimeTooSkewed" 1 2 0 10 "RequestTimeTooSkewed: the server's time is .*, this machine's .*clock"

# ---------------------------------------------------------------------------------------------
# Multipart: a failed upload is aborted; a stale one is found and aborted by the next sync.

BIGDIR=$E2E_TMP/bigdir
mkdir -p "$BIGDIR"
head -c $((65 << 20)) /dev/urandom >"$BIGDIR/huge.bin"
start_fault --fault fail-part=2 --only part
LOCAL=""
run_case "sync: multipart part fails" 1 20 0 60 'part 2: 500' sync --dir "$BIGDIR"
check "[[ \$(stat_field 'len(s[\"uploads\"])') == 0 ]]" "the failed multipart upload was not aborted"
check "(($(stat_field 's["by_op"].get("abort", 0)') >= 1))" "no AbortMultipartUpload sent"

start_fault --fault stale-upload=app/old.bin
LOCAL=""
curl -sf -X POST "http://127.0.0.1:$FAULT_PORT/backups/app/fresh.bin?uploads" -o /dev/null
cp -a "$SEED" "$E2E_TMP/seed-copy"
run_case "sync: stale multipart upload" 0 10 0 20 '' sync --dir "$E2E_TMP/seed-copy"
check "[[ \$(stat_field '\" \".join(s[\"uploads\"])') == app/fresh.bin ]]" \
  "the stale upload should be aborted and the fresh one (maybe still running) kept: $(stat_field 's["uploads"]')"

# ---------------------------------------------------------------------------------------------
# Memory: `status` against 200,000 keys holds a page at a time, not the listing.

start_fault --fault synthetic=200000
local_dir
RSS_LOG=$E2E_TMP/rss.log
RUN_PREFIX=(/usr/bin/time -f 'maxrss %M' -o "$RSS_LOG")
run_case "status: 200,000 keys" 1 210 0 60 '' status --dir "$LOCAL"
RUN_PREFIX=()
RSS_KB=$(sed -n 's/^maxrss //p' "$RSS_LOG")
log "status over 200,000 keys: max RSS ${RSS_KB} KB"
check "((${RSS_KB:-999999} < 60000))" "status used ${RSS_KB} KB for 200,000 keys (a page at a time needs far less)"

stop_fault

# ---------------------------------------------------------------------------------------------
echo
printf '%-34s | %8s | %7s | %s\n' "case" "requests" "seconds" "exit code"
printf '%s\n' "${ROWS[@]}"
echo
if ((${#FAILURES[@]})); then
  printf 'FAIL: %s\n' "${FAILURES[@]}" >&2
  echo "0 passed, ${#FAILURES[@]} failed"
  exit 1
fi
echo "hostile: ${#ROWS[@]} cases passed"
