#!/usr/bin/env bash
# Runs `confab bench` against N release-build nodes on a fresh PostgreSQL schema (and, for
# N > 1, the machine's Redis as the bus), then stops them and drops the schema. Prints each
# node's resident memory after the run. The figures in docs/scaling.md came from it.
#
#   bench/cluster/run.sh 3 --duration 5 --check fanout --rooms 4 --members 25 --rate 30
#
# Needs PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth) and Redis on 127.0.0.1:6379.
set -u
cd "$(dirname "$0")"
nodes=$1
shift
export PGOPTIONS="--client-min-messages=warning"
bin="${CARGO_TARGET_DIR:-../../target}/release/confab"
schema="bench_$(date +%s)_$$"
work=$(mktemp -d)
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA $schema"
database="postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
pids=()
urls=()
for i in $(seq 1 "$nodes"); do
  bus=()
  if [ "$nodes" -gt 1 ]; then
    bus=(--bus redis://127.0.0.1:6379 --bus-namespace "$schema")
  fi
  mkdir -p "$work/$i"
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$((19000 + i))" --data-dir "$work/$i" \
    --config confab.toml --database "$database" "${bus[@]}" >"$work/$i.log" 2>&1 &
  pids+=($!)
  urls+=("ws://127.0.0.1:$((19000 + i))")
done
for i in $(seq 1 "$nodes"); do
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$((19000 + i))/healthz" >/dev/null && break
    sleep 0.1
  done
done
servers=$(IFS=,; echo "${urls[*]}")
"$bin" bench --server "$servers" "$@"
status=$?
for pid in "${pids[@]}"; do
  echo "node $pid: resident $(ps -o rss= -p "$pid") KiB"
done
kill "${pids[@]}"
wait
psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA $schema CASCADE"
rm -rf "$work"
exit $status
