#!/usr/bin/env bash
# End-to-end tests of cfgsync's command line (the real binary): usage errors, secrets kept out
# of the output, `version`, `sync` / `ls` against a local-folder remote, `sync --dry-run`, and
# the exit code of a sync whose deletions the guard blocks.
#
#   CFGSYNC=build/cfgsync bash tests/e2e/cli_test.sh
# Subshells scope the environment of some scenarios on purpose:
# shellcheck disable=SC2030,SC2031,SC2119
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PASSED=0
passed() {
  PASSED=$((PASSED + 1))
  log "ok: $E2E_SCENARIO"
}

# cfg ARGS...: the binary with a time limit (a usage error must never start a long command).
cfg() { timeout -k 2 20 "$CFGSYNC" "$@"; }

# tree_state DIR: names, sizes, modes, mtimes and checksums of everything under DIR.
tree_state() {
  (cd "$1" && find . -printf '%p %s %m %T@\n' | LC_ALL=C sort &&
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r md5sum)
}

WORK=$E2E_TMP/cli
mkdir -p "$WORK"
cd "$WORK"

# ---------------------------------------------------------------------------------------------
# Usage errors: exit code 2, nothing on stdout, one line on stderr naming the culprit.

# usage_error NAME_IN_MESSAGE CMD...
usage_error() {
  local name=$1
  shift
  assert_exit 2 "$@"
  [[ ! -s $CMD_OUT ]] || fail "\`$*\`: unexpected stdout: $(head -c 300 "$CMD_OUT")"
  local lines
  lines=$(grep -c . "$CMD_ERR" || true)
  [[ $lines == 1 ]] || fail "\`$*\`: expected one line on stderr, got $lines: $(cat "$CMD_ERR")"
  grep -qF -- "$name" "$CMD_ERR" || fail "\`$*\`: the message does not name $name: $(cat "$CMD_ERR")"
  log "  $(cat "$CMD_ERR")"
}

scenario "usage errors exit 2 with a one-line message naming the flag or variable"
mkdir -p "$WORK/usage/dir" "$WORK/usage/remote"
(
  # A valid remote, so that the flag at fault is the only error.
  cd "$WORK/usage"
  usage_error --debounce cfg watch --dir dir --remote ./remote --debounce 5x
  usage_error --debounce cfg watch --dir dir --remote ./remote --debounce -1s
  usage_error --debounce cfg run --dir dir --remote ./remote --debounce ''
  usage_error --max-delete cfg sync --dir dir --remote ./remote --max-delete abc
  usage_error --max-delete cfg sync --dir dir --remote ./remote --max-delete 150%
  usage_error --max-delete cfg watch --dir dir --remote ./remote --max-delete -3
  usage_error --on-conflict cfg restore --dir dir --remote ./remote --on-conflict maybe
  usage_error --on-conflict cfg run --dir dir --remote ./remote --on-conflict ''
  usage_error --chown cfg restore --dir dir --remote ./remote --chown foo
  usage_error --chown cfg restore --dir dir --remote ./remote --chown 1000:
  usage_error --chown cfg run --dir dir --remote ./remote --chown abc:def
  usage_error --bogus-flag cfg sync --dir dir --remote ./remote --bogus-flag
  # Numbers out of range: never clamped, never wrapped.
  usage_error --retries cfg sync --dir dir --remote ./remote --retries -5
  usage_error --retries cfg sync --dir dir --remote ./remote --retries 101
  usage_error --transfers cfg ls --remote ./remote --transfers 0
  usage_error --transfers cfg ls --remote ./remote --transfers 99999999999
  CFGSYNC_RETRIES=0 usage_error --retries cfg ls --remote ./remote
  usage_error --max-delete cfg sync --dir dir --remote ./remote --max-delete 1e30
  usage_error 8760h cfg watch --dir dir --remote ./remote --interval 3000000h
  usage_error --shutdown-timeout cfg watch --dir dir --remote ./remote --shutdown-timeout 3000000h
  usage_error --debounce cfg watch --dir dir --remote ./remote --debounce 5000h5000h
  usage_error --offline-after cfg run --dir dir --remote ./remote --offline-after 9999999999999999999999h
  usage_error --bogus-flag cfg watch --bogus-flag=1 --dir dir --remote ./remote
  # The S3 configuration: everything set but SYNC_BUCKET.
  export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other
  export RCLONE_CONFIG_S3_ACCESS_KEY_ID=key RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=secret
  export RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:9 SYNC_PATH=app
  usage_error SYNC_BUCKET cfg ls
  usage_error SYNC_BUCKET cfg sync --dir dir
  usage_error SYNC_BUCKET cfg restore --dir dir
  export SYNC_BUCKET=backups RCLONE_CONFIG_S3_TYPE=ftp
  usage_error RCLONE_CONFIG_S3_TYPE cfg ls
  usage_error RCLONE_CONFIG_S3_TYPE cfg watch --dir dir
)
passed

