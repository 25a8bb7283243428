#!/usr/bin/env bash
# Checks the deployment files, which cannot be run on these machines (no Docker engine, no
# cluster): the container definition with hadolint, the Compose file against the Compose
# specification's schema, the Kubernetes manifests against Kubernetes 1.37's schemas
# (strict: unknown fields fail), and all YAML with yamllint.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/python-env.sh deploy)
"$venv/bin/hadolint" deploy/Containerfile
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
"$venv/bin/kubernetes-validate" --strict --quiet -k 1.37.0 deploy/kubernetes/*.yaml
"$venv/bin/yamllint" -d "{extends: default, rules: {line-length: {max: 130}, document-start: disable, braces: {max-spaces-inside: 1}}}" \
  deploy/compose.yaml deploy/kubernetes/*.yaml
echo "deploy/: Containerfile, compose.yaml and kubernetes/*.yaml pass"
