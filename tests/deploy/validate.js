#!/usr/bin/env node
// Checks rendered Kubernetes manifests (`kubectl kustomize DIR`) offline, with no API server:
//
//   node tests/deploy/validate.js RENDERED.yaml...     ("-" reads stdin)
//
// 1. Schema: every object against kubernetes-models' validators for its apiVersion/kind (Ajv,
//    compiled from the Kubernetes OpenAPI schema).
// 2. Strict pass: those schemas let unknown fields through, so a typo such as `restartPolicyy`
//    would be dropped silently by the API server (or rejected, with server-side field
//    validation) instead of doing what it says. Each field is looked up in the same compiled
//    schema: the field's value is swapped for one no rule accepts (a Symbol) and the field is
//    known if and only if the validator then complains at that field's path. Maps
//    (additionalProperties: labels, data, resources) count as known. A field whose schema
//    accepts anything (RawExtension, free-form CRD fields) would be reported: none of the kinds
//    deploy/ uses has one.
// 3. Rules the schema cannot express: container restartPolicy (init containers only, Always
//    only); probe ports declared by the container and, for cfgsync, equal to the port of its
//    --http-addr (argument, CFGSYNC_HTTP_ADDR or the default :9740); selector vs template
//    labels; Secret/ConfigMap references and the variables cfgsync needs; resources; security
//    context, and the capabilities a root restore needs for the owners it applies; grace period
//    vs --shutdown-timeout; which cfgsync command fits which container role; restore and watch
//    of one pod agreeing on folder, backup and filters (CFGSYNC_EXCLUDE/INCLUDE read as cfgsync
//    reads them: comma-separated lists).
//
// Prints one line per problem ("FILE: Kind/name: path: message") and exits 1 if there is any;
// prints "ok: FILE: N objects" per clean file and exits 0 otherwise.
import {
  appUser,
  containersOf,
  cfgsyncArgv,
  dataOf,
  IMAGE_USER,
  envNameOf,
  findObject,
  flagValue,
  isCfgsync,
  listValues,
  loadDocuments,
  objectId,
  parseArgs,
  parseDuration,
  parseQuantity,
  podTemplates,
  resolveEnv,
  splitAddr,
  splitPatternList,
} from "./lib.js";

const problems = [];
let currentFile = "";
let currentObject = "";
function report(path, message) {
  problems.push(`${currentFile}: ${currentObject}: ${path ? `${path}: ` : ""}${message}`);
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: schema and unknown fields

const modelCache = new Map();
async function modelFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!modelCache.has(key)) {
    let model = null;
    if (/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
      try {
        model = (await import(`kubernetes-models/${apiVersion}/${kind}`))[kind] ?? null;
      } catch {
        model = null;
      }
    }
    modelCache.set(key, model);
  }
  return modelCache.get(key);
}

// The validator's errors for `data` ([] when valid).
function schemaErrors(Model, data) {
  try {
    new Model(data).validate();
    return [];
  } catch (e) {
    if (Array.isArray(e.errors)) return e.errors;
    throw e;
  }
}

const escapePointer = (k) => String(k).replaceAll("~", "~0").replaceAll("/", "~1");

// JSON pointer "/spec/containers/0/name" -> "spec.containers[0].name".
function pointerToPath(ptr) {
  return ptr
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

function pathOf(parts) {
  return parts.reduce((acc, s) => (typeof s === "number" ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

const UNACCEPTABLE = Symbol("no schema accepts this");

// Reports every field of `root` the schema has no rule for. One validation per object node:
// all its fields are swapped at once (the validators collect every error, not just the first).
function strictPass(Model, root) {
  const visit = (node, parts) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, [...parts, i]));
      return;
    }
    if (!node || typeof node !== "object") return;
    // apiVersion and kind are fixed by the model itself (and checked by picking the model).
    const keys = Object.keys(node).filter((k) => parts.length || (k !== "apiVersion" && k !== "kind"));
    if (!keys.length) return;
    const probe = structuredClone(root);
    let target = probe;
    for (const p of parts) target = target[p];
    for (const k of keys) target[k] = UNACCEPTABLE;
    const base = parts.map((p) => `/${escapePointer(p)}`).join("");
    const seen = schemaErrors(Model, probe).map((e) => e.instancePath);
    for (const k of keys) {
      const at = `${base}/${escapePointer(k)}`;
      if (seen.some((p) => p === at || p.startsWith(`${at}/`))) visit(node[k], [...parts, k]);
      else report(pathOf([...parts, k]), "unknown field (not in the Kubernetes schema)");
    }
  };
  visit(root, []);
}

