#!/usr/bin/env bash
# The mobile transport stays opt-in: without `mobile-transport` the crate's dependency tree has
# no WebSocket stack, and with it the stack brings no TLS library (secure mode needs none).
# Its tests run in `cargo test --all-features`; this only guards the build cost.
set -euo pipefail
cd "$(dirname "$0")/.."
if cargo tree -q -p wavekat-platform-client -e normal | grep -q tungstenite; then
  echo "tungstenite is in the default dependency tree; it belongs behind mobile-transport" >&2
  exit 1
fi
for pkg in openssl-sys native-tls aws-lc-sys tokio-rustls; do
  if cargo tree -q -p wavekat-platform-client -e normal --no-default-features \
      --features mobile-transport -i "$pkg" 2>/dev/null | grep -q tungstenite; then
    echo "$pkg reaches the tree through the WebSocket stack" >&2
    exit 1
  fi
done
echo "mobile-transport: opt-in, no TLS library through the WebSocket stack"
