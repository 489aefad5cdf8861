//! Wire types of the platform API: generated from `schema/openapi.json`, plus the few shapes
//! progenitor cannot express (generic pages and sync bodies, enums that keep unknown values).
//!
//! Everything here serializes exactly as the platform expects: camelCase keys, snake_case enum
//! strings, absent optionals omitted (never `null`); it decodes absent and `null` alike and
//! ignores unknown keys.
//!
//! Every enum here is generated from the spec's enum lists, every record's
//! [`WireValidate`] table from its properties, so a value added to the spec is known after a
//! rebuild. Every struct is `#[non_exhaustive]`: build it with `new(<required fields>)` and
//! `with_<field>(…)` (or set its public fields), so an optional property added to the spec never
//! breaks a build.
//!
//! ```
//! use wavekat_platform_client::wire::{VoiceCallDirection, VoiceTransport};
//!
//! let t: VoiceTransport = serde_json::from_str("\"wss\"").unwrap();
//! assert_eq!(t, VoiceTransport::Unknown("wss".into()));
//! assert_eq!(serde_json::to_string(&t).unwrap(), "\"wss\"");
//! assert_eq!(VoiceCallDirection::Inbound.as_str(), "inbound");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "schemars")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::token::Token;

pub use crate::generated::types::*;

/// One page of `GET /api/voice/{R}`: items newest first, and the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(JsonSchema))]
#[non_exhaustive]
pub struct Page<R> {
    /// The records on this page, newest first.
    pub items: Vec<R>,
    /// Pass back as `before` for the next page; `None` at the start of history.
    #[cfg_attr(
        feature = "schemars",
        schemars(
            description = "Cursor for the next page (pass back as `before`); absent or null at the start of history."
        )
    )]
    #[serde(
        rename = "nextBefore",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_before: Option<String>,
}

impl<R> Page<R> {
    /// A page holding `items`, with `next_before` as its cursor.
    pub fn new(items: Vec<R>, next_before: Option<String>) -> Self {
        Page { items, next_before }
    }
}

/// Body of `POST /api/voice/{R}/sync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(JsonSchema))]
#[non_exhaustive]
pub struct SyncRequest<R> {
    /// The batch: at most [`crate::sync::SYNC_BATCH_CAP`] records.
    #[cfg_attr(
        feature = "schemars",
        schemars(length(max = 100), description = "The batch: at most 100 records.")
    )]
    pub items: Vec<R>,
}

impl<R> SyncRequest<R> {
    /// A sync body carrying `items`.
    pub fn new(items: Vec<R>) -> Self {
        SyncRequest { items }
    }
}

/// Declares a wire enum whose unknown strings land in `Unknown(String)` and serialize back
/// unchanged, so a newer platform never breaks an older client.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($description:literal) { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know; keeps the platform's string verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, in the spec's order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// Every known wire string, comma-separated (as list queries send them).
            pub fn known_comma_separated() -> String {
                [$($wire),+].join(",")
            }

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other,
                }
            }

            /// Whether this version knows the value (the platform refuses unknown values on sync).
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            fn from_wire(s: Cow<'_, str>) -> Self {
                match s.as_ref() {
                    $( $wire => $name::$variant, )+
                    _ => $name::Unknown(s.into_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(Cow::Borrowed(s)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Cow::<'de, str>::deserialize(deserializer).map(Self::from_wire)
            }
        }

        /// The values this version sends; any other string is read into `Unknown` and refused
        /// on send.
        #[cfg(feature = "schemars")]
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": $description,
                    "type": "string",
                    "enum": [$($wire),+],
                })
            }
        }

        impl WireEnum for $name {
            fn known(&self) -> bool {
                self.is_known()
            }

            fn wire(&self) -> &str {
                self.as_str()
            }
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/wire_enums.rs"));

/// Records that carry the sync envelope (`schemaVersion`, `extras`) at their top level.
///
/// A sync stamps the resource's current schema version on every record that leaves it unset.
pub trait HasSyncEnvelope {
    /// The record's `schemaVersion`, if set.
    fn schema_version(&self) -> Option<u32>;
    /// Sets `schemaVersion`.
    fn set_schema_version(&mut self, version: u32);
    /// The record's free-form `extras`, if set.
    fn extras(&self) -> Option<&serde_json::Value>;
    /// The two envelope keys as a [`SyncEnvelope`].
    fn envelope(&self) -> SyncEnvelope {
        SyncEnvelope {
            schema_version: self.schema_version(),
            extras: self.extras().cloned(),
        }
    }
}

macro_rules! has_sync_envelope {
    ($($record:ty),+) => {$(
        impl HasSyncEnvelope for $record {
            fn schema_version(&self) -> Option<u32> {
                self.schema_version
            }
            fn set_schema_version(&mut self, version: u32) {
                self.schema_version = Some(version);
            }
            fn extras(&self) -> Option<&serde_json::Value> {
                self.extras.as_ref()
            }
        }
    )+};
}

/// Where a record holds an enum value this version does not know (the platform would bounce the
/// whole batch with 400, so such a record is refused before sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWireValue {
    /// The wire field name, e.g. `transport`.
    pub field: &'static str,
    /// The unknown string.
    pub value: String,
}

