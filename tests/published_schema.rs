//! `schema/wire.schema.json` is the JSON Schema (2020-12) bundle of every wire type, published for
//! the TypeScript platform. It is derived from the OpenAPI components; this test regenerates it and
//! fails on any difference. To rewrite it after a spec change:
//!
//! ```text
//! WK_BLESS=1 cargo test --test published_schema
//! ```

use serde_json::{json, Map, Value};

const SPEC: &str = include_str!("../schema/openapi.json");
const PUBLISHED: &str = "schema/wire.schema.json";

/// Integer formats the spec uses, as JSON Schema bounds (JSON Schema has no such formats).
fn integer_bounds(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint16" => (0, u16::MAX as i128),
        "uint32" => (0, u32::MAX as i128),
        "uint64" => (0, u64::MAX as i128),
        "int64" => (i64::MIN as i128, i64::MAX as i128),
        _ => return None,
    })
}

/// Converts one OpenAPI 3.0 schema object to JSON Schema 2020-12.
fn convert(schema: &Value) -> Value {
    let Value::Object(input) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    let nullable = input.get("nullable") == Some(&Value::Bool(true));
    for (key, value) in input {
        match key.as_str() {
            // OpenAPI-only keywords: `nullable` is folded into `type` below; `discriminator` and
            // `x-…` extensions have no JSON Schema meaning.
            "nullable" | "discriminator" => {}
            k if k.starts_with("x-") => {}
            "$ref" => {
                let name = value
                    .as_str()
                    .unwrap()
                    .trim_start_matches("#/components/schemas/");
                out.insert("$ref".into(), json!(format!("#/$defs/{name}")));
            }
            "type" if nullable => {
                out.insert("type".into(), json!([value, "null"]));
            }
            "format" => match integer_bounds(value.as_str().unwrap()) {
                Some((min, max)) => {
                    let bound = |key: &str, default: i128| {
                        input
                            .get(key)
                            .and_then(Value::as_i64)
                            .map_or(default, i128::from)
                    };
                    out.insert("minimum".into(), json!(bound("minimum", min)));
                    out.insert("maximum".into(), json!(bound("maximum", max)));
                }
                None => {
                    out.insert(key.clone(), value.clone());
                }
            },
            "properties" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), convert(v)))
                    .collect();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(key.clone(), convert(value));
            }
            "oneOf" | "anyOf" | "allOf" => {
                let branches = value.as_array().unwrap().iter().map(convert).collect();
                out.insert(key.clone(), Value::Array(branches));
            }
            "enum" if nullable => {
                let mut values = value.as_array().unwrap().clone();
                values.push(Value::Null);
                out.insert(key.clone(), Value::Array(values));
            }
            _ => {
                if !out.contains_key(key) {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(out)
}

fn generate() -> Value {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let defs: Map<String, Value> = schemas
        .iter()
        .map(|(name, schema)| (name.clone(), convert(schema)))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://platform.wavekat.com/schema/wire.schema.json",
        "title": "WaveKat platform wire types",
        "description": format!(
            "Every wire type of the WaveKat platform client contract, derived from schema/openapi.json (info.version {}). Regenerate with `WK_BLESS=1 cargo test --test published_schema`.",
            spec["info"]["version"].as_str().unwrap()
        ),
        "$defs": defs,
    })
}

#[test]
fn published_schema_matches_the_spec() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PUBLISHED);
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("WK_BLESS").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let published = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("{PUBLISHED} is missing; run WK_BLESS=1 cargo test --test published_schema")
    });
    assert!(
        published == generated,
        "{PUBLISHED} is stale: it differs from what schema/openapi.json produces. \
         Review the spec change, then run WK_BLESS=1 cargo test --test published_schema"
    );
}

#[test]
fn every_spec_schema_is_published() {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let generated = generate();
    for name in spec["components"]["schemas"].as_object().unwrap().keys() {
        assert!(generated["$defs"].get(name).is_some(), "{name} missing");
    }
}

#[test]
fn nullable_fields_accept_null_and_integer_formats_become_bounds() {
    let generated = generate();
    let call = &generated["$defs"]["VoiceCallRecord"]["properties"];
    assert_eq!(call["answerAt"]["type"], json!(["string", "null"]));
    assert_eq!(call["direction"]["$ref"], "#/$defs/VoiceCallDirection");
    let rec = &generated["$defs"]["VoiceRecordingRecord"]["properties"];
    assert_eq!(rec["channels"]["maximum"], json!(65535));
    assert_eq!(rec["channels"].get("format"), None);
    let frame = &generated["$defs"]["ClientFrame"];
    assert_eq!(frame["oneOf"][0]["$ref"], "#/$defs/ClientHello");
    assert_eq!(frame.get("discriminator"), None);
    assert_eq!(frame.get("x-wavekat-transport"), None);
}
