#!/usr/bin/env bash
# Client CPU (user+system, measured inside the client process) to sync 10,000 call records to the
# emulator in batches of 100: ours vs the published 0.0.37. Five runs each, alternating; medians.
# Usage: benches/process/sync_cpu.sh [RECORDS] [RUNS]
source "$(dirname "$0")/common.sh"
build_bench_client
records="${1:-10000}"
runs="${2:-5}"
start_platform
for i in $(seq "$runs"); do
  for who in ours wpc; do
    "$BIN/examples/bench_client" sync "$who" "$URL" "$TOKEN" "$records" >>"$WORK/$who.jsonl"
  done
done
median() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$WORK/$1.jsonl" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| client | client CPU s (median of $runs) | wall s (median) |"
echo "|---|---|---|"
for who in ours wpc; do
  echo "| $who | $(median "$who" cpu_seconds) | $(median "$who" seconds) |"
done
