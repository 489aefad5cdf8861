# Shared by the process-level benchmarks: release builds, and an emulator on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
cargo build -q --release --features dev-platform --bin wk-dev-platform
# The drivers that run 0.0.37 beside ours live in the interop crate (it needs the system's libdbus).
build_bench_client() { cargo build -q --release -p wavekat-platform-interop --example bench_client; }
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/wk-bench.XXXXXX")"
start_platform() {
  "$BIN/wk-dev-platform" --listen 127.0.0.1:0 --db "$WORK/platform.db" --blobs "$WORK/blobs" >"$WORK/platform.log" 2>&1 &
  PLATFORM_PID=$!
  for _ in $(seq 100); do grep -q '^token: ' "$WORK/platform.log" && break; sleep 0.1; done
  URL="$(sed -n 's/^listening on //p' "$WORK/platform.log")"
  TOKEN="$(sed -n 's/^token: //p' "$WORK/platform.log")"
}
cleanup() { kill "${PLATFORM_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
