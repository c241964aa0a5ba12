#!/usr/bin/env bash
# The disaster drill, end to end with the real binary: a config folder shaped like three real
# apps (Sabnzbd, Sonarr, Home Assistant) is watched by `cfgsync watch` while it changes the way
# those apps change it; then the cluster and the volume are lost (sidecar killed -9, folder
# deleted) and `cfgsync restore` into a fresh folder must bring back every backed-up file byte for
# byte with its mode, owner and mtime (to the nanosecond), leave the excluded files (`*.db*`,
# `*.log`) out, and create nothing else. Variants:
#   - outage: the S3 server is stopped for 30 s while the changes go on, then restarted
#     (on moto, which comes back empty, and on s3rver, which keeps its objects);
#   - burst:  the sidecar is killed -9 in the middle of 200 writes and restarted;
#   - emptied: the folder's contents, then the whole folder, are removed under a running sidecar:
#     the backup stays untouched, the deletion guard says so (log, /readyz, metric), a restore
#     brings everything back and the sidecar becomes ready again.
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/drill_test.sh
#
# Runs as root (files are given to uid/gid 1000 and the apps' writes are made as that user).
# DRILL_ONLY=REGEX picks variants (main|burst|emptied|outage-moto|outage-s3rver), E2E_KEEP=1
# keeps the work directory. The outage variants run in child processes beside the others (they
# mostly wait), each with its own server.
#
# What the restore promises about folders (README: the backup holds files; cfgsync never writes
# folder markers): the restored folders are exactly those that hold a backed-up file, owned by
# the owner of --dir. An empty folder, or one holding only excluded files, is not restored.
# Folder modes and mtimes are not part of the promise and are not compared.
# shellcheck disable=SC2317  # functions called indirectly
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=${DRILL_ONLY:-.}
APP_UID=1000
APP_GID=1000
PASSED=0
T_START=$(now_ms)

(($(id -u) == 0)) || { echo "drill_test.sh needs root (chown to uid $APP_UID)" >&2; exit 1; }
# The apps' writes run as uid 1000: it must be able to reach the folders under the work dir.
chmod 0711 "$E2E_TMP"

passed() {
  PASSED=$((PASSED + 1))
  log "ok: $E2E_SCENARIO"
}

# as_app CMD...: CMD as the app's user (linuxserver.io images run their app as PUID/PGID 1000).
as_app() { setpriv --reuid="$APP_UID" --regid="$APP_GID" --clear-groups "$@"; }

# ---------------------------------------------------------------------------------------------
# Snapshots of a folder

# tree_tool snapshot DIR: one line per entry below DIR, sorted, tab-separated:
#   F <rel> sha256=… mode=0644 owner=UID:GID mtime=<ns>   regular file
#   D <rel>/ owner=UID:GID                                 folder
#   ? <rel> type=…                                         anything else (symlink, fifo…)
# (cfgsync's marker file, .cfgsync-marker, is left out: it is never part of the backup)
# tree_tool expect SNAPSHOT UID:GID: what a restore of SNAPSHOT's folder must produce: files
# minus the default excludes (rclone's `*.db*` and `*.log`, matched against the file name),
# folders only where a kept file lies below, owned by UID:GID (the owner of the restore's --dir).
# A file stored with uid or gid 0 gets UID or GID instead (without --allow-root-owner, a restore
# never gives root's ownership from the backup's metadata), unless a 4th argument `root-allowed`.
tree_tool() {
  python3 - "$@" <<'PY'
import fnmatch, hashlib, os, stat, sys

def snapshot(root):
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel == ".cfgsync-marker":  # cfgsync's own (which remote the folder holds)
                continue
            st = os.lstat(path)
            owner = f"owner={st.st_uid}:{st.st_gid}"
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out.append(f"F\t{rel}\tsha256={digest}\tmode={stat.S_IMODE(st.st_mode):04o}"
                           f"\t{owner}\tmtime={st.st_mtime_ns}")
            elif stat.S_ISDIR(st.st_mode):
                out.append(f"D\t{rel}/\t{owner}")
            else:
                out.append(f"?\t{rel}\ttype={stat.S_IFMT(st.st_mode):o}")
    return sorted(out)

def expect(snapshot_file, dir_owner, root_allowed=False):
    kept, dirs = [], set()
    for line in open(snapshot_file):
        fields = line.rstrip("\n").split("\t")
        if fields[0] != "F":
            continue
        name = os.path.basename(fields[1])
        if fnmatch.fnmatchcase(name, "*.db*") or fnmatch.fnmatchcase(name, "*.log"):
            continue
        uid, gid = fields[4].removeprefix("owner=").split(":")
        want_uid, want_gid = dir_owner.split(":")
        if not root_allowed:
            uid, gid = (want_uid if uid == "0" else uid), (want_gid if gid == "0" else gid)
        fields[4] = f"owner={uid}:{gid}"
        kept.append("\t".join(fields))
        parent = os.path.dirname(fields[1])
        while parent:
            dirs.add(parent)
            parent = os.path.dirname(parent)
    kept += [f"D\t{d}/\towner={dir_owner}" for d in dirs]
    return sorted(kept)

cmd = sys.argv[1]
if cmd == "snapshot":
    lines = snapshot(sys.argv[2])
else:
    lines = expect(sys.argv[2], sys.argv[3], sys.argv[4:] == ["root-allowed"])
sys.stdout.write("".join(line + "\n" for line in lines))
PY
}

