#!/usr/bin/env bash
# The Kubernetes packaging, checked offline: every kustomization under deploy/ renders, passes
# tests/deploy/validate.js (schema, unknown fields, the rules the schema cannot express), and
# its cfgsync containers, run for real with the manifest's own command line, environment and
# security context against moto_server, restore (first deployment: exit 0), become ready on the
# probes' paths, push what the app writes (and nothing the excludes keep out), push the last
# change on SIGTERM and exit 0 within the grace period, then restore everything into a new,
# empty volume. Broken fixtures (tests/deploy/fixtures/) must each be rejected by the right
# check. The capabilities docs/kubernetes.md asks of a root restore (owners and capabilities)
# are each enough, and each one of them needed, under setpriv. The Dockerfile is checked
# against the README's build and Debian 12's packages.
#
#   CFGSYNC=build/release/cfgsync bash tests/e2e/deploy_test.sh
#
# Needs kubectl (for `kubectl kustomize`), node with `npm ci` done in tests/deploy, moto_server,
# apt-cache/dpkg (Debian 12). As root, each container runs under setpriv with the manifest's
# uid/gid, fsGroup, added capabilities only (none for a non-root uid, as in a pod) and
# no_new_privs, and the app's files are written as the app's user (runAsUser, PUID, or root);
# with strace, every file cfgsync writes must be on one of its volumes (the root file system is
# read-only in the pod). Without root or strace those parts are skipped and said so.
# DEPLOY_ONLY=REGEX picks the steps (kustomization paths, fixture names, "capabilities",
# "dockerfile", "docs");
# E2E_KEEP=1 keeps the work directory; DEPLOY_DIR=DIR and DEPLOY_DOCKERFILE=FILE check other
# manifests or another Dockerfile.
# shellcheck disable=SC2005,SC2046,SC2086,SC2116  # lists flattened onto one line, on purpose
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=$CFGSYNC_SOURCE_DIR
DEPLOY=${DEPLOY_DIR:-$SRC/deploy}
CHECKS=$SRC/tests/deploy
ONLY=${DEPLOY_ONLY:-.}
DOCKERFILE=${DEPLOY_DOCKERFILE:-$SRC/Dockerfile}
T0=$(now_ms)
PASSED=0
NOTES=()

command -v kubectl >/dev/null || { echo "kubectl is missing" >&2; exit 1; }
command -v node >/dev/null || { echo "node is missing" >&2; exit 1; }
[[ -d $CHECKS/node_modules/kubernetes-models ]] ||
  { echo "run \`npm ci\` in tests/deploy first (kubernetes-models, yaml)" >&2; exit 1; }

note() {
  NOTES+=("$E2E_SCENARIO: $*")
  log "NOTE: $*"
}
passed() {
  PASSED=$((PASSED + 1))
  log "ok: $E2E_SCENARIO"
}
selected() { [[ $1 =~ $ONLY ]]; }

AS_ROOT=0
[[ $(id -u) == 0 ]] && command -v setpriv >/dev/null && AS_ROOT=1
HAVE_STRACE=0
command -v strace >/dev/null && strace -f -qq -o /dev/null true 2>/dev/null && HAVE_STRACE=1
# The containers' users must reach their volumes under the work directory.
chmod 711 "$E2E_TMP"

# ---------------------------------------------------------------------------------------------
# What each app writes into its volume, and what its excludes must keep out of the backup
# (paths relative to the synced folder). A kustomization not listed gets the generic entry.

declare -A APP_FILES=(
  [overlays/sabnzbd]="sabnzbd.ini"
  [overlays/sonarr]="config.xml asp/key-1.xml"
  [overlays/home-assistant]="configuration.yaml secrets.yaml .storage/core.config_entries .storage/auth custom_components/x/__init__.py"
)
declare -A EXCLUDED_FILES=(
  [overlays/sabnzbd]="logs/sabnzbd.log.1 admin/queue10.sab admin/history1.db Downloads/complete/a.nzb sabnzbd.log"
  [overlays/sonarr]="logs/sonarr.0.txt UpdateLogs/u.txt Backups/scheduled/b.zip MediaCover/1/poster.jpg sonarr.pid sonarr.db-wal logs.db"
  [overlays/home-assistant]="home-assistant_v2.db home-assistant_v2.db-wal home-assistant.log.1 home-assistant.log.fault .storage/core.restore_state .storage/trace.saved_traces .ha_run.lock deps/lib/x.py tts/a.mp3 backups/b.tar custom_components/x/__pycache__/a.pyc zigbee.db"
)
GENERIC_APP_FILES="app.conf settings/app.json"
GENERIC_EXCLUDED_FILES="app.db app.db-wal app.log" # cfgsync's default excludes

# ---------------------------------------------------------------------------------------------
# Running a container of the manifest (its description comes from tests/deploy/containers.js)