/// Why a field of a record would be refused by the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidReason {
    /// An enum value this version does not know (the platform validates enums against exact
    /// lists and bounces the whole batch with 400).
    UnknownEnumValue,
    /// A timestamp the spec constrains to RFC 3339 (`format: date-time`) that is not one.
    NotRfc3339,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidReason::UnknownEnumValue => "is not a value the platform accepts",
            InvalidReason::NotRfc3339 => "is not an RFC 3339 timestamp",
        })
    }
}

/// One field of a record that the platform would refuse, found before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidField {
    /// The wire field name, e.g. `direction` or `ringAt`.
    pub field: &'static str,
    /// The value the record holds.
    pub value: String,
    /// What is wrong with it.
    pub reason: InvalidReason,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?} {}", self.field, self.value, self.reason)
    }
}

/// Checks a record against every per-record fact the spec states (enum lists, timestamp
/// formats), so a record the platform would refuse is caught before it is sent.
pub trait WireValidate {
    /// The first field holding an unknown enum value, if any.
    fn unknown_value(&self) -> Option<UnknownWireValue>;

    /// Every field the platform would refuse, in field order; empty when the record is
    /// sendable. The generated impls report every unknown enum value (also inside an array of
    /// enums) and every `format: date-time` string that is not RFC 3339, also in the objects a
    /// record holds (named like `flowSteps[].start`); this default reports
    /// [`WireValidate::unknown_value`] only.
    fn invalid_fields(&self) -> Vec<InvalidField> {
        self.unknown_value()
            .into_iter()
            .map(|u| InvalidField {
                field: u.field,
                value: u.value,
                reason: InvalidReason::UnknownEnumValue,
            })
            .collect()
    }
}

/// `Some` when `value` is an enum value this version does not know.
fn unknown(field: &'static str, value: &impl WireEnum) -> Option<UnknownWireValue> {
    (!value.known()).then(|| UnknownWireValue {
        field,
        value: value.wire().to_owned(),
    })
}

/// Pushes `field` when `value` is an enum value this version does not know.
fn unknown_field(out: &mut Vec<InvalidField>, field: &'static str, value: &impl WireEnum) {
    if !value.known() {
        out.push(InvalidField {
            field,
            value: value.wire().to_owned(),
            reason: InvalidReason::UnknownEnumValue,
        });
    }
}

/// Pushes `field` when `value`, which the spec marks `format: date-time`, is not RFC 3339.
fn timestamp_field(out: &mut Vec<InvalidField>, field: &'static str, value: &str) {
    if crate::calendar::parse_rfc3339(value).is_none() {
        out.push(InvalidField {
            field,
            value: value.to_owned(),
            reason: InvalidReason::NotRfc3339,
        });
    }
}

/// What [`WireValidate`] needs of a generated enum.
trait WireEnum {
    fn known(&self) -> bool;
    fn wire(&self) -> &str;
}

include!(concat!(env!("OUT_DIR"), "/wire_validate.rs"));

#[cfg(feature = "schemars")]
include!(concat!(env!("OUT_DIR"), "/wire_components.rs"));

