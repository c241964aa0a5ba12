#!/usr/bin/env bash
# Prints prometheusrule.yaml: cfgsync-rules.yaml (without its opening comment) as the spec of a
# PrometheusRule for the Prometheus Operator. cfgsync-rules.yaml is the one to edit; then
#
#   bash deploy/prometheus/gen-prometheusrule.sh >deploy/prometheus/prometheusrule.yaml
#
# tests/e2e/alerts_test.sh fails when prometheusrule.yaml differs from this script's output.
set -euo pipefail
rules=$(dirname "${BASH_SOURCE[0]}")/cfgsync-rules.yaml
cat <<'HEADER'
# Generated from cfgsync-rules.yaml by gen-prometheusrule.sh: edit that file, not this one.
#
# The Prometheus Operator loads only the PrometheusRules that its Prometheus' spec.ruleSelector
# and ruleNamespaceSelector match: give this one the label yours expects (kube-prometheus-stack:
# `release: <the Helm release's name>`), in your kustomization or with
#   kubectl apply -n monitoring -f deploy/prometheus/prometheusrule.yaml
#   kubectl label -n monitoring prometheusrule cfgsync release=kube-prometheus-stack
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: cfgsync
  labels:
    app.kubernetes.io/name: cfgsync
spec:
HEADER
# Drop the comment block (and blank lines) before `groups:`, indent the rest under spec.
awk 'started || /^groups:/ { started = 1; print ($0 == "" ? "" : "  " $0) }' "$rules"
