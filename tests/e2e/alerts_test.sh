#!/usr/bin/env bash
# The Prometheus alerting rules shipped in deploy/prometheus/, checked offline:
#   - `promtool check rules` accepts cfgsync-rules.yaml and `promtool test rules` passes
#     cfgsync-rules_test.yaml;
#   - the tests cover every alert: for each one, three broken copies of the rules (the alert
#     never fires; it fires without waiting for its `for`; it fires on any value of its metric,
#     healthy ones included) must each make `promtool test rules` fail;
#   - every alert has a severity label, summary, description and runbook annotations, and each
#     runbook anchor is a heading of docs/kubernetes.md;
#   - every metric an `expr` names is one cfgsync exports: the cfgsync_* names in src/obs/*.cc
#     (tests and comments left out; NAME_bucket, NAME_sum and NAME_count of an exported NAME
#     count as exported). A missing name is printed;
#   - prometheusrule.yaml is exactly what gen-prometheusrule.sh makes of cfgsync-rules.yaml
#     (and, when PyYAML is installed, its spec.groups parse equal to the rules file's groups);
#   - the example rules in docs/kubernetes.md (its first ```yaml block starting with `groups:`,
#     which deploy_test.sh loads) are copied verbatim from cfgsync-rules.yaml.
#
#   bash tests/e2e/alerts_test.sh        (CFGSYNC is accepted and not needed)
#
# One "ok" or "FAIL" line per check; exits 1 when any check failed.
set -euo pipefail

SRC=${CFGSYNC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DIR=$SRC/deploy/prometheus
RULES=$DIR/cfgsync-rules.yaml
TESTS=$DIR/cfgsync-rules_test.yaml
OPERATOR_RULE=$DIR/prometheusrule.yaml
DOC=$SRC/docs/kubernetes.md
# The system interpreter starts faster than a pyenv shim.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

FAILED=0
ok() { echo "ok   $*"; }
failed() {
  echo "FAIL $*"
  FAILED=$((FAILED + 1))
}

command -v promtool >/dev/null || {
  echo "FAIL promtool is not installed (Debian package prometheus)"
  exit 1
}
for f in "$RULES" "$TESTS" "$OPERATOR_RULE" "$DIR/gen-prometheusrule.sh" "$DOC"; do
  [[ -f $f ]] || {
    echo "FAIL $f: missing"
    exit 1
  }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfgsync-alerts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
# promtool

if promtool check rules "$RULES" >"$TMP/check.out" 2>&1; then
  NRULES=$(sed -nE 's/.*SUCCESS: ([0-9]+) rules found.*/\1/p' "$TMP/check.out")
  ok "promtool check rules: $NRULES rules in deploy/prometheus/cfgsync-rules.yaml"
else
  failed "promtool check rules deploy/prometheus/cfgsync-rules.yaml:"$'\n'"$(cat "$TMP/check.out")"
  NRULES=""
fi

TESTS_PASS=0
if promtool test rules "$TESTS" >"$TMP/test.out" 2>&1; then
  ok "promtool test rules deploy/prometheus/cfgsync-rules_test.yaml"
  TESTS_PASS=1
else
  failed "promtool test rules deploy/prometheus/cfgsync-rules_test.yaml:"$'\n'"$(cat "$TMP/test.out")"
fi

# ---------------------------------------------------------------------------------------------
# The rules file, read line by line (no YAML library needed): the alerts, their expressions,
# labels and annotations. The number of alerts found must match promtool's count, so a layout
# this reader does not follow is a failure, not a check silently skipped.

cat >"$TMP/rules.py" <<'EOF'
import glob, os, re, sys

def scalar(value, following, indent):
    """A YAML scalar on one line, or a block scalar (| or >) over the lines that follow."""
    value = value.strip()
    if value[:1] in "|>" and re.fullmatch(r"[|>][-+]?", value):
        lines = []
        for line in following:
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            lines.append(line.strip())
        return (" " if value[0] == ">" else "\n").join(lines).strip()
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    return value

def alerts(path):
    """[{name, expr, for, labels, annotations, lines}] of the rules file."""
    lines = open(path).read().split("\n")
    found, current, section = [], None, None
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)- alert:\s*(\S+)\s*$", line)
        if m:
            current = {"name": m.group(2), "indent": len(m.group(1)) + 2, "labels": {},
                       "annotations": {}, "expr": None, "for": None, "lines": [line]}
            found.append(current)
            section = None
            continue
        if current is None:
            continue
        if line.strip() and len(line) - len(line.lstrip()) < current["indent"]:
            current = None  # the next rule group, or a recording rule
            continue
        current["lines"].append(line)
        m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if indent == current["indent"]:
            section = key if key in ("labels", "annotations") else None
            if key in ("expr", "for"):
                current[key] = scalar(value, lines[i + 1:], indent)
        elif section and indent > current["indent"]:
            current[section][key] = scalar(value, lines[i + 1:], indent)
    for a in found:
        while a["lines"] and not a["lines"][-1].strip():
            a["lines"].pop()
    return found

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "atan2", "inf", "nan"}

