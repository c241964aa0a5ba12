#!/usr/bin/env bash
# End-to-end tests of the sidecar's shutdown (issue 21): in the classic layout (deploy/base) the
# kubelet sends SIGTERM to the app and to `cfgsync watch` at the same moment, and the app may
# still write after that. cfgsync must keep watching until --dir has been quiet for
# --shutdown-quiet (default 2s for `watch`, 0s for `run`), bounded by --shutdown-timeout, then
# push and exit; exit 0 and "every change is in the backup" only when that is true.
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/shutdown_test.sh
#
# Real binary, moto_server on 127.0.0.1. Scenarios:
#   sc_late_write     a stand-in app writes state.json 1 s after SIGTERM
#   sc_endless_writes an app that never stops writing: bounded by --shutdown-timeout, truthful
#   sc_run_no_linger  `run` (native sidecar) with nothing to wait for exits at once
#   sc_homebridge     the real Homebridge 1.x (from npm) and cfgsync stopped together
#
# E2E_ONLY=REGEX picks scenarios (by function name); E2E_KEEP=1 keeps the work directory;
# E2E_NPM_DIR=DIR keeps the npm installs there between runs (default: under the work directory,
# installed afresh each run). The Homebridge scenario is skipped, with a message, only when the npm
# registry cannot be reached; a failed install with the registry answering is a failure.
# Every scenario runs, a failed one does not stop the others; the exit code is 1 if any failed.
# shellcheck disable=SC2005,SC2046,SC2086,SC2116,SC2119,SC2317  # flattened lists; helpers used indirectly
# shellcheck disable=SC2016  # the stand-in apps are bash programs in single quotes, expanded by them
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=${E2E_ONLY:-.}
NPM_DIR=${E2E_NPM_DIR:-$E2E_TMP/npm}
SKIP_FILE=$E2E_TMP/skip-reason

# ---------------------------------------------------------------------------------------------
# Helpers

# setup NAME: a fresh folder SC_DIR, the log SC_LOG, and SYNC_PATH NAME.
setup() {
  SC_ROOT=$E2E_TMP/$1
  SC_DIR=$SC_ROOT/config
  SC_LOG=$SC_ROOT/cfgsync.log
  mkdir -p "$SC_DIR"
  use_s3 "$1"
}

# ms_now: milliseconds since the epoch in NOW_MS, without a fork.
ms_now() {
  local us=${EPOCHREALTIME/[.,]/}
  NOW_MS=$((us / 1000))
}

# sigterm_together PID...: SIGTERM to every PID in one kill(1) call (microseconds apart), as the
# kubelet stops the containers of a pod; T_TERM is the moment, in ms.
sigterm_together() {
  ms_now
  T_TERM=$NOW_MS
  kill -TERM "$@"
}

# wait_gone PID SECONDS: polls every 10 ms until PID has exited (1 on timeout); ELAPSED_MS is the
# time from T_TERM to the moment the exit was seen.
wait_gone() {
  local pid=$1 deadline
  ms_now
  deadline=$((NOW_MS + $2 * 1000))
  while kill -0 "$pid" 2>/dev/null; do
    ms_now
    ((NOW_MS < deadline)) || return 1
    sleep 0.01
  done
  ms_now
  ELAPSED_MS=$((NOW_MS - T_TERM))
}

# cfg_gone SECONDS: waits for cfgsync (CFG_PID) to exit after T_TERM; its code in CFG_RC, the
# time it took in CFG_MS. Fails (after SIGKILL) if it is still running after SECONDS.
cfg_gone() {
  if ! wait_gone "$CFG_PID" "$1"; then
    kill -KILL "$CFG_PID" 2>/dev/null || true
    bg_wait "$CFG_PID"
    CFG_PID=""
    fail "cfgsync still running $1 s after SIGTERM"
  fi
  CFG_MS=$ELAPSED_MS
  bg_wait "$CFG_PID"
  CFG_RC=$BG_RC
  CFG_PID=""
}

# The final line the spec asks for; the failure line names the files.
OK_LINE='stopped: every change is in the backup'
NOT_OK_LINE='stopped: [0-9]+ files? (is|are) not in the backup'

# skip REASON: ends the current scenario as skipped.
skip() {
  printf '%s\n' "$*" >"$SKIP_FILE"
  exit 77
}

