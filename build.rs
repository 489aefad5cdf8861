//! Generates the typed platform client from `schema/openapi.json` with progenitor.
//!
//! The checked-in spec is the contract and stays truthful to the wire. Progenitor cannot express
//! three of its facts, so the copy handed to the generator (never the file) is adapted first; each
//! adaptation is listed in `adapt_for_progenitor`. The hand-written layers in `src/` supply the
//! behaviour those adaptations leave out.

use std::error::Error;
use std::path::PathBuf;
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};
use serde_json::Value;

const SPEC: &str = "schema/openapi.json";

/// Spec schemas whose Rust type is hand-written in `src/wire.rs`: the enums gain a catch-all that
/// keeps unknown strings, and the per-resource request/page shapes become the generic
/// `SyncRequest<R>` / `Page<R>` users already know.
const REPLACEMENTS: &[(&str, &str)] = &[
    ("VoiceCallDirection", "crate::wire::VoiceCallDirection"),
    ("VoiceCallDisposition", "crate::wire::VoiceCallDisposition"),
    ("VoiceCallEndReason", "crate::wire::VoiceCallEndReason"),
    ("VoiceCallCodec", "crate::wire::VoiceCallCodec"),
    ("VoiceCallFlowOutcome", "crate::wire::VoiceCallFlowOutcome"),
    ("ShareVisibility", "crate::wire::ShareVisibility"),
    (
        "VoiceTranscriptChannel",
        "crate::wire::VoiceTranscriptChannel",
    ),
    ("VoiceTransport", "crate::wire::VoiceTransport"),
    (
        "VoiceCallsPage",
        "crate::wire::Page<types::VoiceCallRecord>",
    ),
    (
        "VoiceRecordingsPage",
        "crate::wire::Page<types::VoiceRecordingRecord>",
    ),
    (
        "VoiceTranscriptsPage",
        "crate::wire::Page<types::VoiceTranscriptRecord>",
    ),
    (
        "VoiceAccountsPage",
        "crate::wire::Page<types::VoiceAccountRecord>",
    ),
    (
        "VoiceCallsSyncRequest",
        "crate::wire::SyncRequest<types::VoiceCallRecord>",
    ),
    (
        "VoiceRecordingsSyncRequest",
        "crate::wire::SyncRequest<types::VoiceRecordingRecord>",
    ),
    (
        "VoiceTranscriptsSyncRequest",
        "crate::wire::SyncRequest<types::VoiceTranscriptRecord>",
    ),
    (
        "VoiceAccountsSyncRequest",
        "crate::wire::SyncRequest<types::VoiceAccountRecord>",
    ),
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");

    let mut spec: Value = serde_json::from_str(&fs::read_to_string(SPEC)?)
        .map_err(|e| format!("{SPEC} is not valid JSON: {e}"))?;
    adapt_for_progenitor(&mut spec);
    let spec: openapiv3::OpenAPI = serde_json::from_value(spec)
        .map_err(|e| format!("{SPEC} is not an OpenAPI 3.0 document: {e}"))?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        .with_inner_type("crate::client::Hooks".parse()?)
        .with_hooks(HooksMode::Expected)
        .with_derive("PartialEq");
    for (name, rust) in REPLACEMENTS {
        settings.with_replacement(name, rust, std::iter::empty());
    }

    let tokens = Generator::new(&settings).generate_tokens(&spec)?;
    let file: syn::File = syn::parse2(tokens)?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("platform_api.rs");
    fs::write(out, prettyplease::unparse(&file))?;
    Ok(())
}

/// Adapts the in-memory copy of the spec to what progenitor can generate. Each step names why.
fn adapt_for_progenitor(spec: &mut Value) {
    // 4. The mobile WebSocket frames are published in the spec's components (one schema for every
    //    client) but are not HTTP bodies; their Rust types are hand-written in `src/mobile`
    //    (unknown-type catch-all, byte-array encodings), so progenitor does not generate them.
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.retain(|_, schema| schema.get("x-wavekat-transport").is_none());
    }
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };

            // 1. Only 2xx responses are generated. Progenitor parses documented error bodies as
            //    JSON and drops the status when that fails, but the contract matches 401 bodies
            //    as raw text (a proxy may answer in HTML) and error values carry status, URL and
            //    a 500-byte body. Undocumented statuses reach `crate::Error` as raw responses.
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.retain(|status, _| status.starts_with('2'));
            }

            // 2. The release-signature headers are computed from the exact serialized body, which
            //    exists only inside the request hook (`crate::client::Hooks`), so they are not
            //    method arguments.
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.retain(|p| p.get("in").and_then(Value::as_str) != Some("header"));
            }

            // 3. Progenitor knows `application/octet-stream` but not `audio/wav`; the body stays a
            //    streamed byte body and the request hook sets `Content-Type: audio/wav`.
            if let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                if let Some(wav) = content.remove("audio/wav") {
                    content.insert("application/octet-stream".into(), wav);
                }
            }
        }
    }
}