# container_cmd DIR RUN: the command line for the container described in DIR into CMD.
container_cmd() {
  local d=$1 run=$2 uid gid fsgroup argv envs caps
  read -r uid gid fsgroup <"$d/user"
  caps=$(sed -E 's/([^,]+)/+\1/g' "$d/caps")
  mapfile -d '' -t argv <"$d/argv"
  mapfile -d '' -t envs <"$d/env"
  # The pod's environment and nothing else (an image's ENV has PATH only); cwd as WORKDIR /.
  CMD=(env -i -C / PATH=/usr/local/bin:/usr/bin:/bin "${envs[@]}" "$CFGSYNC" "${argv[@]}")
  if ((AS_ROOT)); then
    local groups=(--clear-groups)
    [[ -n $fsgroup ]] && groups=(--groups "$fsgroup") # the kubelet adds fsGroup to the groups
    # Capabilities: only those the manifest adds, and (as in a pod) none for a non-root uid.
    CMD=(setpriv --reuid "$uid" --regid "$gid" "${groups[@]}" --no-new-privs
      --inh-caps=-all "--bounding-set=-all${caps:+,$caps}" "${CMD[@]}")
  fi
  if ((HAVE_STRACE)); then
    CMD=(strace -f -qq -y -o "$d/strace.$run" -e "trace=$TRACED" "${CMD[@]}")
  fi
}
TRACED=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,link,linkat
TRACED+=,symlink,symlinkat,truncate,chmod,fchmod,fchmodat,chown,fchown,lchown,fchownat,utimensat

# check_writes DIR: every file the container created, changed or removed is on one of its
# volumes (readOnlyRootFilesystem: true; no writable /tmp is mounted).
check_writes() {
  local d=$1 f bad
  ((HAVE_STRACE)) || return 0
  for f in "$d"/strace.*; do
    [[ -f $f ]] || continue
    bad=$(python3 - "$f" $(cut -d' ' -f2 "$VOLUMES") <<'EOF'
import os, re, sys
trace, allowed = sys.argv[1], [os.path.realpath(p) for p in sys.argv[2:]]
allowed.append("/dev/null")
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE|O_APPEND")
fds = {}  # fd -> path, from strace -y's "N<path>" annotations (one process: one fd table)
bad = set()
def resolve(p):
    # cfgsync opens files through /proc/self/fd/N/NAME: the folder is fd N's.
    m = re.match(r"/proc/(?:self|thread-self|\d+)/fd/(\d+)(/.*)?$", p)
    if m and m.group(1) in fds:
        p = fds[m.group(1)] + (m.group(2) or "")
    return os.path.normpath(p)
for line in open(trace, errors="replace"):
    m = re.match(r"\d+\s+(\w+)\((.*)\)\s+=\s+(.*)$", line)
    if not m:
        continue
    call, args, ret = m.groups()
    for fd, path in re.findall(r"(\d+)<([^>]*)>", args + " " + ret):
        fds[fd] = path
    if call in ("open", "openat") and not WRITE_FLAGS.search(args):
        continue
    # An open that succeeded: the file as the kernel names it. Otherwise the (dirfd<dir>,
    # "name") pairs of the *at calls, the plain "path" arguments of the others, or the fd.
    paths = re.findall(r"^\d+<([^>]*)>", ret) if call in ("open", "openat", "creat") else []
    if not paths:
        for d, name in re.findall(r'(?:AT_FDCWD|\d+)<([^>]*)>, "([^"]*)"', args):
            paths.append(name if name.startswith("/") else os.path.join(d, name))
    if not paths:
        paths = [p for p in re.findall(r'"([^"]*)"', args) if p.startswith("/")]
    if not paths:  # fchmod(fd<path>, ...), utimensat(fd<path>, NULL, ...)
        paths = re.findall(r"^\d+<([^>]*)>", args)
    for p in map(resolve, paths):
        if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed):
            bad.add(f"{call} {p}")
print("\n".join(sorted(bad)[:10]))
EOF
    )
    [[ -z $bad ]] || fail "$(basename "$d") wrote outside its volumes: $(echo $bad)"
  done
}

# check_json_log LOG: --log-format json: every line is a JSON object; no secret in it.
check_json_log() {
  local log=$1
  python3 - "$log" <<'EOF' || fail "$1: not one JSON object per line (--log-format json)"
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    if line.strip() and not isinstance(json.loads(line), dict):
        sys.exit(f"line {n} is not an object")
EOF
  assert_not_contains "$log" "$S3_SECRET" "the secret access key in $(basename "$log")"
}

# http_code DIR PATH: the HTTP status the container answers on PATH (000 if it does not).
http_code() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$(cat "$1/http")$2" 2>/dev/null || true
}
http_ok() { [[ $(http_code "$1" "$2") == 200 ]]; }
probe_path() { awk -v p="$2" '$1 == p { print $2 }' "$1/probes"; }

child_of() { pgrep -P "$1" | head -n 1 | grep .; }

# alive_and_ok PID DIR PATH: the process runs and PATH answers 200 (fails at once if it died).
alive_and_ok() {
  kill -0 "$1" 2>/dev/null || fail "$(basename "$2") exited while starting: $(tail -n 3 "$2/log")"
  http_ok "$2" "$3"
}

