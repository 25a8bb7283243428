#!/usr/bin/env bash
# The whole test suite: installs and starts what it needs, runs every test against
# SQLite and PostgreSQL, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh test
# The fast checks first (shellcheck, ruff, ESLint, swift-format), so that a slip fails in seconds.
scripts/lint.sh
scripts/prepare-models.sh
venv=$(scripts/python-env.sh)
# MLServer, the Open Inference Protocol v2 peer of the remote-model tests.
IRIS_TEST_OIP_PYTHON="$(scripts/python-env.sh oip)/bin/python"
export IRIS_TEST_OIP_PYTHON
# Label Studio and label-studio-sdk, for the ML-backend test (Tests/e2e/test_label_studio.py).
IRIS_TEST_LABEL_STUDIO_PYTHON="$(scripts/python-env.sh labelstudio)/bin/python"
export IRIS_TEST_LABEL_STUDIO_PYTHON

postgres_url=$(scripts/postgres-test-server.sh start)
trap 'scripts/postgres-test-server.sh stop; scripts/s3-test-server.sh stop' EXIT
export IRIS_TEST_POSTGRES_URL="$postgres_url"
export IRIS_TEST_REQUIRE_POSTGRES=1
# The S3 API server of the storage tests (moto, signatures checked): IRIS_TEST_S3_URL and its credentials.
s3_settings=$(scripts/s3-test-server.sh start)
# shellcheck disable=SC2163 # each line is NAME=value, and export sets it
while IFS= read -r line; do export "$line"; done <<<"$s3_settings"
export IRIS_TEST_REQUIRE_S3=1

echo "== Deployment files (hadolint, the Compose schema, Kubernetes 1.37 schemas, yamllint)"
scripts/validate-deploy.sh

echo "== IrisClient: its generated code matches openapi.yaml, and it depends on no server code"
scripts/generate-client.sh --check
scripts/check-client-dependencies.py

echo "== Swift tests (SQLite and PostgreSQL at $postgres_url; disk and S3 at $IRIS_TEST_S3_URL)"
swift build --build-tests
# The test bundle is run as `swift test` runs it, with one more option: at most six tests at
# once. Unbounded, some 230 tests each starting a server on 2 cores pushed requests past the
# test client's fixed 20 s; six at once finished the same pass sooner (129 s against 169 s).
tests="$(swift build --show-bin-path)/irisPackageTests.xctest"
run_tests() { "$tests" --testing-library swift-testing --experimental-maximum-parallelization-width 6 "$@"; }
run_tests --skip "LearningAPITests|AccessMatrixTests"
# The learning API tests embed dozens of photos per request, and the authorization matrix sends
# some 2,800 requests: each runs in a pass of its own, so neither pushes another's requests
# past the 20 s.
run_tests --filter LearningAPITests
run_tests --filter AccessMatrixTests

echo "== End-to-end tests: the iris binary, schemathesis, Chromium"
IRIS_BIN="$(swift build --show-bin-path)/iris"
export IRIS_BIN
"$venv/bin/python" -m pytest Tests/e2e -q -rs -p no:cacheprovider
