#!/usr/bin/env bash
# Where the compile of a minimal `get_me` program goes, deterministically: the lines of LLVM IR
# (unoptimised, as `cargo llvm-lines` counts them) that rustc hands LLVM for this crate's library
# and for the program, grouped by origin, plus the CPU seconds (user+system) of those two rustc
# runs. The program is the one of build_size.sh, built `--release`; one RUSTC_WRAPPER adds
# `--emit=llvm-ir` with v0 symbol names (which keep generic arguments, so an instantiation of
# serde_json for a generated type counts as that type's) to those two crates only.
#
# Usage: benches/process/build_ir.sh [SOURCE] [CPU_RUNS] [PROGRAM]
#   SOURCE   a git revision of this repository (e.g. HEAD, 8cee4dd), `tree` (the working tree,
#            the default) or `0.0.37` (the published client, whose program calls `whoami`)
#   CPU_RUNS touched rebuilds timed for the CPU seconds (default 3; the least is printed)
#   PROGRAM  `get_me` (the default) or `sync`: a program that also sends `client.sync::<VoiceCalls>`
#            and lists one page of calls (not for 0.0.37)
# Needs python3 and c++filt (binutils) for the grouping. Dependencies are built once into
# $BUILD_IR_TARGET (default ~/.cache/wavekat-build-ir) and reused; only this crate and the
# program are rebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo="$(pwd)"
source_rev="${1:-tree}"
cpu_runs="${2:-3}"
program="${3:-get_me}"
target="${BUILD_IR_TARGET:-$HOME/.cache/wavekat-build-ir}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/wk-build-ir.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

call='let me = wavekat_platform_client::Client::new(&base, wavekat_platform_client::Token::new(token))?.get_me().await?;'
if [ "$program" = sync ]; then
  call="$call let client = wavekat_platform_client::Client::new(\"http://127.0.0.1:1\", wavekat_platform_client::Token::new(\"t\"))?;
    let sent = client.sync::<wavekat_platform_client::sync::VoiceCalls>(&[]).await?;
    let page = client.list_voice_calls(None, None, None).await?;
    println!(\"{} {}\", sent.accepted, page.items.len());"
fi
case "$source_rev" in
  tree) dep="wavekat-platform-client = { path = \"$repo\" }"; src="$repo" ;;
  0.0.37)
    dep='wavekat-platform-client = "=0.0.37"'; src=""
    call='let me = wavekat_platform_client::Client::new(base, wavekat_platform_client::Token::new(token))?.whoami().await?;' ;;
  *)
    mkdir -p "$WORK/src"
    git archive "$source_rev" | tar -x -C "$WORK/src"
    dep="wavekat-platform-client = { path = \"$WORK/src\" }"; src="$WORK/src" ;;
esac

mkdir -p "$WORK/prog/src"
cat >"$WORK/prog/Cargo.toml" <<TOML
[package]
name = "get-me-program"
version = "0.1.0"
edition = "2021"
[dependencies]
$dep
tokio = { version = "1", features = ["rt", "macros"] }
[profile.release]
debug = false
[workspace]
TOML
cat >"$WORK/prog/src/main.rs" <<RS
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (base, token) = (args.next().ok_or("base url")?, args.next().ok_or("token")?);
    $call
    println!("{}", me.login);
    Ok(())
}
RS
# The dependency versions of the measured tree's own lock file, so two revisions compare alike.
if [ -n "$src" ] && [ -f "$src/Cargo.lock" ]; then cp "$src/Cargo.lock" "$WORK/prog/"; fi

cat >"$WORK/wrap.sh" <<'SH'
#!/usr/bin/env bash
# RUSTC_WRAPPER: for the two measured crates, appends $BUILD_IR_FLAGS and records the CPU time.
rustc="$1"; shift
name=""; prev=""
for a in "$@"; do [ "$prev" = "--crate-name" ] && name="$a"; prev="$a"; done
case "$name" in
  wavekat_platform_client|get_me_program)
    case " $* " in *" --crate-type lib "*|*" --crate-type bin "*) ;; *) exec "$rustc" "$@" ;; esac
    # shellcheck disable=SC2086
    exec /usr/bin/time -f "$name %U %S" -a -o "$BUILD_IR_TIMES" "$rustc" "$@" $BUILD_IR_FLAGS ;;
esac
exec "$rustc" "$@"
SH
chmod +x "$WORK/wrap.sh"

