#!/usr/bin/env bash
# Creates (once) a Python environment from PyPI and prints its folder. With no argument it is
# the one the end-to-end tests and benchmarks use (.venv-test, Tests/e2e/requirements.txt);
# `scripts/python-env.sh oip` is the Open Inference Protocol peer's (.venv-oip, MLServer,
# Tests/e2e/oip/requirements.txt), kept apart because MLServer pins its own web stack;
# `bench` is the repair benchmark's baselines (.venv-bench, Benchmarks/requirements.txt);
# `s3` is the S3 API server of the storage tests (.venv-s3, moto, Tests/s3/requirements.txt);
# `deploy` the linters of the deployment files (.venv-deploy, Tests/deploy/requirements.txt);
# `lint` the Python linter of `make lint` (.venv-lint, ruff, Tests/lint/requirements.txt);
# `labelstudio` Label Studio and its SDK for the ML-backend test (.venv-labelstudio,
# Tests/e2e/labelstudio/requirements.txt), kept apart because Label Studio pins its own Django stack.
# Reinstalls only when the requirements file changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-test}" in
  test) venv="$root/.venv-test"; requirements="$root/Tests/e2e/requirements.txt" ;;
  oip) venv="$root/.venv-oip"; requirements="$root/Tests/e2e/oip/requirements.txt" ;;
  bench) venv="$root/.venv-bench"; requirements="$root/Benchmarks/requirements.txt" ;;
  s3) venv="$root/.venv-s3"; requirements="$root/Tests/s3/requirements.txt" ;;
  deploy) venv="$root/.venv-deploy"; requirements="$root/Tests/deploy/requirements.txt" ;;
  lint) venv="$root/.venv-lint"; requirements="$root/Tests/lint/requirements.txt" ;;
  labelstudio) venv="$root/.venv-labelstudio"; requirements="$root/Tests/e2e/labelstudio/requirements.txt" ;;
  *) echo "usage: $0 [test|oip|bench|s3|deploy|lint|labelstudio]" >&2; exit 2 ;;
esac
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
  echo "$want" >"$stamp"
fi
echo "$venv"
