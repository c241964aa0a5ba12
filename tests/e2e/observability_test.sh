#!/usr/bin/env bash
# End-to-end tests of what operators see of a running sidecar (the real binary, moto_server and,
# where cheap, s3rver 4):
#   - /metrics, scraped while `cfgsync watch` works: the counters follow the files written and
#     deleted, the gauges are sane, every scrape passes `promtool check metrics`, and no label
#     value carries a key, a file name or the secret;
#   - /readyz with --readiness startup (the default): 200 once the first reconcile has been
#     attempted, even a failed one (remote not there yet), and 200 through a remote outage and
#     while the deletion guard holds deletions back; for `cfgsync run`, 503 until the restore
#     and the first reconcile are done. With --readiness backup (the strict mode): 503 until a
#     first reconcile succeeded, 503 while the deletion guard holds deletions back and 200 once
#     it clears, 503 once the remote has been failing longer than --ready-max-outage and 200
#     when it is back; /healthz 200 throughout;
#   - the deletion guard: deletions seen live (15 of 20 files removed one by one) are applied;
#     deletions a start-up reconcile infers (files removed while cfgsync was stopped) are held,
#     shown by cfgsync_deletion_guard_tripped and cfgsync_held_deletions, and released when the
#     files come back, by a restart with a higher --max-delete, or by `sync --allow-deletions`;
#   - JSON logs: every line of a run with uploads, deletes, an outage and a shutdown is a JSON
#     object with ts, level and msg; the start-up line shows the configuration with the secret
#     masked; the secret appears in no log (JSON or text) and in no scrape.
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/observability_test.sh
#
# E2E_SERVERS="moto s3rver" picks the servers for the scenarios that run on both,
# E2E_ONLY=REGEX the scenarios (by function name), E2E_KEEP=1 keeps the work directories.
# Each scenario runs as its own child process of this script (OBS_RUN=function): a failure ends
# that scenario only, every scenario is reported, and the two slow guard scenarios (they wait
# for the sidecar's 30 s recheck of held-back deletions) run beside the others.
# shellcheck disable=SC2005,SC2046,SC2086,SC2116,SC2317  # flattened lists; functions run by name
# SERVER_*, S3_*, CFG_* are lib.sh's state; single-quoted scripts expand in the child shell:
# shellcheck disable=SC2034,SC2016
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=${E2E_SERVERS:-moto s3rver}
ONLY=${E2E_ONLY:-.}
# The system interpreter starts in ~50 ms; a pyenv shim costs ~300 ms per call.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
command -v promtool >/dev/null || fail "promtool is not installed (Debian package prometheus)"

# ---------------------------------------------------------------------------------------------
# Scenario set-up

# A secret that cannot occur by chance in a log or a scrape. moto checks no signature, so any
# secret works there; s3rver insists on S3RVER (which is also its access key id, so the
# secret checks are made on moto only).
OBS_SECRET=obsSecret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-Zq
OBS_TOKEN=obsToken-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-Wk

# attach_server KIND PORT: uses a server the parent started (not stopped by this process).
attach_server() {
  SERVER_KIND=$1
  SERVER_PORT=$2
  SERVER_PID=""
  S3_ENDPOINT=http://127.0.0.1:$SERVER_PORT
  if [[ $1 == moto ]]; then S3_KEY=moto-key; else S3_KEY=S3RVER; fi
  S3_SECRET=$S3_KEY
}

# setup NAME: folder SC_DIR (created), log SC_LOG, SYNC_PATH obs-NAME on the current server;
# with moto, the distinctive secret and session token. SC_FORBIDDEN lists what must never show
# up in a label value (the secret and session token: nowhere at all).
setup() {
  local name=$1
  SC_ROOT=$E2E_TMP/$SERVER_KIND-$name
  SC_DIR=$SC_ROOT/config
  SC_LOG=$SC_ROOT/cfgsync.log
  SC_SCRAPES=0
  mkdir -p "$SC_DIR"
  SC_SECRETS=()
  if [[ $SERVER_KIND == moto ]]; then
    S3_SECRET=$OBS_SECRET
    SC_SECRETS=("$OBS_SECRET" "$OBS_TOKEN")
  fi
  use_s3 "obs-$name"
  if [[ $SERVER_KIND == moto ]]; then export RCLONE_CONFIG_S3_SESSION_TOKEN=$OBS_TOKEN; fi
  SC_FORBIDDEN=("${SC_SECRETS[@]}" "$SYNC_PATH" "$SC_DIR")
}

# forbid NAME...: file names / keys that must not appear in any label value.
forbid() { SC_FORBIDDEN+=("$@"); }

# put_file REL SIZE: writes SIZE bytes to SC_DIR/REL at once (written beside, then renamed in,
# so that the sidecar sees one complete file).
put_file() {
  local rel=$1 size=$2 tmp=$SC_ROOT/staging.$$
  mkdir -p "$(dirname "$SC_DIR/$rel")"
  head -c "$size" /dev/zero | tr '\0' 'x' >"$tmp"
  mv "$tmp" "$SC_DIR/$rel"
}

# watch_start ARGS...: `cfgsync watch` on SC_DIR with text logs at debug level (the secret
# checks cover them) and --debounce SC_DEBOUNCE (200ms unless set), then HTTP_PORT from its log.
watch_start() {
  start_cfgsync "$SC_LOG" watch --dir "$SC_DIR" --debounce "${SC_DEBOUNCE:-200ms}" --log-level debug "$@"
  find_http_port "$SC_LOG"
}

# watch_stop: SIGTERM, exit code 0 expected.
watch_stop() {
  stop_cfgsync TERM
  assert_eq "$CFG_RC" 0 "exit code after SIGTERM"
}

passed() { log "ok: $E2E_SCENARIO"; }

clock_past() { (($(date +%s) > $1)); }

# ---------------------------------------------------------------------------------------------
# /readyz and /healthz