# ---------------------------------------------------------------------------------------------
scenario "cfgsync version"
assert_exit 0 cfg version
grep -Eq '^cfgsync [0-9]+\.[0-9]+' "$CMD_OUT" || fail "version output: $(cat "$CMD_OUT")"
log "  $(head -1 "$CMD_OUT")"
passed

# ---------------------------------------------------------------------------------------------
scenario "exclude lists: character classes on the command line, comma lists in CFGSYNC_EXCLUDE"
cd "$WORK"
mkdir -p excl/config
for f in a b c x.ini y.xml z.yaml; do printf '%s' "$f" >"excl/config/$f"; done
assert_exit 0 cfg sync --dir excl/config --remote ./excl/flags --exclude '[ab]' --exclude '*.{ini,xml}'
assert_eq "$(cd excl/flags && ls)" "$(printf '%s\n' c z.yaml)" "kept by --exclude '[ab]' '*.{ini,xml}'"
CFGSYNC_EXCLUDE='[ab], *.{ini,xml}' assert_exit 0 cfg sync --dir excl/config --remote ./excl/env
assert_eq "$(cd excl/env && ls)" "$(printf '%s\n' c z.yaml)" "kept by CFGSYNC_EXCLUDE"
CFGSYNC_EXCLUDE='c' assert_exit 0 cfg sync --dir excl/config --remote ./excl/both --exclude 'z.*'
assert_eq "$(cd excl/both && ls)" "$(printf '%s\n' a b c x.ini y.xml)" "--exclude replaces CFGSYNC_EXCLUDE"
passed

# ---------------------------------------------------------------------------------------------
scenario "sync to a local remote, then ls"
cd "$WORK"
mkdir -p local/config/sub
printf 'a=1' >local/config/a.ini
printf 'b: 2' >local/config/sub/b.yaml
printf 'c' >local/config/c.conf
printf 'log' >local/config/app.log      # default excludes
printf 'db' >local/config/home.db
printf 'wal' >local/config/home.db-wal
assert_exit 0 cfg sync --dir local/config --remote ./local/remote
for k in a.ini sub/b.yaml c.conf; do
  cmp -s "local/config/$k" "local/remote/$k" || fail "local remote: $k missing or different"
done
for k in app.log home.db home.db-wal; do
  [[ ! -e local/remote/$k ]] || fail "local remote: excluded $k was synced"
done
assert_exit 0 cfg ls --remote ./local/remote
got=$(sed -nE 's/^ *([0-9]+)  [^ ]+ [^ ]+  +(-|[0-7]+)  (.*)$/\1 \3/p' "$CMD_OUT")
want=$(printf '%s\n' '3 a.ini' '1 c.conf' '4 sub/b.yaml')
assert_eq "$got" "$want" "ls output (size key)"
grep -q '100644' "$CMD_OUT" || fail "ls shows no mode: $(cat "$CMD_OUT")"
grep -q '3 objects, 8 bytes' "$CMD_ERR" || fail "ls summary: $(cat "$CMD_ERR")"
# A second sync has nothing to do.
assert_exit 0 cfg sync --dir local/config --remote ./local/remote
grep -Eq 'uploaded 0 .*deleted 0, identical 3' "$CMD_ERR" || fail "second sync: $(cat "$CMD_ERR")"
passed

