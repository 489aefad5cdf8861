#!/usr/bin/env bash
# The contract drill: a spec change reaches users through regeneration alone, and a breaking one
# trips the gate. Run by .ci/run; runs alone too (`bash .ci/drill.sh`).
#
# Drill 1 (additive) copies the repo, applies .ci/drill/edit_spec.py additive to the copy's spec
# (an optional VoiceCallRecord property, a VoiceCallDirection value, a new read operation
# GET /api/voice/calls/{sourceId}), and proves, touching no existing .rs file:
#   - everything compiles (cargo build --all-features --all-targets);
#   - no existing .rs file changed;
#   - the new enum value and property are known (.ci/drill/drill_new_values.rs);
#   - the new operation is a public method, retried once after a 503 (drill_new_operation.rs);
#   - the emulator-parity test fails, naming GET /api/voice/calls/{sourceId};
#   - the gate calls the edits additive and passes.
# Drill 2 (breaking) sets another copy's version to the last released one, removes a property and
# an enum value from its spec and proves the gate fails naming them, then passes once Cargo.toml's
# version has the next minor.
#
# Build sharing: the copies use this target dir as their cargo build dir (warm dependencies),
# with their final artefacts in a subdirectory, so the main build's outputs are not overwritten;
# drill 1's copy gives the crate a `-drill` version suffix so its own artefacts get their own
# slots in the shared build dir (see `isolate` in .ci/drill/edit_spec.py). Nothing else in the
# copy changes but the spec and the two drill test files.
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
shared_build_dir="$CARGO_TARGET_DIR"
export CARGO_BUILD_BUILD_DIR="$shared_build_dir"
export CARGO_TARGET_DIR="$shared_build_dir/drill"
export CARGO_TERM_COLOR=never
export LC_ALL=C
export INSTA_UPDATE=no
unset RUSTFLAGS

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
logs="$work/logs"
mkdir -p "$logs"
results=()
failed=0
started=$(date +%s)

say() { printf '==> %s\n' "$*"; }
pass() { results+=("PASS  $1"); printf '    PASS  %s\n' "$1"; }
fail() {
  results+=("FAIL  $1")
  failed=1
  printf '    FAIL  %s\n' "$1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf '    ---- last lines of %s ----\n' "$(basename "$2")"
    tail -n 40 "$2" | sed 's/^/    | /'
  fi
}

# A copy of the working tree (tracked and untracked files, not ignored ones), no .git.
copy_repo() {
  local dest="$1"
  mkdir -p "$dest"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$repo" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
    tar -xf - -C "$dest"
}

# ---------------------------------------------------------------------------------------------
say "drill 1: additive edits to a copy of the spec"
add="$work/additive"
copy_repo "$add"
python3 .ci/drill/edit_spec.py isolate "$add/Cargo.toml" &&
python3 .ci/drill/edit_spec.py additive "$add/schema/openapi.json" || {
  fail "additive edits apply to the copied spec"
  exit 1
}
if [ -x "${VENV:-$HOME/.cache/wavekat-venv}/bin/openapi-spec-validator" ]; then
  if "${VENV:-$HOME/.cache/wavekat-venv}/bin/openapi-spec-validator" "$add/schema/openapi.json" >"$logs/validate.log" 2>&1; then
    pass "the edited spec is valid OpenAPI 3.0"
  else
    fail "the edited spec is valid OpenAPI 3.0" "$logs/validate.log"
  fi
fi
(cd "$add" && find . -name '*.rs' -not -path './target/*' -print0 | sort -z | xargs -0 sha256sum) >"$work/rs.before"

if (cd "$add" && cargo build --all-features --all-targets) >"$logs/build.log" 2>&1; then
  pass "everything compiles after the additive edits (cargo build --all-features --all-targets)"
else
  fail "everything compiles after the additive edits (cargo build --all-features --all-targets)" "$logs/build.log"
fi

cp .ci/drill/drill_new_values.rs .ci/drill/drill_new_operation.rs "$add/tests/"

if (cd "$add" && cargo test --all-features --test drill_new_values) >"$logs/values.log" 2>&1; then
  pass "the new VoiceCallDirection value and VoiceCallRecord property are known (drill_new_values)"
else
  fail "the new VoiceCallDirection value and VoiceCallRecord property are known (drill_new_values)" "$logs/values.log"
fi

if (cd "$add" && cargo test --all-features --test drill_new_operation) >"$logs/operation.log" 2>&1; then
  pass "client.get_voice_call is callable and retried once after a 503 (drill_new_operation)"
else
  fail "client.get_voice_call is callable and retried once after a 503 (drill_new_operation)" "$logs/operation.log"
fi

