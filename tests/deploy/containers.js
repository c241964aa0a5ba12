#!/usr/bin/env node
// Turns the cfgsync containers of a rendered manifest into processes the end-to-end test can
// run on this machine (tests/e2e/deploy_test.sh):
//
//   node containers.js RENDERED.yaml OUTDIR ROOT [--set NAME=VALUE]... [--path-prefix P]
//
// For each cfgsync container, in pod order (init containers first), OUTDIR/NN-NAME/ gets:
//   role     init (plain init container), native (init container with restartPolicy: Always)
//            or sidecar (regular container)
//   argv     cfgsync's arguments, NUL-separated (command/args, $(VAR) expanded, image
//            ENTRYPOINT "cfgsync")
//   env      the container's environment, NUL-separated NAME=VALUE (envFrom, env,
//            secretKeyRef... resolved from the rendered Secrets and ConfigMaps)
//   user     "UID GID SUPPLEMENTARY-GID" from the security context (pod fsGroup included)
//   caps     the capabilities it adds (securityContext.capabilities.add), comma-separated
//   dir      the folder cfgsync will sync, as mapped below
//   http     HOST:PORT it serves /healthz, /readyz and /metrics on (absent when it does not)
//   probes   "startupProbe /readyz" lines: the manifest's httpGet probes
//   grace    the pod's terminationGracePeriodSeconds
//   log_format  text or json (--log-format, CFGSYNC_LOG_FORMAT)
// and OUTDIR/volumes lists "NAME HOSTDIR FSGROUP" for every volume a cfgsync container mounts,
// OUTDIR/app_user "UID GID" of the app containers sharing them (lib.js appUser).
//
// Mapping. The container's view of the file system is translated, not replaced: each volume
// NAME becomes ROOT/vol-NAME, and every argument or variable naming a path under a mountPath is
// rewritten to the same path under that folder. The one path not written anywhere is
// cfgsync's default --dir (/config); when it is in effect, the translated folder is passed as
// CFGSYNC_DIR, which cfgsync reads exactly when --dir is absent. (Setting CFGSYNC_DIR blindly
// would be ignored by a manifest passing --dir and silently sync the real /config.) The HTTP
// address is rewritten the same way to a free port on 127.0.0.1: as an argument if the
// manifest passes one, else as CFGSYNC_HTTP_ADDR (the manifest's :9740 would clash with
// anything else on this machine and is not what the test probes). --set replaces variables
// the manifest defines (the S3 endpoint, keys, bucket: pointing at the local test server) and
// fails if one is missing; --path-prefix P turns SYNC_PATH into P/SYNC_PATH.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import {
  appUser,
  containersOf,
  cfgsyncArgv,
  DEFAULTS,
  IMAGE_USER,
  envNameOf,
  flagValue,
  isCfgsync,
  loadDocuments,
  objectId,
  parseArgs,
  podTemplates,
  resolveEnv,
} from "./lib.js";

function die(msg) {
  console.error(`containers.js: ${msg}`);
  process.exit(1);
}

const [file, outDir, root, ...opts] = process.argv.slice(2);
if (!file || !outDir || !root)
  die("usage: node containers.js RENDERED.yaml OUTDIR ROOT [--set NAME=VALUE]... [--path-prefix P]");