# restore_and_compare SNAPSHOT DIR [precreate|-] [FLAG...]: `cfgsync restore --dir DIR FLAG...`,
# then DIR must hold exactly what tree_tool expect derives from SNAPSHOT. With `precreate`, DIR
# is first created empty and owned by the app, as a fresh volume prepared for it.
restore_and_compare() {
  local snap=$1 dir=$2 precreate=${3:-} name=${2##*/} root=""
  shift $(($# < 3 ? $# : 3))
  [[ " $* " == *" --allow-root-owner "* ]] && root=root-allowed
  if [[ $precreate == precreate ]]; then
    mkdir -p "$dir"
    chown "$APP_UID:$APP_GID" "$dir"
  fi
  assert_exit 0 "$CFGSYNC" restore --dir "$dir" "$@"
  local nfiles
  nfiles=$(tree_tool expect "$snap" 0:0 | grep -c '^F' || true)
  assert_contains "$CMD_ERR" "restored $nfiles files .* rejected 0 keys, failed 0" "restore summary ($nfiles files)"
  local owner expected actual
  owner=$(stat -c %u:%g "$dir")
  expected=$E2E_TMP/$E2E_SCENARIO_ID.expected
  actual=$E2E_TMP/$E2E_SCENARIO_ID.$name.restored
  tree_tool expect "$snap" "$owner" $root >"$expected"
  tree_tool snapshot "$dir" >"$actual"
  # The checks below fail on their own even if the expectation were built wrongly.
  local f
  for f in homeassistant/home-assistant_v2.db homeassistant/home-assistant_v2.db-wal \
    homeassistant/home-assistant_v2.db-shm homeassistant/home-assistant.log sonarr/sonarr.db \
    sonarr/sonarr.db-journal sabnzbd/admin/history1.db; do
    [[ ! -e $dir/$f ]] || fail "excluded file $f was restored"
  done
  [[ -z $(find "$dir" -name '.cfgsync-tmp-*' -print -quit) ]] ||
    fail "temporary files left in the restored folder: $(find "$dir" -name '.cfgsync-tmp-*' | head -3)"
  if ! diff -u "$expected" "$actual" >"$E2E_TMP/$E2E_SCENARIO_ID.diff"; then
    fail "the restored folder differs from the folder before the loss (- expected, + restored):
$(grep -E '^[-+][^-+]' "$E2E_TMP/$E2E_SCENARIO_ID.diff" | head -30)"
  fi
  log "restored $nfiles files into $dir: content, mode, owner, mtime (ns) identical"
}

# ---------------------------------------------------------------------------------------------
# The config folder

# build_tree DIR: Sabnzbd, Sonarr and Home Assistant config files with the attributes they have
# in real deployments, plus the databases and logs that the default excludes keep out.
build_tree() {
  local d=$1 ha=$1/homeassistant
  mkdir -p "$d/sabnzbd/admin" "$d/sonarr" "$ha/.storage" "$ha/packages" "$ha/blueprints/automation/homeassistant" \
    "$ha/custom_components/hacs" "$ha/custom_components/localtuya/translations" "$ha/www"
  cat >"$d/sabnzbd/sabnzbd.ini" <<'EOF'
__version__ = 19
__encoding__ = utf-8
[misc]
host = 0.0.0.0
port = 8080
api_key = 0123456789abcdef0123456789abcdef
nzb_key = fedcba9876543210fedcba9876543210
download_dir = /downloads/incomplete
complete_dir = /downloads/complete
bandwidth_max = 50M
[servers]
[[news.example.net]]
name = news.example.net
host = news.example.net
port = 563
ssl = 1
connections = 20
EOF
  printf 'SQLite format 3\0history' >"$d/sabnzbd/admin/history1.db"
  cat >"$d/sonarr/config.xml" <<'EOF'
<Config>
  <BindAddress>*</BindAddress>
  <Port>8989</Port>
  <SslPort>9898</SslPort>
  <EnableSsl>False</EnableSsl>
  <LaunchBrowser>True</LaunchBrowser>
  <ApiKey>00112233445566778899aabbccddeeff</ApiKey>
  <AuthenticationMethod>Forms</AuthenticationMethod>
  <Branch>main</Branch>
  <LogLevel>info</LogLevel>
  <UrlBase></UrlBase>
  <InstanceName>Sonarr</InstanceName>
</Config>
EOF
  printf 'SQLite format 3\0sonarr' >"$d/sonarr/sonarr.db"
  cat >"$ha/configuration.yaml" <<'EOF'
default_config:
homeassistant:
  name: Home
  unit_system: metric
  time_zone: Europe/Paris
  customize: !include customize.yaml
  packages: !include_dir_named packages
http:
  use_x_forwarded_for: true
  trusted_proxies: [10.0.0.0/8]
automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml
group: !include groups.yaml
EOF
  cat >"$ha/secrets.yaml" <<'EOF'
mqtt_password: "not-a-real-password"
latitude: 48.8566
longitude: 2.3522
EOF
  cat >"$ha/automations.yaml" <<'EOF'
- id: '1700000000001'
  alias: Porch light at sunset
  trigger:
    - platform: sun
      event: sunset
  action:
    - service: light.turn_on
      target:
        entity_id: light.porch
EOF
  printf 'turn_everything_off:\n  alias: Everything off\n  sequence: []\n' >"$ha/scripts.yaml"
  printf '[]\n' >"$ha/scenes.yaml"
  : >"$ha/groups.yaml" # empty files are config too
  printf 'light.porch:\n  friendly_name: Porch\n' >"$ha/customize.yaml"
  printf 'light:\n  - platform: group\n    name: Living room\n    entities: [light.a, light.b]\n' \
    >"$ha/packages/lights.yaml"
  printf 'sensor:\n  - platform: template\n    sensors: {}\n' >"$ha/packages/legacy.yaml"
  printf 'blueprint:\n  name: Motion-activated Light\n  domain: automation\n' \
    >"$ha/blueprints/automation/homeassistant/motion_light.yaml"
  printf '"""LocalTuya."""\nDOMAIN = "localtuya"\n' >"$ha/custom_components/localtuya/__init__.py"
  printf '{"domain": "localtuya", "name": "LocalTuya", "version": "5.2.1"}' \
    >"$ha/custom_components/localtuya/manifest.json"
  printf '{"config": {"step": {}}}' >"$ha/custom_components/localtuya/translations/en.json"
  printf '{"data": {"entries": []}, "key": "core.config_entries", "version": 1}' \
    >"$ha/.storage/core.config_entries"
  printf '{"data": {"users": []}, "key": "auth", "version": 1}' >"$ha/.storage/auth"
  head -c 40000 /dev/urandom >"$ha/www/floorplan.png" # binary content
  printf 'SQLite format 3\0recorder' >"$ha/home-assistant_v2.db"
  printf 'wal' >"$ha/home-assistant_v2.db-wal"
  printf '2024-01-01 00:00:00 INFO (MainThread) [homeassistant.setup] started\n' \
    >"$ha/home-assistant.log"
  chown -R "$APP_UID:$APP_GID" "$d"
  # Home Assistant's own process runs as root: what it writes stays root's.
  printf '{"data": {"done": ["user"]}, "key": "onboarding", "version": 4}' >"$ha/.storage/onboarding"
  # HACS copied in by an administrator with kubectl cp: root's files until chowned.
  printf '"""HACS."""\n' >"$ha/custom_components/hacs/__init__.py"
  printf '{"domain": "hacs", "name": "HACS", "version": "1.34.0"}' \
    >"$ha/custom_components/hacs/manifest.json"
  chmod 0755 "$ha/custom_components/hacs/__init__.py"
  chmod 0600 "$d/sabnzbd/sabnzbd.ini" "$ha/secrets.yaml" "$ha/.storage/core.config_entries" \
    "$ha/.storage/auth"
  chmod 0755 "$ha/custom_components/localtuya/__init__.py"
  # Known mtimes with a nanosecond part (and one before 2001, and one long ago).
  touch -d '2024-03-05 10:11:12.123456789' "$d/sabnzbd/sabnzbd.ini"
  touch -d '2023-11-30 23:59:59.000000001' "$d/sonarr/config.xml"
  touch -d '1999-12-31 23:59:59.999999999' "$ha/secrets.yaml"
  touch -d '2024-02-29 12:00:00.5' "$ha/configuration.yaml" "$ha/packages/lights.yaml"
  touch -d '1980-01-02 03:04:05.678' "$ha/www/floorplan.png"
}

# The changes the apps and their administrator make, one function each, given the folder.
# app_* functions run as the app's user (see as_app_run), root_* ones as root.
app_sabnzbd_atomic() { # Sabnzbd: sabnzbd.ini.tmp written, then renamed over sabnzbd.ini
  local f=$1/sabnzbd/sabnzbd.ini
  sed 's/^bandwidth_max = .*/bandwidth_max = 80M/' "$f" >"$f.tmp"
  chmod 600 "$f.tmp"
  mv -f "$f.tmp" "$f"
}
app_sonarr_atomic() { # a mktemp-style temporary name beside the file
  local f=$1/sonarr/config.xml t
  t=$(mktemp "$1/sonarr/.config.xml.XXXXXX")
  sed 's/<LogLevel>info</<LogLevel>debug</' "$f" >"$t"
  chmod 644 "$t"
  mv -f "$t" "$f"
}
app_storage_atomic() { # Home Assistant's .storage: NamedTemporaryFile (tmpXXXXXXXX) + os.replace
  local t
  t=$(mktemp "$1/homeassistant/.storage/tmpXXXXXXXX")
  printf '{"data": {"entries": [{"domain": "mqtt", "entry_id": "%s"}]}, "key": "core.config_entries"}' \
    "$RANDOM" >"$t"
  chmod 600 "$t"
  mv -f "$t" "$1/homeassistant/.storage/core.config_entries"
}
app_append() { # the automation editor appends
  printf '%s\n' "- id: '1700000000002'" '  alias: Night mode' \
    '  trigger: [{platform: time, at: "23:00:00"}]' '  action: []' >>"$1/homeassistant/automations.yaml"
}
app_truncate_write() { # truncated, then written in two steps (an editor saving in place)
  exec 3>"$1/homeassistant/scripts.yaml"
  printf 'turn_everything_off:\n  alias: All off\n' >&3
  sleep 0.2
  printf '  sequence:\n    - service: light.turn_off\n' >&3
  exec 3>&-
}
app_new_nested() { # a new package folder and a new custom integration
  local ha=$1/homeassistant
  mkdir -p "$ha/packages/climate/rooms" "$ha/custom_components/adaptive_lighting/translations"
  printf 'climate:\n  - platform: generic_thermostat\n' >"$ha/packages/climate/thermostat.yaml"
  printf 'bedroom: {target: 19}\n' >"$ha/packages/climate/rooms/bedroom.yaml"
  printf '"""Adaptive lighting."""\n' >"$ha/custom_components/adaptive_lighting/__init__.py"
  printf '{"domain": "adaptive_lighting", "version": "1.19.0"}' \
    >"$ha/custom_components/adaptive_lighting/manifest.json"
  printf '{}' >"$ha/custom_components/adaptive_lighting/translations/en.json"
}
app_rename_file() { mv "$1/homeassistant/packages/lights.yaml" "$1/homeassistant/packages/lighting.yaml"; }
app_rename_folder() {
  mv "$1/homeassistant/blueprints/automation/homeassistant" "$1/homeassistant/blueprints/automation/community"
}
app_delete() { rm "$1/homeassistant/packages/legacy.yaml"; }
app_chmod() { chmod 0640 "$1/homeassistant/customize.yaml"; } # mode only
root_chown() { chown -R "$APP_UID:$APP_GID" "$1/homeassistant/custom_components/hacs"; } # owner only
app_touch() { touch -d '2023-05-06 07:08:09.987654321' "$1/homeassistant/configuration.yaml"; } # mtime only
app_excluded_churn() { # the recorder and the logger keep writing; Sonarr's database too
  printf 'more wal' >>"$1/homeassistant/home-assistant_v2.db-wal"
  printf 'shm' >"$1/homeassistant/home-assistant_v2.db-shm"
  printf 'INFO more\n' >>"$1/homeassistant/home-assistant.log"
  printf 'SQLite format 3\0more' >"$1/sonarr/sonarr.db"
  printf 'j' >"$1/sonarr/sonarr.db-journal"
}
app_empty_folder() { mkdir -p "$1/homeassistant/tts"; } # stays empty: not restored
app_short_lived() { # a copy made and removed again before the debounce ends
  cp -p "$1/sabnzbd/sabnzbd.ini" "$1/sabnzbd/sabnzbd.ini.bak"
  rm "$1/sabnzbd/sabnzbd.ini.bak"
}
CHANGES=(app_sabnzbd_atomic app_sonarr_atomic app_storage_atomic app_append app_truncate_write
  app_new_nested app_rename_file app_rename_folder app_delete app_chmod root_chown app_touch
  app_excluded_churn app_empty_folder app_short_lived)

# as_app_run FUNCTION ARGS...: a function of this script run by the app's user.
as_app_run() {
  as_app bash -c "set -euo pipefail; $(declare -f "$1"); $1 \"\$@\"" _ "${@:2}"
}

# apply_changes SECONDS: every change to SC_DIR, spread evenly over SECONDS (the first at once).
apply_changes() {
  local i n=${#CHANGES[@]} t0 wait_ms c
  t0=$(now_ms)
  for ((i = 0; i < n; i++)); do
    wait_ms=$((t0 + i * $1 * 1000 / (n - 1) - $(now_ms)))
    ((wait_ms <= 0)) || sleep "$(awk -v ms="$wait_ms" 'BEGIN { print ms / 1000 }')"
    c=${CHANGES[i]}
    if [[ $c == app_* ]]; then
      as_app_run "$c" "$SC_DIR" || fail "the change $c itself failed"
    else
      "$c" "$SC_DIR" || fail "the change $c itself failed"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# The sidecar and the backup

# drill_setup NAME: folder SC_DIR (built), SC_ROOT, SC_LOG, SYNC_PATH drill-NAME.
drill_setup() {
  E2E_SCENARIO_ID=$1
  SC_ROOT=$E2E_TMP/$1
  SC_DIR=$SC_ROOT/config
  SC_LOG=$SC_ROOT/cfgsync.log
  mkdir -p "$SC_ROOT"
  chmod 0755 "$SC_ROOT"
  mkdir "$SC_DIR"
  build_tree "$SC_DIR"
  use_s3 "drill-$1"
}

# sidecar_start: `cfgsync watch` with the default debounce and max delay, its HTTP endpoints on a
# free port (HTTP_ADDR), then waits for the start-up reconcile.
# The drill checks that a held guard is reported on /readyz too: the strict readiness mode.
sidecar_start() {
  HTTP_ADDR=127.0.0.1:$(free_port)
  start_cfgsync "$SC_LOG" watch --dir "$SC_DIR" --http-addr "$HTTP_ADDR" --readiness backup "$@"
  wait_reconciled "$(($(count_lines "$SC_LOG" ' (info|warn|warning|error) reconcile') + 1))"
}

http_get() { curl -s --max-time 5 "http://$HTTP_ADDR$1"; }
http_code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://$HTTP_ADDR$1"; }
# metric NAME: its value on /metrics (empty if absent).
metric() { http_get /metrics | awk -v n="$1" '$1 == n { print $2 }'; }
metric_is() { [[ $(metric "$1") == "$2" ]]; }
ready_is() { [[ $(http_code /readyz) == "$1" ]]; }

in_sync() { "$CFGSYNC" status --dir "$SC_DIR" >/dev/null 2>&1; }
backup_current() { in_sync && metric_is cfgsync_pending_changes 0; }

# wait_backup_current [SECONDS]: `cfgsync status` exits 0 (the backup equals the folder) and the
# sidecar has nothing pending.
wait_backup_current() {
  wait_for -t "${1:-60}" backup_current || {
    "$CFGSYNC" status --dir "$SC_DIR" >"$E2E_TMP/status.out" 2>&1 || true
    fail "the backup is not current after ${1:-60} s (pending: $(metric cfgsync_pending_changes));" \
      "cfgsync status: $(grep -v ' info configuration' "$E2E_TMP/status.out" | head -20)"
  }
}

# take_snapshot: SNAP, the folder as it is now; checks that it exercises what it should.
take_snapshot() {
  SNAP=$E2E_TMP/$E2E_SCENARIO_ID.before
  tree_tool snapshot "$SC_DIR" >"$SNAP"
  # Without a nanosecond part to lose, the mtime comparison would prove less than it claims.
  awk -F'\t' '$1 == "F" { sub(/^mtime=/, "", $6); if ($6 % 1000 != 0) found = 1 } END { exit !found }' "$SNAP" ||
    fail "no file mtime with a sub-microsecond part in the snapshot"
  grep -qP '^F\t.*owner=1000:1000' "$SNAP" || fail "no file owned by $APP_UID in the snapshot"
  grep -qP '^F\t.*owner=0:0' "$SNAP" || fail "no file owned by root in the snapshot"
}

# assert_backup_keys: the backup (awscli listing) holds exactly the files the restore must bring
# back: no excluded file, no temporary name, no folder marker.
assert_backup_keys() {
  local want got
  want=$(tree_tool expect "$SNAP" 0:0 | awk -F'\t' '$1 == "F" { print $2 }' | LC_ALL=C sort)
  got=$(s3_list)
  [[ $got == "$want" ]] ||
    fail "backup keys differ from the folder's files: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -20 | tr '\n' ' ')"
}

# lose_everything: the node dies (SIGKILL) and the volume is gone.
lose_everything() {
  kill_cfgsync
  rm -rf "$SC_DIR"
  [[ ! -e $SC_DIR ]] || fail "could not delete $SC_DIR"
}

# assert_changes_made: spot checks that the change functions did what they say (so that a
# silently failed change cannot make the drill pass with less than it claims).
assert_changes_made() {
  local ha=$SC_DIR/homeassistant
  grep -q 'bandwidth_max = 80M' "$SC_DIR/sabnzbd/sabnzbd.ini" || fail "sabnzbd.ini not rewritten"
  grep -q '<LogLevel>debug' "$SC_DIR/sonarr/config.xml" || fail "config.xml not rewritten"
  grep -q 'Night mode' "$ha/automations.yaml" || fail "automations.yaml not appended to"
  [[ -f $ha/packages/lighting.yaml && ! -e $ha/packages/lights.yaml && ! -e $ha/packages/legacy.yaml ]] ||
    fail "rename/delete in packages/ not done"
  [[ -f $ha/blueprints/automation/community/motion_light.yaml ]] || fail "folder rename not done"
  [[ $(stat -c %a "$ha/customize.yaml") == 640 ]] || fail "chmod not done"
  [[ $(stat -c %u "$ha/custom_components/hacs/manifest.json") == "$APP_UID" ]] || fail "chown not done"
  [[ $(stat -c %y "$ha/configuration.yaml") == 2023-05-06\ 07:08:09.987654321* ]] || fail "touch -d not done"
  [[ -d $ha/tts && -f $ha/packages/climate/rooms/bedroom.yaml ]] || fail "new folders not made"
}

# ---------------------------------------------------------------------------------------------
# Main scenario

drill_main() {
  scenario "drill: realistic changes under the sidecar, then cluster and volume lost, restore"
  drill_setup main
  sidecar_start
  wait_backup_current
  apply_changes 4
  assert_changes_made
  wait_backup_current
  take_snapshot
  assert_backup_keys
  assert_not_contains "$SC_LOG" "$S3_SECRET" "the secret key in the sidecar's log"
  lose_everything
  restore_and_compare "$SNAP" "$SC_ROOT/newpod/config" precreate
  [[ $(stat -c %u:%g "$SC_ROOT/newpod/config/homeassistant/.storage/onboarding") == "$APP_UID:$APP_GID" ]] ||
    fail "a file stored as root's was given root's ownership without --allow-root-owner"
  assert_contains "$CMD_ERR" 'restoring without some stored attributes.*uid 0.*key=homeassistant/\.storage/onboarding' \
    "the warning about the root owner left out"
  restore_and_compare "$SNAP" "$SC_ROOT/newpod-root/config" precreate --allow-root-owner
  [[ $(stat -c %u:%g "$SC_ROOT/newpod-root/config/homeassistant/.storage/onboarding") == 0:0 ]] ||
    fail "--allow-root-owner did not restore root's ownership"
  passed
}

# ---------------------------------------------------------------------------------------------
# Variant: the S3 server down for 30 s while the changes go on

drill_outage() {
  scenario "drill with a 30 s S3 outage during the changes"
  drill_setup "outage-$SERVER_KIND"
  # A short readiness allowance, so that /readyz is seen to fail during the outage.
  sidecar_start --ready-max-outage 10s
  wait_backup_current
  local t_down
  t_down=$(now_ms)
  stop_server
  log "server stopped; changes for 28 s"
  apply_changes 28
  wait_for -t 30 metric_is cfgsync_remote_up 0 ||
    fail "cfgsync_remote_up is not 0 while the server is down ($(metric cfgsync_remote_up))"
  wait_for -t 30 ready_is 503 || fail "/readyz is not 503 with the remote down longer than 10 s"
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited during the outage"
  local left=$((30000 - ($(now_ms) - t_down)))
  ((left <= 0)) || sleep "$(awk -v ms="$left" 'BEGIN { print ms / 1000 }')"
  # What the sidecar says about the remote while it is still down: one error line, no claim
  # that it is back (which would also restart the --ready-max-outage clock); and one "back" line
  # once it is. Reported at the end, so that the drill itself runs to completion either way.
  local during=$SC_ROOT/log-during-outage late=()
  cp "$SC_LOG" "$during"
  [[ $(metric cfgsync_remote_up) == 0 ]] ||
    late+=("cfgsync_remote_up is $(metric cfgsync_remote_up) at the end of the outage, with the server still down")
  [[ $(count_lines "$during" 'remote unavailable') == 1 ]] ||
    late+=("$(count_lines "$during" 'remote unavailable') 'remote unavailable' lines during one outage, expected 1")
  if grep -q 'remote is back' "$during"; then
    late+=("'remote is back' logged while the server was down: $(grep 'remote is back' "$during" | head -3 | cut -c1-120 | tr '\n' ' ')")
  fi
  restart_server
  log "server back after $((($(now_ms) - t_down) / 1000)) s (${SERVER_KIND}: $([[ $SERVER_KIND == moto ]] && echo empty || echo objects kept))"
  assert_changes_made
  # Retries back off 5 s at most; then a reconcile puts back whatever the server lost.
  wait_backup_current 90
  wait_for -t 30 ready_is 200 || fail "/readyz not 200 after the outage: $(http_get /readyz)"
  assert_eq "$(metric cfgsync_remote_up)" 1 "cfgsync_remote_up after the outage"
  (($(count_lines "$SC_LOG" 'remote is back') > $(count_lines "$during" 'remote is back'))) ||
    late+=("no 'remote is back' line after the server came back")
  take_snapshot
  assert_backup_keys
  lose_everything
  restore_and_compare "$SNAP" "$SC_ROOT/newpod/config" precreate
  ((${#late[@]} == 0)) || fail "the data came back, but the outage was misreported: $(printf '%s; ' "${late[@]}")"
  passed
}

# ---------------------------------------------------------------------------------------------
# Variant: the sidecar killed -9 in the middle of a burst of 200 writes

# app_burst DIR PROGRESS: Home Assistant saving state (new entity files, the restore state
# replaced atomically, automations appended to) and Sonarr rewriting its config in place: 200
# writes, the count of those done in PROGRESS.
app_burst() {
  local ha=$1/homeassistant i t
  for i in $(seq 1 200); do
    case $((i % 4)) in
      0) printf '{"entity_id": "sensor.s%d", "state": %d}' "$i" "$RANDOM" >"$ha/.storage/burst/entity_$i.json" ;;
      1)
        t=$(mktemp "$ha/.storage/tmpXXXXXXXX")
        printf '{"data": [%d]}' "$i" >"$t"
        mv -f "$t" "$ha/.storage/core.restore_state"
        ;;
      2) printf '# edit %d\n' "$i" >>"$ha/automations.yaml" ;;
      3) printf '<Config><Port>8989</Port><Rev>%d</Rev></Config>\n' "$i" >"$1/sonarr/config.xml" ;;
    esac
    echo "$i" >"$2"
    sleep 0.02
  done
}

drill_burst() {
  scenario "drill with the sidecar killed -9 in the middle of 200 writes, then restarted"
  drill_setup burst
  sidecar_start
  wait_backup_current
  local progress=$SC_ROOT/burst.progress uploads0
  uploads0=$(metric cfgsync_uploads_total)
  : >"$progress"
  chown "$APP_UID:$APP_GID" "$progress"
  mkdir -p "$SC_DIR/homeassistant/.storage/burst"
  chown "$APP_UID:$APP_GID" "$SC_DIR/homeassistant/.storage/burst"
  bg_start "$SC_ROOT/burst.out" as_app_run app_burst "$SC_DIR" "$progress"
  local writer=$BG_PID
  # Killed while it is pushing the burst: after 60 writes and some of them uploaded.
  kill_point() {
    [[ $(cat "$progress" 2>/dev/null) -ge 60 && $(metric cfgsync_uploads_total) -gt $uploads0 ]]
  }
  wait_for -t 30 kill_point ||
    fail "no upload of the burst by write $(cat "$progress") (uploads: $(metric cfgsync_uploads_total))"
  kill_cfgsync
  local at_kill
  at_kill=$(cat "$progress")
  log "sidecar killed -9 after write $at_kill of 200"
  ((at_kill < 200)) || fail "the burst was over before the kill (write $at_kill): not a mid-burst kill"
  bg_wait "$writer"
  assert_eq "$BG_RC" 0 "exit code of the writer"
  assert_eq "$(find "$SC_DIR/homeassistant/.storage/burst" -type f | wc -l)" 50 "entity files written"
  if in_sync; then fail "the backup is current right after the kill: the burst did not outrun the sidecar"; fi
  sidecar_start
  wait_backup_current 90
  take_snapshot
  assert_backup_keys
  lose_everything
  restore_and_compare "$SNAP" "$SC_ROOT/newpod/config" precreate
  passed
}

# ---------------------------------------------------------------------------------------------
# Variant: the volume emptied under a running sidecar

# listing: every object under SYNC_PATH with its ETag, size and Last-Modified (awscli).
listing() {
  aws_s3api list-objects-v2 --bucket "$E2E_BUCKET" --prefix "$SYNC_PATH/" \
    --query 'Contents[].[Key,ETag,Size,LastModified]' --output text | LC_ALL=C sort
}

# mutations_since LINE: PUT/POST/DELETE requests moto logged after line LINE of its log.
mutations_since() {
  tail -n +"$(($1 + 1))" "$SERVER_LOG" | grep -Ec '"(PUT|POST|DELETE) /' || true
}

# assert_backup_untouched WHAT: same objects, ETags, sizes and dates as L0; no write request.
assert_backup_untouched() {
  local now
  now=$(listing)
  [[ $now == "$L0" ]] ||
    fail "$1: the backup changed: $(diff <(echo "$L0") <(echo "$now") | grep '^[<>]' | head -10 | tr '\n' ' ')"
  assert_eq "$(mutations_since "$M0")" 0 "$1: write requests to the server"
}

guard_reported() {
  metric_is cfgsync_deletion_guard_tripped 1 && ready_is 503 &&
    [[ $(http_get /readyz) == *"deletion guard"* ]]
}
guard_cleared() { metric_is cfgsync_deletion_guard_tripped 0 && ready_is 200 && metric_is cfgsync_pending_changes 0; }

drill_emptied() {
  scenario "drill: the volume emptied under a running sidecar"
  drill_setup emptied
  sidecar_start
  wait_backup_current
  wait_for -t 30 ready_is 200 || fail "/readyz not 200 once in sync: $(http_get /readyz)"
  assert_eq "$(metric cfgsync_deletion_guard_tripped)" 0 "cfgsync_deletion_guard_tripped before"
  take_snapshot
  assert_backup_keys
  L0=$(listing)
  M0=$(wc -l <"$SERVER_LOG")
  [[ $(grep -c . <<<"$L0") -gt 10 ]] || fail "fewer than 11 objects: the guard's percentage would not apply"

  # 1. Everything inside the folder removed (the mount point stays).
  local guard_lines
  guard_lines=$(count_lines "$SC_LOG" 'error deletion guard')
  rm -rf "${SC_DIR:?}"/* "$SC_DIR"/.[!.]*
  [[ -z $(ls -A "$SC_DIR") ]] || fail "could not empty $SC_DIR"
  wait_for -t 30 guard_reported ||
    fail "the guard is not reported: metric $(metric cfgsync_deletion_guard_tripped), /readyz $(http_code /readyz) $(http_get /readyz)"
  guard_logged() { (($(count_lines "$SC_LOG" 'error deletion guard: the local folder is missing or empty') > guard_lines)); }
  wait_for -t 10 guard_logged || fail "no 'deletion guard' error in the log for the emptied folder"
  assert_backup_untouched "folder emptied"
  kill -0 "$CFG_PID" 2>/dev/null || fail "cfgsync exited with the folder empty"
  # The restore brings everything back under the running sidecar, which must not upload it
  # again, delete anything, or stay unready (held-back deletions are looked at again every 30 s).
  # Root's files (HACS, Home Assistant's own) come back root's only with --allow-root-owner;
  # without it they would get the folder's owner, an attribute change the sidecar pushes.
  restore_and_compare "$SNAP" "$SC_DIR" - --allow-root-owner
  wait_for -t 90 guard_cleared ||
    fail "the guard did not clear after the restore: metric $(metric cfgsync_deletion_guard_tripped), /readyz $(http_get /readyz), pending $(metric cfgsync_pending_changes)"
  assert_backup_untouched "folder restored in place"

  # 2. The whole folder removed.
  rm -rf "$SC_DIR"
  wait_for -t 30 grep -qF "error $SC_DIR disappeared: nothing is deleted" "$SC_LOG" ||
    fail "no error in the log for the removed folder"
  wait_for -t 30 guard_reported ||
    fail "the guard is not reported for the missing folder: metric $(metric cfgsync_deletion_guard_tripped), /readyz $(http_get /readyz)"
  assert_backup_untouched "folder removed"
  restore_and_compare "$SNAP" "$SC_DIR" - --allow-root-owner
  wait_for -t 30 grep -qF "watching $SC_DIR again" "$SC_LOG" ||
    fail "the sidecar does not watch the folder again"
  wait_for -t 90 guard_cleared ||
    fail "the guard did not clear after the restore: metric $(metric cfgsync_deletion_guard_tripped), /readyz $(http_get /readyz)"
  assert_backup_untouched "folder restored"
  # Watched again: a change is pushed.
  printf '<Config><Port>8990</Port></Config>\n' >"$SC_DIR/sonarr/config.xml"
  wait_backup_current
  assert_s3_content sonarr/config.xml '<Config><Port>8990</Port></Config>'
  stop_cfgsync TERM
  assert_eq "$CFG_RC" 0 "exit code after SIGTERM"
  passed
}

# ---------------------------------------------------------------------------------------------

selected() { [[ $1 =~ $ONLY ]]; }

if [[ -n ${DRILL_CHILD:-} ]]; then # one outage variant, in its own process and server
  start_server "$DRILL_CHILD"
  drill_outage
  exit 0
fi

children=()
for kind in moto s3rver; do
  selected "outage-$kind" || continue
  bg_start "$E2E_TMP/outage-$kind.out" env DRILL_CHILD="$kind" bash "${BASH_SOURCE[0]}"
  children+=("$kind:$BG_PID")
done

if selected main || selected burst || selected emptied; then
  start_moto
  log "=== moto on port $SERVER_PORT"
  if selected main; then drill_main; fi
  if selected burst; then drill_burst; fi
  if selected emptied; then drill_emptied; fi
  stop_server
fi

rc=0
for child in "${children[@]}"; do
  bg_wait "${child#*:}"
  sed 's/^/  | /' "$E2E_TMP/outage-${child%%:*}.out" >&2
  if ((BG_RC == 0)); then
    PASSED=$((PASSED + 1))
  else
    log "FAILED: outage on ${child%%:*} (exit code $BG_RC)"
    rc=1
  fi
done
((rc == 0)) || exit 1
log "PASS: $PASSED drills in $((($(now_ms) - T_START) / 1000)) s"
