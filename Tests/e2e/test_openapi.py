"""The OpenAPI document is kept true: schemathesis drives the live server with requests
generated from it (valid and invalid), checking statuses, content types and response
schemas, and follows its links through stateful sequences."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_live_server_conforms_to_its_openapi_document(server):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(schemathesis), "run", server.url("/api/v1/openapi.yaml"), "--url", server.base, "--checks", "all",
         "--seed", "20261123", "--no-color", "-H", "Authorization: " + server.auth["Authorization"]],
        cwd=HERE, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
