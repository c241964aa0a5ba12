#!/usr/bin/env bash
# End-to-end tests of issue 14, "never a false all safe" (the real binary, moto_server on
# 127.0.0.1): cfgsync must never say (by a log line, an exit code, a gauge or /status) that the
# backup is complete while a file it should back up is not in it.
#
#   1. sc_unreadable: files of uid 911, mode 0600, under a `watch` running as uid 1000 (setpriv):
#      the readable files are pushed; each unreadable path gets one "not backed up" warn line
#      (not repeated), one start-up hint naming PUID / runAsUser / fsGroup, the gauge
#      cfgsync_unprotected_files, cfgsync_local_errors_total{reason="permission"}, GET /status,
#      `cfgsync status` "unprotected" lines; the retries make no listing loop on the server;
#      SIGTERM exits 1 with "stopped: N files are not in the backup". A second run recovers
#      without a restart after chmod 0644 and then stops with exit 0, "every change is in the
#      backup".
#   2. sc_refused_writes: a remote that answers reads and refuses writes (403, through
#      tests/support/refuse_writes_proxy.py), 200 files for 15 s: cfgsync_remote_up 0, a bounded
#      number of PUTs and of error lines, SIGTERM exits 1 without the all-safe line.
#      sc_outage: the server stopped while files change, and a sidecar started while it is down:
#      SIGTERM exits 1, never with the all-safe line.
#   3. sc_bad_names: names with a newline, ESC or CR are never uploaded, are unprotected with
#      reason "name" (log, gauge, counter, /status, `status`), `sync` exits 1 naming them; a normal
#      file beside them is pushed. The names are written escaped everywhere: one of them, written
#      raw, would forge a "<ts> info stopped: every change is in the backup" log line.
#   4. sc_sync_exit_codes: `cfgsync sync` as uid 1000 with an unreadable file, then an unreadable
#      folder: exit 1 naming them, everything readable pushed; exit 0 once all is readable.
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/truth_test.sh
#
# E2E_ONLY=REGEX picks the scenarios (function names), E2E_KEEP=1 keeps the work directories.
# Each scenario runs as its own child process (TRUTH_RUN=function) with its own moto_server, one
# after the other; within a scenario every assertion is checked and reported (a list of the
# failed ones at the end), except where a failure makes the rest meaningless. Scenarios 1 and 4
# need root (setpriv switches to uid 1000); without it they are reported as SKIPPED.
# shellcheck disable=SC2005,SC2046,SC2086,SC2116,SC2317  # flattened lists; functions run by name
# shellcheck disable=SC2034  # lib.sh's state (CFG_*, SERVER_*) is set here on purpose
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=${E2E_ONLY:-.}
# The system interpreter starts in ~50 ms; a pyenv shim costs ~300 ms per call.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
PROXY=$CFGSYNC_SOURCE_DIR/tests/support/refuse_writes_proxy.py
APP_UID=911  # the app's files (linuxserver.io's default PUID)
SIDECAR_UID=1000 # cfgsync's user (the image's USER)
ALL_SAFE='stopped: every change is in the backup'
SKIP_RC=77

# ---------------------------------------------------------------------------------------------
# Soft assertions: every check of a scenario runs; `finish` fails with the list of failed ones.