def metric_names(expr):
    """The metric names a PromQL expression selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)                                           # matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                          # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        if m.group(2) or m.group(1).lower() in KEYWORDS:
            continue  # a function or aggregation, or an operator
        names.add(m.group(1))
    return names

def exported(src):
    """cfgsync_* names in src/obs/*.cc, tests and comments left out."""
    names = set()
    for path in sorted(glob.glob(os.path.join(src, "src/obs/*.cc"))):
        if path.endswith("_test.cc"):
            continue
        text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", open(path).read(), flags=re.S)
        names |= set(re.findall(r"\bcfgsync_[a-z0-9_]*[a-z0-9]", text))
    return names

def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")

def main():
    cmd, rules = sys.argv[1], sys.argv[2]
    found = alerts(rules)
    if cmd == "count":
        print(len(found))
    elif cmd == "names":
        print(" ".join(a["name"] for a in found))
    elif cmd == "structure":
        doc = open(sys.argv[3]).read()
        anchors = {slug(h) for h in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", doc, re.M)}
        problems = []
        for a in found:
            if a["expr"] is None:
                problems.append(f"{a['name']}: no expr")
            if a["labels"].get("severity") not in ("info", "warning", "critical"):
                problems.append(f"{a['name']}: severity label {a['labels'].get('severity')!r}, "
                                "want info, warning or critical")
            for key in ("summary", "description", "runbook"):
                if not a["annotations"].get(key):
                    problems.append(f"{a['name']}: no {key} annotation")
            runbook = a["annotations"].get("runbook", "")
            if runbook:
                page, _, anchor = runbook.partition("#")
                if not page.endswith("docs/kubernetes.md") or not anchor:
                    problems.append(f"{a['name']}: runbook {runbook!r} is not "
                                    "docs/kubernetes.md#<section>")
                elif anchor not in anchors:
                    problems.append(f"{a['name']}: runbook anchor #{anchor} is no heading of "
                                    "docs/kubernetes.md")
        print("\n".join(problems))
    elif cmd == "metrics":
        known = exported(sys.argv[3])
        base = lambda n: re.sub(r"_(bucket|sum|count)$", "", n)
        used, missing = set(), {}
        for a in found:
            for n in metric_names(a["expr"] or ""):
                used.add(n)
                if n not in known and base(n) not in known:
                    missing.setdefault(n, []).append(a["name"])
        # Line 1: the names used; line 2: how many cfgsync exports; then one line per missing name.
        print(" ".join(sorted(used)))
        print(len(known))
        for n, by in sorted(missing.items()):
            print(f"{n} (in {', '.join(sorted(set(by)))})")
    elif cmd == "mutate":
        # mutate RULES NAME KIND OUT: the rules file with one alert broken.
        name, kind, out = sys.argv[3], sys.argv[4], sys.argv[5]
        lines = open(rules).read().split("\n")
        a = next(a for a in found if a["name"] == name)
        start = lines.index(a["lines"][0])
        block = lines[start:start + len(a["lines"])]
        pad = " " * a["indent"]
        keep = []
        skipping = False
        for line in block:
            m = re.match(r"^(\s*)(expr|for):", line)
            if m and len(m.group(1)) == a["indent"]:
                skipping = True
                if m.group(2) == "expr":
                    if kind == "never":
                        keep.append(pad + "expr: vector(1) < 0")
                    elif kind == "any-value":
                        metrics = sorted(metric_names(a["expr"]))
                        keep.append(pad + "expr: '{__name__=~\"" + "|".join(metrics) + "\"}'")
                    else:
                        keep.append(line)
                        skipping = False
                elif kind != "no-for":
                    keep.append(line)
                    skipping = False
                continue
            if skipping and line.strip() and len(line) - len(line.lstrip()) > a["indent"]:
                continue  # the rest of a block scalar being replaced
            skipping = False
            keep.append(line)
        lines[start:start + len(block)] = keep
        open(out, "w").write("\n".join(lines))
    elif cmd == "doc-excerpt":
        doc = open(sys.argv[3]).read()
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if b.startswith("groups:")]
        if not blocks:
            print("no ```yaml block starting with groups: (deploy_test.sh loads the first one)")
            return
        # doc-excerpt RULES DOC SCRATCH_FILE
        with open(sys.argv[4], "w") as f:
            f.write(blocks[0])
        rules_text = "\n" + open(rules).read()
        shown = alerts(sys.argv[4])
        if not shown:
            print("its first groups: block has no alert")
        for a in shown:
            if "\n" + "\n".join(a["lines"]) + "\n" not in rules_text:
                print(f"{a['name']}: not a verbatim copy of the rule in "
                      "deploy/prometheus/cfgsync-rules.yaml")

main()
EOF
rules_py() { "$PY" "$TMP/rules.py" "$@"; }

ALERTS=$(rules_py names "$RULES")
NALERTS=$(rules_py count "$RULES")
if [[ -n $NRULES && $NALERTS != "$NRULES" ]]; then
  failed "read $NALERTS alerts in cfgsync-rules.yaml where promtool counts $NRULES rules:" \
    "tests/e2e/alerts_test.sh reads one alert per '- alert: NAME' line, and no recording rules"
fi

problems=$(rules_py structure "$RULES" "$DOC")
if [[ -z $problems ]]; then
  ok "$NALERTS alerts ($ALERTS): severity, summary, description, runbook into docs/kubernetes.md"
else
  failed "alert labels and annotations:"$'\n'"$problems"
fi

# ---------------------------------------------------------------------------------------------
# Metric names against what cfgsync exports.

mapfile -t metrics < <(rules_py metrics "$RULES" "$SRC")
used=${metrics[0]-} known=${metrics[1]:-0} missing=("${metrics[@]:2}")
if ((known == 0)); then
  failed "no cfgsync_* metric name found in src/obs/*.cc"
elif ((${#missing[@]} == 0)); then
  ok "every metric the rules use is exported by src/obs/*.cc: $used"
else
  failed "${#missing[@]} metric(s) used by the rules are not exported by src/obs/*.cc" \
    "($known cfgsync_* names there):"$'\n'"$(printf '  %s\n' "${missing[@]}")"
fi

# ---------------------------------------------------------------------------------------------
# The tests cover each alert: each broken copy of the rules must fail them.

cp "$TESTS" "$TMP/cfgsync-rules_test.yaml"
uncovered=()
breakable=$ALERTS
((TESTS_PASS)) || breakable="" # every broken copy would fail: nothing to learn
for alert in $breakable; do
  for kind in never no-for any-value; do
    rules_py mutate "$RULES" "$alert" "$kind" "$TMP/cfgsync-rules.yaml"
    if cmp -s "$RULES" "$TMP/cfgsync-rules.yaml"; then
      [[ $kind == no-for ]] && continue # an alert without `for` fires at once anyway
      uncovered+=("$alert: could not make the '$kind' copy")
    elif promtool test rules "$TMP/cfgsync-rules_test.yaml" >/dev/null 2>&1; then
      case $kind in
        never) uncovered+=("$alert: the tests pass when it never fires") ;;
        no-for) uncovered+=("$alert: the tests pass when it fires without waiting for its 'for'") ;;
        any-value) uncovered+=("$alert: the tests pass when it fires on healthy values") ;;
      esac
    fi
  done
done
if ! ((TESTS_PASS)); then
  echo "skip coverage of cfgsync-rules_test.yaml: its tests fail on the rules as they are"
elif ((${#uncovered[@]} == 0)); then
  ok "cfgsync-rules_test.yaml catches each alert never firing, skipping its 'for', firing when healthy"
else
  failed "cfgsync-rules_test.yaml misses:"$'\n'"$(printf '  %s\n' "${uncovered[@]}")"
fi

# ---------------------------------------------------------------------------------------------
# prometheusrule.yaml: generated from the rules file.

if bash "$DIR/gen-prometheusrule.sh" >"$TMP/prometheusrule.yaml" &&
  diff -u "$OPERATOR_RULE" "$TMP/prometheusrule.yaml" >"$TMP/diff.out"; then
  ok "deploy/prometheus/prometheusrule.yaml is gen-prometheusrule.sh's output"
else
  failed "deploy/prometheus/prometheusrule.yaml differs from what gen-prometheusrule.sh makes of" \
    "cfgsync-rules.yaml; run: bash deploy/prometheus/gen-prometheusrule.sh >deploy/prometheus/prometheusrule.yaml" \
    $'\n'"$(head -n 40 "$TMP/diff.out")"
fi
if "$PY" -c 'import yaml' 2>/dev/null; then
  if out=$("$PY" - "$RULES" "$OPERATOR_RULE" 2>&1 <<'EOF'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
operator = yaml.safe_load(open(sys.argv[2]))
if (operator.get("apiVersion"), operator.get("kind")) != ("monitoring.coreos.com/v1", "PrometheusRule"):
    sys.exit(f"apiVersion {operator.get('apiVersion')}, kind {operator.get('kind')}: not a PrometheusRule")
if (operator.get("spec") or {}).get("groups") != rules["groups"]:
    sys.exit("its spec.groups differ from cfgsync-rules.yaml's groups")
EOF
  ); then
    ok "prometheusrule.yaml parses (PyYAML) as a PrometheusRule with the rules file's groups"
  else
    failed "prometheusrule.yaml: $out"
  fi
else
  echo "skip PyYAML is not installed: prometheusrule.yaml not parsed (the diff above still holds)"
fi

# ---------------------------------------------------------------------------------------------
# docs/kubernetes.md's example rules.

problems=$(rules_py doc-excerpt "$RULES" "$DOC" "$TMP/excerpt.yaml")
if [[ -z $problems ]]; then
  ok "docs/kubernetes.md's example rules are verbatim copies from cfgsync-rules.yaml"
else
  failed "docs/kubernetes.md's example rules:"$'\n'"$problems"
fi

if ((FAILED > 0)); then
  echo "$FAILED check(s) failed"
  exit 1
fi
echo "all checks passed"
