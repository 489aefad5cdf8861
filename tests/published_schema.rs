//! `schema/wire.schema.json` is the JSON Schema (2020-12) bundle of every wire type, published for
//! the TypeScript platform. It is produced from the Rust types through schemars
//! ([`wavekat_platform_client::wire::component_schemas`]), keyed by the spec's component names;
//! this test regenerates it and fails on any difference. A second test proves the Rust-derived
//! schemas and the spec's components agree in both directions. To rewrite the file after a spec
//! or type change:
//!
//! ```text
//! WK_BLESS=1 cargo test --test published_schema
//! ```
#![cfg(feature = "schemars")]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use wavekat_platform_client::wire::component_schemas;

const SPEC: &str = include_str!("../schema/openapi.json");
const PUBLISHED: &str = "schema/wire.schema.json";

/// Integer formats as JSON Schema bounds.
fn integer_bounds(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint8" => (0, u8::MAX as i128),
        "uint16" => (0, u16::MAX as i128),
        "uint32" => (0, u32::MAX as i128),
        "uint64" => (0, u64::MAX as i128),
        "int8" => (i8::MIN as i128, i8::MAX as i128),
        "int16" => (i16::MIN as i128, i16::MAX as i128),
        "int32" => (i32::MIN as i128, i32::MAX as i128),
        "int64" => (i64::MIN as i128, i64::MAX as i128),
        _ => return None,
    })
}