# mtime_ms FILE: the file's mtime in ms since the epoch.
mtime_ms() { stat -c %.3Y "$1" | tr -d .; }
MTIME_TICK_MS=20 # a file's mtime may lag the wall clock by one kernel tick (see sc_homebridge)

# app_ready LOG: the stand-in app has set its trap and said so.
app_ready() { grep -q '^ready$' "$1" 2>/dev/null; }

# The stand-in apps: bash processes that trap SIGTERM, print "ready" once the trap is set, and
# wait. $1 is the file they write, $2 (late writer) the text.
#   late writer: on SIGTERM, sleeps 1 s, writes $2 into $1, prints "wrote MS", exits 0.
#   endless writer: on SIGTERM, writes "tick N" into $1 every 300 ms (N = 1, 2, ...), forever,
#   printing "MS N" after each write (MS: ms since the epoch, once the write is complete).
LATE_WRITER='
  file=$1 text=$2
  on_term() {
    sleep 1
    printf %s "$text" >"$file"
    t=${EPOCHREALTIME/[.,]/}
    echo "wrote $((t / 1000))"
    kill "$sleeper" 2>/dev/null
    exit 0
  }
  trap on_term TERM
  sleep 1000 &
  sleeper=$!
  echo ready
  wait "$sleeper"
'
ENDLESS_WRITER='
  file=$1 n=0
  on_term() {
    trap "" TERM
    kill "$sleeper" 2>/dev/null
    while :; do
      n=$((n + 1))
      printf "tick %d" "$n" >"$file"
      t=${EPOCHREALTIME/[.,]/}
      echo "$((t / 1000)) $n"
      sleep 0.3
    done
  }
  trap on_term TERM
  sleep 1000 &
  sleeper=$!
  echo ready
  wait "$sleeper"
'

# ---------------------------------------------------------------------------------------------

sc_late_write() {
  scenario "app writes state.json 1 s after SIGTERM (both stopped together, watch --debounce 200ms)"
  setup late-write
  local final='state v2: written by the app 1 s after SIGTERM'
  printf 'state v1' >"$SC_DIR/state.json"
  printf 'port=8080' >"$SC_DIR/settings.ini"
  bg_start "$SC_ROOT/app.log" bash -c "$LATE_WRITER" app "$SC_DIR/state.json" "$final"
  local app=$BG_PID
  wait_for app_ready "$SC_ROOT/app.log" || fail "the stand-in app did not start"
  start_cfgsync "$SC_LOG" watch --dir "$SC_DIR" --debounce 200ms
  wait_reconciled
  wait_content state.json 'state v1'
  wait_content settings.ini 'port=8080'

  sigterm_together "$app" "$CFG_PID"
  cfg_gone 30
  wait_gone "$app" 10 || fail "the stand-in app did not exit"
  bg_wait "$app"
  local wrote
  wrote=$(sed -n 's/^wrote //p' "$SC_ROOT/app.log")
  [[ -n $wrote ]] || fail "the stand-in app did not write after SIGTERM: $(cat "$SC_ROOT/app.log")"
  assert_eq "$(cat "$SC_DIR/state.json")" "$final" "state.json on disk after the app stopped"
  log "cfgsync exited ${CFG_MS} ms after SIGTERM with code $CFG_RC; the app wrote state.json" \
    "$((wrote - T_TERM)) ms after SIGTERM"
  echo "TIME: late write: cfgsync exited ${CFG_MS} ms after SIGTERM (app's write at $((wrote - T_TERM)) ms)"
  assert_eq "$CFG_RC" 0 "exit code after SIGTERM"
  assert_contains "$SC_LOG" "$OK_LINE" "final log line"
  assert_s3_content state.json "$final"
  assert_s3_files "state.json=$final" settings.ini=port=8080
}