const sets = new Map();
let pathPrefix = "";
for (let i = 0; i < opts.length; i++) {
  if (opts[i] === "--set") {
    const kv = opts[++i] ?? "";
    const eq = kv.indexOf("=");
    if (eq <= 0) die(`--set wants NAME=VALUE, not ${JSON.stringify(kv)}`);
    sets.set(kv.slice(0, eq), kv.slice(eq + 1));
  } else if (opts[i] === "--path-prefix") {
    pathPrefix = opts[++i] ?? "";
  } else {
    die(`unknown option ${opts[i]}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const { objects, problems } = loadDocuments(file);
if (problems.length) die(problems.join("; "));
mkdirSync(outDir, { recursive: true });

const volumes = new Map(); // name -> {host, fsGroup}
let appUid = null;
let n = 0;
for (const obj of objects) {
  for (const { spec, path: specPath } of podTemplates(obj)) {
    const podSc = spec.securityContext ?? {};
    const all = containersOf(spec, specPath);
    for (const { c, init, restartable } of all) {
      if (!isCfgsync(c)) continue;
      const where = `${objectId(obj)} container ${c.name}`;
      const { env, problems: refProblems } = resolveEnv(c, objects, obj.metadata?.namespace);
      if (refProblems.length) die(`${where}: ${refProblems.map((p) => p[1]).join("; ")}`);
      const { argv, problem } = cfgsyncArgv(c, env);
      if (problem) die(`${where}: ${problem}`);

      // Volumes: mountPath -> ROOT/vol-NAME[/subPath].
      const mounts = (c.volumeMounts ?? []).map((m) => {
        const host = `${root}/vol-${m.name}${m.subPath ? `/${m.subPath}` : ""}`;
        volumes.set(m.name, { host: `${root}/vol-${m.name}`, fsGroup: podSc.fsGroup ?? "" });
        return { from: m.mountPath.replace(/\/+$/, ""), to: host };
      });
      // Longest mountPath first: /config/sub beats /config.
      mounts.sort((a, b) => b.from.length - a.from.length);
      const translate = (p) => {
        for (const m of mounts) {
          if (p === m.from) return m.to;
          if (p.startsWith(`${m.from}/`)) return m.to + p.slice(m.from.length);
        }
        return p;
      };
      const rewriteArg = (a) => {
        const eq = a.startsWith("--") ? a.indexOf("=") : -1;
        return eq > 0 ? `${a.slice(0, eq + 1)}${translate(a.slice(eq + 1))}` : translate(a);
      };
      let args = argv.map(rewriteArg);
      for (const [k, e] of env) env.set(k, { ...e, value: translate(e.value) });

      // The folder: translated above, or cfgsync's default translated here.
      let parsed = parseArgs(args);
      let dir = flagValue(parsed, env, "dir");
      if (dir.from === "default") {
        const mapped = translate(DEFAULTS.dir);
        env.set(envNameOf("dir"), { value: mapped, from: "test" });
        dir = { value: mapped, from: envNameOf("dir") };
      }
      if (parsed.sub !== "version" && !dir.value.startsWith(`${root}/`)) {
        die(`${where}: --dir ${dir.value} (from ${dir.from}) is not on a volume: refusing to run it here`);
      }

      // The HTTP server: a free port on 127.0.0.1, wherever the address came from.
      let http = "";
      const serves = parsed.sub === "watch" || parsed.sub === "run";
      const addr = flagValue(parsed, env, "http-addr");
      if (serves && addr.value !== "") {
        http = `127.0.0.1:${await freePort()}`;
        if (addr.from === "--http-addr") {
          args = args.map((a, i) => {
            if (a.startsWith("--http-addr=")) return `--http-addr=${http}`;
            return args[i - 1] === "--http-addr" ? http : a;
          });
        } else {
          env.set(envNameOf("http-addr"), { value: http, from: "test" });
        }
        parsed = parseArgs(args);
      }

      // The backup: the local test server instead of the manifest's.
      for (const [k, v] of sets) {
        if (!env.has(k)) die(`${where}: ${k} is not in the container's environment`);
        env.set(k, { value: v, from: "test" });
      }
      if (pathPrefix) {
        if (!env.has("SYNC_PATH")) die(`${where}: SYNC_PATH is not in the container's environment`);
        env.set("SYNC_PATH", { value: `${pathPrefix}/${env.get("SYNC_PATH").value}`, from: "test" });
      }

      const sc = { ...podSc, ...(c.securityContext ?? {}) };
      const uid = sc.runAsUser ?? IMAGE_USER.uid;
      const gid = sc.runAsGroup ?? IMAGE_USER.gid;
      const role = !init ? "sidecar" : restartable ? "native" : "init";
      const probes = ["startupProbe", "livenessProbe", "readinessProbe"]
        .filter((p) => c[p]?.httpGet)
        .map((p) => `${p} ${c[p].httpGet.path ?? "/"}\n`)
        .join("");

      const d = `${outDir}/${String(n++).padStart(2, "0")}-${c.name}`;
      mkdirSync(d, { recursive: true });
      writeFileSync(`${d}/role`, `${role}\n`);
      writeFileSync(`${d}/argv`, args.map((a) => `${a}\0`).join(""));
      writeFileSync(`${d}/env`, [...env].map(([k, e]) => `${k}=${e.value}\0`).join(""));
      writeFileSync(`${d}/user`, `${uid} ${gid} ${podSc.fsGroup ?? ""}\n`);
      const caps = (c.securityContext?.capabilities?.add ?? []).map((x) =>
        String(x).toLowerCase().replace(/^cap_/, ""),
      );
      writeFileSync(`${d}/caps`, `${caps.join(",")}\n`);
      writeFileSync(`${d}/dir`, `${dir.value}\n`);
      if (http) writeFileSync(`${d}/http`, `${http}\n`);
      writeFileSync(`${d}/probes`, probes);
      writeFileSync(`${d}/grace`, `${spec.terminationGracePeriodSeconds ?? 30}\n`);
      writeFileSync(`${d}/log_format`, `${flagValue(parsed, env, "log-format").value}\n`);
      console.log(
        `${d.split("/").pop()}: ${role} cfgsync ${parsed.sub ?? "?"} as ${uid}:${gid}${http ? ` on ${http}` : ""}`,
      );
    }
  }
}
// The app: the first other container mounting a volume cfgsync mounts.
for (const obj of objects) {
  for (const { spec, path: specPath } of podTemplates(obj)) {
    const app = containersOf(spec, specPath).find(
      ({ c }) => !isCfgsync(c) && (c.volumeMounts ?? []).some((m) => volumes.has(m.name)),
    );
    if (app && appUid === null) appUid = appUser(app.c, spec.securityContext ?? {});
  }
}
if (appUid === null) die("no app container shares a volume with cfgsync");
writeFileSync(`${outDir}/app_user`, `${appUid.uid} ${appUid.gid}\n`);
writeFileSync(
  `${outDir}/volumes`,
  [...volumes].map(([name, v]) => `${name} ${v.host} ${v.fsGroup}\n`).join(""),
);
if (n === 0) die("no cfgsync container in the manifest");