// ---------------------------------------------------------------------------------------------
// 3. Rules

function checkSelector(obj) {
  const sel = obj.spec?.selector;
  const labels = obj.spec?.template?.metadata?.labels ?? {};
  if (!sel || typeof sel !== "object") return;
  if (!sel.matchLabels && !sel.matchExpressions) report("spec.selector", "selects nothing: give matchLabels");
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) {
      report(
        `spec.selector.matchLabels.${k}`,
        `${JSON.stringify(v)} does not match the template's label (${JSON.stringify(labels[k] ?? null)})`,
      );
    }
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const has = Object.hasOwn(labels, e.key);
    const ok = {
      In: has && (e.values ?? []).includes(labels[e.key]),
      NotIn: !has || !(e.values ?? []).includes(labels[e.key]),
      Exists: has,
      DoesNotExist: !has,
    }[e.operator];
    if (!ok)
      report(
        `spec.selector.matchExpressions[${i}]`,
        `${e.key} ${e.operator} does not hold for the template's labels`,
      );
  });
}

// The port a probe handler targets, and whether the container declares it. Returns the number.
function probePort(c, cpath, probeName, probe) {
  const handler = probe.httpGet ?? probe.tcpSocket ?? probe.grpc;
  if (!handler || handler.port === undefined) return null;
  const where = `${cpath}.${probeName}.${probe.httpGet ? "httpGet" : probe.tcpSocket ? "tcpSocket" : "grpc"}.port`;
  const ports = c.ports ?? [];
  if (typeof handler.port === "string" && !/^\d+$/.test(handler.port)) {
    const p = ports.find((x) => x.name === handler.port);
    if (!p) {
      report(where, `named port ${JSON.stringify(handler.port)} is not declared by container ${c.name}`);
      return null;
    }
    return p.containerPort;
  }
  const n = Number(handler.port);
  if (!ports.some((x) => x.containerPort === n))
    report(where, `port ${n} is not a containerPort of container ${c.name}`);
  return n;
}

function checkProbes(c, cpath) {
  for (const name of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    if (c[name]) probePort(c, cpath, name, c[name]);
  }
}

function checkPorts(entries, specPath) {
  const byNumber = new Map();
  for (const { c, init, restartable, path } of entries) {
    const names = new Set();
    (c.ports ?? []).forEach((p, i) => {
      if (p.name) {
        if (names.has(p.name))
          report(
            `${path}.ports[${i}].name`,
            `port name ${JSON.stringify(p.name)} used twice in container ${c.name}`,
          );
        names.add(p.name);
      }
      // Plain init containers run alone; every other container shares the pod's network.
      if (init && !restartable) return;
      const key = `${p.containerPort}/${p.protocol ?? "TCP"}`;
      if (byNumber.has(key) && byNumber.get(key) !== c.name) {
        report(
          `${path}.ports[${i}]`,
          `port ${p.containerPort} is also used by container ${byNumber.get(key)} (one network namespace per pod)`,
        );
      }
      byNumber.set(key, c.name);
    });
  }
  const seen = new Set();
  for (const { c, path } of entries) {
    if (seen.has(c.name))
      report(`${path}.name`, `container name ${JSON.stringify(c.name)} used twice in ${specPath}`);
    seen.add(c.name);
  }
}

function checkRestartPolicy({ c, init, path }) {
  if (c.restartPolicy === undefined) return;
  if (!init)
    report(
      `${path}.restartPolicy`,
      "a container-level restartPolicy belongs on init containers only (native sidecars)",
    );
  else if (c.restartPolicy !== "Always")
    report(
      `${path}.restartPolicy`,
      `only Always is allowed on an init container, not ${JSON.stringify(c.restartPolicy)}`,
    );
}