/// Makes a schemars schema publishable for validators that know no formats (ajv in strict mode
/// refuses an unknown one): integer formats become `minimum`/`maximum`, other formats go.
fn publishable(schema: &Value) -> Value {
    match schema {
        Value::Object(input) => {
            let mut out = Map::new();
            for (key, value) in input {
                match key.as_str() {
                    "format" => {
                        if let Some((min, max)) = value.as_str().and_then(integer_bounds) {
                            let bound = |key: &str, default: i128| {
                                input
                                    .get(key)
                                    .and_then(Value::as_i64)
                                    .map_or(default, i128::from)
                            };
                            out.insert("minimum".into(), json!(bound("minimum", min)));
                            out.insert("maximum".into(), json!(bound("maximum", max)));
                        }
                    }
                    "minimum" | "maximum" if input.contains_key("format") => {}
                    _ => {
                        out.insert(key.clone(), publishable(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(publishable).collect()),
        other => other.clone(),
    }
}

fn generate() -> Value {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let defs: Map<String, Value> = component_schemas()
        .iter()
        .map(|(name, schema)| (name.clone(), publishable(schema)))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://platform.wavekat.com/schema/wire.schema.json",
        "title": "WaveKat platform wire types",
        "description": format!(
            "Every wire type of the WaveKat platform client contract (schema/openapi.json, info.version {}), derived from the Rust types of wavekat-platform-client through schemars. Regenerate with `WK_BLESS=1 cargo test --test published_schema`.",
            spec["info"]["version"].as_str().unwrap()
        ),
        "$defs": defs,
    })
}

#[test]
fn published_schema_matches_the_rust_types() {
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
        "{PUBLISHED} is stale: it differs from what the Rust types produce. \
         Review the change, then run WK_BLESS=1 cargo test --test published_schema"
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
fn published_schema_has_no_formats_and_keeps_integer_bounds() {
    let generated = generate();
    let text = generated.to_string();
    assert!(!text.contains("\"format\""), "a format survived: {text}");
    let rec = &generated["$defs"]["VoiceRecordingRecord"]["properties"];
    assert_eq!(rec["channels"]["maximum"], json!(65535));
    assert_eq!(rec["channels"]["minimum"], json!(0));
    let call = &generated["$defs"]["VoiceCallRecord"]["properties"];
    assert_eq!(call["direction"]["$ref"], "#/$defs/VoiceCallDirection");
    let frame = &generated["$defs"]["ClientFrame"];
    assert!(
        frame["oneOf"]
            .as_array()
            .unwrap()
            .contains(&json!({"$ref": "#/$defs/ClientHello"})),
        "{frame}"
    );
}

// ---------------------------------------------------------------------------------------------
// The two sides agree.
// ---------------------------------------------------------------------------------------------

/// What the comparison looks at in one schema: JSON types (without `null`), format, the
/// referenced component, enum values, and the items of an array.
#[derive(Debug, PartialEq, Default)]
struct Shape {
    types: BTreeSet<String>,
    format: Option<String>,
    reference: Option<String>,
    values: Option<BTreeSet<String>>,
    items: Option<Box<Shape>>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

fn ref_name(reference: &str) -> String {
    reference
        .trim_start_matches("#/components/schemas/")
        .trim_start_matches("#/$defs/")
        .to_owned()
}

/// The shape of a schema on either side: OpenAPI's `nullable` and `allOf: [$ref]`, JSON Schema's
/// `type: [.., "null"]`, `anyOf: [x, {type: null}]` and `const` all normalise to the same thing.
fn shape(schema: &Value) -> Shape {
    let Some(map) = schema.as_object() else {
        return Shape::default();
    };
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = map.get(combinator).and_then(Value::as_array) {
            let real: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .collect();
            if real.len() == 1 {
                return shape(real[0]);
            }
        }
    }
    let mut out = Shape::default();
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        out.reference = Some(ref_name(r));
    }
    match map.get("type") {
        Some(Value::String(t)) => {
            out.types.insert(t.clone());
        }
        Some(Value::Array(ts)) => {
            out.types = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .map(str::to_owned)
                .collect();
        }
        _ => {}
    }
    out.format = map.get("format").and_then(Value::as_str).map(str::to_owned);
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        out.values = Some(
            values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
        );
    }
    if let Some(value) = map.get("const") {
        out.values = Some(BTreeSet::from([value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)]));
    }
    if let Some(items) = map.get("items") {
        out.items = Some(Box::new(shape(items)));
    }
    out.minimum = map.get("minimum").and_then(Value::as_i64);
    out.maximum = map.get("maximum").and_then(Value::as_i64);
    out
}

/// The differences between a spec schema and a Rust schema, each naming where.
fn compare(place: &str, spec: &Shape, rust: &Shape, out: &mut Vec<String>) {
    if spec.reference != rust.reference {
        out.push(format!(
            "{place}: the spec refers to {:?}, the Rust type to {:?}",
            spec.reference, rust.reference
        ));
        return;
    }
    if spec.types != rust.types {
        out.push(format!(
            "{place}: the spec's type is {:?}, the Rust type's {:?}",
            spec.types, rust.types
        ));
    }
    match (&spec.format, &rust.format) {
        (Some(a), Some(b)) if a != b => out.push(format!(
            "{place}: the spec's format is {a:?}, the Rust type's {b:?}"
        )),
        (Some(a), None) => out.push(format!(
            "{place}: the spec's format is {a:?}, the Rust type has none"
        )),
        (None, Some(b)) => {
            // A sized integer with no format in the spec is fine when the spec's bounds are
            // exactly that integer's range (byte arrays are written so).
            let range = integer_bounds(b);
            let spec_range = spec
                .minimum
                .zip(spec.maximum)
                .map(|(a, b)| (a as i128, b as i128));
            if range.is_none() || range != spec_range {
                out.push(format!(
                    "{place}: the Rust type's format is {b:?}, the spec has none (bounds {:?})",
                    spec_range
                ));
            }
        }
        _ => {}
    }
    if spec.values != rust.values {
        out.push(format!(
            "{place}: the spec's enum values are {:?}, the Rust type's {:?}",
            spec.values, rust.values
        ));
    }
    match (&spec.items, &rust.items) {
        (Some(a), Some(b)) => compare(&format!("{place}[]"), a, b, out),
        (None, None) => {}
        (a, b) => out.push(format!(
            "{place}: array items in the spec {:?}, in the Rust type {:?}",
            a.is_some(),
            b.is_some()
        )),
    }
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn differences(spec_schemas: &Map<String, Value>, rust: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for name in rust.keys() {
        if !spec_schemas.contains_key(name) {
            out.push(format!(
                "{name}: a Rust wire type the spec does not document"
            ));
        }
    }
    for (name, spec) in spec_schemas {
        let Some(rust) = rust.get(name) else {
            out.push(format!("{name}: in the spec, but no Rust type carries it"));
            continue;
        };
        if let Some(branches) = spec.get("oneOf").and_then(Value::as_array) {
            let refs = |bs: &[Value]| -> BTreeSet<String> {
                bs.iter()
                    .map(|b| {
                        b.get("$ref")
                            .and_then(Value::as_str)
                            .map_or_else(|| format!("inline {b}"), ref_name)
                    })
                    .collect()
            };
            let rust_branches = rust
                .get("oneOf")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let (a, b) = (refs(branches), refs(&rust_branches));
            for missing in a.difference(&b) {
                out.push(format!(
                    "{name}: the spec's variant {missing} has no Rust branch"
                ));
            }
            for extra in b.difference(&a) {
                out.push(format!(
                    "{name}: the Rust branch {extra} is not in the spec"
                ));
            }
            continue;
        }
        let empty = Map::new();
        let spec_props = spec
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let rust_props = rust
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for key in spec_props.keys() {
            if !rust_props.contains_key(key) {
                out.push(format!(
                    "{name}.{key}: in the spec, missing from the Rust type"
                ));
            }
        }
        for key in rust_props.keys() {
            if !spec_props.contains_key(key) {
                out.push(format!(
                    "{name}.{key}: in the Rust type, missing from the spec"
                ));
            }
        }
        let (spec_required, rust_required) = (required(spec), required(rust));
        for key in spec_required.symmetric_difference(&rust_required) {
            out.push(format!(
                "{name}.{key}: required in the {} only",
                if spec_required.contains(key) {
                    "spec"
                } else {
                    "Rust type"
                }
            ));
        }
        compare(name, &shape(spec), &shape(rust), &mut out);
        for (key, spec_prop) in spec_props {
            if let Some(rust_prop) = rust_props.get(key) {
                compare(
                    &format!("{name}.{key}"),
                    &shape(spec_prop),
                    &shape(rust_prop),
                    &mut out,
                );
            }
        }
    }
    out
}

#[test]
fn rust_types_and_spec_components_agree_both_ways() {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let found = differences(schemas, &component_schemas());
    assert!(
        found.is_empty(),
        "{} differences:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_comparison_names_the_schema_and_property_that_differ() {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let mut schemas = spec["components"]["schemas"].as_object().unwrap().clone();
    let record = schemas["VoiceCallRecord"].as_object_mut().unwrap();
    record["properties"]
        .as_object_mut()
        .unwrap()
        .insert("drillOnly".into(), json!({"type": "string"}));
    record["properties"]["durationMs"]["format"] = json!("int32");
    schemas["VoiceTransport"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("wss"));
    let mut rust = component_schemas();
    rust.get_mut("Me").unwrap()["required"] = json!(["id"]);
    let found = differences(&schemas, &rust);
    for expected in [
        "VoiceCallRecord.drillOnly: in the spec, missing from the Rust type",
        "VoiceCallRecord.durationMs: the spec's format is \"int32\", the Rust type's \"int64\"",
        "Me.login: required in the spec only",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected:?} not in {found:#?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("VoiceTransport: the spec's enum values")),
        "{found:#?}"
    );
}