build() { # flags, times file
  # Touch the crate so both measured units are compiled again (dependencies are reused).
  if [ -n "$src" ]; then touch "$src/src/lib.rs"; else touch "$WORK/prog/src/main.rs"; fi
  [ -n "$src" ] || cargo clean -q --release -p wavekat-platform-client --manifest-path "$WORK/prog/Cargo.toml" --target-dir "$target"
  env -C "$WORK/prog" CARGO_TARGET_DIR="$target" RUSTC_WRAPPER="$WORK/wrap.sh" \
    BUILD_IR_FLAGS="$1" BUILD_IR_TIMES="$2" cargo build -q --release
}

rm -f "$target"/release/deps/wavekat_platform_client-*.ll "$target"/release/deps/get_me_program-*.ll
build "--emit=llvm-ir -Csymbol-mangling-version=v0 -Cno-prepopulate-passes -Cpasses=name-anon-globals" /dev/null
mv "$target"/release/deps/wavekat_platform_client-*.ll "$WORK/library.ll"
mv "$target"/release/deps/get_me_program-*.ll "$WORK/program.ll"
for i in $(seq "$cpu_runs"); do build "" "$WORK/cpu"; done

python3 - "$WORK/cpu" "$WORK/library.ll" "$WORK/program.ll" <<'PY'
import collections, re, subprocess, sys

W = "wavekat_platform_client::"
MODULES = ["mobile", "signin", "signing", "sync", "wire", "error", "heartbeat", "upload", "retry",
           "calendar", "token", "tls", "plain_http", "html", "code_exchange", "client"]

def origin(name):
    if W not in name:
        return "std/tokio/reqwest/http/serde_json code instantiated here"
    if re.search(W + r"client::Client>::call_(json|unit|bytes)|" + W + r"client::Client>::scoped", name):
        return "call wrappers, one per operation (call_json, ...)"
    if re.search(r"ClientHooks|execute_with_retries|" + W + r"client::(?:(?:hooks|settle)::)?(prepare|send|map_error|error_from_response|operation|path_fits_template)|client::Client>::settle", name):
        return "request hooks, retry loop, shared call path (client/)"
    if W + "generated::Client>::" in name:
        return "generated operations (progenitor's methods)"
    if W + "generated::types" in name:
        return "generated types (their serde impls, the serde_json code they instantiate)"
    if re.search(W + r"(operations::|client::Client>::(get_|list_|sync_voice|exchange_|revoke_|upload_recording_bytes|send_install))", name):
        return "public operation methods (operations.rs)"
    for m in MODULES:
        if W + m + "::" in name:
            return "crate::" + m
    return "crate (other)"

def functions(path):
    out, cur, n = [], None, 0
    with open(path, errors="replace") as f:
        for line in f:
            if cur is None:
                if line.startswith("define "):
                    m = re.search(r'@("?)([^\s("]+)\1\(', line)
                    cur, n = (m.group(2) if m else "?"), 0
            elif line.rstrip("\n") == "}":
                out.append((cur, n)); cur = None
            elif line.startswith("  ") and not line.startswith("   "):
                n += 1  # the lines `cargo llvm-lines` counts
    names = subprocess.run(["c++filt", "--format=rust"], input="\n".join(m for m, _ in out),
                           capture_output=True, text=True, check=True).stdout.split("\n")
    return [(re.sub(r"\[[0-9a-f]+\]", "", d), n) for (_, n), d in zip(out, names)]

cpu = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, user, system = line.split()
    cpu[name].append(float(user) + float(system))
for label, crate, path in [("library", "wavekat_platform_client", sys.argv[2]),
                           ("program", "get_me_program", sys.argv[3])]:
    rows = functions(path)
    total = sum(n for _, n in rows)
    runs = ", ".join(f"{c:.2f}" for c in cpu[crate])
    print(f"\n{label}: {total} IR lines, {len(rows)} functions; rustc CPU s {min(cpu[crate]):.2f} (runs: {runs})")
    groups = collections.defaultdict(lambda: [0, 0, []])
    for name, n in rows:
        g = groups[origin(name)]
        g[0] += n; g[1] += 1; g[2].append((n, name))
    print("| origin | IR lines | share | functions | largest |")
    print("|---|---|---|---|---|")
    for key, (lines, count, fs) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        n, top = max(fs)
        top = re.sub(W, "", top)
        top = top if len(top) < 90 else top[:87] + "..."
        print(f"| {key} | {lines} | {100 * lines / total:.1f} % | {count} | `{top}` ({n}) |")
PY