# ready_get: one GET /readyz: READY_CODE, READY_REASON (the body without its newline) and
# READY_LINES (lines in the body; the reason must be exactly one line).
ready_get() {
  local body=$SC_ROOT/readyz.body
  READY_CODE=$(curl -s -m 10 -o "$body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/readyz") || true
  READY_REASON=$(head -c 500 "$body" 2>/dev/null | tr -d '\n')
  READY_LINES=$(wc -l <"$body" 2>/dev/null || echo 0)
  if [[ $READY_CODE =~ ^[0-9]{3}$ && $READY_CODE != 000 ]]; then
    [[ $READY_LINES == 1 && -n $READY_REASON && $(wc -c <"$body") == $((${#READY_REASON} + 1)) ]] ||
      fail "/readyz $READY_CODE: the body is not one non-empty line: [$(head -c 300 "$body")]"
  fi
}

# ready_is CODE REGEX: /readyz answers CODE with a reason matching REGEX.
ready_is() {
  ready_get
  [[ $READY_CODE == "$1" && $READY_REASON =~ $2 ]]
}

# wait_ready [-t SECONDS] CODE REGEX
wait_ready() {
  local secs=15
  if [[ $1 == -t ]]; then
    secs=$2
    shift 2
  fi
  wait_for -t "$secs" ready_is "$1" "$2" ||
    fail "/readyz: expected $1 with a reason matching /$2/ within ${secs}s; last answer: $READY_CODE [$READY_REASON]"
  log "/readyz $READY_CODE: $READY_REASON"
}

# status_has KEY=VALUE...: GET /status is a JSON object whose members KEY (dotted for nested
# objects: guard.holding) equal VALUE (a string's value, or a number / boolean as JSON text).
status_has() {
  local body=$SC_ROOT/status.json
  curl -s -m 10 -o "$body" "http://127.0.0.1:$HTTP_PORT/status" || return 1
  "$PY" - "$body" "$@" <<'EOF3'
import json, sys
try:
    obj = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
def text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
for arg in sys.argv[2:]:
    key, want = arg.split("=", 1)
    v = obj
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            sys.exit(1)
        v = v[part]
    if text(v) != want:
        sys.exit(1)
EOF3
}

# assert_status KEY=VALUE...: status_has, or fail showing the body.
assert_status() {
  status_has "$@" || fail "/status does not have $*: $(tr -d '\n ' <"$SC_ROOT/status.json" | head -c 600)"
}

# healthz_watch_start: polls /healthz in the background (every 0.2 s) into SC_ROOT/healthz.txt.
# healthz_watch_stop: stops it; every answer must have been 200 (and there must be some).
healthz_watch_start() {
  HEALTHZ_FILE=$SC_ROOT/healthz.txt
  : >"$HEALTHZ_FILE"
  bg_start "$SC_ROOT/healthz.err" bash -c '
    while :; do
      c=$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://127.0.0.1:$1/healthz")
      echo "$(date +%T.%3N) $c" >>"$2"
      sleep 0.2
    done' healthz-poller "$HTTP_PORT" "$HEALTHZ_FILE"
  HEALTHZ_PID=$BG_PID
}
healthz_watch_stop() {
  kill -TERM "$HEALTHZ_PID" 2>/dev/null || true
  bg_wait "$HEALTHZ_PID"
  local n bad
  n=$(grep -c . "$HEALTHZ_FILE" || true)
  ((n > 0)) || fail "/healthz was never polled"
  bad=$(grep -v ' 200$' "$HEALTHZ_FILE" | head -5 || true)
  [[ -z $bad ]] || fail "/healthz did not stay 200 (of $n answers): $(echo $bad)"
  log "/healthz: $n answers, all 200"
}

# ---------------------------------------------------------------------------------------------
# /metrics

# exposition_problems FILE: prints what is wrong with a scraped exposition; status 1 if anything.
# - `promtool check metrics` must exit 0. It exits 1 on a parse error and 3 on lint problems.
#   No lint finding is accepted: cfgsync's exposition is lint-clean (counters end in _total,
#   every metric has HELP, seconds and bytes are base units, `le` only on the histogram), so a
#   finding means a metric was renamed or mistyped, which breaks dashboards and alerts.
# - no label value contains a key, a file name, the backup path or a secret (SC_FORBIDDEN);
# - a secret appears nowhere, not even in HELP text.
exposition_problems() {
  local file=$1 out rc=0 s values problems=()
  out=$(promtool check metrics <"$file" 2>&1) || rc=$?
  ((rc == 0)) || problems+=("promtool check metrics exited $rc: $(echo $out | head -c 400)")
  values=$(grep -v '^#' "$file" | grep -oE '="([^"\\]|\\.)*"' || true)
  for s in "${SC_FORBIDDEN[@]}"; do
    [[ -n $s ]] || continue
    if grep -qF -- "$s" <<<"$values"; then problems+=("a label value contains [$s]"); fi
  done
  for s in "${SC_SECRETS[@]}"; do
    if grep -qF -- "$s" "$file"; then problems+=("the exposition contains a secret"); fi
  done
  ((${#problems[@]} == 0)) && return 0
  printf '%s\n' "${problems[@]}"
  return 1
}

# scrape: GET /metrics into a new file SCRAPE, checked with exposition_problems (a bad
# exposition fails the scenario at once, even in the middle of a wait).
scrape() {
  SC_SCRAPES=$((SC_SCRAPES + 1))
  SCRAPE=$SC_ROOT/metrics.$SC_SCRAPES.txt
  local hdr=$SC_ROOT/metrics.headers code problems
  code=$(curl -s -m 10 -D "$hdr" -o "$SCRAPE" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/metrics") || true
  [[ $code == 200 ]] || fail "GET /metrics answered $code"
  grep -qiE '^content-type: text/plain; version=0\.0\.4' "$hdr" ||
    fail "/metrics content type: $(grep -i '^content-type' "$hdr")"
  problems=$(exposition_problems "$SCRAPE") || fail "bad exposition in $SCRAPE: $problems"
}

# metric SAMPLE [FILE]: the value of one sample (name with labels, as written) in the last
# scrape; fails if absent.
metric() {
  local v
  v=$(awk -v s="$1" '$1 == s { print $2; n++ } END { exit n != 1 }' "${2:-$SCRAPE}") ||
    fail "sample $1 missing (or repeated) in ${2:-$SCRAPE}"
  printf '%s\n' "$v"
}

# metric_cmp SAMPLE OP VALUE: scrapes, then compares.
metric_cmp() {
  scrape
  num "$(metric "$1")" "$2" "$3"
}

# wait_metric [-t SECONDS] SAMPLE OP VALUE
wait_metric() {
  local secs=15
  if [[ $1 == -t ]]; then
    secs=$2
    shift 2
  fi
  wait_for -t "$secs" metric_cmp "$@" ||
    fail "metric $1: expected $2 $3 within ${secs}s, last scrape has $(metric "$1")"
}

# histogram_sane FILE: cfgsync_push_duration_seconds buckets are cumulative and +Inf == _count.
histogram_sane() {
  awk '
    /^cfgsync_push_duration_seconds_bucket/ { v = $2 + 0; if (seen && v < prev) bad = 1; prev = v; seen = 1
      if ($1 ~ /le="\+Inf"/) inf = v }
    /^cfgsync_push_duration_seconds_count / { count = $2 + 0 }
    END { exit (bad || !seen || inf != count) }' "$1"
}

# ---------------------------------------------------------------------------------------------
# Logs

# json_log_problems FILE...: prints every line that is not a JSON object with string members
# ts (2026-11-26T05:51:43.272Z), level (a spdlog level name) and msg; status 1 if any.
json_log_problems() {
  "$PY" - "$@" <<'EOF'
import json, re, sys
levels = {"trace", "debug", "info", "warning", "warn", "error", "critical"}
ts_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
bad = []
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        bad.append(f"{path}: last line not terminated")
    for n, raw in enumerate(data.splitlines(), 1):
        where = f"{path}:{n}: {raw[:160]!r}"
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            bad.append(f"{where}: not JSON ({e})")
            continue
        if not isinstance(obj, dict):
            bad.append(f"{where}: not an object")
            continue
        for k in ("ts", "level", "msg"):
            if not isinstance(obj.get(k), str):
                bad.append(f"{where}: no string member {k}")
        if isinstance(obj.get("ts"), str) and not ts_re.match(obj["ts"]):
            bad.append(f"{where}: ts not like 2026-11-26T05:51:43.272Z")
        if isinstance(obj.get("level"), str) and obj["level"] not in levels:
            bad.append(f"{where}: unknown level")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

# json_has FILE KEY=VALUE...: some line of FILE is a JSON object whose members KEY equal VALUE
# (compared as text: a string's value, or a number / list as JSON).
json_has() {
  "$PY" - "$@" <<'EOF2'
import json, sys
path, want = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
def text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
for raw in open(path, "rb").read().splitlines():
    try:
        obj = json.loads(raw)
    except ValueError:
        continue
    if isinstance(obj, dict) and all(k in obj and text(obj[k]) == v for k, v in want):
        sys.exit(0)
sys.exit(1)
EOF2
}

# assert_no_secret FILE...: no secret of this scenario in any of the files.
assert_no_secret() {
  local s f
  for f in "$@"; do
    for s in "${SC_SECRETS[@]}"; do
      if grep -qF -- "$s" "$f"; then fail "a secret appears in $f: $(grep -nF -- "$s" "$f" | head -c 300)"; fi
    done
  done
}

# assert_config_line FILE: the start-up configuration line is there, secret and token masked.
assert_config_line() {
  local line
  line=$(grep -m1 -E '(^|[ "])configuration([ "]|$)' "$1") || fail "no start-up configuration line in $1"
  [[ $line =~ secret_access_key(=|\":\")\*\*\*([ \"]|$) ]] ||
    fail "configuration line without a masked secret_access_key: $line"
  if ((${#SC_SECRETS[@]})); then
    [[ $line =~ session_token(=|\":\")\*\*\*([ \"]|$) ]] ||
      fail "configuration line without a masked session_token: $line"
  fi
}

# ---------------------------------------------------------------------------------------------
# Scenarios

sc_metrics() {
  scenario "/metrics follows uploads and deletes; every scrape passes promtool"
  setup metrics
  local names=(seed.ini alpha.ini beta.json gamma.yaml)
  forbid "${names[@]}" sub newdir
  mkdir -p "$SC_DIR/sub"
  printf 'seed' >"$SC_DIR/seed.ini"
  watch_start
  wait_ready 200 '^ok$'
  healthz_watch_start

  scrape
  local u0 b0 d0 t0 h0 version
  u0=$(metric cfgsync_uploads_total)
  b0=$(metric cfgsync_uploaded_bytes_total)
  d0=$(metric cfgsync_deletes_total)
  t0=$(metric cfgsync_last_push_timestamp_seconds)
  h0=$(metric cfgsync_push_duration_seconds_count)
  num "$u0" == 1 || fail "uploads after the start-up reconcile of one file: $u0"
  num "$b0" == 4 || fail "uploaded bytes after the start-up reconcile of 4 bytes: $b0"
  num "$d0" == 0 || fail "deletes at start: $d0"
  num "$t0" '>' 1700000000 || fail "last push timestamp after the start-up upload: $t0"
  num "$(metric cfgsync_reconciles_total)" '>=' 1 || fail "reconciles_total after the first reconcile"
  num "$(metric cfgsync_pending_changes)" == 0 || fail "pending changes while idle"
  num "$(metric cfgsync_watched_folders)" == 2 || fail "watched folders (config, config/sub): $(metric cfgsync_watched_folders)"
  num "$(metric cfgsync_remote_up)" == 1 || fail "remote_up while the server answers"
  num "$(metric cfgsync_deletion_guard_tripped)" == 0 || fail "guard tripped at start"
  version=$("$CFGSYNC" version | awk '{ print $2; exit }')
  [[ -n $version ]] || fail "cannot read the version from \`cfgsync version\`"
  num "$(metric "cfgsync_build_info{version=\"$version\"}")" == 1 || fail "build_info for version $version"
  local op
  for op in push delete reconcile; do
    num "$(metric "cfgsync_errors_total{operation=\"$op\"}")" == 0 || fail "errors_total{operation=$op} at start"
  done

  # The timestamp has a resolution of one second: start the writes in a later second than the
  # start-up upload so that "advances" is observable.
  local t0s t_before
  t0s=$(awk -v v="$t0" 'BEGIN { printf "%d", v }')
  wait_for -t 5 clock_past "$t0s" || fail "the clock does not move past $t0s"
  t_before=$(date +%s)
  put_file alpha.ini 11
  put_file sub/beta.json 222
  mkdir "$SC_DIR/newdir"
  put_file newdir/gamma.yaml 3333
  wait_metric cfgsync_uploads_total == $((u0 + 3))
  wait_metric cfgsync_pending_changes == 0
  wait_for remote_count_is 4 || fail "backup keys: $(echo $(remote_keys))"
  scrape # after the backup shows all of them: a late duplicate upload would show here
  num "$(metric cfgsync_uploads_total)" == $((u0 + 3)) || fail "uploads: $(metric cfgsync_uploads_total), expected $((u0 + 3))"
  num "$(metric cfgsync_uploaded_bytes_total)" == $((b0 + 11 + 222 + 3333)) ||
    fail "uploaded bytes: $(metric cfgsync_uploaded_bytes_total), expected $b0 + 3566"
  num "$(metric cfgsync_push_duration_seconds_count)" == $((h0 + 3)) ||
    fail "push_duration_seconds_count: $(metric cfgsync_push_duration_seconds_count), expected $((h0 + 3))"
  histogram_sane "$SCRAPE" || fail "push_duration_seconds buckets not cumulative or +Inf != count in $SCRAPE"
  local t1
  t1=$(metric cfgsync_last_push_timestamp_seconds)
  num "$t1" '>' "$t0" || fail "last push timestamp did not advance: $t0 -> $t1"
  num "$t1" '>=' "$t_before" || fail "last push timestamp $t1 before the writes ($t_before)"
  num "$t1" '<=' "$(date +%s)" || fail "last push timestamp $t1 in the future"
  num "$(metric cfgsync_watched_folders)" == 3 || fail "watched folders after mkdir newdir: $(metric cfgsync_watched_folders)"
  num "$(metric cfgsync_deletes_total)" == "$d0" || fail "deletes moved without a deletion"

  rm "$SC_DIR/alpha.ini"
  wait_metric cfgsync_deletes_total == $((d0 + 1))
  wait_metric cfgsync_pending_changes == 0
  wait_for remote_lacks alpha.ini || fail "alpha.ini still in the backup"
  scrape
  num "$(metric cfgsync_uploads_total)" == $((u0 + 3)) || fail "uploads moved on a deletion"
  num "$(metric cfgsync_deletion_guard_tripped)" == 0 || fail "guard tripped by one deletion of four"
  for op in push delete reconcile; do
    num "$(metric "cfgsync_errors_total{operation=\"$op\"}")" == 0 || fail "errors_total{operation=$op} with a healthy remote"
  done
  ready_is 200 '^ok$' || fail "/readyz after the changes: $READY_CODE [$READY_REASON]"
  healthz_watch_stop
  local last=$SCRAPE
  watch_stop
  assert_no_secret "$SC_LOG" "$SC_ROOT"/metrics.*.txt
  assert_config_line "$SC_LOG"
  log "$SC_SCRAPES scrapes, all passed promtool and the label checks"

  # The checks above must be able to fail: corrupted copies of a real scrape are rejected.
  local bad=$SC_ROOT/corrupt.txt
  sed -E 's/^(cfgsync_uploads_total) .*/\1 many/' "$last" >"$bad"
  if exposition_problems "$bad" >/dev/null; then fail "accepted a sample whose value is not a number"; fi
  { cat "$last"; echo '# TYPE cfgsync_uploads_total gauge'; } >"$bad"
  if exposition_problems "$bad" >/dev/null; then fail "accepted a second TYPE line"; fi
  head -c "$(($(grep -b -m1 '^cfgsync_deletes_total' "$last" | cut -d: -f1) + 12))" "$last" >"$bad"
  if exposition_problems "$bad" >/dev/null; then fail "accepted an exposition cut in the middle of a sample"; fi
  sed -E 's/cfgsync_deletes_total/cfgsync_deletes/g' "$last" >"$bad"
  if exposition_problems "$bad" >/dev/null; then fail "accepted a counter without _total (promtool lint)"; fi
  sed -E 's/version="[^"]*"/version="newdir\/gamma.yaml"/' "$last" >"$bad"
  if exposition_problems "$bad" >/dev/null; then fail "accepted a label value naming a file"; fi
  if ((${#SC_SECRETS[@]})); then
    sed -E "s/^(# HELP cfgsync_remote_up) /\1 ${SC_SECRETS[0]} /" "$last" >"$bad"
    if exposition_problems "$bad" >/dev/null; then fail "accepted an exposition carrying the secret"; fi
  fi
  passed
}

sc_ready_first_reconcile() {
  SERVER_KIND=moto
  scenario "/readyz until the first reconcile (remote not up yet): startup 200 once tried, backup 503 until done"
  # No server yet: the endpoint is a free port where nothing listens.
  SERVER_PORT=$(free_port)
  S3_KEY=moto-key
  S3_ENDPOINT=http://127.0.0.1:$SERVER_PORT
  setup first
  forbid one.ini two.ini
  printf 'one' >"$SC_DIR/one.ini"
  printf 'two' >"$SC_DIR/two.ini"

  # The default, --readiness startup: ready once the first reconcile has been tried, although
  # it failed. Each poll asks /readyz first, then /metrics: a 200 followed by a scrape that
  # shows no failed reconcile would be a readiness given before the attempt.
  # Two attempts per request: each failed reconcile ends quickly.
  watch_start --retries 2
  startup_ready_after_failure() {
    ready_get
    [[ $READY_CODE == 200 ]] || {
      [[ $READY_CODE == 503 && $READY_REASON =~ ^(waiting\ for\ the\ folder\ to\ watch|first\ reconcile\ not\ done\ yet)$ ]] ||
        fail "/readyz (startup) before the first reconcile: $READY_CODE [$READY_REASON]"
      return 1
    }
    [[ $READY_REASON == ok ]] || fail "/readyz 200 with reason [$READY_REASON]"
    scrape
    num "$(metric 'cfgsync_errors_total{operation="reconcile"}')" '>=' 1 ||
      fail "/readyz (startup) 200 before the first reconcile was tried"
    return 0
  }
  wait_for -t 15 startup_ready_after_failure ||
    fail "/readyz (startup) never 200 after a failed first reconcile: $READY_CODE [$READY_REASON]"
  log "/readyz $READY_CODE: $READY_REASON (startup, first reconcile failed)"
  wait_metric 'cfgsync_errors_total{operation="reconcile"}' '>=' 2
  num "$(metric cfgsync_reconciles_total)" == 0 || fail "reconciles_total with no remote"
  num "$(metric cfgsync_remote_up)" == 0 || fail "remote_up while nothing listens"
  # Still ready after several failed attempts (not a transient answer).
  ready_is 200 '^ok$' || fail "/readyz (startup) with no remote: $READY_CODE [$READY_REASON]"
  assert_status readiness=startup ready=true remote_up=false reconciles=0
  [[ ! -e $SC_DIR/.cfgsync-marker ]] || fail ".cfgsync-marker written although no reconcile succeeded"
  stop_cfgsync TERM
  assert_eq "$CFG_RC" 1 "exit code after SIGTERM with nothing in the backup"

  # --readiness backup: not ready until a first reconcile succeeded.
  watch_start --retries 2 --readiness backup
  healthz_watch_start
  wait_ready 503 'first reconcile'
  wait_metric 'cfgsync_errors_total{operation="reconcile"}' '>=' 2
  # The failed reconciles are logged: the secret checks below cover those lines.
  assert_contains "$SC_LOG" ' warning reconcile failed' "warning line of a failed reconcile"
  num "$(metric cfgsync_reconciles_total)" == 0 || fail "reconciles_total with no remote"
  num "$(metric cfgsync_remote_up)" == 0 || fail "remote_up while nothing listens"
  # Still not ready after several failed attempts (not a transient answer).
  ready_is 503 '^first reconcile failed$' || fail "/readyz (backup) with no remote: $READY_CODE [$READY_REASON]"
  assert_status readiness=backup ready=false

  start_moto "$SERVER_PORT"
  wait_ready -t 40 200 '^ok$'
  scrape
  num "$(metric cfgsync_reconciles_total)" '>=' 1 || fail "ready before a reconcile was counted"
  num "$(metric cfgsync_remote_up)" == 1 || fail "remote_up once the server answers"
  num "$(metric cfgsync_uploads_total)" == 2 || fail "uploads after the first reconcile: $(metric cfgsync_uploads_total)"
  [[ -f $SC_DIR/.cfgsync-marker ]] || fail "no .cfgsync-marker in --dir after a successful reconcile"
  healthz_watch_stop
  watch_stop
  assert_s3_files one.ini=one two.ini=two # the marker is not uploaded
  assert_no_secret "$SC_LOG" "$SC_ROOT"/metrics.*.txt
  passed
}

# guard_held N: the guard holds N deletions: deletion_guard_tripped 1, held_deletions N, nothing
# deleted, the backup still holds its 20 objects, and /status says so.
guard_held() {
  scrape
  num "$(metric cfgsync_deletion_guard_tripped)" == 1 || fail "deletion_guard_tripped while the guard holds"
  num "$(metric cfgsync_held_deletions)" == "$1" ||
    fail "held_deletions: $(metric cfgsync_held_deletions), expected $1"
  num "$(metric cfgsync_deletes_total)" == 0 || fail "objects deleted although the guard holds them"
  assert_status guard.holding=true guard.held_deletions="$1"
  remote_count_is 20 || fail "the guard let deletions through: $(remote_keys | wc -l) keys left"
}

# guard_clear: deletion_guard_tripped 0 and held_deletions 0 in a new scrape.
guard_clear() {
  scrape
  num "$(metric cfgsync_deletion_guard_tripped)" == 0 || fail "deletion_guard_tripped after it cleared"
  num "$(metric cfgsync_held_deletions)" == 0 || fail "held_deletions after the guard cleared: $(metric cfgsync_held_deletions)"
}

# 20 files, 15 of them in one folder that is moved away while cfgsync is stopped: the start-up
# reconcile infers 15 deletions of 20 objects, over the default --max-delete 50%, and holds
# them. Three ways out: the folder comes back; a restart with a higher --max-delete; and
# `cfgsync sync --allow-deletions` beside the running sidecar.
sc_guard_hold_and_clear() {
  scenario "deletion guard: inferred deletions held (/readyz 503 with --readiness backup), then cleared"
  setup guard
  local i
  for i in 01 02 03 04 05; do printf 'top%s' "$i" >"$SC_DIR/top$i.ini"; done
  mkdir "$SC_DIR/apps"
  for i in 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20; do printf 'app%s' "$i" >"$SC_DIR/apps/app$i.ini"; done
  forbid apps top01.ini app06.ini
  watch_start --readiness backup
  wait_ready 200 '^ok$'
  wait_for remote_count_is 20 || fail "backup keys: $(remote_keys | wc -l), expected 20"
  watch_stop

  # The folder goes while cfgsync is stopped: the start-up reconcile never saw it deleted.
  mv "$SC_DIR/apps" "$SC_ROOT/apps.away"
  watch_start --readiness backup
  wait_ready 503 'deletion guard'
  healthz_watch_start
  guard_held 15
  assert_contains "$SC_LOG" 'deletion guard: 15 of 20 objects' "the guard's log line"

  # How it clears (src/watch/sidecar.cc): held deletions are looked at again 30 s later
  # (kGuardRecheck), by a reconcile; once nothing is left to delete, or few enough, the guard
  # is released. Here the folder comes back, so the recheck finds nothing to delete.
  mv "$SC_ROOT/apps.away" "$SC_DIR/apps"
  wait_ready -t 75 200 '^ok$'
  guard_clear
  num "$(metric cfgsync_deletes_total)" == 0 || fail "deletions after the folder came back"
  remote_count_is 20 || fail "backup keys after the guard cleared: $(remote_keys | wc -l)"
  healthz_watch_stop
  watch_stop

  # The second way out: the operator accepts the deletions by restarting with a higher
  # --max-delete; the start-up reconcile then deletes, and the sidecar is ready. The held
  # deletions must not go through at the shutdown before it (exit 0: a decision, not a failure).
  mv "$SC_DIR/apps" "$SC_ROOT/apps.away"
  watch_start --readiness backup
  wait_ready 503 'deletion guard'
  guard_held 15
  watch_stop
  assert_contains "$SC_LOG" 'stopped: every change is in the backup \(15 deletions held back by the guard\)' \
    "the shutdown line with deletions held back"
  remote_count_is 20 || fail "deletions held back went through at shutdown: $(remote_keys | wc -l) keys left"
  watch_start --readiness backup --max-delete 100%
  wait_ready 200 '^ok$'
  guard_clear
  num "$(metric cfgsync_deletes_total)" == 15 || fail "deletes after the restart: $(metric cfgsync_deletes_total)"
  wait_for remote_count_is 5 || fail "backup keys after the accepted deletion: $(remote_keys | wc -l)"

  # The third way out, without a restart: `cfgsync sync --allow-deletions`. The folder comes
  # back (pushed live), goes again while cfgsync is stopped, and the default readiness mode
  # runs the sidecar this time: the guard holds, /readyz stays 200.
  mv "$SC_ROOT/apps.away" "$SC_DIR/apps"
  wait_for remote_count_is 20 || fail "backup keys after the folder came back: $(remote_keys | wc -l)"
  watch_stop
  mv "$SC_DIR/apps" "$SC_ROOT/apps.away"
  watch_start
  wait_metric cfgsync_deletion_guard_tripped == 1
  healthz_watch_start
  guard_held 15
  ready_is 200 '^ok$' || fail "/readyz (startup) while the guard holds: $READY_CODE [$READY_REASON]"
  assert_status readiness=startup ready=true
  # Without --allow-deletions, sync holds them too (and says so with exit code 1).
  assert_exit 1 "$CFGSYNC" sync --dir "$SC_DIR"
  assert_contains "$CMD_ERR" 'deletion guard' "sync's guard line"
  remote_count_is 20 || fail "sync without --allow-deletions deleted: $(remote_keys | wc -l) keys left"
  assert_exit 0 "$CFGSYNC" sync --dir "$SC_DIR" --allow-deletions
  remote_count_is 5 || fail "backup keys after sync --allow-deletions: $(remote_keys | wc -l)"
  # The sidecar notices at its next check (30 s after the guard tripped).
  wait_metric -t 75 cfgsync_deletion_guard_tripped == 0
  guard_clear
  ready_is 200 '^ok$' || fail "/readyz after the guard cleared: $READY_CODE [$READY_REASON]"
  assert_status guard.holding=false
  num "$(metric cfgsync_deletes_total)" == 0 || fail "the sidecar deleted what sync had deleted: $(metric cfgsync_deletes_total)"
  healthz_watch_stop
  watch_stop
  remote_count_is 5 || fail "backup keys at the end: $(remote_keys | wc -l)"
  assert_no_secret "$SC_LOG" "$SC_ROOT"/metrics.*.txt
  passed
}

# guard_tree: f01.ini … f20.ini in the scenario's folder; GUARD_VICTIMS holds the names of the
# first 15, the share whose removal trips the default guard (more than 50 % of over 10 objects).
guard_tree() {
  local i
  GUARD_VICTIMS=()
  for i in $(seq -w 1 20); do printf 'v%s' "$i" >"$SC_DIR/f$i.ini"; done
  for i in $(seq -w 1 15); do GUARD_VICTIMS+=("f$i.ini"); done
}

# The guard trips on 15 files (not a folder) removed while cfgsync was stopped, and the files
# are then put back: the held deletions have nothing left to delete, so the guard must clear as
# it does for the folder (at the next recheck).
sc_guard_files_restored() {
  scenario "deletion guard tripped by files removed while stopped clears once they are put back"
  setup guardfiles
  local i files
  guard_tree
  files=("${GUARD_VICTIMS[@]}")
  forbid f01.ini
  watch_start --readiness backup
  wait_ready 200 '^ok$'
  wait_for remote_count_is 20 || fail "backup keys: $(remote_keys | wc -l), expected 20"
  watch_stop
  mkdir "$SC_ROOT/saved"
  for i in "${files[@]}"; do cp -p "$SC_DIR/$i" "$SC_ROOT/saved/" && rm "$SC_DIR/$i"; done
  watch_start --readiness backup
  wait_ready 503 'deletion guard'
  healthz_watch_start
  guard_held 15

  for i in "${files[@]}"; do cp -p "$SC_ROOT/saved/$i" "$SC_DIR/$i"; done
  # The recheck comes 30 s after the guard tripped; 75 s leaves room for a loaded machine.
  if ! wait_for -t 75 ready_is 200 '^ok$'; then
    scrape
    fail "/readyz still $READY_CODE [$READY_REASON] 75 s after the files were put back;" \
      "deletion_guard_tripped $(metric cfgsync_deletion_guard_tripped)," \
      "held_deletions $(metric cfgsync_held_deletions)," \
      "pending_changes $(metric cfgsync_pending_changes), $(remote_keys | wc -l) keys in the backup"
  fi
  guard_clear
  num "$(metric cfgsync_deletes_total)" == 0 || fail "deletions although the files came back"
  healthz_watch_stop
  watch_stop
  remote_count_is 20 || fail "backup keys after the files came back: $(remote_keys | wc -l)"
  passed
}

# Deletions observed live are the app's own doing and are applied whatever their number: 15 of
# 20 files removed one `rm` each (as an app uninstalling a plugin removes them), all within the
# debounce, so that the sidecar holds all 15 removals when the first of them becomes due and
# sends them as one batch, which a reconcile would have held (15 of 20 is over --max-delete
# 50%). With --readiness backup, a guard holding would also turn /readyz 503.
sc_guard_mass_rm() {
  scenario "deletion guard: 15 of 20 files removed one by one while watching are deleted, not held"
  setup massrm
  local files
  guard_tree
  files=("${GUARD_VICTIMS[@]/#/$SC_DIR/}")
  forbid f01.ini
  # A long debounce: even on a loaded machine the 15 removals take far less.
  local SC_DEBOUNCE=2s
  watch_start --readiness backup
  wait_ready 200 '^ok$'
  wait_for remote_count_is 20 || fail "backup keys: $(remote_keys | wc -l), expected 20"
  local t_rm f
  t_rm=$(now_ms)
  for f in "${files[@]}"; do rm "$f"; done
  log "15 files removed in $(($(now_ms) - t_rm)) ms"
  # Every poll until the deletions are done: the guard never trips, /readyz never leaves 200.
  mass_rm_done() {
    scrape
    num "$(metric cfgsync_deletion_guard_tripped)" == 0 ||
      fail "the guard tripped on deletions observed live (held_deletions $(metric cfgsync_held_deletions))"
    num "$(metric cfgsync_held_deletions)" == 0 || fail "held_deletions $(metric cfgsync_held_deletions) on live deletions"
    ready_is 200 '^ok$' || fail "/readyz (backup) during live deletions: $READY_CODE [$READY_REASON]"
    num "$(metric cfgsync_deletes_total)" == 15
  }
  if ! wait_for -t 15 mass_rm_done; then
    fail "live deletions not applied: deletes_total $(metric cfgsync_deletes_total)," \
      "$(remote_keys | wc -l) keys left; $(grep -c 'info deleted' "$SC_LOG") 'deleted' log lines"
  fi
  wait_for remote_count_is 5 || fail "backup keys after the live deletions: $(remote_keys | wc -l), expected 5"
  guard_clear
  assert_not_contains "$SC_LOG" 'deletion guard' "no guard line for deletions observed live"
  watch_stop
  assert_s3_keys f16.ini f17.ini f18.ini f19.ini f20.ini
  passed
}

sc_ready_outage() {
  SERVER_KIND=$OBS_KIND
  scenario "/readyz (backup) 503 once the remote fails longer than --ready-max-outage, 200 when back; (startup) 200 throughout"
  start_server "$OBS_KIND" # its own server: this scenario stops it
  setup outage
  forbid before.ini during.ini later.ini
  printf 'before' >"$SC_DIR/before.ini"
  watch_start --ready-max-outage 2s --retries 2 --readiness backup
  wait_ready 200 '^ok$'
  healthz_watch_start
  scrape
  num "$(metric cfgsync_remote_up)" == 1 || fail "remote_up before the outage"

  stop_server
  # Nothing touches the remote while nothing changes: a change makes the outage visible.
  printf 'during' >"$SC_DIR/during.ini"
  wait_metric -t 30 cfgsync_remote_up == 0
  num "$(metric cfgsync_pending_changes)" '>=' 1 || fail "pending changes while the change cannot be pushed"
  wait_ready -t 30 503 '^remote failing for [0-9]+s$'
  local secs=${READY_REASON//[!0-9]/}
  ((secs >= 2)) || fail "not ready after ${secs}s of outage, before --ready-max-outage 2s"
  scrape
  num "$(metric 'cfgsync_errors_total{operation="push"}')" '>=' 1 || fail "push errors during the outage"
  num "$(metric cfgsync_remote_up)" == 0 || fail "remote_up while /readyz reports the outage"
  assert_contains "$SC_LOG" 'error remote unavailable' "the outage's log line"

  restart_server # moto comes back empty: the reconcile after the outage stores everything again
  wait_ready -t 40 200 '^ok$'
  wait_metric -t 20 cfgsync_remote_up == 1
  wait_metric -t 20 cfgsync_pending_changes == 0
  wait_for -t 20 remote_has during.ini || fail "the change made during the outage never arrived"
  wait_for -t 20 remote_has before.ini || fail "before.ini not in the backup after the outage"
  assert_contains "$SC_LOG" 'info remote is back' "the recovery's log line"
  healthz_watch_stop
  watch_stop
  assert_s3_files before.ini=before during.ini=during

  # The same outage under the default --readiness startup (same --ready-max-outage, which this
  # mode ignores): /readyz stays 200 while the remote fails for more than twice that long.
  watch_start --ready-max-outage 2s --retries 2
  wait_ready 200 '^ok$'
  healthz_watch_start
  stop_server
  printf 'later' >"$SC_DIR/later.ini"
  wait_metric -t 30 cfgsync_remote_up == 0
  local t_down n=0
  t_down=$(now_ms)
  while (($(now_ms) - t_down < 5000)); do
    ready_is 200 '^ok$' || fail "/readyz (startup) during the outage: $READY_CODE [$READY_REASON]"
    n=$((n + 1))
    sleep 0.2
  done
  scrape
  num "$(metric cfgsync_remote_up)" == 0 || fail "remote_up during the outage (startup mode)"
  num "$(metric cfgsync_pending_changes)" '>=' 1 || fail "pending changes during the outage (startup mode)"
  assert_status readiness=startup ready=true remote_up=false
  log "/readyz (startup): $n answers 200 during 5 s of outage"
  restart_server
  wait_metric -t 40 cfgsync_remote_up == 1
  wait_metric -t 20 cfgsync_pending_changes == 0
  wait_for -t 20 remote_has later.ini || fail "the change made during the second outage never arrived"
  ready_is 200 '^ok$' || fail "/readyz (startup) after the outage: $READY_CODE [$READY_REASON]"
  healthz_watch_stop
  watch_stop
  assert_s3_files before.ini=before during.ini=during later.ini=later
  assert_no_secret "$SC_LOG" "$SC_ROOT"/metrics.*.txt
  passed
}

# A TCP relay to the S3 server that holds new connections while GATE exists: it keeps
# `cfgsync run` inside its restore for as long as the test needs, without timing.
write_gate_proxy() {
  cat >"$E2E_TMP/gate_proxy.py" <<'EOF'
import os, socket, sys, threading, time
upstream, gate, portfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def handle(c):
    while os.path.exists(gate):
        time.sleep(0.05)
    try:
        u = socket.create_connection(("127.0.0.1", upstream))
    except OSError:
        c.close()
        return
    t = threading.Thread(target=pipe, args=(u, c), daemon=True)
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()

while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
EOF
}

sc_run_ready() {
  scenario "cfgsync run: /readyz 503 during the restore, 200 after it and the first reconcile"
  setup run
  local seed=$SC_ROOT/seed
  mkdir -p "$seed/app"
  printf 'a=1\n' >"$seed/a.ini"
  printf '{"b": 2}\n' >"$seed/app/b.json"
  head -c 5000 /dev/zero | tr '\0' 'c' >"$seed/app/c.yaml"
  forbid a.ini b.json c.yaml
  assert_exit 0 "$CFGSYNC" sync --dir "$seed"

  write_gate_proxy
  local gate=$SC_ROOT/gate portfile=$SC_ROOT/proxy.port
  touch "$gate"
  bg_start "$SC_ROOT/proxy.log" "$PY" "$E2E_TMP/gate_proxy.py" "$SERVER_PORT" "$gate" "$portfile"
  wait_for test -s "$portfile" || fail "the relay did not start: $(cat "$SC_ROOT/proxy.log")"
  RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:$(cat "$portfile")
  export RCLONE_CONFIG_S3_ENDPOINT

  start_cfgsync "$SC_LOG" run --dir "$SC_DIR" --debounce 200ms --log-level debug
  find_http_port "$SC_LOG"
  healthz_watch_start
  wait_ready 503 'restore in progress'
  scrape
  num "$(metric cfgsync_restore_files_total)" == 0 || fail "files restored while the remote is held"
  num "$(metric cfgsync_reconciles_total)" == 0 || fail "reconciles during the restore"
  ready_is 503 'restore in progress' || fail "/readyz during the restore: $READY_CODE [$READY_REASON]"

  rm -f "$gate"
  # Each poll asks /readyz first, then /metrics: a 200 followed by a scrape that shows no
  # reconcile or an unfinished restore would be a readiness given too early.
  run_ready_ok() {
    ready_get
    scrape
    if [[ $READY_CODE == 200 ]]; then
      num "$(metric cfgsync_reconciles_total)" '>=' 1 || fail "/readyz 200 before the first reconcile"
      num "$(metric cfgsync_restore_files_total)" == 3 || fail "/readyz 200 before the restore finished"
      return 0
    fi
    [[ $READY_CODE == 503 && $READY_REASON =~ ^(restore\ in\ progress|first\ reconcile\ not\ done\ yet)$ ]] ||
      fail "/readyz while starting: $READY_CODE [$READY_REASON]"
    return 1
  }
  wait_for -t 30 run_ready_ok || fail "/readyz never 200 after the restore: $READY_CODE [$READY_REASON]"
  log "/readyz $READY_CODE: $READY_REASON"
  num "$(metric cfgsync_restore_bytes_total)" == $((4 + 9 + 5000)) ||
    fail "restore_bytes_total: $(metric cfgsync_restore_bytes_total), expected 5013"
  assert_contains "$SC_LOG" ' debug restored .*path=app/c.yaml' "debug line of a restored file"
  # cfgsync's own marker (which remote the folder holds) is in both folders (the seed's from the
  # `sync` above, naming another endpoint): it is compared apart, and never part of the backup.
  diff -r -x .cfgsync-marker "$seed" "$SC_DIR" >/dev/null ||
    fail "restored folder differs from the seed: $(diff -r -x .cfgsync-marker "$seed" "$SC_DIR" | head -5)"
  [[ -s $SC_DIR/.cfgsync-marker ]] || fail "no .cfgsync-marker in --dir after the restore and first reconcile"
  keys_are a.ini app/b.json app/c.yaml || fail "backup keys: $(echo $(remote_keys))"
  healthz_watch_stop
  watch_stop
  assert_no_secret "$SC_LOG" "$SC_ROOT"/metrics.*.txt
  passed
}

sc_json_logs() {
  SERVER_KIND=moto
  scenario "--log-format json: every line a JSON object; secret masked, never written"
  start_server moto # its own server: this scenario stops it
  setup json
  forbid keep.ini gone.ini new1.ini new2.ini late.ini
  printf 'keep' >"$SC_DIR/keep.ini"
  printf 'gone' >"$SC_DIR/gone.ini"
  local out=$SC_ROOT/stdout.log err=$SC_ROOT/stderr.log
  # stdout and stderr apart: each must hold only JSON lines.
  "$CFGSYNC" watch --dir "$SC_DIR" --debounce 200ms --retries 2 --log-format json --log-level debug \
    >"$out" 2>"$err" &
  CFG_PID=$!
  CFG_LOG=$err
  E2E_PIDS+=("$CFG_PID")
  watch_log "$err"
  find_http_port "$err"
  wait_ready 200 '^ok$'

  printf 'new one' >"$SC_DIR/new1.ini"
  printf 'new two' >"$SC_DIR/new2.ini"
  rm "$SC_DIR/gone.ini"
  wait_for keys_are keep.ini new1.ini new2.ini || fail "backup keys: $(echo $(remote_keys))"

  stop_server
  printf 'late' >"$SC_DIR/late.ini"
  wait_for -t 30 grep -q '"level":"error"' "$err" || fail "no error line while the server is down"
  scrape
  restart_server
  wait_ready -t 40 200 '^ok$'
  wait_for -t 20 remote_has late.ini || fail "late.ini not pushed after the outage"
  scrape
  watch_stop

  local problems
  problems=$(json_log_problems "$out" "$err") || fail "log lines that are not JSON objects with ts, level, msg:"$'\n'"$problems"
  assert_contains "$err" '"msg":"configuration"' "start-up configuration line"
  assert_config_line "$err"
  # The events carry their fields as members.
  json_has "$err" msg=pushed path=new1.ini bytes=7 || fail "no pushed line with path new1.ini and bytes 7"
  json_has "$err" msg=pushed path=late.ini bytes=4 || fail "no pushed line for late.ini after the outage"
  json_has "$err" msg=deleted 'paths=["gone.ini"]' objects=1 || fail "no deleted line for gone.ini"
  json_has "$err" msg=configuration secret_access_key='***' session_token='***' ||
    fail "no configuration line with the secret and token masked"
  assert_contains "$err" '"level":"error","msg":"remote unavailable' "the outage's error line"
  assert_contains "$err" '"level":"info","msg":"stopped: every change is in the backup"' "the shutdown line"
  assert_no_secret "$out" "$err" "$SC_ROOT"/metrics.*.txt
  log "$(wc -l <"$err") JSON lines on stderr, $(wc -l <"$out") on stdout"

  # The checker must be able to fail.
  local bad=$SC_ROOT/bad.log
  { cat "$err"; echo 'plain text line'; } >"$bad"
  if json_log_problems "$bad" >/dev/null; then fail "JSON check accepted a plain text line"; fi
  { cat "$err"; echo '{"level":"info","msg":"no ts"}'; } >"$bad"
  if json_log_problems "$bad" >/dev/null; then fail "JSON check accepted a line without ts"; fi
  { cat "$err"; echo '["ts","level","msg"]'; } >"$bad"
  if json_log_problems "$bad" >/dev/null; then fail "JSON check accepted an array"; fi
  if json_has "$err" msg=pushed path=new1.ini bytes=8; then fail "json_has matched a wrong field value"; fi
  passed
}

# A bad flag value is reported after --log-format json was read: the report is a log line too.
sc_json_flag_errors() {
  scenario "--log-format json: a bad flag value is reported as a JSON line"
  setup jsonflags
  local args flag
  for args in "watch --debounce 5x" "watch --max-delete lots" "run --ready-max-outage soon"; do
    # shellcheck disable=SC2086  # ARGS are words on purpose
    assert_exit 2 "$CFGSYNC" $args --dir "$SC_DIR" --log-format json
    local problems
    problems=$(json_log_problems "$CMD_OUT" "$CMD_ERR") ||
      fail "\`cfgsync $args --log-format json\`: $problems"
    assert_contains "$CMD_ERR" '"level":"error"' "\`cfgsync $args\`: error line"
    flag=$(awk '{ print $2 }' <<<"$args")
    assert_contains "$CMD_ERR" "\"msg\":\"$flag" "\`cfgsync $args\`: the flag named"
  done
  passed
}

# ---------------------------------------------------------------------------------------------
# Driver

# Child: one scenario, on a server the parent started (OBS_SHARED) or on its own.
if [[ -n ${OBS_RUN:-} ]]; then
  case ${OBS_SHARED:-} in
    *:*) attach_server "${OBS_SHARED%%:*}" "${OBS_SHARED#*:}" ;;
  esac
  "$OBS_RUN"
  exit 0
fi

# name, server kind ("own": starts its own moto), and whether it runs beside the others.
SCENARIOS=(
  "sc_guard_hold_and_clear moto background"
  "sc_guard_files_restored moto background"
  "sc_metrics moto"
  "sc_metrics s3rver"
  "sc_ready_first_reconcile own"
  "sc_run_ready moto"
  "sc_ready_outage own-moto"
  "sc_ready_outage own-s3rver"
  "sc_json_logs own"
  "sc_guard_mass_rm moto"
  "sc_json_flag_errors none"
)

t_start=$(now_ms)
declare -A shared_port
for kind in $SERVERS; do
  start_server "$kind"
  shared_port[$kind]=$SERVER_PORT
done

declare -A child_pid child_out
results=()
rc=0
finish() { # NAME
  local name=$1
  bg_wait "${child_pid[$name]}"
  cat "${child_out[$name]}" >&2
  if ((BG_RC == 0)); then
    results+=("ok    $name")
  else
    results+=("FAIL  $name")
    rc=1
  fi
}

n=0
for entry in "${SCENARIOS[@]}"; do
  read -r fn kind mode <<<"$entry"
  [[ $fn =~ $ONLY ]] || continue
  shared="" own_kind=moto
  case $kind in
    moto | s3rver)
      [[ " $SERVERS " == *" $kind "* ]] || continue
      shared=$kind:${shared_port[$kind]}
      ;;
    own) [[ " $SERVERS " == *" moto "* ]] || continue ;;
    own-*)
      own_kind=${kind#own-}
      [[ " $SERVERS " == *" $own_kind "* ]] || continue
      ;;
  esac
  n=$((n + 1))
  name="$fn${kind:+[$kind]}"
  child_out[$name]=$E2E_TMP/child-$n.out
  bg_start "${child_out[$name]}" env OBS_RUN="$fn" OBS_SHARED="$shared" OBS_KIND="$own_kind" \
    bash "${BASH_SOURCE[0]}"
  child_pid[$name]=$BG_PID
  [[ ${mode:-} == background ]] && continue
  finish "$name"
done
for name in "${!child_pid[@]}"; do
  if [[ " ${E2E_PIDS[*]} " == *" ${child_pid[$name]} "* ]]; then finish "$name"; fi
done

printf '%s\n' "${results[@]}" >&2
log "$([[ $rc == 0 ]] && echo PASS || echo FAIL): ${#results[@]} scenario runs in $((($(now_ms) - t_start) / 1000)) s"
exit "$rc"