(cd "$add" && cargo test --all-features --test emulator_parity) >"$logs/parity.log" 2>&1
parity_rc=$?
if [ "$parity_rc" -ne 0 ] && grep -q 'test result: FAILED' "$logs/parity.log" &&
  grep -qF 'the spec has GET /api/voice/calls/{sourceId} (getVoiceCall), which the emulator does not serve' "$logs/parity.log"; then
  pass "emulator parity fails naming GET /api/voice/calls/{sourceId}"
else
  fail "emulator parity fails naming GET /api/voice/calls/{sourceId} (exit $parity_rc)" "$logs/parity.log"
fi

(cd "$add" && cargo contract) >"$logs/gate-additive.log" 2>&1
gate_rc=$?
if [ "$gate_rc" -eq 0 ] &&
  grep -qF 'verdict: additive' "$logs/gate-additive.log" &&
  grep -qF 'additive: components.schemas.VoiceCallRecord.properties.drillNote added (optional)' "$logs/gate-additive.log" &&
  grep -qF 'additive: components.schemas.VoiceCallDirection.enum value "internal" added' "$logs/gate-additive.log" &&
  grep -qF 'additive: paths./api/voice/calls/{sourceId}.get added (operation getVoiceCall)' "$logs/gate-additive.log"; then
  pass "the gate calls the three edits additive and passes"
else
  fail "the gate calls the three edits additive and passes (exit $gate_rc)"
fi
sed -n '/^contract gate/,$p' "$logs/gate-additive.log" | sed 's/^/    | /'

(cd "$add" && find . -name '*.rs' -not -path './target/*' -print0 | sort -z | xargs -0 sha256sum) >"$work/rs.after"
# The two drill test files are the only .rs files added; none existing changed.
if (cd "$add" && sha256sum --quiet -c "$work/rs.before") >"$logs/rs.log" 2>&1 &&
  [ "$(comm -13 <(cut -c67- "$work/rs.before") <(cut -c67- "$work/rs.after") | tr '\n' ' ')" = "./tests/drill_new_operation.rs ./tests/drill_new_values.rs " ]; then
  pass "no existing .rs file was touched"
else
  fail "no existing .rs file was touched" "$logs/rs.log"
fi

# ---------------------------------------------------------------------------------------------
say "drill 2: a breaking edit to a copy of the spec"
brk="$work/breaking"
copy_repo "$brk"
# The copy starts at the version the contract was last released with, as a maintainer's tree does
# right after a release: the working Cargo.toml may already carry an unreleased bump, which
# rightly lets a breaking change through.
released="$(ls "$brk"/schema/released/openapi-*.json | sed 's/.*openapi-\(.*\)\.json$/\1/' | sort -V | tail -n 1)"
sed -i "0,/^version = \"[^\"]*\"$/s//version = \"$released\"/" "$brk/Cargo.toml"
python3 .ci/drill/edit_spec.py breaking "$brk/schema/openapi.json" || {
  fail "breaking edits apply to the copied spec"
  exit 1
}
(cd "$brk" && cargo contract) >"$logs/gate-breaking.log" 2>&1
gate_rc=$?
if [ "$gate_rc" -eq 1 ] &&
  grep -qF 'breaking: components.schemas.VoiceCallRecord.properties.codec removed' "$logs/gate-breaking.log" &&
  grep -qF 'breaking: components.schemas.VoiceCallDirection.enum value "inbound" removed' "$logs/gate-breaking.log" &&
  grep -qF 'verdict: BREAKING' "$logs/gate-breaking.log" &&
  grep -q '^gate: FAILED: .*bump the version to 0\.[0-9]*\.0 or later' "$logs/gate-breaking.log"; then
  pass "the gate fails on the breaking edit, naming each difference and the version needed"
else
  fail "the gate fails on the breaking edit, naming each difference and the version needed (exit $gate_rc)"
fi
sed -n '/^contract gate/,$p' "$logs/gate-breaking.log" | sed 's/^/    | /'

bumped="$(python3 .ci/drill/edit_spec.py bump "$brk/Cargo.toml")"
(cd "$brk" && cargo contract) >"$logs/gate-bumped.log" 2>&1
gate_rc=$?
if [ "$gate_rc" -eq 0 ] && grep -qF "gate: passed; the breaking changes ship in $bumped" "$logs/gate-bumped.log"; then
  pass "with Cargo.toml at $bumped (the next minor) the same edit passes the gate"
else
  fail "with Cargo.toml at ${bumped:-?} (the next minor) the same edit passes the gate (exit $gate_rc)"
fi
sed -n '/^verdict/,$p' "$logs/gate-bumped.log" | sed 's/^/    | /'

# ---------------------------------------------------------------------------------------------
printf '\n==> drill summary (%ss)\n' "$(($(date +%s) - started))"
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "drill: FAILED" >&2
  exit 1
fi
echo "drill: passed"
