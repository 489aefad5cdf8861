#!/usr/bin/env bash
# Runs schemathesis against a freshly started emulator: no 5xx, and every response must match
# schema/openapi.json (status code, content type, body schema). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:?}"
VENV="${VENV:-$HOME/.cache/wavekat-venv}"
cargo build -q --features dev-platform --bin wk-dev-platform
log="$(mktemp)"
"$CARGO_TARGET_DIR/debug/wk-dev-platform" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^token: ' "$log" && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$log" | head -1)"
token="$(sed -n 's/^token: //p' "$log" | head -1)"
[ -n "$url" ] && [ -n "$token" ] || { echo "emulator did not start:"; cat "$log"; exit 1; }
export PYTHONPATH=".ci${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks
# revoke_current_token is left out: it would end the session every other operation runs in.
"$VENV/bin/schemathesis" run schema/openapi.json \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-operation-id revoke_current_token \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
  --seed 20261121 \
  --no-color