SC_FAILS=()
bad() {
  SC_FAILS+=("$*")
  log "  FAILED: $*"
}
good() { log "  ok: $*"; }
expect() { # WHAT CMD...: CMD must succeed
  local what=$1
  shift
  if "$@"; then good "$what"; else bad "expected $what"; fi
}
expect_eq() { # ACTUAL EXPECTED WHAT
  if [[ $1 == "$2" ]]; then good "$3 = [$2]"; else bad "$3: expected [$2], got [$1]"; fi
}
expect_int() { # ACTUAL OP LIMIT WHAT (OP: -lt -le -ge -gt -eq)
  if [[ $1 =~ ^[0-9]+(\.0+)?$ ]] && test "${1%%.*}" "$2" "$3"; then
    good "$4: $1 ($2 $3)"
  else
    bad "$4: expected a number $2 $3, got [$1]"
  fi
}
finish() {
  if ((${#SC_FAILS[@]} == 0)); then
    log "ok: $E2E_SCENARIO"
    return 0
  fi
  local f msg="${#SC_FAILS[@]} assertion(s) failed:"
  for f in "${SC_FAILS[@]}"; do msg+=$'\n'"    - $f"; done
  fail "$msg"
}
skip() {
  log "SKIPPED: $E2E_SCENARIO: $*"
  exit "$SKIP_RC"
}
need_root() {
  if [[ $(id -u) != 0 ]] || ! command -v setpriv >/dev/null; then
    skip "needs root and setpriv (to run cfgsync as uid $SIDECAR_UID over files of uid $APP_UID)"
  fi
}
lacks() { ! grep -qF -- "$1" "$2"; } # TEXT FILE

# ---------------------------------------------------------------------------------------------
# Set-up and the process under test

# setup NAME: folder SC_DIR (created), log SC_LOG, SYNC_PATH NAME on the running server. The work
# directory (0700, root's) is opened for the sidecar's uid.
setup() {
  SC_ROOT=$E2E_TMP/$1
  SC_DIR=$SC_ROOT/config
  SC_LOG=$SC_ROOT/cfgsync.log
  mkdir -p "$SC_DIR"
  chmod 711 "$E2E_TMP"
  chmod 755 "$SC_ROOT"
  : >"$SC_LOG"
  use_s3 "$1"
}

# as_uid UID CMD...: CMD as UID:UID with no supplementary groups (as a pod's runAsUser).
as_uid() {
  local uid=$1
  shift
  setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

# start_watch [--as UID] ARGS...: `cfgsync watch --dir SC_DIR` with its HTTP server on a fixed
# free port (HTTP_PORT), --debounce 200ms, --shutdown-timeout 5s; waits for /healthz. The log
# line count after its "=== start" line is in SC_MARK (lines_since SC_MARK: this run's lines).
start_watch() {
  local prefix=()
  if [[ ${1:-} == --as ]]; then
    prefix=(setpriv "--reuid=$2" "--regid=$2" --clear-groups)
    shift 2
  fi
  HTTP_PORT=$(free_port)
  CFG_LOG=$SC_LOG
  echo "=== start $(date +%T.%3N): ${prefix[*]} cfgsync watch --dir $SC_DIR --http-addr 127.0.0.1:$HTTP_PORT $*" >>"$CFG_LOG"
  SC_MARK=$(wc -l <"$SC_LOG")
  # setpriv execs cfgsync: CFG_PID is cfgsync's pid, signals reach it directly.
  "${prefix[@]}" "$CFGSYNC" watch --dir "$SC_DIR" --debounce 200ms --shutdown-timeout 5s \
    --http-addr "127.0.0.1:$HTTP_PORT" "$@" >>"$CFG_LOG" 2>&1 &
  CFG_PID=$!
  E2E_PIDS+=("$CFG_PID")
  watch_log "$CFG_LOG"
  wait_for -t 15 _healthy || fail "no answer on http://127.0.0.1:$HTTP_PORT/healthz within 15 s"
}
_healthy() {
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited at start-up"
  [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null) == 200 ]]
}

# lines_since N [FILE]: the lines of FILE (default SC_LOG) after line N.
lines_since() { tail -n +"$(($1 + 1))" "${2:-$SC_LOG}"; }

# re_escape TEXT: TEXT as a literal in a grep -E pattern.
re_escape() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# field_re NAME VALUE: the field in a text log line (name=value, name="value") or a JSON one.
field_re() { printf '%s"?[=:]"?%s("|[ ,}]|$)' "$1" "$(re_escape "$2")"; }

# nbu_count FILE FROM PATH [REASON]: "not backed up" lines for PATH (and REASON) after line FROM.
nbu_count() {
  local reason_re=.
  [[ -n ${4:-} ]] && reason_re=$(field_re reason "$4")
  lines_since "$2" "$1" | grep -F 'not backed up' | grep -E -- "$(field_re path "$3")" |
    grep -Ec -- "$reason_re" || true
}
_all_warned() { # FILE FROM PATH...
  local file=$1 from=$2 p
  shift 2
  for p in "$@"; do (($(nbu_count "$file" "$from" "$p") >= 1)) || return 1; done
}

# metric NAME: the value of the sample NAME (with its labels, as exposed) on /metrics; empty if
# absent.
metric() {
  curl -s -m 3 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null |
    awk -v n="$1" '$1 == n { print $2; exit }'
}
metric_is() { [[ $(metric "$1") == "$2" ]]; }
expect_metric_within() { # SECONDS NAME VALUE WHAT: NAME reaches VALUE within SECONDS
  if wait_for -t "$1" metric_is "$2" "$3"; then
    good "$4 = [$3]"
  else
    bad "$4: expected [$3] within $1 s, got [$(metric "$2")]"
  fi
}

# status_get PY_EXPR: PY_EXPR evaluated over s, the JSON object GET /status answers (JSON-printed;
# strings bare); "<HTTP code>" or "<not JSON ...>" otherwise.
status_get() {
  local body=$E2E_TMP/status.json code
  code=$(curl -s -m 3 -o "$body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/status" 2>/dev/null || true)
  "$PY" - "$1" "$body" "$code" <<'EOF'
import json, sys
expr, path, code = sys.argv[1:4]
if code != "200":
    print(f"<HTTP {code}>")
    sys.exit(0)
try:
    s = json.load(open(path))
except Exception as e:
    print(f"<not JSON: {e}>")
    sys.exit(0)
try:
    v = eval(expr, {"s": s})
except Exception as e:
    print(f"<{type(e).__name__}: {e}>")
    sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
EOF
}

# moto_lists: ListObjects requests for SYNC_PATH in moto's log (it logs every request line).
moto_lists() { count_lines "$SERVER_LOG" "\"GET /$E2E_BUCKET/?\?[^ \"]*prefix=$SYNC_PATH"; }

# stop_watch: SIGTERM; exit code in CFG_RC; this run's lines in SC_RUN_LINES (a file).
stop_watch() {
  stop_cfgsync TERM
  SC_RUN_LINES=$E2E_TMP/run-lines.txt
  lines_since "$SC_MARK" >"$SC_RUN_LINES"
  log "  exit code $CFG_RC; last line: $(tail -n 1 "$SC_RUN_LINES" | head -c 300)"
}

expect_keys() { # KEY...: the backup holds exactly these keys (polled through `cfgsync ls`)
  if wait_for keys_are "$@"; then
    good "backup keys [$*]"
  else
    bad "backup keys: expected [$*], have [$(echo $(remote_keys))]"
  fi
}
expect_files() { # KEY=TEXT...: exactly these keys with these contents (awscli)
  if (assert_s3_files "$@") 2>"$E2E_TMP/files.err"; then
    good "backup contents [$*]"
  else
    bad "$(sed 's/^FAIL: [^:]*: //' "$E2E_TMP/files.err" | head -n 1)"
  fi
}

# ---------------------------------------------------------------------------------------------
# 1. Unreadable files under a sidecar of another uid

sc_unreadable() {
  scenario "unreadable files (uid $APP_UID, 0600) under a uid-$SIDECAR_UID watch"
  need_root
  start_moto
  setup unreadable
  mkdir -p "$SC_DIR/sub"
  printf 'a=1' >"$SC_DIR/a.ini"
  printf '{"b": 2}' >"$SC_DIR/sub/b.json"
  printf 'secret=1' >"$SC_DIR/secret.ini"
  printf '{"token": 1}' >"$SC_DIR/sub/token.json"
  chown -R "$APP_UID:$APP_UID" "$SC_DIR"
  chmod 755 "$SC_DIR" "$SC_DIR/sub"
  chmod 644 "$SC_DIR/a.ini" "$SC_DIR/sub/b.json"
  chmod 600 "$SC_DIR/secret.ini" "$SC_DIR/sub/token.json"
  local unreadable=(secret.ini sub/token.json) p n

  start_watch --as "$SIDECAR_UID"
  wait_for keys_are a.ini sub/b.json ||
    fail "the readable files are not in the backup: have [$(echo $(remote_keys))]"
  good "readable files a.ini, sub/b.json pushed"

  # One "not backed up" warn line per unreadable path, then a quiet 5 s.
  local warned=1
  if ! wait_for _all_warned "$SC_LOG" "$SC_MARK" "${unreadable[@]}"; then
    bad "no 'not backed up' line for each of [${unreadable[*]}] within 10 s"
    warned=0
  fi
  local lists0 lines0 t0
  lists0=$(moto_lists)
  lines0=$(wc -l <"$SC_LOG")
  t0=$(now_ms)
  sleep 5
  local lists window_ms
  lists=$(($(moto_lists) - lists0))
  window_ms=$(($(now_ms) - t0))
  for p in "${unreadable[@]}"; do
    expect_eq "$(nbu_count "$SC_LOG" "$SC_MARK" "$p")" 1 "'not backed up' lines for $p"
    expect_eq "$(nbu_count "$SC_LOG" "$SC_MARK" "$p" permission)" 1 "'not backed up' lines for $p with reason=permission"
    expect_int "$(lines_since "$lines0" | grep -cF "$p" || true)" -le 1 \
      "log lines naming $p in the ${window_ms} ms after its warning (no retry spam)"
  done
  for p in a.ini sub/b.json; do
    expect_eq "$(nbu_count "$SC_LOG" "$SC_MARK" "$p")" 0 "'not backed up' lines for the readable $p"
  done
  expect_int "$lists" -le 3 "ListObjects requests on the server in ${window_ms} ms while retrying unreadable files (was one per 250 ms)"

  # The start-up hint for an owner mismatch.
  local hint
  hint=$(lines_since "$SC_MARK" | grep -E ' warn|"warn"' | grep -F uid | grep -F PUID |
    grep -F runAsUser | grep -F fsGroup || true)
  expect_eq "$(grep -c . <<<"$hint" || true)" 1 "warn lines with 'uid', 'PUID', 'runAsUser' and 'fsGroup'"
  if [[ -n $hint ]]; then
    expect "the uid hint names uid $APP_UID and uid $SIDECAR_UID" \
      grep -q "$APP_UID.*$SIDECAR_UID\|$SIDECAR_UID.*$APP_UID" <<<"$hint"
  fi

  # /metrics
  expect_eq "$(metric cfgsync_unprotected_files)" 2 "cfgsync_unprotected_files"
  expect_int "$(metric 'cfgsync_local_errors_total{reason="permission"}')" -ge 2 \
    'cfgsync_local_errors_total{reason="permission"}'
  local reason missing=()
  for reason in permission special symlink name io vanished; do
    [[ -n $(metric "cfgsync_local_errors_total{reason=\"$reason\"}") ]] || missing+=("$reason")
  done
  expect_eq "${missing[*]}" "" "cfgsync_local_errors_total reasons missing from /metrics"

  # GET /status
  expect_eq "$(status_get 's["unprotected_files"]')" 2 "/status unprotected_files"
  expect_eq "$(status_get 'sorted([u["path"], u["reason"]] for u in s["unprotected"])')" \
    '[["secret.ini", "permission"], ["sub/token.json", "permission"]]' "/status unprotected (path, reason)"
  expect_eq "$(status_get 's["phase"]')" watching "/status phase"

  # `cfgsync status` as the sidecar's uid.
  local rc=0 out=$SC_ROOT/status.out
  as_uid "$SIDECAR_UID" "$CFGSYNC" status --dir "$SC_DIR" >"$out" 2>"$SC_ROOT/status.err" || rc=$?
  expect_eq "$rc" 1 "\`cfgsync status\` exit code with unprotected files"
  for p in "${unreadable[@]}"; do
    expect "\`cfgsync status\` prints 'unprotected  $p  (permission: ...)' (got: $(echo $(head -c 300 "$out")))" \
      grep -Eq "^unprotected +$(re_escape "$p") +\(permission" "$out"
  done

  # SIGTERM: not everything is in the backup.
  stop_watch
  expect_eq "$CFG_RC" 1 "exit code after SIGTERM with 2 unreadable files"
  expect "no '$ALL_SAFE' line" lacks "$ALL_SAFE" "$SC_RUN_LINES"
  local stopped
  stopped=$(grep -E 'stopped: 2 files are not in the backup' "$SC_RUN_LINES" || true)
  expect "a 'stopped: 2 files are not in the backup' line" test -n "$stopped"
  for p in "${unreadable[@]}"; do
    [[ -z $stopped ]] || expect "the 'stopped:' line names $p" grep -qF "$p" <<<"$stopped"
  done

  # Recovery without a restart: a second run, then chmod 0644.
  start_watch --as "$SIDECAR_UID"
  # (Waited for only if the first run wrote them: a failure is reported once.)
  if ((warned)) && ! wait_for _all_warned "$SC_LOG" "$SC_MARK" "${unreadable[@]}"; then
    bad "second run: no 'not backed up' line for each of [${unreadable[*]}] within 10 s"
  fi
  ((warned)) || sleep 1 # its start-up reconcile has met the unreadable files
  chmod 644 "$SC_DIR/secret.ini" "$SC_DIR/sub/token.json"
  expect_keys a.ini secret.ini sub/b.json sub/token.json
  expect_files 'a.ini=a=1' 'sub/b.json={"b": 2}' 'secret.ini=secret=1' 'sub/token.json={"token": 1}'
  if wait_for -t 5 metric_is cfgsync_unprotected_files 0; then
    good "cfgsync_unprotected_files back to 0"
  else
    bad "cfgsync_unprotected_files after chmod 0644: expected [0], got [$(metric cfgsync_unprotected_files)]"
  fi
  expect_eq "$(status_get 's["unprotected_files"]')" 0 "/status unprotected_files after chmod 0644"
  for p in "${unreadable[@]}"; do
    n=$(lines_since "$SC_MARK" | grep -F 'backed up again' | grep -Ec -- "$(field_re path "$p")" || true)
    expect_eq "$n" 1 "'backed up again' lines for $p"
  done
  rc=0
  as_uid "$SIDECAR_UID" "$CFGSYNC" status --dir "$SC_DIR" >"$out" 2>"$SC_ROOT/status.err" || rc=$?
  expect_eq "$rc" 0 "\`cfgsync status\` exit code once everything is readable and pushed"
  stop_watch
  expect_eq "$CFG_RC" 0 "exit code after SIGTERM once everything is in the backup"
  expect "a '$ALL_SAFE' line" grep -qF "$ALL_SAFE" "$SC_RUN_LINES"
  finish
}

# ---------------------------------------------------------------------------------------------
# 2. A remote that refuses writes; a server that is down

# start_proxy: refuse_writes_proxy.py in front of the running moto; PROXY_PORT, PROXY_COUNTS.
start_proxy() {
  PROXY_PORT=$(free_port)
  PROXY_COUNTS=$E2E_TMP/proxy-counts.json
  PROXY_LOG=$E2E_TMP/proxy.log
  bg_start "$PROXY_LOG" "$PY" -u "$PROXY" "$PROXY_PORT" "$SERVER_PORT" "$PROXY_COUNTS" 300
  PROXY_PID=$BG_PID
  wait_for -t 10 grep -q '^ready' "$PROXY_LOG" || fail "the proxy did not start: $(cat "$PROXY_LOG")"
}
proxy_count() { # METHOD: requests of that method the proxy received so far
  "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["by_method"].get(sys.argv[2], 0))' \
    "$PROXY_COUNTS" "$1"
}

sc_refused_writes() {
  scenario "a remote that allows reads and refuses writes (403), 200 files for 15 s"
  start_moto
  setup refused
  local i
  for i in $(seq 1 200); do printf 'value=%s' "$i" >"$SC_DIR/f$i.ini"; done
  start_proxy
  export RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT
  # Reads go through: the proxy forwards them.
  "$CFGSYNC" ls >/dev/null 2>&1 || fail "\`cfgsync ls\` through the proxy failed"
  local t0
  t0=$(now_ms)
  start_watch
  sleep "$(awk -v ms=$((15000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited while the remote refused writes"
  expect_eq "$(metric cfgsync_remote_up)" 0 "cfgsync_remote_up after 15 s of refused writes"
  expect_eq "$(status_get 's["remote_up"]')" false "/status remote_up after 15 s of refused writes"
  local puts errors
  puts=$(proxy_count PUT)
  errors=$(lines_since "$SC_MARK" | grep -Ec ' (error|warn|warning) |"level":"(error|warn)"' || true)
  expect_int "$puts" -lt 60 "PUT requests in 15 s for 200 files, every one refused"
  expect_int "$errors" -lt 60 "error/warn lines in the log in 15 s"
  stop_watch
  expect_eq "$CFG_RC" 1 "exit code after SIGTERM with nothing in the backup"
  expect "no '$ALL_SAFE' line" lacks "$ALL_SAFE" "$SC_RUN_LINES"
  expect "a 'stopped: 200 files are not in the backup' line" \
    grep -qE 'stopped: 200 files are not in the backup' "$SC_RUN_LINES"
  expect_eq "$(s3_list | grep -c . || true)" 0 "objects that reached moto behind the proxy"
  log "  proxy counts: $(cat "$PROXY_COUNTS")"
  finish
}

sc_outage() {
  scenario "server stopped: shutdown during an outage, and a start while it is down"
  start_moto
  setup outage
  printf 'a1' >"$SC_DIR/a.ini"
  printf 'b1' >"$SC_DIR/b.ini"
  start_watch
  wait_for keys_are a.ini b.ini || fail "a.ini, b.ini not in the backup: have [$(echo $(remote_keys))]"
  stop_server
  printf 'a2-during-outage' >"$SC_DIR/a.ini"
  printf 'c-new-during-outage' >"$SC_DIR/c.ini"
  # The pushes fail (each request after its retries) and go to their backoff.
  expect_metric_within 10 cfgsync_remote_up 0 "cfgsync_remote_up during the outage"
  stop_watch
  expect_eq "$CFG_RC" 1 "exit code after SIGTERM with 2 changes not pushed (server down)"
  expect "no '$ALL_SAFE' line" lacks "$ALL_SAFE" "$SC_RUN_LINES"
  local stopped
  stopped=$(grep -E 'stopped: 2 files are not in the backup' "$SC_RUN_LINES" || true)
  expect "a 'stopped: 2 files are not in the backup' line" test -n "$stopped"
  [[ -z $stopped ]] || expect "the 'stopped:' line names a.ini and c.ini" \
    grep -q 'a\.ini.*c\.ini\|c\.ini.*a\.ini' <<<"$stopped"

  # Started while the server is still down: the first reconcile never succeeds.
  start_watch
  expect_metric_within 10 cfgsync_remote_up 0 "cfgsync_remote_up of a sidecar started while the server is down"
  stop_watch
  expect_eq "$CFG_RC" 1 "exit code after SIGTERM of a sidecar that never reached the server"
  expect "no '$ALL_SAFE' line" lacks "$ALL_SAFE" "$SC_RUN_LINES"
  finish
}

# ---------------------------------------------------------------------------------------------
# 3. Names restore could not write back

# names_both TEXT: TEXT names bad<newline>name.ini and esc<ESC>[31m.ini, in whatever escaped form.
names_both() { grep -q 'bad.*name\.ini' <<<"$1" && grep -q 'esc.*31m\.ini' <<<"$1"; }

sc_bad_names() {
  scenario "names with a newline or ESC: never uploaded, unprotected (reason name)"
  start_moto
  setup names
  local nl=$'bad\nname.ini' esc=$'esc\033[31m.ini' cr=$'new\rname.ini'
  # A name that, written raw into the log, forges a line saying that all is safe.
  local forged=$'x\n2026-01-01T00:00:00.000Z info stopped: every change is in the backup'
  printf 'ok' >"$SC_DIR/ok.ini"
  printf 'nl' >"$SC_DIR/$nl"
  printf 'esc' >"$SC_DIR/$esc"
  # moto logs the request line with the key URL-encoded (bad%0Aname.ini, esc%1B[31m.ini).
  local put_re="\"PUT /$E2E_BUCKET/$SYNC_PATH/(bad|esc|new|x%0A)"

  local rc=0 out=$SC_ROOT/sync.out err=$SC_ROOT/sync.err st_out=$SC_ROOT/status.out
  "$CFGSYNC" sync --dir "$SC_DIR" >"$out" 2>"$err" || rc=$?
  expect_eq "$rc" 1 "\`cfgsync sync\` exit code with 2 unprotected names"
  local named
  named=$(cat "$out" "$err" | grep -aF 'not backed up' | grep -aE "$(field_re reason name)" || true)
  expect_eq "$(grep -c . <<<"$named" || true)" 2 "'not backed up' lines with reason=name from \`sync\`"
  expect "\`sync\` names bad…name.ini and esc…[31m.ini (got: $(echo $named | head -c 300 | cat -v))" \
    names_both "$named"
  if s3_get ok.ini >/dev/null 2>&1 && [[ $(s3_get ok.ini) == ok ]]; then
    good "ok.ini beside them is in the backup"
  else
    bad "ok.ini (a normal name beside them) is not in the backup"
  fi
  expect_eq "$(count_lines "$SERVER_LOG" "$put_re")" 0 "PUT requests for the bad names (sync)"

  start_watch
  expect_metric_within 5 cfgsync_unprotected_files 2 "cfgsync_unprotected_files"
  expect_int "$(metric 'cfgsync_local_errors_total{reason="name"}')" -ge 2 'cfgsync_local_errors_total{reason="name"}'
  expect_eq "$(status_get 'sorted(u["reason"] for u in s["unprotected"])')" '["name", "name"]' \
    "/status unprotected reasons"
  # Two more while watching, beside a normal file; one of them carries a log line of its own.
  printf 'cr' >"$SC_DIR/$cr"
  printf 'forged' >"$SC_DIR/$forged"
  printf 'live' >"$SC_DIR/live.ini"
  if wait_for -t 5 remote_content_is live.ini live; then
    good "live.ini written while watching is in the backup"
  else
    bad "live.ini written while watching is not in the backup"
  fi
  expect_metric_within 5 cfgsync_unprotected_files 4 \
    "cfgsync_unprotected_files after new\\rname.ini and x\\n...all safe appeared"
  expect_eq "$(count_lines "$SERVER_LOG" "$put_re")" 0 "PUT requests for the bad names (sync and watch)"

  rc=0
  "$CFGSYNC" status --dir "$SC_DIR" >"$st_out" 2>>"$err" || rc=$?
  expect_eq "$rc" 1 "\`cfgsync status\` exit code with 4 unprotected names"
  expect_eq "$(grep -aEc '^unprotected .*\(name' "$st_out" || true)" 4 \
    "\`cfgsync status\` 'unprotected  PATH  (name: ...)' lines (got: $(head -c 300 "$st_out" | cat -v | tr '\n' '|'))"

  stop_watch
  expect_eq "$CFG_RC" 1 "exit code after SIGTERM with 4 unprotected names"
  # The names are written escaped, wherever they appear: a raw newline would let a file name
  # forge log lines (the one above forges the all-safe line), a raw ESC or CR rewrites the
  # operator's terminal.
  expect_eq "$(grep -acE "^[^ ]+ +info +$ALL_SAFE" "$SC_RUN_LINES" || true)" 0 \
    "log lines '<ts> info $ALL_SAFE' (genuine or forged by a file name)"
  expect_eq "$(grep -avcE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$SC_RUN_LINES" || true)" 0 \
    "log lines of the watch that do not start with a timestamp (a raw newline from a name; got: $(grep -avE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$SC_RUN_LINES" | head -n 2 | cat -v | tr '\n' '|' | head -c 200))"
  expect_eq "$(cat "$SC_RUN_LINES" "$err" "$out" "$st_out" | grep -ac $'[\033\r]' || true)" 0 \
    "lines with a raw ESC or CR byte in the watch log and in the output of \`sync\` / \`status\`"
  finish
}

# ---------------------------------------------------------------------------------------------
# 4. `cfgsync sync` exit codes

sc_sync_exit_codes() {
  scenario "\`cfgsync sync\` as uid $SIDECAR_UID: unreadable file, unreadable folder, then all readable"
  need_root
  start_moto
  setup sync
  mkdir -p "$SC_DIR/sub"
  printf 'a' >"$SC_DIR/a.ini"
  printf 'b: 1' >"$SC_DIR/sub/b.yaml"
  printf 'secret' >"$SC_DIR/secret.ini"
  chown -R "$APP_UID:$APP_UID" "$SC_DIR"
  chmod 755 "$SC_DIR" "$SC_DIR/sub"
  chmod 644 "$SC_DIR/a.ini" "$SC_DIR/sub/b.yaml"
  chmod 600 "$SC_DIR/secret.ini"
  local rc=0 out=$SC_ROOT/sync.out err=$SC_ROOT/sync.err
  as_uid "$SIDECAR_UID" "$CFGSYNC" sync --dir "$SC_DIR" >"$out" 2>"$err" || rc=$?
  expect_eq "$rc" 1 "\`sync\` exit code with an unreadable file"
  expect_keys a.ini sub/b.yaml
  cat "$out" >>"$err"
  expect_eq "$(nbu_count "$err" 0 secret.ini permission)" 1 "'not backed up' lines for secret.ini (reason=permission) from \`sync\`"

  # An unreadable folder: reported as "private/", the rest pushed.
  mkdir -p "$SC_DIR/private"
  printf 'p' >"$SC_DIR/private/p.ini"
  printf 'new' >"$SC_DIR/new.ini"
  chown -R "$APP_UID:$APP_UID" "$SC_DIR/private" "$SC_DIR/new.ini"
  chmod 700 "$SC_DIR/private"
  chmod 644 "$SC_DIR/new.ini"
  rc=0
  as_uid "$SIDECAR_UID" "$CFGSYNC" sync --dir "$SC_DIR" >"$out" 2>"$err" || rc=$?
  expect_eq "$rc" 1 "\`sync\` exit code with an unreadable file and an unreadable folder"
  expect_keys a.ini new.ini sub/b.yaml
  cat "$out" >>"$err"
  expect_eq "$(nbu_count "$err" 0 private/ permission)" 1 "'not backed up' lines for private/ (reason=permission) from \`sync\`"
  expect_eq "$(nbu_count "$err" 0 secret.ini permission)" 1 "'not backed up' lines for secret.ini (reason=permission) from \`sync\`"

  # Everything readable: exit 0, everything pushed, `status` in sync.
  chmod 644 "$SC_DIR/secret.ini" "$SC_DIR/private/p.ini"
  chmod 755 "$SC_DIR/private"
  rc=0
  as_uid "$SIDECAR_UID" "$CFGSYNC" sync --dir "$SC_DIR" >"$out" 2>"$err" || rc=$?
  expect_eq "$rc" 0 "\`sync\` exit code once everything is readable (stderr: $(tail -n 2 "$err" | tr '\n' '|' | head -c 300))"
  expect_files a.ini=a new.ini=new private/p.ini=p secret.ini=secret 'sub/b.yaml=b: 1'
  rc=0
  as_uid "$SIDECAR_UID" "$CFGSYNC" status --dir "$SC_DIR" >"$out" 2>"$err" || rc=$?
  expect_eq "$rc" 0 "\`status\` exit code once everything is in the backup"
  finish
}

# ---------------------------------------------------------------------------------------------

SCENARIOS=(sc_unreadable sc_refused_writes sc_outage sc_bad_names sc_sync_exit_codes)

if [[ -n ${TRUTH_RUN:-} ]]; then
  "$TRUTH_RUN"
  exit 0
fi

t_start=$(now_ms)
declare -A result
rc=0
for sc in "${SCENARIOS[@]}"; do
  [[ $sc =~ $ONLY ]] || continue
  bg_start "$E2E_TMP/$sc.out" env TRUTH_RUN="$sc" bash "${BASH_SOURCE[0]}"
  tail -n +1 -f --pid="$BG_PID" "$E2E_TMP/$sc.out" >&2
  bg_wait "$BG_PID"
  case $BG_RC in
    0) result[$sc]=PASS ;;
    "$SKIP_RC") result[$sc]=SKIPPED ;;
    *)
      result[$sc]="FAIL (exit code $BG_RC)"
      rc=1
      ;;
  esac
done
for sc in "${SCENARIOS[@]}"; do
  [[ -n ${result[$sc]:-} ]] && log "$(printf '%-20s %s' "$sc" "${result[$sc]}")"
done
log "$([[ $rc == 0 ]] && echo PASS || echo FAIL): truth_test in $((($(now_ms) - t_start) / 1000)) s"
exit "$rc"
