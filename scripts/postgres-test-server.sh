#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the test suite: a fresh cluster in
# a temporary directory, listening on 127.0.0.1 only, trust auth for user "iris".
#   scripts/postgres-test-server.sh start   → prints the admin URL to use as IRIS_TEST_POSTGRES_URL
#   scripts/postgres-test-server.sh stop    → stops it and removes the directory
set -euo pipefail
state_file="${IRIS_PG_STATE:-/tmp/iris-test-postgres.state}"
port="${IRIS_PG_PORT:-54329}"

pg_bin() {
  local dir
  # shellcheck disable=SC2012 # the folders are version numbers (15, 16), which sort -V orders
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  echo "$dir"
}

# PostgreSQL refuses to run as root; as root, run it as the "postgres" system user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    "$0" stop >/dev/null 2>&1 || true
    bin=$(pg_bin)
    dir=$(mktemp -d /tmp/iris-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U iris --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Durability is irrelevant for throwaway test databases; speed is not.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1000" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$dir" >"$state_file"
    echo "postgres://iris@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$state_file" ] || exit 0
    dir=$(cat "$state_file")
    if [ -d "$dir/data" ]; then
      as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" "$state_file"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
