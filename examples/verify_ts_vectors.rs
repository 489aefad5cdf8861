//! Verifies vectors made by the TypeScript package (`node schema/scripts/emit-vectors.mjs`) with
//! this crate, and exits non-zero if the crate's verdict differs from the package's on any of
//! them. `.ci/parity.sh` runs it on freshly made random vectors.
//!
//! Run: `cargo run --example verify_ts_vectors -- FILE`

use std::process::ExitCode;

#[path = "../tests/support/ts_vectors.rs"]
mod ts_vectors;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: verify_ts_vectors FILE");
        return ExitCode::from(2);
    };
    let vectors = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(vectors) => vectors,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = ts_vectors::check(&vectors);
    for failure in &outcome.failures {
        eprintln!("FAIL {failure}");
    }
    println!(
        "rust verifier on TypeScript vectors: {} agreed, {} failed",
        outcome.agreed,
        outcome.failures.len()
    );
    if outcome.failures.is_empty() && outcome.agreed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