# ---------------------------------------------------------------------------------------------
scenario "hostile stored names and mtimes: ls escapes names, out-of-range mtimes count as absent"
cd "$WORK"
mkdir -p hostile/config
printf 'a=1' >hostile/config/a.ini
TZ=UTC touch -d '2024-03-05 06:07:08' hostile/config/a.ini
assert_exit 0 cfg sync --dir hostile/config --remote ./hostile/remote
# Whoever can write the backup chooses the names and the attributes.
evil=$'evil\e]0;pwned\a\nforged  line.ini'
printf 'e' >"hostile/remote/$evil"
python3 - hostile/remote/.cfgsync-meta/a.ini.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["attrs"]["mtime"] = "9223372036854775807"
json.dump(j, open(sys.argv[1], "w"))
PY
assert_exit 0 cfg ls --remote ./hostile/remote
if LC_ALL=C grep -q $'[\x01-\x1f\x7f]' "$CMD_OUT"; then fail "ls printed control bytes: $(od -c "$CMD_OUT" | head)"; fi
grep -qF 'evil\x1b]0;pwned\x07\x0aforged  line.ini' "$CMD_OUT" || fail "ls: escaped name missing: $(cat "$CMD_OUT")"
grep -qE '2024-03-05 06:07:08  100644  a\.ini$' "$CMD_OUT" || fail "ls: a.ini's time: $(cat "$CMD_OUT")"
assert_contains "$CMD_ERR" 'ignoring a stored attribute attribute=mtime key=a\.ini reason="outside 1970-01-01..9999-12-31"' "the warning about a.ini's mtime"
assert_exit 0 cfg restore --dir hostile/restored --remote ./hostile/remote
year=$(stat -c %y hostile/restored/a.ini | cut -c1-4)
[[ $year -lt 2100 ]] || fail "restore set the year $year from a stored mtime of INT64_MAX"
assert_contains "$CMD_ERR" 'ignoring a stored attribute.*key=a\.ini' "restore's warning about a.ini's mtime"
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$CMD_ERR"; then
  fail "restore logged control bytes: $(od -c "$CMD_ERR" | head)"
fi
passed

# ---------------------------------------------------------------------------------------------
scenario "sync --dry-run changes nothing"
before=$(tree_state local/remote)
printf 'a=changed' >local/config/a.ini
printf 'new' >local/config/new.ini
rm local/config/c.conf
assert_exit 0 cfg sync --dry-run --dir local/config --remote ./local/remote
after=$(tree_state local/remote)
[[ $before == "$after" ]] || fail "the remote changed during a dry run: $(diff <(echo "$before") <(echo "$after"))"
grep -Eq '^upload +a\.ini$' "$CMD_OUT" || fail "dry-run plan lacks 'upload a.ini': $(cat "$CMD_OUT")"
grep -Eq '^upload +new\.ini$' "$CMD_OUT" || fail "dry-run plan lacks 'upload new.ini': $(cat "$CMD_OUT")"
grep -Eq '^delete +c\.conf$' "$CMD_OUT" || fail "dry-run plan lacks 'delete c.conf': $(cat "$CMD_OUT")"
grep -q 'dry run' "$CMD_ERR" || fail "dry-run summary: $(cat "$CMD_ERR")"
# The same plan, applied.
assert_exit 0 cfg sync --dir local/config --remote ./local/remote
[[ $(cat local/remote/a.ini) == 'a=changed' && -f local/remote/new.ini && ! -e local/remote/c.conf ]] ||
  fail "the real sync after the dry run did not apply the plan: $(ls -R local/remote)"
passed

# ---------------------------------------------------------------------------------------------
scenario "sync exits 1 when the deletion guard blocks deletions"
mkdir -p guard/config
for i in $(seq 1 20); do printf %s "v$i" >"guard/config/f$i.ini"; done
assert_exit 0 cfg sync --dir guard/config --remote ./guard/remote
full=$(tree_state guard/remote)
# 15 of 20 objects to delete: over the default 50%.
rm guard/config/f{1..15}.ini
assert_exit 1 cfg sync --dir guard/config --remote ./guard/remote
grep -qi 'guard\|max-delete' "$CMD_ERR" || fail "no guard message: $(cat "$CMD_ERR")"
assert_eq "$(tree_state guard/remote)" "$full" "remote after a blocked sync"
# A count limit.
assert_exit 1 cfg sync --dir guard/config --remote ./guard/remote --max-delete 3
assert_eq "$(tree_state guard/remote)" "$full" "remote after a sync blocked by --max-delete 3"
# An empty folder never deletes, whatever the limit.
mkdir -p guard/empty
assert_exit 1 cfg sync --dir guard/empty --remote ./guard/remote --max-delete 100%
grep -qi 'empty' "$CMD_ERR" || fail "no empty-folder guard message: $(cat "$CMD_ERR")"
assert_eq "$(tree_state guard/remote)" "$full" "remote after syncing an empty folder"
# The dry run says so too, with the same exit code.
assert_exit 1 cfg sync --dry-run --dir guard/config --remote ./guard/remote
# Raising the limit lets the same sync through.
assert_exit 0 cfg sync --dir guard/config --remote ./guard/remote --max-delete 100%
got=$(cd guard/remote && find . -name '*.ini' -not -path './.cfgsync-meta/*' | sed 's#^\./##' | LC_ALL=C sort | tr '\n' ' ')
assert_eq "$got" "f16.ini f17.ini f18.ini f19.ini f20.ini " "remote after --max-delete 100%"
passed