sc_endless_writes() {
  scenario "app writes every 300 ms forever after SIGTERM: --shutdown-timeout 4s bounds the wait, truthfully"
  setup endless
  printf 'tick 0' >"$SC_DIR/state.json"
  bg_start "$SC_ROOT/app.log" bash -c "$ENDLESS_WRITER" app "$SC_DIR/state.json"
  local app=$BG_PID
  wait_for app_ready "$SC_ROOT/app.log" || fail "the stand-in app did not start"
  start_cfgsync "$SC_LOG" watch --dir "$SC_DIR" --debounce 200ms --shutdown-timeout 4s
  wait_reconciled
  wait_content state.json 'tick 0'

  sigterm_together "$app" "$CFG_PID"
  cfg_gone 15
  local t_exit=$((T_TERM + CFG_MS))
  kill -KILL "$app" 2>/dev/null || true
  bg_wait "$app"
  log "cfgsync exited ${CFG_MS} ms after SIGTERM with code $CFG_RC;" \
    "the app had written $(grep -c '^[0-9]* [0-9]*$' "$SC_ROOT/app.log") times"
  echo "TIME: endless writes: cfgsync exited ${CFG_MS} ms after SIGTERM (--shutdown-timeout 4s), code $CFG_RC"
  ((CFG_MS <= 5500)) || fail "cfgsync took ${CFG_MS} ms to exit with --shutdown-timeout 4s (limit 5.5 s)"

  local in_backup
  in_backup=$(s3_get state.json) || fail "state.json missing from the backup"
  in_backup=${in_backup#tick }
  [[ $in_backup =~ ^[0-9]+$ ]] || fail "state.json in the backup holds [$in_backup]"
  case $CFG_RC in
    0)
      assert_contains "$SC_LOG" "$OK_LINE" "final log line with exit code 0"
      # The claim is made when that line is logged (its timestamp; the exit otherwise): every write
      # complete 100 ms before it must be in the backup (the margin covers the inherent window
      # between cfgsync's last look at the file and its log line).
      local claim needed stamp
      stamp=$(grep -E "$OK_LINE" "$SC_LOG" | tail -n 1 | grep -oE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' || true)
      claim=$(date -d "$stamp" +%s%3N 2>/dev/null) && [[ -n $stamp ]] || claim=$t_exit
      needed=$(awk -v t=$((claim - 100)) 'NF == 2 && $1 <= t { n = $2 } END { print n + 0 }' "$SC_ROOT/app.log")
      log "claim made $((claim - T_TERM)) ms after SIGTERM; backup holds tick $in_backup, tick $needed needed"
      ((in_backup >= needed)) ||
        fail "exit 0 and \"every change is in the backup\", but the backup holds tick $in_backup" \
          "while tick $needed was written at least 100 ms before cfgsync said so"
      ;;
    1)
      assert_contains "$SC_LOG" "$NOT_OK_LINE.*state\.json" "error line naming state.json with exit code 1"
      assert_not_contains "$SC_LOG" "$OK_LINE" "success line with exit code 1"
      ;;
    *) fail "exit code $CFG_RC (expected 0 or 1)" ;;
  esac
  if ((CFG_MS < 3500)); then
    log "NOTE: cfgsync exited ${CFG_MS} ms after SIGTERM, before --shutdown-timeout 4s, while the app was still writing"
  fi
}

sc_run_no_linger() {
  scenario "run (native sidecar) with nothing to wait for: SIGTERM exits at once"
  setup run-no-linger
  printf 'a' >"$SC_DIR/a.ini"
  mkdir -p "$SC_DIR/sub"
  printf 'b' >"$SC_DIR/sub/b.ini"
  start_cfgsync "$SC_LOG" run --dir "$SC_DIR" --debounce 200ms
  wait_reconciled
  wait_content a.ini a
  wait_content sub/b.ini b
  sleep 0.3 # nothing changes any more
  sigterm_together "$CFG_PID"
  cfg_gone 25
  log "run exited ${CFG_MS} ms after SIGTERM with code $CFG_RC"
  echo "TIME: run, nothing pending: exited ${CFG_MS} ms after SIGTERM"
  assert_eq "$CFG_RC" 0 "exit code after SIGTERM"
  assert_contains "$SC_LOG" "$OK_LINE" "final log line"
  ((CFG_MS < 500)) || fail "run took ${CFG_MS} ms to exit with nothing to push (limit 500 ms: no linger)"
  assert_s3_files a.ini=a sub/b.ini=b
}