function checkVolumes(spec, specPath, entries) {
  const volumes = new Map();
  (spec.volumes ?? []).forEach((v, i) => {
    volumes.set(v.name, v);
    const sources = Object.keys(v).filter((k) => k !== "name");
    if (sources.length !== 1)
      report(
        `${specPath}.volumes[${i}]`,
        `volume ${v.name} needs exactly one source, has ${sources.length ? sources.join(", ") : "none"}`,
      );
  });
  for (const { c, path } of entries) {
    (c.volumeMounts ?? []).forEach((m, i) => {
      if (!volumes.has(m.name))
        report(
          `${path}.volumeMounts[${i}].name`,
          `volume ${JSON.stringify(m.name)} is not declared in ${specPath}.volumes`,
        );
    });
  }
}

const REQUIRED_VARS = [
  "RCLONE_CONFIG_S3_TYPE",
  "RCLONE_CONFIG_S3_ACCESS_KEY_ID",
  "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY",
  "SYNC_BUCKET",
  "SYNC_PATH",
];
const SECRET_VARS =
  /^(RCLONE_CONFIG_[A-Z0-9_]+_(SECRET_ACCESS_KEY|SESSION_TOKEN)|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)$/;

// What decides which files go where: two cfgsync containers of one pod must agree on it.
function targetOf(parsed, env) {
  const v = (flag) => flagValue(parsed, env, flag).value ?? "";
  const list = (flag) => listValues(parsed, env, flag).values;
  return {
    dir: v("dir"),
    remote: v("remote") || `s3:${env.get("SYNC_BUCKET")?.value ?? ""}/${env.get("SYNC_PATH")?.value ?? ""}`,
    endpoint: env.get("RCLONE_CONFIG_S3_ENDPOINT")?.value ?? "",
    exclude: list("exclude"),
    include: list("include"),
    "filter-from": v("filter-from"),
    "no-default-excludes":
      parsed.flags.has("no-default-excludes") || Boolean(env.get("CFGSYNC_NO_DEFAULT_EXCLUDES")?.value),
  };
}

// Capabilities a root cfgsync container may add (docs/kubernetes.md, "Owners and
// capabilities"; tests/e2e/deploy_test.sh checks each claim with setpriv): CHOWN applies stored
// owners or --chown's (cfgsync sets mode and mtime first, while the file is still its own);
// DAC_OVERRIDE writes into folders that belong to someone else: those --chown hands over, those
// the app created on a volume that persists. No FOWNER: a restore never puts back setuid or
// setgid bits (README "Security"). A sidecar pushing files of several owners needs to read them
// all: DAC_READ_SEARCH.
const ROOT_CAPS = {
  restore: ["CHOWN", "DAC_OVERRIDE"],
  run: ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH"],
  watch: ["DAC_READ_SEARCH"],
};

const addedCaps = (c) =>
  (c.securityContext?.capabilities?.add ?? []).map((x) => String(x).toUpperCase().replace(/^CAP_/, ""));

function checkSecurity(c, path, podSc, sub) {
  const sc = c.securityContext ?? {};
  const at = `${path}.securityContext`;
  const eff = (k) => (sc[k] !== undefined ? sc[k] : podSc[k]);
  if (sc.allowPrivilegeEscalation !== false) report(`${at}.allowPrivilegeEscalation`, "must be false");
  if (sc.readOnlyRootFilesystem !== true)
    report(`${at}.readOnlyRootFilesystem`, "must be true (cfgsync writes only under --dir)");
  if (sc.privileged === true) report(`${at}.privileged`, "must not be true");
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) report(`${at}.capabilities.drop`, "must include ALL");
  const seccomp = eff("seccompProfile")?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
    report(`${at}.seccompProfile`, `want RuntimeDefault (here or on the pod), have ${seccomp ?? "none"}`);
  const uid = eff("runAsUser");
  const nonRoot = eff("runAsNonRoot");
  const added = addedCaps(c);
  if (nonRoot === true && uid === 0)
    report(`${at}.runAsUser`, "0 with runAsNonRoot: true: the kubelet refuses to start the container");
  if (nonRoot !== true && uid !== 0)
    report(`${at}.runAsNonRoot`, "must be true (or runAsUser: 0 on purpose)");
  if (uid !== 0 && added.length) {
    report(
      `${at}.capabilities.add`,
      `${added.join(", ")} would not be effective: a non-root container gets no capability (Kubernetes sets no ambient capabilities)`,
    );
  }
  if (uid === 0 && added.length) {
    const allowed = ROOT_CAPS[sub] ?? [];
    const extra = added.filter((x) => !allowed.includes(x));
    if (extra.length)
      report(
        `${at}.capabilities.add`,
        `cfgsync ${sub ?? ""} has no use for ${extra.join(", ")} (allowed: ${allowed.join(", ") || "none"})`,
      );
  }
}