# ---------------------------------------------------------------------------------------------
scenario "secrets never printed (--log-level debug and trace, against moto)"
start_moto
use_s3 secrets
SECRET="sEcReT-$RANDOM$RANDOM-do-not-print"
TOKEN="ToKeN-$RANDOM$RANDOM-do-not-print"
export RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$SECRET
export RCLONE_CONFIG_S3_SESSION_TOKEN=$TOKEN
mkdir -p secrets/config secrets/restored
printf 'x=1' >secrets/config/x.ini
OUT=$WORK/secrets/all-output.txt
: >"$OUT"
run_collect() { # EXPECTED_CODE CMD...
  assert_exit "$@"
  { echo "### ${*:2}"; cat "$CMD_OUT" "$CMD_ERR"; } >>"$OUT"
}
run_collect 0 cfg sync --dir secrets/config --log-level debug
run_collect 0 cfg ls --log-level debug
run_collect 0 cfg restore --dir secrets/restored --log-level debug
run_collect 0 cfg sync --dir secrets/config --log-level trace
run_collect 0 cfg sync --dry-run --dir secrets/config --log-level trace
# A watch that pushes a change, then stops.
start_cfgsync "$WORK/secrets/watch.log" watch --dir secrets/config --debounce 100ms --log-level trace
wait_reconciled
printf 'x=2' >secrets/config/x.ini
wait_content x.ini 'x=2'
stop_cfgsync TERM
assert_eq "$CFG_RC" 0 "watch exit code"
cat "$WORK/secrets/watch.log" >>"$OUT"
# Failures print what went wrong: the secret must not be part of it.
RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:$(free_port) run_collect 1 cfg ls --log-level trace --retries 1
SYNC_BUCKET=no-such-bucket-here run_collect 1 cfg sync --dir secrets/config --log-level trace --retries 1
RCLONE_CONFIG_S3_TYPE=ftp run_collect 2 cfg ls --log-level debug
RCLONE_CONFIG_S3_ENDPOINT=ftp://127.0.0.1:1 run_collect 2 cfg ls --log-level debug
run_collect 2 cfg sync --dir secrets/config --log-level debug --max-delete nope
[[ $(grep -c . "$OUT") -gt 20 ]] || fail "too little output collected to judge: $(cat "$OUT")"
if grep -nF -e "$SECRET" -e "$TOKEN" "$OUT" >/dev/null; then
  fail "a secret was printed: $(grep -nF -e "$SECRET" -e "$TOKEN" "$OUT" | head -3)"
fi
# Partial leaks: a long piece of either value.
if grep -nF -e "${SECRET:0:12}" -e "${TOKEN:0:12}" -e "${SECRET: -12}" "$OUT" >/dev/null; then
  fail "part of a secret was printed: $(grep -nF -e "${SECRET:0:12}" -e "${TOKEN:0:12}" -e "${SECRET: -12}" "$OUT" | head -3)"
fi
stop_server
SERVER_KIND=""
passed

# ---------------------------------------------------------------------------------------------
scenario "usage errors are printed under --log-level off too"
(
  cd "$WORK/usage"
  export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other
  export RCLONE_CONFIG_S3_ACCESS_KEY_ID=key RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=secret
  export RCLONE_CONFIG_S3_ENDPOINT=http://127.0.0.1:9 SYNC_PATH=app
  unset SYNC_BUCKET
  # The message is no log line: a silent exit 2 would leave the operator guessing.
  usage_error --debounce cfg watch --dir dir --debounce 5x --log-level off
  usage_error SYNC_BUCKET cfg ls --log-level off
  export SYNC_BUCKET=backups RCLONE_CONFIG_S3_TYPE=ftp
  usage_error RCLONE_CONFIG_S3_TYPE cfg sync --dir dir --log-level off
)
passed

log "PASS: $PASSED scenarios"
