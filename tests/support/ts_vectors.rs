//! Checks vectors made by the TypeScript package (`schema/scripts/emit-vectors.mjs`) with this
//! crate's public API. Every vector carries the TypeScript verdict (`valid`, or `expect` for whole
//! heartbeats); a vector passes when the crate gives the same verdict, and for pairings when the
//! crate recomputes the same transcript, proof and confirm byte for byte.
//!
//! Shared by `examples/verify_ts_vectors.rs` (fresh vectors in CI) and `tests/ts_vectors.rs` (the
//! checked-in `tests/data/ts_vectors.json`).

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use wavekat_platform_client::mobile::{
    pair_confirm, pair_proof, pair_transcript, PairRole, PairingToken, SignedEnvelope,
    TranscriptFields,
};
use wavekat_platform_client::signing::{verify_cert, verify_request, ReleaseVerifier};

/// What checking a vector file found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Vectors on which the crate agreed with the TypeScript package.
    pub agreed: usize,
    /// One line per disagreement or unreadable vector.
    pub failures: Vec<String>,
}

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    value[key]
        .as_str()
        .ok_or_else(|| format!("missing string {key}"))
}

fn number(value: &Value, key: &str) -> Result<u64, String> {
    value[key]
        .as_u64()
        .ok_or_else(|| format!("missing integer {key}"))
}

fn base64(value: &Value, key: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text(value, key)?)
        .map_err(|e| format!("{key}: {e}"))
}

fn hex_bytes(value: &Value, key: &str) -> Result<Vec<u8>, String> {
    hex::decode(text(value, key)?).map_err(|e| format!("{key}: {e}"))
}

fn flag(value: &Value, key: &str) -> Result<bool, String> {
    value[key]
        .as_bool()
        .ok_or_else(|| format!("missing boolean {key}"))
}

fn list<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    value[key]
        .as_array()
        .ok_or_else(|| format!("missing array {key}"))
}

impl Outcome {
    fn record(&mut self, what: String, result: Result<bool, String>) {
        match result {
            Ok(true) => self.agreed += 1,
            Ok(false) => self.failures.push(format!("{what}: the crate disagrees")),
            Err(e) => self
                .failures
                .push(format!("{what}: unreadable vector ({e})")),
        }
    }
}

/// Checks every vector in `vectors` (the JSON the TypeScript package emits).
pub fn check(vectors: &Value) -> Outcome {
    let mut outcome = Outcome::default();
    let release = &vectors["release"];
    let master = release["masterPublicKey"].as_str().unwrap_or_default();

    for (i, c) in list(release, "certificates")
        .into_iter()
        .flatten()
        .enumerate()
    {
        let note = c["note"].as_str().unwrap_or_default();
        outcome.record(
            format!("certificate {i} ({note})"),
            (|| {
                let ours = verify_cert(
                    master,
                    text(c, "version")?,
                    text(c, "publicKey")?,
                    text(c, "certificate")?,
                )
                .is_ok();
                Ok(ours == flag(c, "valid")?)
            })(),
        );
    }

    for (i, r) in list(release, "requests").into_iter().flatten().enumerate() {
        let note = r["note"].as_str().unwrap_or_default();
        outcome.record(
            format!("request {i} ({note})"),
            (|| {
                let ours = verify_request(
                    text(r, "publicKey")?,
                    number(r, "timestamp")?,
                    text(r, "nonce")?,
                    text(r, "method")?,
                    text(r, "path")?,
                    &base64(r, "body")?,
                    text(r, "signature")?,
                )
                .is_ok();
                Ok(ours == flag(r, "valid")?)
            })(),
        );
    }

    for (i, h) in list(release, "heartbeats")
        .into_iter()
        .flatten()
        .enumerate()
    {
        let note = h["note"].as_str().unwrap_or_default();
        outcome.record(format!("heartbeat {i} ({note})"), heartbeat(master, h));
    }

    for (i, p) in list(vectors, "pairings").into_iter().flatten().enumerate() {
        outcome.record(format!("pairing {i}"), pairing(p));
    }

    for (i, e) in list(vectors, "envelopes").into_iter().flatten().enumerate() {
        let note = e["note"].as_str().unwrap_or_default();
        outcome.record(
            format!("envelope {i} ({note})"),
            (|| {
                let envelope = SignedEnvelope {
                    payload: base64(e, "payload")?,
                    sig: hex_bytes(e, "sig")?,
                    key_version: u32::try_from(number(e, "keyVersion")?)
                        .map_err(|_| "keyVersion is not a u32".to_owned())?,
                    bridge_pubkey_multibase: String::new(),
                };
                let ours = envelope.verify_multibase(text(e, "expectedKey")?).is_ok();
                Ok(ours == flag(e, "valid")?)
            })(),
        );
    }
    outcome
}

/// Submits one heartbeat to a fresh verifier pinned at `now`, as many times as `expect` lists
/// verdicts, and compares each rejection code ("ok" for acceptance).
fn heartbeat(master: &str, h: &Value) -> Result<bool, String> {
    let now = number(h, "now")?;
    let verifier = ReleaseVerifier::new(master)
        .map_err(|e| e.to_string())?
        .with_clock(move || now);
    let mut headers = HeaderMap::new();
    for (name, value) in h["headers"].as_object().ok_or("missing headers")? {
        let value = value.as_str().ok_or("header value is not a string")?;
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?,
            HeaderValue::from_str(value).map_err(|e| e.to_string())?,
        );
    }
    let body = base64(h, "body")?;
    let mut agreed = true;
    for expected in list(h, "expect")? {
        let ours = match verifier.verify(text(h, "method")?, text(h, "path")?, &headers, &body) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        agreed &= Some(ours) == expected.as_str();
    }
    Ok(agreed)
}

fn pairing(p: &Value) -> Result<bool, String> {
    let nonce = hex_bytes(p, "nonce")?;
    let fields = TranscriptFields {
        proto: u32::try_from(number(p, "proto")?).map_err(|_| "proto is not a u32".to_owned())?,
        agent: text(p, "agent")?,
        wid: text(p, "wid")?,
        did: text(p, "did")?,
        phone_pubkey: text(p, "pubkey")?,
        nonce: &nonce,
    };
    let token = PairingToken::new(text(p, "token")?);
    let transcript =
        pair_transcript(PairRole::PhoneToDaemon, &fields).map_err(|e| e.to_string())?;
    let proof = pair_proof(&token, &fields).map_err(|e| e.to_string())?;
    let confirm = pair_confirm(&token, &fields).map_err(|e| e.to_string())?;
    Ok(transcript == hex_bytes(p, "transcript")?
        && proof.as_slice() == hex_bytes(p, "proof")?
        && confirm.as_slice() == hex_bytes(p, "confirm")?)
}
