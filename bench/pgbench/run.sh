#!/usr/bin/env bash
# The PostgreSQL figures of docs/scaling.md: pgbench on a scratch database, dropped at the end.
# Usage: bench/pgbench/run.sh [host] [user]
set -euo pipefail
host=${1:-127.0.0.1}
user=${2:-postgres}
here=$(cd "$(dirname "$0")" && pwd)
db=pgbench_scratch
dropdb -h "$host" -U "$user" --if-exists "$db"
createdb -h "$host" -U "$user" "$db"
trap 'dropdb -h "$host" -U "$user" --if-exists "$db"' EXIT
pgbench -h "$host" -U "$user" -i -s 10 -q "$db"
psql -h "$host" -U "$user" -q -f "$here/schema.sql" "$db"
run() { echo "== $*"; pgbench -h "$host" -U "$user" "$@" "$db" 2>&1 | grep -E "^tps|latency average"; }
run -c 4 -j 2 -T 20
run -c 1 -j 1 -T 10 -n -f "$here/insert.sql"
run -c 4 -j 2 -T 20 -n -f "$here/insert.sql"
run -c 16 -j 2 -T 20 -n -f "$here/insert.sql"
run -c 4 -j 2 -T 20 -n -f "$here/batch.sql"
