#!/usr/bin/env bash
# The TypeScript package (schema/, published as @wavekat/platform-contract), run by .ci/run with
# the machine's Node and npm:
#  (a) `npm run generate` outputs (wire.d.ts, src/generated/*, the version in package.json) are
#      current: regenerated into a scratch dir and compared;
#  (b) tsc --strict builds dist/ (ESM + .d.ts);
#  (c) every wire snapshot type-checks against wire.d.ts (tsc) and validates (ajv);
#  (d) Rust -> TS: node:test runs the package's tests on vectors the Rust crate makes now;
#  (e) TS -> Rust: the checked-in TypeScript vectors (tests/data/ts_vectors.json) are current, and
#      fresh random ones get the same verdicts from the crate (examples/verify_ts_vectors.rs);
#  (f) npm pack, install the tarball into a scratch project, type-check a platform-style handler
#      with tsc --strict, and run it on a heartbeat the Rust client just signed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo/schema"
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
npm_quiet=(--no-audit --no-fund --loglevel=error)
npm ci "${npm_quiet[@]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

node scripts/generate.mjs --out "$work/generated"
for file in wire.d.ts src/generated/contract.ts src/generated/wire-schema.ts package.json package-lock.json; do
  if ! diff -u "$file" "$work/generated/$file"; then
    echo "(a) schema/$file is stale: run 'npm --prefix schema run generate' and commit the result" >&2
    exit 1
  fi
done
echo "(a) generated files match openapi.json, wire.schema.json and the crate version"

npm run --silent build
echo "(b) tsc --strict: dist/ rebuilt from scratch"

node parity/check-snapshots.mjs

cargo build -q --example parity_vectors --example verify_ts_vectors
"$CARGO_TARGET_DIR/debug/examples/parity_vectors" >"$work/from-rust.json"
WK_RUST_VECTORS="$work/from-rust.json" node --test --test-reporter=dot test/*.test.mjs
echo "(d) node:test passed on fresh Rust vectors"

node scripts/emit-vectors.mjs --out "$work/ts_vectors.json"
if ! cmp -s ../tests/data/ts_vectors.json "$work/ts_vectors.json"; then
  echo "(e) tests/data/ts_vectors.json is stale: run 'npm --prefix schema run vectors' and commit it" >&2
  exit 1
fi
node scripts/emit-vectors.mjs --random --out "$work/ts_random.json"
"$CARGO_TARGET_DIR/debug/examples/verify_ts_vectors" "$work/ts_random.json"
echo "(e) the crate gives the package's verdicts on fresh TypeScript vectors"

tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
listing="$(tar -tzf "$tarball")"
for required in package/package.json package/dist/index.js package/dist/index.d.ts package/wire.d.ts package/openapi.json package/wire.schema.json package/README.md; do
  grep -qx "$required" <<<"$listing" || { echo "(f) $required is missing from the tarball" >&2; exit 1; }
done
# Only what package.json's `files` names (npm adds package.json and README.md itself).
extra="$(grep -Ev '^package/(package\.json|README\.md|wire\.d\.ts|openapi\.json|wire\.schema\.json|dist/.+\.(js|d\.ts))$' <<<"$listing" || true)"
if [ -n "$extra" ]; then
  echo "(f) the tarball ships files the package does not need:" >&2
  echo "$extra" >&2
  exit 1
fi
consumer="$work/consumer"
mkdir "$consumer"
cp "$repo"/.ci/consumer/{package.json,tsconfig.json,handler.ts,main.ts} "$consumer/"
(
  cd "$consumer"
  npm install "${npm_quiet[@]}" --prefer-offline "$tarball"
  ./node_modules/.bin/tsc -p tsconfig.json
  "$CARGO_TARGET_DIR/debug/examples/parity_vectors" >heartbeat.json
  node out/main.js heartbeat.json
)
echo "(f) packed $(basename "$tarball"): a scratch consumer type-checks and verifies a Rust-signed heartbeat"
