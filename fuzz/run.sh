#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) each, one after another, from its committed
# seed corpus (fuzz/corpus/<target>/seed-*; what a run adds there stays local). Stops at the
# first target that crashes, times out (10 s per input) or passes 2 GiB; the input that did it
# is in fuzz/artifacts/<target>/. Prints one line per target: runs, coverage, corpus size.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked --version 0.13.2`) and a C++ compiler;
# runs on the stable toolchain (RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
shift || true
export RUSTC_BOOTSTRAP=1
if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

nice -n 10 cargo fuzz build 2>&1 | tail -n 3
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="$logs/$target.log"
  echo "fuzz: $target for ${seconds}s"
  if ! nice -n 10 cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  corpus=$(find "corpus/$target" -type f | wc -l)
  summary+=("$(printf '%-14s %10s runs  cov %6s  corpus %5s' "$target" "${runs:-?}" "${cov:-?}" "$corpus")")
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash, timeout or out-of-memory:"
printf '  %s\n' "${summary[@]}"
