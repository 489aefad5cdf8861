#!/usr/bin/env bash
# Clean release build time and binary size of a minimal `whoami` program: one depending on this
# crate (default features), one on the published 0.0.37. Each builds from nothing in its own
# target directory (crates already downloaded are reused; nothing compiled is), RUNS times,
# interleaved (ours, 0.0.37, ours, …) so both see the same machine load; wall and CPU
# (user+system) seconds per build, the best of each, and the binary run once against the
# emulator to prove it works. Usage: benches/process/build_size.sh [RUNS]   (default 3)
source "$(dirname "$0")/common.sh"
repo="$(pwd)"
start_platform
make_crate() { # name, dependency line, client expression
  mkdir -p "$WORK/$1/src"
  cat >"$WORK/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2021"
[dependencies]
$2
tokio = { version = "1", features = ["rt", "macros"] }
[profile.release]
debug = false
TOML
  cat >"$WORK/$1/src/main.rs" <<RS
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (base, token) = (args.next().ok_or("base url")?, args.next().ok_or("token")?);
    $3
    Ok(())
}
RS
}
make_crate whoami-ours "wavekat-platform-client = { path = \"$repo\" }" \
  'let me = wavekat_platform_client::Client::new(&base, wavekat_platform_client::Token::new(token))?.get_me().await?; println!("{}", me.login);'
make_crate whoami-wpc 'wavekat-platform-client = "=0.0.37"' \
  'let me = wavekat_platform_client::Client::new(base, wavekat_platform_client::Token::new(token))?.whoami().await?; println!("{}", me.login);'
runs="${1:-3}"
for name in whoami-ours whoami-wpc; do (cd "$WORK/$name" && cargo generate-lockfile -q && cargo fetch -q); done
echo "| program | run | clean release build wall s | CPU s (user+sys) |"
echo "|---|---|---|---|"
declare -A best_wall best_cpu
for run in $(seq "$runs"); do
  for name in whoami-ours whoami-wpc; do
    rm -rf "$WORK/target-$name"
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
      env -C "$WORK/$name" CARGO_TARGET_DIR="$WORK/target-$name" cargo build -q --release
    read -r wall user sys <"$WORK/time"
    cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')"
    printf '| %s | %s | %.1f | %s |\n' "$name" "$run" "$wall" "$cpu"
    if [ -z "${best_wall[$name]:-}" ] || awk -v a="$wall" -v b="${best_wall[$name]}" 'BEGIN { exit !(a < b) }'; then best_wall[$name]="$wall"; fi
    if [ -z "${best_cpu[$name]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$name]}" 'BEGIN { exit !(a < b) }'; then best_cpu[$name]="$cpu"; fi
  done
done
echo
echo "| program | best build wall s | best CPU s | binary bytes | stripped bytes | whoami |"
echo "|---|---|---|---|---|---|"
for name in whoami-ours whoami-wpc; do
  bin="$WORK/target-$name/release/$name"
  cp "$bin" "$WORK/$name.stripped" && strip "$WORK/$name.stripped"
  login="$("$bin" "$URL" "$TOKEN")"
  printf '| %s | %.1f | %s | %s | %s | %s |\n' "$name" "${best_wall[$name]}" "${best_cpu[$name]}" \
    "$(stat -c %s "$bin")" "$(stat -c %s "$WORK/$name.stripped")" "$login"
done
