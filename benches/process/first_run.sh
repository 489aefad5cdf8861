#!/usr/bin/env bash
# A newcomer's first run: `cargo run --example quickstart --features dev-platform` in a fresh
# clone with a cold target directory (crates already downloaded are reused; nothing compiled is).
# Each commit given is cloned once and timed RUNS times, interleaved (A B A B …) so both see the
# same machine load; prints wall and CPU (user+system) seconds per run and the best of each.
# Usage: benches/process/first_run.sh [RUNS] COMMIT...   (e.g. 3 b075812 HEAD)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
shift
[ "$#" -gt 0 ] || set -- HEAD
repo="$(pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/wk-first-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
for commit in "$@"; do
  git clone -q "$repo" "$work/$commit"
  git -C "$work/$commit" checkout -q "$(git rev-parse "$commit")"
  (cd "$work/$commit" && cargo fetch -q)
done
echo "| commit | run | wall s | CPU s (user+sys) |"
echo "|---|---|---|---|"
declare -A best_wall best_cpu
for run in $(seq "$runs"); do
  for commit in "$@"; do
    target="$work/target-$commit-$run"
    /usr/bin/time -f '%e %U %S' -o "$work/time" \
      env -C "$work/$commit" CARGO_TARGET_DIR="$target" \
      cargo run -q --example quickstart --features dev-platform >"$work/out" 2>&1 ||
      { cat "$work/out"; exit 1; }
    read -r wall user sys <"$work/time"
    cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')"
    printf '| %s | %s | %.1f | %s |\n' "$commit" "$run" "$wall" "$cpu"
    rm -rf "$target"
    if [ -z "${best_wall[$commit]:-}" ] || awk -v a="$wall" -v b="${best_wall[$commit]}" 'BEGIN { exit !(a < b) }'; then
      best_wall[$commit]="$wall"
    fi
    if [ -z "${best_cpu[$commit]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$commit]}" 'BEGIN { exit !(a < b) }'; then
      best_cpu[$commit]="$cpu"
    fi
  done
done
echo
echo "| commit | best wall s | best CPU s |"
echo "|---|---|---|"
for commit in "$@"; do
  printf '| %s | %.1f | %s |\n' "$commit" "${best_wall[$commit]}" "${best_cpu[$commit]}"
done