# ensure_homebridge: homebridge 1.x from npm under NPM_DIR (HB_BIN). Asks the registry first
# (one quick look-up, no retries): unreachable skips the scenario; reachable, the install must work.
ensure_homebridge() {
  local dir=$NPM_DIR/homebridge1 out=$E2E_TMP/npm.log
  HB_BIN=$dir/node_modules/.bin/homebridge
  if [[ -x $HB_BIN && $("$HB_BIN" --version 2>/dev/null) == 1.* ]]; then return 0; fi
  command -v npm >/dev/null || skip "npm is not installed: cannot install homebridge@1"
  if ! timeout 60 npm view --fetch-retries=0 --fetch-timeout=20000 homebridge@1 version >/dev/null 2>"$out"; then
    skip "homebridge@1 cannot be installed: the npm registry does not answer" \
      "($(grep -m 1 -E 'code|errno|ERR' "$out" || tail -n 1 "$out"))"
  fi
  mkdir -p "$dir"
  log "installing homebridge@1 from npm into $dir"
  local t0
  t0=$(now_ms)
  timeout 600 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error homebridge@1 >"$out" 2>&1 ||
    fail "npm install homebridge@1 failed although the npm registry answers: $(tail -n 5 "$out")"
  [[ $("$HB_BIN" --version 2>/dev/null) == 1.* ]] ||
    fail "npm installed homebridge@1, but \`$HB_BIN --version\` says [$("$HB_BIN" --version 2>&1 | head -c 200)]"
  log "homebridge $("$HB_BIN" --version) installed in $((($(now_ms) - t0) / 1000)) s"
}

# plugin_state: the probe accessory's context in a cachedAccessories JSON read on stdin.
plugin_state() { grep -o '"context":{[^}]*}' || true; }
hb_up() { grep -q 'probe: ready' "$1" 2>/dev/null; }
in_sync() { "$CFGSYNC" status --dir "$SC_DIR" >/dev/null 2>&1; }

sc_homebridge() {
  scenario "Homebridge 1.x and cfgsync stopped together: what Homebridge writes at SIGTERM is in the backup"
  ensure_homebridge
  setup homebridge
  # The plugin: a dynamic platform whose accessory state changes in memory, saved by Homebridge
  # into accessories/cachedAccessories when it shuts down.
  local plugin=$SC_ROOT/homebridge-cfgsync-probe
  mkdir -p "$plugin"
  cp "$CFGSYNC_SOURCE_DIR/tests/support/shutdown_homebridge_plugin.js" "$plugin/index.js"
  cat >"$plugin/package.json" <<'EOF'
{
  "name": "homebridge-cfgsync-probe",
  "version": "1.0.0",
  "main": "index.js",
  "keywords": ["homebridge-plugin"],
  "engines": { "homebridge": ">=1.6.0", "node": ">=18" }
}
EOF
  local port
  port=$(free_port)
  cat >"$SC_DIR/config.json" <<EOF
{
  "bridge": { "name": "cfgsync e2e", "username": "0E:C5:59:E2:E0:21", "port": $port, "pin": "031-45-154" },
  "accessories": [],
  "platforms": [{ "platform": "CfgsyncShutdownProbe", "name": "probe" }]
}
EOF
  start_cfgsync "$SC_LOG" watch --dir "$SC_DIR" --debounce 200ms
  wait_reconciled
  local hb_log=$SC_ROOT/homebridge.log
  bg_start "$hb_log" "$HB_BIN" -U "$SC_DIR" -P "$plugin" --strict-plugin-resolution -Q -T
  local hb=$BG_PID
  watch_log "$hb_log"
  wait_for -t 60 hb_up "$hb_log" || fail "homebridge not up after 60 s"
  local cache=$SC_DIR/accessories/cachedAccessories
  [[ -f $cache ]] || fail "homebridge wrote no accessories/cachedAccessories at start-up"
  wait_for -t 15 in_sync || fail "the backup does not match $SC_DIR 15 s after homebridge started"
  sleep 0.5 # the plugin's state moves on, in memory
  local before
  before=$(cat "$cache")

  sigterm_together "$hb" "$CFG_PID"
  cfg_gone 30
  wait_gone "$hb" 15 || fail "homebridge still running 15 s after SIGTERM"
  local hb_ms=$ELAPSED_MS
  bg_wait "$hb"
  local hb_rc=$BG_RC
  assert_contains "$hb_log" 'Got SIGTERM, shutting down Homebridge' "homebridge's shutdown line"
  # What Homebridge wrote after SIGTERM (evidence for the scenario). The kernel stamps mtimes
  # from its coarse clock, up to one tick (10 ms at HZ=100) behind the time T_TERM was read
  # from: a write right after SIGTERM may carry a time a few ms before it.
  local written=() f m since=$((T_TERM - MTIME_TICK_MS))
  while read -r f m; do
    m=${m/./}
    m=${m:0:13}
    ((m >= since)) && written+=("$f ($((m - T_TERM)) ms)")
  done < <(cd "$SC_DIR" && find . -type f ! -name .cfgsync-marker -printf '%P %T@\n' | LC_ALL=C sort)
  log "homebridge exited ${hb_ms} ms after SIGTERM (code $hb_rc); files written after SIGTERM: ${written[*]:-none}"
  log "cfgsync exited ${CFG_MS} ms after SIGTERM with code $CFG_RC"
  echo "TIME: homebridge: cfgsync exited ${CFG_MS} ms after SIGTERM; homebridge ${hb_ms} ms (code $hb_rc);" \
    "written after SIGTERM: ${written[*]:-none}"
  local after
  after=$(cat "$cache")
  (($(mtime_ms "$cache") >= since)) || fail "homebridge did not rewrite accessories/cachedAccessories at SIGTERM"
  [[ $after != "$before" ]] || fail "accessories/cachedAccessories unchanged by the shutdown: the scenario proves nothing"
  [[ $after == *'"ticks":'* ]] || fail "accessories/cachedAccessories lacks the plugin's state: $after"

  assert_eq "$CFG_RC" 0 "cfgsync's exit code after SIGTERM"
  assert_contains "$SC_LOG" "$OK_LINE" "cfgsync's final log line"
  # The plugin's state first, for a short message (the file is 3 kB of JSON), then the whole file.
  local stored
  stored=$(s3_get accessories/cachedAccessories) || fail "accessories/cachedAccessories missing from the backup"
  [[ $(plugin_state <<<"$stored") == "$(plugin_state <<<"$after")" ]] ||
    fail "accessories/cachedAccessories: the backup holds the plugin state [$(plugin_state <<<"$stored")]," \
      "the file written at SIGTERM [$(plugin_state <<<"$after")] (before SIGTERM: [$(plugin_state <<<"$before")])"
  assert_s3_content accessories/cachedAccessories "$after"
  # And the whole folder, byte for byte (but cfgsync's own marker, which is never uploaded).
  local dl=$SC_ROOT/download
  s3_download "$dl" || fail "awscli could not download the backup"
  diff -r -x .cfgsync-marker "$SC_DIR" "$dl" >"$SC_ROOT/diff.txt" 2>&1 ||
    fail "the backup differs from the folder after homebridge stopped: $(head -c 600 "$SC_ROOT/diff.txt")"
  in_sync || fail "\`cfgsync status\` finds the folder and the backup out of sync after both stopped"
}