/// The JSON Schema (draft 2020-12) of every component of `schema/openapi.json`, keyed by the
/// component's name and derived from the Rust types through `schemars`: the generated types, the
/// hand-written `Page<R>`, `SyncRequest<R>` and enums, and the mobile frames (one entry per frame
/// variant, as the spec names them). References between them read `#/$defs/<Name>`; helper types
/// the spec does not name are inlined. `schema/wire.schema.json` is built from this. Needs the
/// `schemars` feature.
#[cfg(feature = "schemars")]
pub fn component_schemas() -> std::collections::BTreeMap<String, serde_json::Value> {
    use serde_json::Value;

    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut out: std::collections::BTreeMap<String, Value> = COMPONENTS
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema(&mut generator).to_value()))
        .collect();
    for (frame, tag, variant) in FRAME_VARIANTS {
        let Some(branches) = out
            .get_mut(*frame)
            .and_then(|f| f.get_mut("oneOf"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        let tagged = |branch: &Value| {
            let t = branch.pointer("/properties/type");
            t.and_then(|t| t.get("const")).and_then(Value::as_str) == Some(*tag)
                || t.and_then(|t| t.pointer("/enum/0")).and_then(Value::as_str) == Some(*tag)
        };
        if let Some(branch) = branches.iter_mut().find(|b| tagged(b)) {
            let body = std::mem::replace(
                branch,
                serde_json::json!({ "$ref": format!("#/$defs/{variant}") }),
            );
            out.insert((*variant).to_owned(), body);
        }
    }
    // One generic Rust type (`Page<R>`, `SyncRequest<R>`) carries several components; each keeps
    // its own description from the spec.
    for (name, description) in DESCRIPTIONS {
        if let Some(serde_json::Value::Object(schema)) = out.get_mut(*name) {
            schema.insert("description".into(), (*description).into());
        }
    }
    let helpers = generator.definitions().clone();
    let named: std::collections::BTreeSet<String> = out.keys().cloned().collect();
    for schema in out.values_mut() {
        inline_unnamed(schema, &named, &helpers, 0);
    }
    out
}

/// Replaces `$ref`s to definitions the spec does not name with their bodies.
#[cfg(feature = "schemars")]
fn inline_unnamed(
    schema: &mut serde_json::Value,
    named: &std::collections::BTreeSet<String>,
    helpers: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
) {
    use serde_json::Value;
    if depth > 32 {
        return;
    }
    if let Value::Object(map) = schema {
        let target = map
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .map(str::to_owned);
        if let Some(target) = target.filter(|t| !named.contains(t)) {
            if let Some(body) = helpers.get(&target) {
                map.remove("$ref");
                if let Value::Object(body) = body {
                    for (k, v) in body {
                        map.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        for value in map.values_mut() {
            inline_unnamed(value, named, helpers, depth + 1);
        }
    } else if let Value::Array(items) = schema {
        for value in items {
            inline_unnamed(value, named, helpers, depth + 1);
        }
    }
}

/// A bearer token travels as a plain JSON string; only its `Debug` is redacted.
impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Token::new)
    }
}

/// On the wire a token is a plain string (the spec marks the property `x-wavekat-token`).
#[cfg(feature = "schemars")]
impl JsonSchema for Token {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Token")
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

#[cfg(test)]
mod spec_enum_tests {
    use super::*;

    #[test]
    fn every_spec_enum_value_parses_to_a_known_variant() {
        assert!(!SPEC_ENUMS.is_empty(), "the spec lists no enums");
        for (schema, values, parses_known, known) in SPEC_ENUMS {
            for value in *values {
                assert!(
                    parses_known(value),
                    "{schema}: the spec value {value:?} parses to Unknown or renders differently"
                );
            }
            assert_eq!(
                *known,
                values.len(),
                "{schema}: the Rust enum knows {known} values, the spec lists {}",
                values.len()
            );
        }
    }

    #[test]
    fn every_string_enum_of_the_spec_has_its_rust_enum() {
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../schema/openapi.json")).unwrap();
        let schemas = spec["components"]["schemas"].as_object().unwrap();
        let mut seen = 0;
        for (name, schema) in schemas {
            let Some(values) = schema.get("enum").and_then(serde_json::Value::as_array) else {
                continue;
            };
            if schema.get("x-wavekat-transport").is_some() {
                continue;
            }
            seen += 1;
            let (_, listed, _, _) = SPEC_ENUMS
                .iter()
                .find(|(schema, ..)| schema == name)
                .unwrap_or_else(|| panic!("{name} has no generated Rust enum"));
            let values: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
            assert_eq!(*listed, values.as_slice(), "{name}");
        }
        assert_eq!(seen, SPEC_ENUMS.len(), "a Rust enum with no spec enum");
    }
}