metric() { # DIR NAME: the value of an unlabelled metric
  curl -s -m 5 "http://$(cat "$1/http")/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
nothing_pending() { [[ $(metric "$1" cfgsync_pending_changes) == 0 ]]; }

# prepare_volumes: fresh folders for the pod's volumes, as the kubelet hands them over (fsGroup:
# group-owned, group-writable, setgid).
prepare_volumes() {
  local name host fsgroup
  while read -r name host fsgroup; do
    rm -rf "$host"
    mkdir -p "$host"
    if [[ -n $fsgroup ]] && ((AS_ROOT)); then
      chgrp "$fsgroup" "$host"
      chmod 2775 "$host"
    else
      chmod 755 "$host"
    fi
  done <"$VOLUMES"
}

# run_to_completion DIR RUN WANT: runs the container in the foreground; checks its exit code.
run_to_completion() {
  local d=$1 run=$2 want=$3 rc=0
  container_cmd "$d" "$run"
  timeout 120 "${CMD[@]}" >"$d/log" 2>&1 </dev/null || rc=$?
  watch_log "$d/log"
  [[ $rc == "$want" ]] || fail "$(basename "$d") ($run) exited $rc, expected $want"
}

# start_container DIR RUN: in the background (pid in CTR_PID), then waits for what the kubelet
# waits for: the startup probe, then liveness and readiness, on the manifest's paths.
start_container() {
  local d=$1 run=$2 path probe
  container_cmd "$d" "$run"
  : >"$d/log"
  watch_log "$d/log"
  bg_start "$d/log" "${CMD[@]}"
  CTR_PID=$BG_PID
  # The process the kubelet would signal is cfgsync itself: under strace, strace's child
  # (setpriv and env exec into it); it is stopped on exit as well, should the test fail.
  CTR_MAIN=$CTR_PID
  if ((HAVE_STRACE)); then
    wait_for -t 10 child_of "$CTR_PID" >/dev/null || fail "$(basename "$d"): strace started nothing"
    CTR_MAIN=$(child_of "$CTR_PID")
    E2E_PIDS+=("$CTR_MAIN")
  fi
  for probe in startupProbe livenessProbe readinessProbe; do
    path=$(probe_path "$d" "$probe")
    [[ -n $path ]] || continue
    wait_for -t 60 alive_and_ok "$CTR_PID" "$d" "$path" ||
      fail "$(basename "$d"): $probe $path answers $(http_code "$d" "$path") after 60 s"
  done
}

# stop_container DIR: SIGTERM, as the kubelet sends it; exit 0 within the pod's grace period.
stop_container() {
  local d=$1 grace i
  grace=$(cat "$d/grace")
  kill -TERM "$CTR_MAIN"
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$CTR_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$CTR_PID" 2>/dev/null && fail "$(basename "$d") still running after the ${grace}s grace period"
  bg_wait "$CTR_PID"
  _e2e_forget_pid "$CTR_MAIN"
  [[ $BG_RC == 0 ]] || fail "$(basename "$d") exited $BG_RC after SIGTERM"
}

# write_app_files DIR UID GID FILE...: what the app writes: owned by the app's user (its
# runAsUser, PUID, or root), mode 0600, so that only that user can read it.
write_app_files() {
  local dir=$1 uid=$2 gid=$3 f
  shift 3
  for f in "$@"; do
    mkdir -p "$(dirname "$dir/$f")"
    printf 'content of %s\n' "$f" >"$dir/$f"
    chmod 600 "$dir/$f"
    ((AS_ROOT)) && chown "$uid:$gid" "$dir/$f"
  done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Rendering and the offline checks

# render SRC OUT: `kubectl kustomize` of a directory, or a plain YAML file as it is.
render() {
  if [[ -d $1 ]]; then
    kubectl kustomize "$1" >"$2" 2>"$2.err" || fail "kubectl kustomize $1: $(head -c 600 "$2.err")"
  else
    cp "$1" "$2"
  fi
}

# prepare WORK NAME: the containers of WORK/rendered.yaml, pointed at moto under prefix NAME.
prepare() {
  local work=$1
  node "$CHECKS/containers.js" "$work/rendered.yaml" "$work/ctr" "$work/root" \
    --set "RCLONE_CONFIG_S3_ENDPOINT=$S3_ENDPOINT" --set "RCLONE_CONFIG_S3_ACCESS_KEY_ID=$S3_KEY" \
    --set "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$S3_SECRET" --set "SYNC_BUCKET=$E2E_BUCKET" \
    --path-prefix "$2" >"$work/containers.out" 2>&1 ||
    fail "containers.js: $(cat "$work/containers.out")"
  VOLUMES=$work/ctr/volumes
  CTRS=("$work"/ctr/[0-9]*)
  local d
  for d in "${CTRS[@]}"; do log "  $(grep -F "$(basename "$d"):" "$work/containers.out")"; done
}

# ---------------------------------------------------------------------------------------------
# A kustomization, end to end

run_kustomization() {
  local k=$1 slug=${1//\//-} work d init=() long=() sync_path dir uid gid f
  scenario "deploy/$k"
  work=$E2E_TMP/$slug
  mkdir -p "$work"
  chmod 711 "$work"
  render "$DEPLOY/$k" "$work/rendered.yaml"
  node "$CHECKS/validate.js" "$work/rendered.yaml" >"$work/validate.out" 2>&1 ||
    fail "validate.js rejects deploy/$k:"$'\n'"$(cat "$work/validate.out")"
  prepare "$work" "$slug"
  for d in "${CTRS[@]}"; do
    case $(cat "$d/role") in
      init) init+=("$d") ;;
      *) long+=("$d") ;;
    esac
  done
  ((${#long[@]} == 1)) || fail "expected one long-running cfgsync container, found ${#long[@]}"
  d=${long[0]}
  sync_path=$(tr '\0' '\n' <"$d/env" | sed -n 's/^SYNC_PATH=//p')
  use_s3 "$sync_path"
  dir=$(cat "$d/dir")
  read -r uid gid <"$work/ctr/app_user" # the app's user, who writes the files
  local files skipped
  read -r -a files <<<"${APP_FILES[$k]:-$GENERIC_APP_FILES}"
  read -r -a skipped <<<"${EXCLUDED_FILES[$k]:-$GENERIC_EXCLUDED_FILES}"

  # First deployment: an empty prefix; the init containers exit 0, in order.
  prepare_volumes
  for f in "${init[@]}"; do
    run_to_completion "$f" first 0
    check_json_log "$f/log"
  done
  # The sidecar (native: it restores first, and its startup probe holds the app back).
  start_container "$d" first
  # The app starts, and writes.
  write_app_files "$dir" "$uid" "$gid" "${files[@]}" "${skipped[@]}"
  wait_for -t 30 keys_are "${files[@]}" ||
    fail "backup keys: expected [${files[*]}], have [$(echo $(remote_keys))]"
  wait_for -t 30 nothing_pending "$d" || fail "changes still pending after 30 s"
  curl -s -m 5 "http://$(cat "$d/http")/metrics" >"$work/metrics"
  assert_s3_keys "${files[@]}" # awscli, an independent client: nothing excluded got in
  # The app's last write, just before the pod is deleted: pushed during shutdown.
  printf 'written last\n' >"$dir/${files[0]}"
  stop_container "$d"
  assert_s3_content "${files[0]}" "written last"
  check_json_log "$d/log"

  # The volume is lost; a new pod restores everything (and only that) into an empty one.
  prepare_volumes
  for f in "${init[@]}"; do run_to_completion "$f" again 0; done
  if [[ $(cat "$d/role") == native ]]; then
    start_container "$d" again # its startup probe passes only once the restore is done
  fi
  (cd "$dir" && find . -type f ! -name .cfgsync-marker | sed 's#^\./##' | LC_ALL=C sort) \
    >"$work/restored"
  [[ $(cat "$work/restored") == "$(printf '%s\n' "${files[@]}" | LC_ALL=C sort)" ]] ||
    fail "restored files: expected [${files[*]}], got [$(echo $(cat "$work/restored"))]"
  [[ $(cat "$dir/${files[0]}") == "written last" ]] || fail "${files[0]}: not the last version"
  for f in "${files[@]}"; do
    [[ $(stat -c '%a' "$dir/$f") == 600 ]] || fail "$f: mode $(stat -c '%a' "$dir/$f"), stored 600"
    if ((AS_ROOT)); then
      [[ $(stat -c '%u' "$dir/$f") == "$uid" ]] || fail "$f: owner $(stat -c '%u' "$dir/$f"), want $uid"
    fi
  done
  if [[ $(cat "$d/role") == native ]]; then stop_container "$d"; fi
  for f in "${CTRS[@]}"; do check_writes "$f"; done
  passed
}

# ---------------------------------------------------------------------------------------------
# Broken fixtures: each is rejected by the check its `expect` file names:
#   validate REGEX          validate.js fails with a line matching REGEX (one line each)
#   run CODE REGEX          validate.js passes, and a cfgsync container exits CODE saying REGEX

run_fixture() {
  local fx=$1 name work kind code regex d rc out
  name=$(basename "${fx%.yaml}")
  scenario "fixture $name"
  work=$E2E_TMP/fixture-$name
  mkdir -p "$work"
  chmod 711 "$work"
  local expect=${fx%.yaml}.expect # beside a plain YAML fixture, inside a kustomization
  [[ -d $fx ]] && expect=$fx/expect
  [[ -f $expect ]] || fail "no expect file for $fx"
  render "$fx" "$work/rendered.yaml"
  rc=0
  node "$CHECKS/validate.js" "$work/rendered.yaml" >"$work/validate.out" 2>&1 || rc=$?
  local lines line
  mapfile -t lines <"$expect"
  for line in "${lines[@]}"; do
    read -r kind code regex <<<"$line"
    [[ -n $kind && $kind != \#* ]] || continue
    case $kind in
      validate)
        regex="$code${regex:+ $regex}"
        ((rc == 1)) || fail "validate.js exited $rc, expected 1: $(cat "$work/validate.out")"
        grep -Eq -- "$regex" "$work/validate.out" ||
          fail "validate.js did not report /$regex/; it said:"$'\n'"$(cat "$work/validate.out")"
        ;;
      run)
        ((rc == 0)) || fail "validate.js rejects it, the run step should:"$'\n'"$(cat "$work/validate.out")"
        prepare "$work" "fixture-$name"
        prepare_volumes
        # In pod order; the long-running ones must give up by themselves, at once.
        out=""
        for d in "${CTRS[@]}"; do
          container_cmd "$d" first
          rc=0
          timeout 60 "${CMD[@]}" >"$d/log" 2>&1 </dev/null || rc=$?
          if ((rc != 0)); then
            out=$d
            break
          fi
        done
        [[ -n $out ]] || fail "every container ran fine; expected exit $code"
        [[ $rc == "$code" ]] || fail "$(basename "$out") exited $rc, expected $code: $(tail -n 3 "$out/log")"
        grep -Eq -- "$regex" "$out/log" || fail "$(basename "$out") did not say /$regex/: $(tail -n 3 "$out/log")"
        # Even a command line cfgsync rejects is reported as a JSON line when JSON is asked for.
        if [[ $(cat "$out/log_format") == json ]]; then check_json_log "$out/log"; fi
        ;;
      *) fail "$expect: unknown check $kind" ;;
    esac
  done
  passed
}

# ---------------------------------------------------------------------------------------------
# Owners and capabilities (docs/kubernetes.md; validate.js ROOT_CAPS and checkOwnership): a root
# restore given exactly the capabilities the docs name for a case must succeed, and given one
# fewer must fail, or the docs would ask for more than is needed. A pod's securityContext gives
# uid 0 its bounding set as capabilities; setpriv does the same here.

# restore_as CAPS DEST [ARG...]: `cfgsync restore` of $CAPS_BACKUP into DEST as uid 0 with only
# CAPS ("chown,dac_override"; "" for none). Exit code in RC, output in DEST.log.
restore_as() {
  local caps=$1 dest=$2 bset=-all
  shift 2
  [[ -n $caps ]] && bset+=,$(sed -E 's/([^,]+)/+\1/g' <<<"$caps")
  RC=0
  setpriv --reuid 0 --regid 0 --clear-groups --no-new-privs --inh-caps=-all "--bounding-set=$bset" \
    env -i PATH=/usr/bin:/bin "$CFGSYNC" --remote "$CAPS_BACKUP" --log-format json \
    restore --dir "$dest" "$@" >"$dest.log" 2>&1 </dev/null || RC=$?
  watch_log "$dest.log"
}

# file_meta DIR: "PATH MODE UID:GID MTIME" of every file, sorted.
file_meta() { (cd "$1" && find . -type f ! -name .cfgsync-marker -printf '%P %m %U:%G %T@\n' | LC_ALL=C sort); }

check_capabilities() {
  scenario "owners and capabilities"
  if ((!AS_ROOT)); then
    note "not root: the capabilities of a root restore not checked"
    passed
    return
  fi
  local w=$E2E_TMP/caps src want
  mkdir -p "$w/src/sub" "$w/src/other"
  src=$w/src
  # An app's folder with two owners, as a backup made by a root sidecar holds it.
  printf 'a\n' >"$src/a.ini"
  printf 'b\n' >"$src/sub/b.xml"
  printf 'c\n' >"$src/other/c.json"
  chown 1000:1000 "$src/a.ini" "$src/sub/b.xml"
  chown 2000:2000 "$src/other/c.json"
  chmod 600 "$src/a.ini"
  chmod 640 "$src/sub/b.xml"
  chmod 604 "$src/other/c.json"
  touch -d '2024-05-06 07:08:09.123456789' "$src/a.ini" "$src/sub/b.xml" "$src/other/c.json"
  CAPS_BACKUP=$w/backup
  assert_exit 0 "$CFGSYNC" --remote "$CAPS_BACKUP" sync --dir "$src"
  want=$(file_meta "$src")

  # Stored owners into a new, empty folder (an emptyDir, a new volume): CHOWN alone.
  restore_as "" "$w/none"
  [[ $RC == 0 ]] || fail "restore without capabilities exited $RC"
  [[ $(file_meta "$w/none") == "$(sed -E 's/ [0-9]+:[0-9]+ / 0:0 /' <<<"$want")" ]] ||
    fail "without CAP_CHOWN the files should be root's:"$'\n'"$(file_meta "$w/none")"
  restore_as chown "$w/chown"
  [[ $RC == 0 ]] || fail "restore with CHOWN exited $RC (mode and mtime must be set before the owner)"
  [[ $(file_meta "$w/chown") == "$want" ]] ||
    fail "with CHOWN: want (path mode owner mtime)"$'\n'"$want"$'\n'"have"$'\n'"$(file_meta "$w/chown")"
  # New folders take the owner of --dir (here root), not the app's: the docs say so.
  [[ $(cd "$w/chown" && find . -mindepth 1 -type d -printf '%U:%G\n' | sort -u) == 0:0 ]] ||
    fail "with CHOWN, new folders: $(cd "$w/chown" && find . -mindepth 1 -type d -printf '%p %U:%G\n')"

  # --chown: every folder is handed over before it is filled: DAC_OVERRIDE as well.
  restore_as chown "$w/to-1000-chown" --chown 1000:1000
  [[ $RC == 1 ]] || fail "--chown with CHOWN alone exited $RC: docs/kubernetes.md asks for DAC_OVERRIDE too"
  restore_as chown,dac_override "$w/to-1000" --chown 1000:1000
  [[ $RC == 0 ]] || fail "--chown with CHOWN, DAC_OVERRIDE exited $RC"
  [[ $(cd "$w/to-1000" && find . -printf '%U:%G\n' | sort -u) == 1000:1000 ]] ||
    fail "--chown 1000:1000 left other owners: $(cd "$w/to-1000" && find . -printf '%p %U:%G\n')"

  # Over the app's own tree on a volume that persists: its folders are not root's to write.
  local d
  for d in app-chown app; do
    cp -a "$src" "$w/$d"
    printf 'old\n' >"$w/$d/sub/b.xml"
    printf 'old\n' >"$w/$d/other/c.json"
    touch -d '2020-01-01' "$w/$d/sub/b.xml" "$w/$d/other/c.json"
    chown -R 1000:1000 "$w/$d"
  done
  restore_as chown "$w/app-chown"
  [[ $RC == 1 ]] || fail "restore over the app's folders with CHOWN alone exited $RC: docs/kubernetes.md asks for DAC_OVERRIDE too"
  restore_as chown,dac_override "$w/app"
  [[ $RC == 0 ]] || fail "restore over the app's folders with CHOWN, DAC_OVERRIDE exited $RC"
  [[ $(file_meta "$w/app") == "$want" ]] ||
    fail "over the app's folders: want"$'\n'"$want"$'\n'"have"$'\n'"$(file_meta "$w/app")"

  # setuid/setgid bits are never restored (README "Security"): CHOWN alone is enough, the
  # file comes back without them, and the log says so.
  chmod 6750 "$src/sub/b.xml"
  assert_exit 0 "$CFGSYNC" --remote "$CAPS_BACKUP" sync --dir "$src"
  want=$(file_meta "$src" | sed -E 's|^(sub/b\.xml) 6750 |\1 750 |')
  restore_as chown "$w/setuid"
  [[ $RC == 0 ]] || fail "a setuid file with CHOWN exited $RC"
  [[ $(file_meta "$w/setuid") == "$want" ]] ||
    fail "setuid: want"$'\n'"$want"$'\n'"have"$'\n'"$(file_meta "$w/setuid")"
  assert_contains "$w/setuid.log" '"level":"warning".*set-user-ID bit cleared.*"key":"sub/b\.xml"' \
    "the warning about the setuid bit"
  for d in "$w"/*.log; do check_json_log "$d"; done
  passed
}

# ---------------------------------------------------------------------------------------------
# The Dockerfile: the README's build, Debian 12 packages, and the libraries the binary loads

# owners LIB...: "LIB PACKAGE" for each library a Debian package ships (dpkg -S, one call;
# usrmerge: /lib and /usr/lib are one, and dpkg knows each file under one of the two names).
owners() {
  local lib real cands=() c
  declare -A of=()
  for lib in "$@"; do
    real=$(readlink -f "$lib")
    for c in "$lib" "$real" "${real#/usr}" "/usr$lib"; do
      of[$c]=$lib
      cands+=("$c")
    done
  done
  dpkg -S "${cands[@]}" 2>/dev/null | while IFS= read -r line; do
    c=${line#*: }
    [[ -n ${of[$c]:-} ]] && echo "${of[$c]} ${line%%:*}"
  done | sort -u -k1,1 || true
}

check_dockerfile() {
  scenario "Dockerfile ($DOCKERFILE)"
  local parsed
  parsed=$E2E_TMP/dockerfile.parsed
  # One line per instruction: STAGE-INDEX INSTRUCTION ARGS (continuations joined); RUN lines
  # split at && into one command each; the README's build commands as README-CMD lines.
  python3 - "$DOCKERFILE" "$SRC/README.md" "$SRC" >"$parsed" <<'EOF' || fail "cannot parse $DOCKERFILE"
import re, sys
dockerfile, readme, src = sys.argv[1:4]
def norm(cmd):
    cmd = re.sub(r"\s*[12]?>\s*/dev/null|\s*2>&1", "", cmd)   # redirections say nothing
    cmd = re.sub(r"\s+-j\s*(\"[^\"]*\"|\S+)", "", cmd)          # nor does parallelism
    return " ".join(cmd.split())
text = re.sub(r"\\\n", " ", open(dockerfile).read())
stage = -1
for line in text.splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "FROM":
        stage += 1
    if word == "RUN":
        for cmd in rest.split("&&"):
            print(stage, "RUN", norm(cmd))
    else:
        print(stage, word, " ".join(rest.split()))
# The README's set-up step 1 is a script that "installs the build dependencies, builds".
block = re.search(r"```sh\n(.*?)```", open(readme).read(), re.S).group(1)
script = re.search(r"bash (scripts/\S+\.sh)", block).group(1)
print("-", "README-SCRIPT", script)
for line in open(f"{src}/{script}"):
    if re.match(r"(bash scripts/install-deps\.sh|cmake )", line):
        print("-", "README-CMD", norm(line))
EOF
  local stages build_stage
  stages=$(awk '$2 == "FROM" { print $1 ": " $3 " " $4 " " $5 }' "$parsed")
  [[ $(awk '$2 == "FROM"' "$parsed" | wc -l) == 2 ]] || fail "want two stages, have: $stages"
  [[ $(awk '$1 == 0 && $2 == "FROM" { print $3 }' "$parsed") == debian:12 ]] ||
    fail "the build stage must be FROM debian:12 (have: $stages)"
  [[ $(awk '$1 == 1 && $2 == "FROM" { print $3 }' "$parsed") == debian:12-slim ]] ||
    fail "the runtime stage must be FROM debian:12-slim (have: $stages)"
  build_stage=$(awk '$1 == 0 && $2 == "FROM" { print $5 }' "$parsed")

  # The build stage's build commands are the README's, in the same order.
  local want have
  want=$(awk '$2 == "README-CMD" { $1 = $2 = ""; print substr($0, 3) }' "$parsed")
  have=$(awk '$1 == 0 && $2 == "RUN" { $1 = $2 = ""; print substr($0, 3) }' "$parsed" |
    grep -E '^(bash scripts/install-deps\.sh|cmake )' || true)
  [[ -n $want ]] || fail "no build command found in $(awk '$2 == "README-SCRIPT" { print $3 }' "$parsed")"
  [[ $have == "$want" ]] ||
    fail "build commands differ from the README's ($(awk '$2 == "README-SCRIPT" { print $3 }' "$parsed")):"$'\n'"want:"$'\n'"$want"$'\n'"have:"$'\n'"$have"
  grep -q 'build/release/cfgsync' "$SRC/README.md" || fail "README no longer names build/release/cfgsync"
  [[ $(awk '$1 == 0' "$parsed") == *build/release/cfgsync* ]] || fail "the build stage does not take build/release/cfgsync"
  [[ $(awk -v s="$build_stage" '$1 == 1 && $2 == "COPY" && index($0, "--from=" s " ")' "$parsed") =~ \ /usr/local/bin/cfgsync$ ]] ||
    fail "the runtime stage must copy the binary from stage $build_stage to /usr/local/bin/cfgsync (on PATH)"

  # The runtime stage: an exec-form ENTRYPOINT running cfgsync itself (no script installing
  # anything at start), a numeric non-root USER equal to the manifests' runAsUser.
  [[ $(awk '$1 == 1 && $2 == "ENTRYPOINT" { $1 = $2 = ""; print substr($0, 3) }' "$parsed") == '["cfgsync"]' ]] ||
    fail 'the runtime stage needs ENTRYPOINT ["cfgsync"] (tests/deploy/lib.js assumes it)'
  local user
  user=$(awk '$1 == 1 && $2 == "USER" { print $3 }' "$parsed" | tail -n 1)
  [[ $user =~ ^([1-9][0-9]*)(:[0-9]+)?$ ]] || fail "USER must be a numeric non-root uid, is [$user]"
  grep -q "runAsUser: ${BASH_REMATCH[1]}$" "$SRC/deploy/base/deployment.yaml" ||
    fail "deploy/base runs cfgsync with another uid than the image's USER $user"

  # Runtime packages: each exists in Debian 12.
  local pkgs=() p
  read -r -a pkgs <<<"$(awk '$1 == 1 && $2 == "RUN" && / apt-get install / {
    for (i = 3; i <= NF; i++) if (seen) { if ($i !~ /^-/) print $i } else if ($i == "install") seen = 1
    seen = 0 }' "$parsed" | tr '\n' ' ')"
  ((${#pkgs[@]})) || fail "the runtime stage installs no package"
  # One call each (apt-cache takes about a second per call here).
  local shown policy
  shown=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null | sed -n 's/^Package: //p' || true)
  policy=$(apt-cache policy "${pkgs[@]}" 2>/dev/null |
    awk '/^[^ ]/ { sub(/:$/, ""); p = $0 } / bookworm(-updates|-security)?\// { print p }' | sort -u || true)
  for p in "${pkgs[@]}"; do
    grep -qxF "$p" <<<"$shown" || fail "runtime package $p: not known to apt-cache show"
    grep -qxF "$p" <<<"$policy" || fail "runtime package $p: not from Debian 12 (bookworm; apt-cache policy)"
  done
  log "runtime packages: ${pkgs[*]}"

  # Every library the built binary loads comes with those packages or their dependencies.
  local closure libs lib owner missing=() used=() n=0
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${pkgs[@]}" 2>/dev/null | grep -Ev '^ |^<' | sed 's/:.*//' | LC_ALL=C sort -u)
  libs=$(ldd "$CFGSYNC") || fail "ldd $CFGSYNC failed"
  if grep -q 'not found' <<<"$libs"; then fail "ldd: $(grep 'not found' <<<"$libs")"; fi
  local paths owned
  paths=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs")
  owned=$(owners $paths)
  for lib in $paths; do
    owner=$(awk -v l="$lib" '$1 == l { print $2 }' <<<"$owned")
    [[ -n $owner ]] || fail "$lib: no Debian package ships it (dpkg -S)"
    used+=("$owner")
    n=$((n + 1))
    grep -qxF "$owner" <<<"$closure" || missing+=("$(basename "$lib") ($owner)")
  done
  ((${#missing[@]} == 0)) ||
    fail "the runtime packages do not provide: ${missing[*]} (ldd $CFGSYNC, dpkg -S)"
  # An installed library package the binary does not use is worth a look, not a failure: the
  # link (static or shared) may change independently of this file.
  for p in "${pkgs[@]}"; do
    [[ $p == ca-certificates ]] && continue
    [[ " ${used[*]} " == *" $p "* ]] || note "runtime package $p ships no library $(basename "$CFGSYNC") loads (ldd)"
  done
  log "$n libraries from $(printf '%s\n' "${used[@]}" | sort -u | wc -l) packages, all provided"
  passed
}

# ---------------------------------------------------------------------------------------------
# docs/kubernetes.md: the alert rules load in Prometheus, and every metric it names exists.

check_docs() {
  scenario "docs/kubernetes.md"
  local doc=$SRC/docs/kubernetes.md names name
  [[ -f $doc ]] || fail "missing"
  if command -v promtool >/dev/null; then
    python3 - "$doc" >"$E2E_TMP/rules.yaml" <<'EOF'
import re, sys
blocks = [b for b in re.findall(r"```yaml\n(.*?)```", open(sys.argv[1]).read(), re.S) if b.startswith("groups:")]
print(blocks[0] if blocks else "")
EOF
    [[ -s $E2E_TMP/rules.yaml ]] || fail "no \`\`\`yaml block starting with groups: (the alert rules)"
    promtool check rules "$E2E_TMP/rules.yaml" >"$E2E_TMP/promtool.out" 2>&1 ||
      fail "promtool check rules: $(cat "$E2E_TMP/promtool.out")"
    if [[ -n $METRICS_FILE ]]; then
      promtool check metrics <"$METRICS_FILE" >"$E2E_TMP/promtool.out" 2>&1 ||
        fail "promtool check metrics: $(cat "$E2E_TMP/promtool.out")"
    fi
  else
    note "promtool not installed: alert rules and metrics not checked by Prometheus' parser"
  fi
  if [[ -z $METRICS_FILE ]]; then
    note "no kustomization ran: metric names not checked against /metrics"
    passed
    return
  fi
  names=$(grep -oE 'cfgsync_[a-z_]+' "$doc" | sort -u)
  for name in $names; do
    grep -qE "^(# TYPE )?${name}(\{| )" "$METRICS_FILE" || fail "$name: named in the docs, not served on /metrics"
  done
  passed
}

# ---------------------------------------------------------------------------------------------

((AS_ROOT)) || NOTES+=("not root: containers ran as $(id -un), capabilities as inherited")
((HAVE_STRACE)) || NOTES+=("no strace: writes outside the volumes not checked")

start_moto
METRICS_FILE=""

mapfile -t KUSTOMIZATIONS < <(cd "$DEPLOY" && grep -rlE '^kind: Kustomization$' --include=kustomization.yaml . |
  xargs -n1 dirname | sed 's#^\./##' | LC_ALL=C sort)
((${#KUSTOMIZATIONS[@]} >= 5)) || fail "expected base, native-sidecar and three overlays; found: ${KUSTOMIZATIONS[*]}"
for k in "${KUSTOMIZATIONS[@]}"; do
  selected "$k" || continue
  run_kustomization "$k"
  if [[ -z $METRICS_FILE && -s $E2E_TMP/${k//\//-}/metrics ]]; then METRICS_FILE=$E2E_TMP/${k//\//-}/metrics; fi
done

for fx in "$CHECKS"/fixtures/*; do
  [[ -d $fx || $fx == *.yaml ]] || continue
  selected "$(basename "${fx%.yaml}")" || continue
  run_fixture "$fx"
done

if selected capabilities; then check_capabilities; fi
if selected dockerfile; then check_dockerfile; fi
if selected docs; then check_docs; fi

for n in "${NOTES[@]}"; do log "NOTE: $n"; done
log "deploy_test: $PASSED checks passed in $((($(now_ms) - T0) / 1000)) s"
