#!/usr/bin/env bash
# TypeScript parity check, run by .ci/run with the machine's Node:
#  (a) regenerating the TypeScript types from schema/openapi.json gives the checked-in wire.d.ts;
#  (b) tsc type-checks every wire snapshot against its TypeScript type;
#  (c) ajv validates every wire snapshot against schema/wire.schema.json;
#  (d) an independent Node verifier (built-in crypto only) verifies certificates and request
#      signatures made by the Rust code and recomputes its pairing proofs and envelopes.
set -euo pipefail
cd "$(dirname "$0")/../schema"
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
npm ci --no-audit --no-fund --loglevel=error
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

./node_modules/.bin/openapi-typescript openapi.json --output "$work/wire.d.ts" >/dev/null
if ! diff -u wire.d.ts "$work/wire.d.ts"; then
  echo "(a) schema/wire.d.ts is stale: run 'cd schema && npm run generate' and commit it" >&2
  exit 1
fi
echo "(a) openapi-typescript: wire.d.ts matches schema/openapi.json"

node parity/check-snapshots.mjs

cargo run -q --example parity_vectors >"$work/vectors.json"
node parity/verify.mjs "$work/vectors.json"
