#!/usr/bin/env bash
# `make bench`: builds Iris in release mode, fetches real photos from Debian's
# plasma-workspace-wallpapers package (unpacked into .bench-cache, not installed),
# and runs Benchmarks/ingest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh bench
swift build -c release --product iris
cache="$PWD/.bench-cache"
photos="$cache/photos"
if [ ! -d "$photos" ] || [ -z "$(ls -A "$photos" 2>/dev/null)" ]; then
  mkdir -p "$cache/deb" "$photos"
  (cd "$cache/deb" && apt-get download plasma-workspace-wallpapers >/dev/null 2>&1)
  dpkg-deb -x "$cache"/deb/plasma-workspace-wallpapers_*.deb "$cache/unpacked"
  # The photographs among the wallpapers, at 2560×1600 (4 MP).
  for name in Autumn ColdRipple EveningGlow FallenLeaf OneStandsOut Path; do
    cp "$cache/unpacked/usr/share/wallpapers/$name/contents/images/2560x1600.jpg" "$photos/$name.jpg"
  done
  rm -rf "$cache/unpacked" "$cache/deb"
fi
work=$(mktemp -d /tmp/iris-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 Benchmarks/ingest.py "$PWD/.build/release/iris" "$photos" "$work"

# The job queue: no-op jobs against bare transactions, on SQLite and on PostgreSQL.
echo "== job queue (2 producers, 2 workers, 3000 no-op jobs; baseline: 3000 one-row transactions from 2 writers)"
mkdir -p "$work/jobs-sqlite"
"$PWD/.build/release/iris" jobs bench --data "$work/jobs-sqlite" --count 3000 --log-level warning
if command -v psql >/dev/null && [ -d /usr/lib/postgresql ]; then
  pg=$(scripts/postgres-test-server.sh start)
  psql "$pg" -qc "CREATE DATABASE iris_jobs_bench"
  "$PWD/.build/release/iris" jobs bench --data "$work/jobs-pg" --database "${pg%/postgres}/iris_jobs_bench" --count 3000 --log-level warning
  scripts/postgres-test-server.sh stop
fi
