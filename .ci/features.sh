#!/usr/bin/env bash
# Every feature combination of the crate builds and lints clean, and its docs build without a
# warning, as docs.rs renders them.
#  (a) `cargo hack clippy --feature-powerset --lib`: the library alone in each of the 32
#      combinations, without the features the dev-dependencies unify in (a missing tokio
#      feature or an item dead in one combination shows here);
#  (b) every target (tests, examples, binaries) with no feature and with each feature alone
#      (`--each-feature`); all features together is .ci/run's own clippy step. The powerset of
#      every target would take 32 builds of ~50 test crates for what (a) already covers.
#  (c) `cargo doc --all-features` with `RUSTDOCFLAGS=-D warnings`, as a user builds it;
#  (d) the docs.rs build (`--cfg docsrs`, the feature badges; `RUSTC_BOOTSTRAP=1` because
#      `doc_cfg` is a nightly rustdoc feature and this machine has only stable), checked for a
#      badge on a gated module.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
source .ci/lib.sh
ci_tool cargo-hack 0.6.46
crate=(-p wavekat-platform-client)

# `default` is declared (empty); it is no combination of its own.
cargo hack clippy -q "${crate[@]}" --feature-powerset --exclude-features default --lib -- -D warnings
echo "(a) the library: every feature combination lints clean"

cargo hack clippy -q "${crate[@]}" --each-feature --exclude-features default --exclude-all-features \
  --all-targets -- -D warnings
echo "(b) every target, with no feature and with each feature alone, lints clean"

RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps --all-features "${crate[@]}"
echo "(c) cargo doc --all-features: no warning"

RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" \
  cargo doc -q --no-deps --all-features "${crate[@]}"
page="$CARGO_TARGET_DIR/doc/wavekat_platform_client/index.html"
grep -q 'Available on crate feature <code>dev-platform</code> only\|Available on crate feature `dev-platform` only' "$page" || {
  echo "(d) $page shows no feature badge on dev_platform: is #![cfg_attr(docsrs, feature(doc_cfg))] still in src/lib.rs?" >&2
  exit 1
}
echo "(d) the docs.rs build: no warning, gated items badged with their feature"
