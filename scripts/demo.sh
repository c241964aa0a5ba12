#!/usr/bin/env bash
# A two-minute tour on a local-directory remote (no S3 needed): `cfgsync run` restores, then
# watches a demo config folder; a changed file reaches the backup; a folder lost while the pod
# is gone comes back on the next start.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target cfgsync
bin=$PWD/build/release/cfgsync

demo=$PWD/demo
rm -rf "$demo"
mkdir -p "$demo/config/packages"
cd "$demo"
printf '[misc]\nport = 8080\n' >config/sabnzbd.ini
printf '<Config><Port>8989</Port></Config>\n' >config/config.xml
printf 'homeassistant:\n  name: Home\n' >config/configuration.yaml
printf 'lights:\n  - kitchen\n' >config/packages/lights.yaml
printf 'sqlite' >config/home-assistant_v2.db
chmod 600 config/configuration.yaml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
start() {
  "$bin" run --dir config --remote ./backup --debounce 200ms --log-level info 2>>run.log &
  pid=$!
  for _ in $(seq 50); do grep -q "reconcile:" run.log 2>/dev/null && return; sleep 0.1; done
}

step "cfgsync run: restore (first deployment), then reconcile and watch"
start
cat run.log
step "the backup (home-assistant_v2.db is excluded by default)"
"$bin" ls --remote ./backup

step "the app changes sabnzbd.ini"
printf '[misc]\nport = 9090\n' >config/sabnzbd.ini
sleep 1
grep -F "sabnzbd.ini" run.log | tail -1
echo "backup copy: $(cat backup/sabnzbd.ini | tr '\n' ' ')"

step "SIGTERM (pod deleted): pending changes are pushed before exit"
kill -TERM "$pid"
wait "$pid" && echo "exit code 0"

step "the volume loses packages/ while the pod is gone"
rm -rf config/packages
ls config

step "new pod: cfgsync run restores packages/ before watching"
: >run.log
start
grep -E "restor" run.log
ls -l config/packages
kill -TERM "$pid"
wait "$pid" || true
step "done: the demo lives in $demo"
