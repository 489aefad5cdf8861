//! The TypeScript package's vectors, checked in at `tests/data/ts_vectors.json`
//! (`cd schema && npm run vectors`), verify under this crate with the same verdicts, so the
//! TS → Rust direction is checked by `cargo test` alone, without Node. CI also checks freshly
//! made random ones (`.ci/parity.sh`, `examples/verify_ts_vectors.rs`).

#[path = "support/ts_vectors.rs"]
mod ts_vectors;

fn vectors() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ts_vectors.json");
    let text = std::fs::read_to_string(path).expect("read tests/data/ts_vectors.json");
    serde_json::from_str(&text).expect("parse tests/data/ts_vectors.json")
}

#[test]
fn typescript_vectors_get_the_same_verdicts_from_the_crate() {
    let vectors = vectors();
    let count = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
    let release = &vectors["release"];
    let total = ["certificates", "requests", "heartbeats"]
        .iter()
        .map(|key| count(&release[key]))
        .sum::<usize>()
        + count(&vectors["pairings"])
        + count(&vectors["envelopes"]);
    let outcome = ts_vectors::check(&vectors);
    assert_eq!(outcome.failures, Vec::<String>::new());
    assert_eq!(outcome.agreed, total, "every vector was checked");
    assert!(total >= 90, "only {total} vectors");
}

#[test]
fn typescript_vectors_include_refusals_of_every_kind() {
    let vectors = vectors();
    let release = &vectors["release"];
    let refused = |key: &str| {
        release[key]
            .as_array()
            .expect(key)
            .iter()
            .filter(|v| v["valid"] == false)
            .count()
    };
    assert!(refused("certificates") >= 9);
    assert!(refused("requests") >= 30);
    let codes: Vec<&str> = release["heartbeats"]
        .as_array()
        .expect("heartbeats")
        .iter()
        .flat_map(|h| h["expect"].as_array().expect("expect"))
        .filter_map(|c| c.as_str())
        .collect();
    for code in [
        "ok",
        "replayed",
        "stale",
        "bad_signature",
        "bad_certificate",
        "unsupported_scheme",
        "malformed_header",
    ] {
        assert!(codes.contains(&code), "no heartbeat expects {code}");
    }
}
