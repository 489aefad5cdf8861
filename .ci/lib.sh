# Shared by the .ci scripts: sourced, not run.

# Installs the cargo subcommand NAME at VERSION into ~/.cache/wavekat-tools (outside the clone,
# kept between runs) unless it is there already, and puts that folder on PATH.
ci_tool() {
  local name="$1" version="$2" tools="$HOME/.cache/wavekat-tools"
  export PATH="$tools/bin:$PATH"
  command -v "$name" >/dev/null || cargo install -q --locked --root "$tools" "$name@$version"
}

# The version Cargo.toml gives the crate.
crate_version() {
  cargo metadata -q --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="wavekat-platform-client"))'
}