// Whether the restore can give files the owners it means to: --chown's (only root with CHOWN can
// name another owner than its own; each folder it hands over is then writable only with
// DAC_OVERRIDE), or the stored ones on a volume that outlives the pod, where the app's own
// folders are not root's to write into.
function checkOwnership(c, path, podSc, sub, parsed, env, volume, appUsers) {
  if (sub !== "restore" && sub !== "run") return;
  const sc = { ...podSc, ...(c.securityContext ?? {}) };
  const uid = sc.runAsUser ?? IMAGE_USER.uid;
  const gid = sc.runAsGroup ?? IMAGE_USER.gid;
  const caps = uid === 0 ? addedCaps(c) : [];
  const at = `${path}.securityContext.capabilities.add`;
  const chown = flagValue(parsed, env, "chown");
  if (chown.value) {
    const m = /^(\d+):(\d+)$/.exec(chown.value);
    // Without CHOWN a file can go only to its own uid and to a group the process is in.
    const groups = [gid, podSc.fsGroup, ...(podSc.supplementalGroups ?? [])];
    if (!caps.includes("CHOWN") && m && (Number(m[1]) !== uid || !groups.includes(Number(m[2])))) {
      report(
        `${path}.args`,
        `--chown ${chown.value} (from ${chown.from}) as uid ${uid} without CAP_CHOWN: every file fails with "Operation not permitted" (run as root and add CHOWN, DAC_OVERRIDE)`,
      );
    }
    if (caps.includes("CHOWN") && !caps.includes("DAC_OVERRIDE")) {
      report(
        at,
        `--chown ${chown.value} (from ${chown.from}) with CHOWN but not DAC_OVERRIDE: each folder is handed over before it is filled, and the restore then cannot write into it (Permission denied)`,
      );
    }
    return;
  }
  if (caps.includes("CHOWN") && !caps.includes("DAC_OVERRIDE") && volume && !volume.emptyDir) {
    const app = appUsers.find((a) => a.uid !== 0);
    if (app) {
      report(
        at,
        `CHOWN without DAC_OVERRIDE on volume ${volume.name}, which outlives the pod: the restore cannot write into the folders ${app.name} (uid ${app.uid}) created there (Permission denied)`,
      );
    }
  }
}

function checkResources(c, path) {
  const r = c.resources ?? {};
  for (const kind of ["cpu", "memory"]) {
    const req = r.requests?.[kind];
    const lim = r.limits?.[kind];
    if (req === undefined) report(`${path}.resources.requests.${kind}`, "missing");
    if (lim === undefined) report(`${path}.resources.limits.${kind}`, "missing");
    if (req !== undefined && lim !== undefined) {
      const a = parseQuantity(req);
      const b = parseQuantity(lim);
      if (Number.isNaN(a) || Number.isNaN(b)) report(`${path}.resources`, `unreadable ${kind} quantity`);
      else if (a > b) report(`${path}.resources.requests.${kind}`, `${req} is above the limit ${lim}`);
    }
  }
}

