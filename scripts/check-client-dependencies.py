#!/usr/bin/env python3
"""Fails when IrisClient, the library apps add, would bring in server code: its targets, and
every package behind its products, must be within the allowed set (the OpenAPI runtime, its
URLSession transport and what those two need)."""
import json
import subprocess
import sys

ALLOWED_PRODUCTS = {"OpenAPIRuntime", "OpenAPIURLSession"}
# What swift-openapi-runtime and swift-openapi-urlsession themselves depend on.
ALLOWED_PACKAGES = {"swift-openapi-runtime", "swift-openapi-urlsession", "swift-http-types", "swift-collections"}

described = json.loads(subprocess.run(["swift", "package", "describe", "--type", "json"], check=True,
                                      capture_output=True, text=True).stdout)
target = next(t for t in described["targets"] if t["name"] == "IrisClient")
local = target.get("target_dependencies", [])
products = set(target.get("product_dependencies", []))
problems = []
if local:
    problems.append(f"IrisClient depends on the package's own targets {local}")
if products - ALLOWED_PRODUCTS:
    problems.append(f"IrisClient uses products {sorted(products - ALLOWED_PRODUCTS)}")

tree = json.loads(subprocess.run(["swift", "package", "show-dependencies", "--format", "json"], check=True,
                                 capture_output=True, text=True).stdout)


def walk(node, found):
    found.add(node["identity"])
    for child in node.get("dependencies", []):
        walk(child, found)
    return found


for package in tree["dependencies"]:
    if package["identity"] in {"swift-openapi-runtime", "swift-openapi-urlsession"}:
        extra = walk(package, set()) - ALLOWED_PACKAGES
        if extra:
            problems.append(f"{package['identity']} brings in {sorted(extra)}")
if problems:
    sys.exit("IrisClient's dependencies: " + "; ".join(problems))
print(f"IrisClient depends on {sorted(products)} only ({sorted(ALLOWED_PACKAGES)})", file=sys.stderr)
