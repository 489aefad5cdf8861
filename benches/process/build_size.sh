#!/usr/bin/env bash
# Clean release build time and binary size of a minimal `whoami` program: one depending on this
# crate (default features), one on the published 0.0.37. Each builds from nothing in its own
# target directory (crates already downloaded are reused; nothing compiled is), then runs once
# against the emulator to prove it works. Usage: benches/process/build_size.sh
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
  'let me = wavekat_platform_client::Client::new(&base, wavekat_platform_client::Token::new(token))?.whoami().await?; println!("{}", me.login);'
make_crate whoami-wpc 'wavekat-platform-client = "=0.0.37"' \
  'let me = wavekat_platform_client::Client::new(base, wavekat_platform_client::Token::new(token))?.whoami().await?; println!("{}", me.login);'
echo "| program | clean release build s | binary bytes | stripped bytes | whoami |"
echo "|---|---|---|---|---|"
for name in whoami-ours whoami-wpc; do
  (cd "$WORK/$name" && cargo generate-lockfile -q)
  t0=$(date +%s.%N)
  (cd "$WORK/$name" && CARGO_TARGET_DIR="$WORK/target-$name" cargo build -q --release)
  t1=$(date +%s.%N)
  bin="$WORK/target-$name/release/$name"
  cp "$bin" "$WORK/$name.stripped" && strip "$WORK/$name.stripped"
  login="$("$bin" "$URL" "$TOKEN")"
  printf '| %s | %.1f | %s | %s | %s |\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    "$(stat -c %s "$bin")" "$(stat -c %s "$WORK/$name.stripped")" "$login"
done
