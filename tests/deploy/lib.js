// How a rendered manifest is read, shared by validate.js (the checks) and containers.js (what
// the end-to-end test runs): the pods, which containers are cfgsync, their environment as the
// kubelet would build it, and cfgsync's command line as cfgsync would parse it.
import { readFileSync } from "node:fs";
import YAML from "yaml";

// ---------------------------------------------------------------------------------------------
// Documents and objects

// Parses a multi-document YAML file ("-" for stdin). Returns the objects and the problems met.
export function loadDocuments(file) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  const objects = [];
  const problems = [];
  YAML.parseAllDocuments(text).forEach((doc, i) => {
    for (const e of doc.errors) problems.push(`document ${i + 1}: YAML: ${e.message.split("\n")[0]}`);
    if (doc.errors.length) return;
    const obj = doc.toJS({ maxAliasCount: -1 });
    if (obj === null || obj === undefined) return;
    if (typeof obj !== "object" || Array.isArray(obj)) {
      problems.push(`document ${i + 1}: not an object`);
      return;
    }
    objects.push(obj);
  });
  return { objects, problems };
}

export function objectId(obj) {
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${obj?.kind ?? "?"}/${ns}${obj?.metadata?.name ?? "?"}`;
}

// The object of this kind and name in the pod's namespace, if the manifest has it.
export function findObject(objects, kind, name, namespace) {
  return objects.find(
    (o) =>
      o.kind === kind && o.metadata?.name === name && (o.metadata?.namespace ?? "") === (namespace ?? ""),
  );
}

// A Secret's or ConfigMap's keys and values (stringData wins over data, as the API server does).
export function dataOf(obj) {
  const out = new Map();
  for (const [k, v] of Object.entries(obj?.data ?? {})) {
    out.set(k, obj.kind === "Secret" ? Buffer.from(String(v), "base64").toString("utf8") : String(v));
  }
  for (const [k, v] of Object.entries(obj?.stringData ?? {})) out.set(k, String(v));
  return out;
}

// Where each kind keeps its pod template: [{spec, labels, path}] ("spec.template.spec"...).
export function podTemplates(obj) {
  const t = (tmpl, path) =>
    tmpl?.spec ? [{ spec: tmpl.spec, labels: tmpl.metadata?.labels ?? {}, path }] : [];
  switch (obj.kind) {
    case "Pod":
      return obj.spec ? [{ spec: obj.spec, labels: obj.metadata?.labels ?? {}, path: "spec" }] : [];
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
    case "Job":
      return t(obj.spec?.template, "spec.template.spec");
    case "CronJob":
      return t(obj.spec?.jobTemplate?.spec?.template, "spec.jobTemplate.spec.template.spec");
    default:
      return [];
  }
}

// Every container of a pod spec with where it sits: {c, init, restartable, path}.
export function containersOf(spec, specPath) {
  const out = [];
  for (const group of ["initContainers", "containers"]) {
    (spec[group] ?? []).forEach((c, i) => {
      if (!c || typeof c !== "object") return;
      const init = group === "initContainers";
      out.push({
        c,
        init,
        restartable: init && c.restartPolicy === "Always",
        path: `${specPath}.${group}[${i}]`,
      });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// cfgsync containers

// A cfgsync container is one running the cfgsync image (any registry, tag or digest).
export function isCfgsync(c) {
  const image = String(c.image ?? "");
  const name = image.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
  return name === "cfgsync" || name.endsWith("/cfgsync");
}

// The image's ENTRYPOINT (see the Dockerfile): what runs when the container sets no command.
export const ENTRYPOINT = "cfgsync";

// cfgsync's arguments after the program name, with $(VAR) references expanded as the kubelet
// does. {argv, problem}: problem is set when the command is not cfgsync itself.
export function cfgsyncArgv(c, env) {
  const command = (c.command ?? []).map((s) => expandVars(String(s), env));
  const args = (c.args ?? []).map((s) => expandVars(String(s), env));
  if (command.length === 0) return { argv: args };
  if (command[0] !== ENTRYPOINT && !command[0].endsWith(`/${ENTRYPOINT}`)) {
    return {
      argv: [...command.slice(1), ...args],
      problem: `command ${JSON.stringify(command[0])} is not cfgsync`,
    };
  }
  return { argv: [...command.slice(1), ...args] };
}

// $(VAR) is replaced by VAR's value when VAR is defined, $$ is a literal $, anything else is
// left as it is (Kubernetes' expansion rules for command, args and env values).
export function expandVars(s, env) {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name) => {
    if (m === "$$") return "$";
    return env.has(name) ? env.get(name).value : m;
  });
}

// The container's environment: envFrom in order, then env (which wins). Each entry is
// {value, from} where from names the source ("Secret/x", "literal", ...). Problems are
// references to objects or keys the manifest does not have.
export function resolveEnv(c, objects, namespace) {
  const env = new Map();
  const problems = [];
  (c.envFrom ?? []).forEach((ef, i) => {
    const ref = ef.secretRef ?? ef.configMapRef;
    if (!ref) return;
    const kind = ef.secretRef ? "Secret" : "ConfigMap";
    const obj = findObject(objects, kind, ref.name, namespace);
    if (!obj) {
      if (!ref.optional)
        problems.push([`envFrom[${i}]`, `${kind} ${JSON.stringify(ref.name)} is not in the manifest`]);
      return;
    }
    for (const [k, v] of dataOf(obj))
      env.set(`${ef.prefix ?? ""}${k}`, { value: v, from: `${kind}/${ref.name}` });
  });
  (c.env ?? []).forEach((e, i) => {
    if (!e?.name) return;
    const vf = e.valueFrom;
    if (!vf) {
      env.set(e.name, { value: expandVars(String(e.value ?? ""), env), from: "literal" });
      return;
    }
    const ref = vf.secretKeyRef ?? vf.configMapKeyRef;
    if (ref) {
      const kind = vf.secretKeyRef ? "Secret" : "ConfigMap";
      const obj = findObject(objects, kind, ref.name, namespace);
      const data = obj ? dataOf(obj) : null;
      if (!data || !data.has(ref.key)) {
        if (!ref.optional) {
          problems.push([
            `env[${i}]`,
            obj
              ? `${e.name}: key ${JSON.stringify(ref.key)} is not in ${kind} ${JSON.stringify(ref.name)}`
              : `${e.name}: ${kind} ${JSON.stringify(ref.name)} is not in the manifest`,
          ]);
        }
        return;
      }
      env.set(e.name, { value: data.get(ref.key), from: `${kind}/${ref.name}` });
      return;
    }
    // fieldRef / resourceFieldRef: known only on the node.
    env.set(e.name, {
      value: `<${vf.fieldRef?.fieldPath ?? vf.resourceFieldRef?.resource ?? "?"}>`,
      from: "field",
    });
  });
  return { env, problems };
}

// The user an app container runs as: its (or the pod's) runAsUser/runAsGroup, else the PUID/
// PGID variables of the linuxserver.io images, else root (what most images default to).
// {uid, gid, from}.
export function appUser(c, podSc) {
  const sc = c.securityContext ?? {};
  const uid = sc.runAsUser ?? podSc.runAsUser;
  if (uid !== undefined) return { uid, gid: sc.runAsGroup ?? podSc.runAsGroup ?? 0, from: "runAsUser" };
  const env = new Map(
    (c.env ?? []).filter((e) => e?.value !== undefined).map((e) => [e.name, String(e.value)]),
  );
  if (/^\d+$/.test(env.get("PUID") ?? "")) {
    return { uid: Number(env.get("PUID")), gid: Number(env.get("PGID") ?? env.get("PUID")), from: "PUID" };
  }
  return { uid: 0, gid: 0, from: "assumed" };
}

// The image's USER (Dockerfile) when the manifest sets no runAsUser.
export const IMAGE_USER = { uid: 1000, gid: 1000 };

// ---------------------------------------------------------------------------------------------
// cfgsync's command line (src/cli/: CLI11, every flag with a CFGSYNC_<FLAG> fallback; a flag on
// the command line wins over its variable)

export const SUBCOMMANDS = new Set(["version", "ls", "restore", "sync", "watch", "run", "status"]);
// Flags that take no value; every other --flag takes one (as `--flag value` or `--flag=value`).
const BOOLEAN_FLAGS = new Set([
  "s3-virtual-host",
  "no-default-excludes",
  "allow-missing-bucket",
  "dry-run",
  "help",
]);

// Defaults of the flags the checks look at (cfgsync <cmd> --help).
export const DEFAULTS = {
  dir: "/config",
  "http-addr": ":9740",
  "shutdown-timeout": "20s",
  "log-format": "text",
};

// {sub, flags: Map(name -> [values in order])}. Unknown flags are cfgsync's to reject.
export function parseArgs(argv) {
  const flags = new Map();
  let sub = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      let name = a.slice(2);
      let value = "true";
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      } else if (!BOOLEAN_FLAGS.has(name)) {
        value = argv[++i] ?? "";
      }
      if (!flags.has(name)) flags.set(name, []);
      flags.get(name).push(value);
    } else if (sub === null && SUBCOMMANDS.has(a)) {
      sub = a;
    }
  }
  return { sub, flags };
}

export function envNameOf(flag) {
  return `CFGSYNC_${flag.toUpperCase().replaceAll("-", "_")}`;
}

// Flags whose variable counts even when set but empty (src/cli/common.h AddOptionalFlag):
// CFGSYNC_HTTP_ADDR="" turns the server off like --http-addr "". CLI11 ignores every other
// empty variable.
const EMPTY_VAR_COUNTS = new Set(["http-addr"]);

// The value cfgsync uses: the last command-line value, else CFGSYNC_<FLAG> (when non-empty, or
// set at all for the flags above), else the default. {value, from}.
export function flagValue(parsed, env, flag) {
  const vals = parsed.flags.get(flag);
  if (vals?.length) return { value: vals[vals.length - 1], from: `--${flag}` };
  const e = env.get(envNameOf(flag));
  if (e && (e.value !== "" || EMPTY_VAR_COUNTS.has(flag))) return { value: e.value, from: envNameOf(flag) };
  return { value: DEFAULTS[flag], from: "default" };
}

// The patterns of a repeatable flag (--exclude, --include), as cfgsync gets them: every value on
// the command line, where CLI11 reads a value written [a,b] as the list a, b (split at each
// comma, brackets dropped); or, with none there, the variable read as rclone reads list
// variables (splitPatternList). {values, from}.
export function listValues(parsed, env, flag) {
  const vals = parsed.flags.get(flag);
  if (vals?.length) {
    return {
      values: vals.flatMap((v) => (/^\[.*\]$/s.test(v) ? v.slice(1, -1).split(",") : [v])),
      from: `--${flag}`,
    };
  }
  const e = env.get(envNameOf(flag));
  return e ? { values: splitPatternList(e.value), from: envNameOf(flag) } : { values: [], from: "default" };
}

// src/sync/filter.cc SplitPatternList: a comma-separated list of patterns; commas inside {...}
// or [...] belong to the pattern; spaces and tabs around items and empty items are dropped.
export function splitPatternList(list) {
  const out = [];
  let item = "";
  let braces = 0;
  let inClass = false;
  const flush = () => {
    const t = item.replace(/^[ \t]+|[ \t]+$/g, "");
    if (t) out.push(t);
    item = "";
  };
  for (const c of list) {
    if (c === "," && braces === 0 && !inClass) {
      flush();
      continue;
    }
    if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "{") braces++;
    else if (c === "}" && braces > 0) braces--;
    item += c;
  }
  flush();
  return out;
}

// HOST:PORT (":9740", "0.0.0.0:9740", "[::]:9740") -> {host, port}; null when malformed.
export function splitAddr(addr) {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(addr);
  return m ? { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) } : null;
}

// "20s", "1m30s", "500ms", "1h" -> seconds; NaN when malformed.
export function parseDuration(s) {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let m;
  let end = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    end = re.lastIndex;
  }
  return s && end === s.length ? total : NaN;
}

// Kubernetes quantities ("10m", "0.1", "128Mi", "1G") -> a number in base units; NaN if bad.
export function parseQuantity(q) {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(
    String(q),
  );
  if (!m) return NaN;
  const mult =
    {
      n: 1e-9,
      u: 1e-6,
      m: 1e-3,
      k: 1e3,
      M: 1e6,
      G: 1e9,
      T: 1e12,
      P: 1e15,
      E: 1e18,
      Ki: 2 ** 10,
      Mi: 2 ** 20,
      Gi: 2 ** 30,
      Ti: 2 ** 40,
      Pi: 2 ** 50,
      Ei: 2 ** 60,
    }[m[2]] ?? 1;
  return Number(m[1]) * mult;
}
