#!/usr/bin/env bash
# The fast checks, run first by `make test` (and alone by `make lint`): seconds, no build. Shell
# scripts with shellcheck, Python with ruff (ruff.toml), the page scripts with ESLint
# (.eslintrc.json), and Swift with swift-format (the rules in .swift-format).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh lint
venv=$(scripts/python-env.sh lint)

echo "== Shell (shellcheck): scripts/*.sh, .ci/run"
shellcheck scripts/*.sh .ci/run

echo "== Python (ruff check, the rules in ruff.toml)"
"$venv/bin/ruff" check --no-cache --quiet .

echo "== JavaScript (ESLint, the rules in .eslintrc.json): Sources/IrisServer/Resources/static"
# Debian's eslint lives in /usr/share/nodejs, where Debian's node looks but NodeSource's does not.
NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs" \
  eslint --format unix --max-warnings 0 Sources/IrisServer/Resources/static

echo "== Swift (swift format lint --strict, the rules in .swift-format)"
swift format lint --strict --recursive --parallel Sources Tests Benchmarks Package.swift
