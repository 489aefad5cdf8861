#!/usr/bin/env bash
# The Rust API gate, beside the wire gate (`cargo contract`): cargo-semver-checks compares the
# crate's public Rust API with the source released last (its version and commit are in
# .ci/api-baseline) and fails on a break the version in Cargo.toml does not allow (pre-1.0, a
# break needs a new minor). Then it proves it would catch one: the same comparison, told the next
# release is only a patch, must fail, on the 0.1 -> 0.2 breaks CHANGELOG.md records.
#
#   bash .ci/api_gate.sh            # the gate and its drill
#   bash .ci/api_gate.sh --report   # the gate's whole verdict, for writing the CHANGELOG
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
source .ci/lib.sh
ci_tool cargo-semver-checks 0.51.0

read -r released rev < <(grep -v '^#' .ci/api-baseline)
git cat-file -e "$rev^{commit}" 2>/dev/null || {
  echo "the baseline commit $rev (release $released, .ci/api-baseline) is not in this clone:" \
    "fetch the full history (git fetch --unshallow) and run again" >&2
  exit 1
}
version="$(crate_version)"
check=(cargo semver-checks check-release -p wavekat-platform-client --baseline-rev "$rev" --all-features)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "${check[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo >&2
  echo "The public Rust API of $version breaks code written against $released (commit ${rev:0:12})" \
    "in a way the version does not allow. Either keep the old API, or move the version to the next" \
    "minor (pre-1.0) and record each break with its migration in CHANGELOG.md, under the new" \
    "version's \"Migrating from\" section." >&2
  exit 1
fi
echo "API gate: the public Rust API of $version against $released (commit ${rev:0:12}): allowed by the version"

# The drill, which also lists the breaks: told the same API is only a patch over the release, the
# gate must refuse it.
if "${check[@]}" --release-type patch >"$log" 2>&1; then
  cat "$log" >&2
  echo "API gate drill: this API as a patch release over $released passed; the gate detects nothing" >&2
  exit 1
fi
[ "${1:-}" = "--report" ] && cat "$log"
from="${released%.*}" to="${version%.*}"
heading="### Migrating from $from to $to"
grep -qxF "$heading" CHANGELOG.md || {
  grep '^--- failure' "$log" >&2
  echo "API gate: $version breaks $released's API (above) and CHANGELOG.md has no \"$heading\"" \
    "section: record each break there with what to write instead" >&2
  exit 1
}
kinds="$(grep '^--- failure' "$log" | sed 's/^--- failure \([a-z_]*\):.*/\1/' | paste -sd, - | sed 's/,/, /g')"
echo "API gate drill: the same API as a patch over $released is refused ($kinds);" \
  "the migration is CHANGELOG.md § \"${heading#\#\#\# }\""