SCENARIOS=(
  sc_late_write
  sc_endless_writes
  sc_run_no_linger
  sc_homebridge
)

# run_scenario FN: runs FN in a subshell, so that a failure ends only that scenario; the processes
# it started are stopped on its way out. 0 passed, 77 skipped, anything else failed.
_scenario_exit() {
  local rc=$? base=$1 pid
  set +e
  trap - EXIT
  local mine=("${E2E_PIDS[@]:base}")
  for pid in "${mine[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${mine[@]}"; do
    wait_gone "$pid" 3 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  exit "$rc"
}

PASSED=()
FAILED=()
SKIPPED=()
t_start=$(now_ms)
start_moto
log "=== moto on port $SERVER_PORT"
for sc in "${SCENARIOS[@]}"; do
  [[ $sc =~ $ONLY ]] || continue
  rm -f "$SKIP_FILE"
  base=${#E2E_PIDS[@]}
  set +e
  (
    set -e
    T_TERM=$(now_ms)
    # shellcheck disable=SC2064  # base is fixed now, on purpose
    trap "_scenario_exit $base" EXIT
    "$sc"
  )
  rc=$?
  set -e
  case $rc in
    0)
      PASSED+=("$sc")
      log "ok: $sc"
      ;;
    77)
      SKIPPED+=("$sc: $(cat "$SKIP_FILE" 2>/dev/null)")
      log "SKIPPED: ${SKIPPED[-1]}"
      ;;
    *)
      FAILED+=("$sc")
      log "FAILED: $sc (exit code $rc)"
      ;;
  esac
done
stop_server
for sc in "${SKIPPED[@]}"; do echo "SKIPPED: $sc" >&2; done
summary="${#PASSED[@]} passed, ${#FAILED[@]} failed"
((${#SKIPPED[@]} == 0)) || summary+=", ${#SKIPPED[@]} skipped"
log "shutdown_test: $summary in $((($(now_ms) - t_start) / 1000)) s${FAILED[*]:+ (failed: ${FAILED[*]})}"
echo "$summary"
((${#FAILED[@]} == 0))
