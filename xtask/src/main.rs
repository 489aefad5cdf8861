//! Maintainer commands for wavekat-platform-client (aliases in `.cargo/config.toml`):
//!
//! - `cargo contract`: the breaking-change gate. Compares `schema/openapi.json` with the contract
//!   as last released (`schema/released/openapi-<version>.json`, the highest version there),
//!   prints one line per difference and a verdict, and fails on a breaking difference unless the
//!   crate's version in `Cargo.toml` is a new minor (pre-1.0) or major over the released one.
//! - `cargo regen`: regenerates everything derived from the spec (the JSON Schema and the
//!   TypeScript types), shows what changed, and ends with the gate's verdict.

mod contract;
mod version;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

use contract::Class;
use version::Version;

const USAGE: &str = "usage: cargo xtask <contract | regen>
  contract   the breaking-change gate: schema/openapi.json against schema/released/ (also: cargo contract)
  regen      regenerate schema/wire.schema.json and schema/wire.d.ts, show the diff, print the verdict (also: cargo regen)";

fn main() -> ExitCode {
    let root = workspace_root();
    let command = std::env::args().nth(1);
    let outcome = match command.as_deref() {
        Some("contract") => gate(&root),
        Some("regen") => regen(&root),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: the parent of this package's directory, as `cargo run` gives it at run
/// time (not the compile-time path: a copy of the repo sharing a build directory may run a binary
/// built for another checkout), else the nearest directory above the current one holding
/// `schema/openapi.json`.
fn workspace_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let dir = PathBuf::from(dir);
        if let Some(parent) = dir.parent() {
            return parent.to_path_buf();
        }
    }
    let mut dir = std::env::current_dir().unwrap_or_default();
    loop {
        if dir.join("schema/openapi.json").is_file() || !dir.pop() {
            return dir;
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The released contract with the highest version in `schema/released/`.
fn last_released(root: &Path) -> Result<(Version, PathBuf), String> {
    let dir = root.join("schema/released");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut best: Option<(Version, PathBuf)> = None;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(v) = name
            .strip_prefix("openapi-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let v = Version::parse(v).map_err(|e| format!("{}: {e}", path.display()))?;
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, path));
        }
    }
    best.ok_or_else(|| {
        format!(
            "{} holds no openapi-<version>.json: keep the spec of the last release there",
            dir.display()
        )
    })
}

fn relative<'a>(root: &Path, path: &'a Path) -> std::borrow::Cow<'a, str> {
    match path.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy(),
        Err(_) => path.to_string_lossy(),
    }
}

/// The breaking-change gate; `Ok(false)` when a breaking change lacks the version bump.
fn gate(root: &Path) -> Result<bool, String> {
    let (released_version, released_path) = last_released(root)?;
    let working_path = root.join("schema/openapi.json");
    let released = read_json(&released_path)?;
    let working = read_json(&working_path)?;
    let crate_version = version::package_version(&read(&root.join("Cargo.toml"))?)?;

    println!(
        "contract gate: {} against {} (released with {released_version})",
        relative(root, &working_path),
        relative(root, &released_path),
    );
    let found = contract::compare(&released, &working);
    for difference in &found {
        println!("{difference}");
    }
    let count = |class| found.iter().filter(|d| d.class == class).count();
    let (breaking, additive, cosmetic) = (
        count(Class::Breaking),
        count(Class::Additive),
        count(Class::Cosmetic),
    );
    let verdict = if breaking > 0 {
        "BREAKING"
    } else if additive > 0 {
        "additive"
    } else if cosmetic > 0 {
        "cosmetic"
    } else {
        "unchanged"
    };
    println!("verdict: {verdict} ({breaking} breaking, {additive} additive, {cosmetic} cosmetic)");

    if crate_version < released_version {
        return Err(format!(
            "Cargo.toml's version {crate_version} is older than the released contract's {released_version}"
        ));
    }
    let needed = released_version.next_breaking();
    if breaking == 0 {
        println!("gate: passed; Cargo.toml's version is {crate_version}");
        return Ok(true);
    }
    if crate_version >= needed {
        println!(
            "gate: passed; the breaking changes ship in {crate_version}, a new {} over {released_version}",
            if released_version.major == 0 { "minor" } else { "major" }
        );
        return Ok(true);
    }
    println!(
        "gate: FAILED: {breaking} breaking change(s) to the contract released with {released_version}, \
         but Cargo.toml's version is {crate_version}. Undo them, or bump the version to {needed} or later \
         ({} a breaking change needs a new {}).",
        if released_version.major == 0 { "pre-1.0," } else { "from 1.0," },
        if released_version.major == 0 { "minor" } else { "major" }
    );
    Ok(false)
}

/// Runs a command in `root`, echoing it; an unsuccessful exit is an error.
fn run(root: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    println!(
        "$ {}{program} {}",
        env.iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect::<String>(),
        args.join(" ")
    );
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed ({status})", args.join(" ")))
    }
}

/// The files derived from the spec, for `git diff`: everything under `schema/` except the spec
/// itself, the released contracts and the npm install.
const DERIVED: &[&str] = &[
    "--",
    "schema",
    ":(exclude)schema/openapi.json",
    ":(exclude)schema/released",
    ":(exclude)schema/node_modules",
];

/// Regenerates everything derived from the spec, shows what changed, and prints the gate's verdict.
fn regen(root: &Path) -> Result<bool, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());

    println!("==> the JSON Schema (schema/wire.schema.json), from the Rust types");
    run(
        root,
        &cargo,
        &["test", "-q", "--all-features", "--test", "published_schema"],
        &[("WK_BLESS", "1")],
    )?;

    println!("\n==> the TypeScript package (schema/)");
    let npm_present = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if npm_present {
        if !root.join("schema/node_modules").is_dir() {
            run(
                root,
                "npm",
                &[
                    "--prefix",
                    "schema",
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ],
                &[],
            )?;
        }
        run(root, "npm", &["--prefix", "schema", "run", "generate"], &[])?;
    } else {
        println!(
            "SKIPPED: npm is not on PATH, so the TypeScript types (schema/wire.d.ts) were NOT \
             regenerated. Install Node.js and run `cargo regen` again before committing."
        );
    }

    println!("\n==> what changed (files derived from the spec)");
    let mut diff_args = vec!["diff", "--stat"];
    diff_args.extend_from_slice(DERIVED);
    let shown = Command::new("git")
        .args(&diff_args)
        .current_dir(root)
        .output();
    let mut status_args = vec!["status", "--short", "--untracked-files=all"];
    status_args.extend_from_slice(DERIVED);
    let untracked = Command::new("git")
        .args(&status_args)
        .current_dir(root)
        .output();
    match (shown, untracked) {
        (Ok(diff), Ok(status)) if diff.status.success() && status.status.success() => {
            let diff = String::from_utf8_lossy(&diff.stdout);
            let new_files: Vec<String> = String::from_utf8_lossy(&status.stdout)
                .lines()
                .filter(|l| l.starts_with("??"))
                .map(str::to_owned)
                .collect();
            if diff.trim().is_empty() && new_files.is_empty() {
                println!("nothing: the derived files already match the spec");
            } else {
                print!("{diff}");
                for line in new_files {
                    println!("{line} (new)");
                }
            }
        }
        _ => println!("(not a git checkout, or no git: cannot show the diff)"),
    }

    println!("\n==> the breaking-change verdict");
    gate(root)
}
