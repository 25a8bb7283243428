#!/usr/bin/env bash
# Regenerates IrisClient's types and calls (Sources/IrisClient/Generated) from the server's
# OpenAPI document with Apple's swift-openapi-generator, built in Tools/ClientGenerator.
#   scripts/generate-client.sh           rewrite the generated files
#   scripts/generate-client.sh --check   fail (exit 1) when the committed files differ from
#                                        what the document makes now (make test runs this)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tool=Tools/ClientGenerator
swift build -c release --package-path "$tool" --product swift-openapi-generator >&2
generator="$tool/.build/release/swift-openapi-generator"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$generator" generate Sources/IrisServer/Resources/openapi.yaml --config "$tool/openapi-generator-config.yaml" \
  --output-directory "$out" >&2
target=Sources/IrisClient/Generated
if [ "${1:-}" = "--check" ]; then
  if ! diff -r -q "$out" "$target" >/dev/null; then
    diff -r -u "$target" "$out" | head -40 >&2 || true
    echo "Sources/IrisClient/Generated does not match openapi.yaml: run scripts/generate-client.sh and commit" >&2
    exit 1
  fi
  echo "IrisClient's generated code matches openapi.yaml" >&2
else
  mkdir -p "$target"
  rm -f "$target"/*.swift
  cp "$out"/*.swift "$target"/
  echo "Wrote $(cd "$target" && printf '%s ' *.swift)" >&2
fi