// Checks one cfgsync container. Returns {sub, target, path} for the pod-level checks.
function checkCfgsync(entry, objects, namespace, spec, entries) {
  const { c, init, restartable, path } = entry;
  const podSc = spec.securityContext ?? {};
  const { env, problems: refProblems } = resolveEnv(c, objects, namespace);
  for (const [where, msg] of refProblems) report(`${path}.${where}`, msg);
  const { argv, problem } = cfgsyncArgv(c, env);
  if (problem) report(`${path}.command`, problem);
  const parsed = parseArgs(argv);
  const sub = parsed.sub;
  if (!sub) report(`${path}.args`, "no cfgsync command (restore, watch, run...)");

  // Which command fits which role.
  if (sub === "restore" && (!init || restartable)) {
    report(path, "cfgsync restore must be a plain init container (it exits when done)");
  }
  if (sub === "watch" && init && !restartable) {
    report(
      path,
      "cfgsync watch never exits: as a plain init container it blocks the pod; make it a container or add restartPolicy: Always",
    );
  }
  if (sub === "run" && !restartable) {
    report(
      path,
      "cfgsync run must be an init container with restartPolicy: Always (a native sidecar), so that the app waits for the restore",
    );
  }
  if (sub === "run" && restartable && c.startupProbe?.httpGet?.path !== "/readyz") {
    report(
      `${path}.startupProbe`,
      "cfgsync run needs a startup probe on /readyz: without it the app starts before /config is restored",
    );
  }

  // The S3 settings and where they come from.
  if (!flagValue(parsed, env, "remote").value) {
    for (const v of REQUIRED_VARS) {
      if (!env.has(v) || env.get(v).value === "")
        report(`${path}.envFrom`, `${v} is not set (the Secret needs this key)`);
    }
    const type = env.get("RCLONE_CONFIG_S3_TYPE")?.value;
    if (type !== undefined && type !== "s3")
      report(`${path}.envFrom`, `RCLONE_CONFIG_S3_TYPE is ${JSON.stringify(type)}, cfgsync wants "s3"`);
  }
  for (const [name, e] of env) {
    if (SECRET_VARS.test(name) && e.from === "literal")
      report(`${path}.env`, `${name} is written in the manifest: take it from a Secret`);
  }
  // Repeatable flags: the variable is a comma-separated list (as rclone reads list variables;
  // commas inside {} or [] belong to the pattern), and any --exclude on the command line makes
  // cfgsync ignore the variable altogether.
  for (const flag of ["exclude", "include"]) {
    const e = env.get(envNameOf(flag));
    if (!e) continue;
    if (parsed.flags.has(flag))
      report(`${path}.env`, `${envNameOf(flag)} is ignored because --${flag} is on the command line`);
    // CLI11's list syntax, which cfgsync read before: now [ opens a character class that only
    // the final ] closes, so the whole value is ONE pattern matching one-character names.
    if (/^\[.*,.*\]$/s.test(e.value) && splitPatternList(e.value).length === 1) {
      report(
        `${path}.env`,
        `${envNameOf(flag)}=${JSON.stringify(e.value)} is the old [a,b] list form: cfgsync reads it as ONE pattern (a character class); write ${JSON.stringify(e.value.slice(1, -1))}`,
      );
    }
  }

  // Probes and the HTTP server.
  const serves = sub === "watch" || sub === "run";
  const addr = flagValue(parsed, env, "http-addr");
  let httpPort = null;
  if (serves && addr.value !== "") {
    const a = splitAddr(addr.value);
    if (!a)
      report(
        `${path}.args`,
        `--http-addr ${JSON.stringify(addr.value)} (from ${addr.from}) is not HOST:PORT`,
      );
    else {
      httpPort = a.port;
      if (["127.0.0.1", "localhost", "::1"].includes(a.host)) {
        report(
          `${path}.args`,
          `--http-addr ${addr.value} (from ${addr.from}) listens on loopback: the kubelet probes the pod's IP`,
        );
      }
      if (!(c.ports ?? []).some((p) => p.containerPort === httpPort)) {
        report(
          `${path}.ports`,
          `declare containerPort ${httpPort} (--http-addr ${addr.value}, from ${addr.from})`,
        );
      }
    }
  }
  const wantPath = { livenessProbe: "/healthz", readinessProbe: "/readyz", startupProbe: "/readyz" };
  for (const name of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const probe = c[name];
    if (!probe) {
      if (serves && name !== "startupProbe")
        report(`${path}.${name}`, `missing (cfgsync serves ${wantPath[name]})`);
      continue;
    }
    if (!serves) {
      report(`${path}.${name}`, `cfgsync ${sub ?? ""} serves no HTTP endpoint`);
      continue;
    }
    if (!probe.httpGet) report(`${path}.${name}`, `use httpGet on ${wantPath[name]}`);
    else if (probe.httpGet.path !== wantPath[name]) {
      report(
        `${path}.${name}.httpGet.path`,
        `${JSON.stringify(probe.httpGet.path)}: want ${wantPath[name]}${name === "livenessProbe" ? " (/readyz fails while S3 is down: a restart would not help)" : ""}`,
      );
    }
    if (addr.value === "") {
      report(`${path}.${name}`, `--http-addr is "" (from ${addr.from}): nothing answers the probe`);
      continue;
    }
    const handler = probe.httpGet ?? probe.tcpSocket ?? probe.grpc;
    if (!handler) continue;
    const named = typeof handler.port === "string" && !/^\d+$/.test(handler.port);
    const n = named
      ? (c.ports ?? []).find((p) => p.name === handler.port)?.containerPort
      : Number(handler.port);
    if (httpPort !== null && n !== undefined && n !== httpPort) {
      report(
        `${path}.${name}`,
        `probes port ${n}${named ? ` (${handler.port})` : ""} but cfgsync listens on ${httpPort} (--http-addr ${addr.value}, from ${addr.from})`,
      );
    }
  }

  // The folder must be a volume the app shares.
  const dir = flagValue(parsed, env, "dir").value;
  const m = (c.volumeMounts ?? []).find(
    (vm) => dir === vm.mountPath || dir.startsWith(`${vm.mountPath.replace(/\/$/, "")}/`),
  );
  const apps = entries.filter(
    (e) => !isCfgsync(e.c) && m && (e.c.volumeMounts ?? []).some((x) => x.name === m.name),
  );
  if (sub && sub !== "version") {
    if (!m) report(`${path}.volumeMounts`, `--dir ${dir} is not on a volume: the app would never see it`);
    else {
      if (m.readOnly && (sub === "restore" || sub === "run"))
        report(`${path}.volumeMounts`, `${m.mountPath} is read-only: cfgsync ${sub} writes there`);
      if (!apps.length) report(`${path}.volumeMounts`, `volume ${m.name} is mounted by no app container`);
    }
  }

  checkResources(c, path);
  checkSecurity(c, path, podSc, sub);
  const volume = m && (spec.volumes ?? []).find((v) => v.name === m.name);
  const appUsers = apps.map((e) => ({ name: e.c.name, ...appUser(e.c, podSc) }));
  checkOwnership(c, path, podSc, sub, parsed, env, volume, appUsers);
  const sc = { ...podSc, ...(c.securityContext ?? {}) };
  const added = addedCaps(c);
  return {
    sub,
    path,
    uid: sc.runAsUser ?? IMAGE_USER.uid,
    owns:
      Boolean(flagValue(parsed, env, "chown").value) ||
      ((sc.runAsUser ?? IMAGE_USER.uid) === 0 && added.includes("CHOWN")),
    volume: m?.name,
    target: targetOf(parsed, env),
    shutdown: serves ? parseDuration(flagValue(parsed, env, "shutdown-timeout").value) : null,
  };
}

