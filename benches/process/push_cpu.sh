#!/usr/bin/env bash
# Client CPU (user+system of every thread, measured inside the client process) and wall time to push 4 accounts,
# 2,000 calls, 4,000 transcripts and 200 recordings with their WAV files from the reference
# SqliteStore to the emulator: the durable sync::Pusher (`run_once`) vs a minimal hand-written
# loop over Client::sync over the same store. Each run prepares two fresh stores (new ids, same
# platform) and runs both clients interleaved, alternating which goes first; medians and bests.
# Usage: benches/process/push_cpu.sh [RUNS]
source "$(dirname "$0")/common.sh"
runs="${1:-5}"
cargo build -q --release --features sqlite-store --example push_bench
start_platform
data="$WORK/data"
for i in $(seq "$runs"); do
  "$BIN/examples/push_bench" prepare "$data" "r$i-pusher-" >/dev/null
  "$BIN/examples/push_bench" prepare "$data" "r$i-loop-" >/dev/null
  if (( i % 2 )); then order="pusher loop"; else order="loop pusher"; fi
  for who in $order; do
    "$BIN/examples/push_bench" "$who" "$URL" "$TOKEN" "$data/outbox-r$i-$who-.db" >>"$WORK/$who.jsonl"
  done
done
values() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$WORK/$1.jsonl"; }
median() { values "$1" "$2" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best() { values "$1" "$2" | sort -n | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
records="$(values pusher records | head -1) records + $(values pusher uploads | head -1) uploads"
echo "| client ($records) | CPU s median of $runs | CPU s best | wall s median | wall s best |"
echo "|---|---|---|---|---|"
for who in pusher loop; do
  echo "| $who | $(median "$who" cpu_seconds) | $(best "$who" cpu_seconds) | $(median "$who" seconds) | $(best "$who" seconds) |"
done
echo "| ratio pusher/loop | $(ratio "$(median pusher cpu_seconds)" "$(median loop cpu_seconds)") | $(ratio "$(best pusher cpu_seconds)" "$(best loop cpu_seconds)") | $(ratio "$(median pusher seconds)" "$(median loop seconds)") | $(ratio "$(best pusher seconds)" "$(best loop seconds)") |"
echo
for who in pusher loop; do
  echo "$who runs: CPU s $(values "$who" cpu_seconds | paste -sd ' '); /proc/self/stat CPU s (10 ms ticks) $(values "$who" cpu_seconds_stat | paste -sd ' '), median $(median "$who" cpu_seconds_stat); wall s $(values "$who" seconds | paste -sd ' ')"
done
