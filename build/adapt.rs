//! The adaptation of the copy of the spec handed to progenitor (never the file itself).

use serde_json::Value;

use crate::spec::is_json;

/// Adapts the in-memory copy of the spec to what progenitor can generate. Each step names why.
pub(crate) fn adapt_for_progenitor(spec: &mut Value) {
    // 5. `format: date-time` marks the RFC 3339 strings of the contract, which every sync
    //    record check enforces before sending (`wire_validate.rs`). Progenitor would make those
    //    properties `chrono::DateTime<Utc>`: a new dependency, an API break for every consumer
    //    that builds records from strings, and a re-rendering of the timestamp (offset and
    //    precision) on the wire instead of the caller's exact string. The Rust fields stay
    //    `String`; the format is read from the spec itself by `build/validate.rs` and
    //    `build/types.rs` (the schemars schema carries it again).
    strip_date_time(spec);
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

            // 2. The release-signature headers of a release-signed operation are computed from
            //    the exact serialized body, which exists only inside the request hook
            //    (`crate::client::Hooks`), so they are not method arguments.
            let release_signed =
                op.get("x-wavekat-signing").and_then(Value::as_str) == Some("release");
            if let Some(params) = op
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .filter(|_| release_signed)
            {
                params.retain(|p| p.get("in").and_then(Value::as_str) != Some("header"));
            }

            // 3. Progenitor knows JSON and `application/octet-stream` bodies only; any other
            //    media type stays a streamed byte body here, and the request hook sets the real
            //    `Content-Type` from the spec (`operation_facts.rs`).
            if let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                let others: Vec<String> = content
                    .keys()
                    .filter(|k| !is_json(k) && k.as_str() != "application/octet-stream")
                    .cloned()
                    .collect();
                for media in others {
                    if let Some(body) = content.remove(&media) {
                        content.insert("application/octet-stream".into(), body);
                    }
                }
            }
        }
    }
}

/// Removes `format: date-time` from every string schema of the copy (step 5).
fn strip_date_time(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("string")
                && map.get("format").and_then(Value::as_str) == Some("date-time")
            {
                map.remove("format");
            }
            for v in map.values_mut() {
                strip_date_time(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_date_time),
        _ => {}
    }
}