function checkPod(obj, objects, { spec, path: specPath }) {
  const entries = containersOf(spec, specPath);
  const namespace = obj.metadata?.namespace;
  entries.forEach((e) => {
    checkRestartPolicy(e);
    checkProbes(e.c, e.path);
    if (!isCfgsync(e.c)) {
      const { problems: refProblems } = resolveEnv(e.c, objects, namespace);
      for (const [where, msg] of refProblems) report(`${e.path}.${where}`, msg);
    }
  });
  checkPorts(entries, specPath);
  checkVolumes(spec, specPath, entries);

  const runs = entries
    .filter((e) => isCfgsync(e.c))
    .map((e) => checkCfgsync(e, objects, namespace, spec, entries));
  for (const e of entries.filter((x) => isCfgsync(x.c))) {
    const image = String(e.c.image);
    if (!/[:@][^/]+$/.test(image) || image.endsWith(":latest"))
      report(`${e.path}.image`, `${image}: pin a version (kustomize images: newTag)`);
  }
  if (!runs.length) return;

  const watchers = runs.filter((r) => r.sub === "watch" || r.sub === "run");
  const restorers = runs.filter((r) => r.sub === "restore" || r.sub === "run");
  if (watchers.length && !restorers.length) {
    report(
      specPath,
      "cfgsync watch without a restore: a pod on an empty volume would start the app with no config",
    );
  }
  if (watchers.length > 1)
    report(specPath, `${watchers.length} cfgsync sidecars push the same pod: keep one`);
  // Restore and watch must see the same files in the same place, or a restore brings back
  // what the sidecar no longer backs up (or misses what it does).
  for (let i = 1; i < runs.length; i++) {
    for (const [k, v] of Object.entries(runs[0].target)) {
      if (JSON.stringify(runs[i].target[k]) !== JSON.stringify(v)) {
        report(
          runs[i].path,
          `${k} differs from ${runs[0].path} (${JSON.stringify(runs[i].target[k])} vs ${JSON.stringify(v)})`,
        );
      }
    }
  }
  for (const r of watchers) {
    if (Number.isNaN(r.shutdown)) {
      report(r.path, "unreadable --shutdown-timeout");
      continue;
    }
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (grace < r.shutdown + 10) {
      report(
        `${specPath}.terminationGracePeriodSeconds`,
        `${grace}s leaves no margin over cfgsync's --shutdown-timeout (${r.shutdown}s): want at least ${r.shutdown + 10}s`,
      );
    }
  }
  // Restored files belong to cfgsync's uid unless it can chown: the app must be that user.
  for (const r of restorers) {
    if (r.owns || !r.volume) continue;
    for (const e of entries) {
      if (isCfgsync(e.c) || !(e.c.volumeMounts ?? []).some((m) => m.name === r.volume)) continue;
      const app = appUser(e.c, spec.securityContext ?? {});
      if (app.from !== "assumed" && app.uid !== r.uid) {
        report(
          r.path,
          `restores as uid ${r.uid} but container ${e.c.name} runs as ${app.uid} (${app.from}): its files would not be its own (see --chown, CAP_CHOWN)`,
        );
      }
    }
  }
  if (obj.kind === "Deployment" && watchers.length) {
    if ((obj.spec?.replicas ?? 1) > 1)
      report("spec.replicas", "more than one pod would push the same backup prefix");
    if (obj.spec?.strategy?.type !== "Recreate") {
      report("spec.strategy.type", "want Recreate: during a rolling update two pods push the same prefix");
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function checkFile(file) {
  currentFile = file;
  currentObject = "-";
  let loaded;
  try {
    loaded = loadDocuments(file);
  } catch (e) {
    report("", `cannot read: ${e.message}`);
    return;
  }
  for (const p of loaded.problems) report("", p);
  const { objects } = loaded;
  if (!objects.length) report("", "no objects");
  const ids = new Set();
  for (const obj of objects) {
    currentObject = objectId(obj);
    if (ids.has(currentObject)) report("", "defined twice");
    ids.add(currentObject);
    const Model = await modelFor(String(obj.apiVersion ?? ""), String(obj.kind ?? ""));
    if (!Model) {
      report(
        "",
        `no Kubernetes schema for apiVersion ${JSON.stringify(obj.apiVersion)} kind ${JSON.stringify(obj.kind)}`,
      );
      continue;
    }
    for (const e of schemaErrors(Model, obj)) {
      const extra = e.params?.allowedValues ? ` (allowed: ${e.params.allowedValues.join(", ")})` : "";
      report(pointerToPath(e.instancePath), `${e.message ?? e.keyword}${extra}`);
    }
    strictPass(Model, obj);
    if (obj.kind === "Secret" || obj.kind === "ConfigMap") dataOf(obj);
    if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].includes(obj.kind)) checkSelector(obj);
    for (const t of podTemplates(obj)) checkPod(obj, objects, t);
  }
  return objects.length;
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node validate.js RENDERED.yaml... (- for stdin)");
  process.exit(2);
}
for (const f of files) {
  const before = problems.length;
  const n = await checkFile(f);
  if (problems.length === before) console.log(`ok: ${f}: ${n} objects`);
}
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
