#!/usr/bin/env bash
# Rewrites the README's settings table from `iris config --markdown` (a test checks they agree).
set -euo pipefail
cd "$(dirname "$0")/.."
table=$("$(swift build --show-bin-path)/iris" config --markdown)
python3 - "$table" <<'PY'
import re, sys
readme = open("README.md").read()
start = readme.index("<!-- settings:begin")
start = readme.index("-->\n", start) + 4
end = readme.index("<!-- settings:end -->")
open("README.md", "w").write(readme[:start] + sys.argv[1].strip() + "\n" + readme[end:])
PY
