#!/usr/bin/env bash
# The crate as crates.io would get it.
#  (a) the package holds what builds and documents the crate and nothing else (Cargo.toml's
#      `include`): no tests, snapshots, CI scripts, caches or the npm package;
#  (b) `cargo publish --dry-run`: packs the crate and builds the packed copy (default features);
#  (c) the packed copy, unpacked on its own, checks with every feature and documents as docs.rs
#      does, from nothing but what is in the tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
: "${CARGO_TARGET_DIR:=$HOME/.cache/wavekat-target}"
export CARGO_TARGET_DIR
crate=(-p wavekat-platform-client)
# A CI clone is clean; a maintainer running this from a work tree may have edits to try.
dirty=()
[ -n "$(git status --porcelain)" ] && dirty=(--allow-dirty)

listing="$(cargo package -q "${crate[@]}" "${dirty[@]}" --list)"
for required in Cargo.toml README.md CHANGELOG.md LICENSE-APACHE LICENSE-MIT build/main.rs \
  schema/openapi.json src/lib.rs; do
  grep -qx "$required" <<<"$listing" || { echo "(a) $required is missing from the package" >&2; exit 1; }
done
unexpected="$(grep -Ev '^(Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json|README\.md|CHANGELOG\.md|LICENSE-APACHE|LICENSE-MIT|schema/openapi\.json|(build|src)/.*\.rs)$' <<<"$listing" || true)"
if [ -n "$unexpected" ]; then
  echo "(a) the package carries files that neither build nor document the crate:" >&2
  echo "$unexpected" >&2
  exit 1
fi
echo "(a) the package: $(wc -l <<<"$listing") files, all of them build or document the crate"

cargo publish -q "${crate[@]}" "${dirty[@]}" --dry-run
echo "(b) cargo publish --dry-run: packed, and the packed crate builds"

version="$(crate_version)"
cargo package -q "${crate[@]}" "${dirty[@]}" --no-verify
tarball="$CARGO_TARGET_DIR/package/wavekat-platform-client-$version.crate"
[ -f "$tarball" ] || { echo "(c) cargo package wrote no $tarball" >&2; exit 1; }
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
# -m: the files get the time of unpacking, so cargo cannot take the repository's own build of the
# crate (the same package, hashed by its path relative to the workspace) for this one's.
tar -xzmf "$tarball" -C "$unpacked"
(
  cd "$unpacked/wavekat-platform-client-$version"
  # Its own workspace, so the repository's does not claim it.
  printf '\n[workspace]\n' >>Cargo.toml
  cargo check -q --locked --all-features
  RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc -q --locked --no-deps --all-features
)
echo "(c) the unpacked crate checks with every feature and documents as on docs.rs"
