//! JSON Schemas of the mobile frames: the derived schemas of the wire mirrors the frames
//! serialize through, under the frames' public names.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::envelope::{EnvelopeWire, SignedEnvelope};
use super::frames::{ClientFrame, ClientWire, ServerFrame, ServerWire};

/// The wire form: `payload` and `sig` as arrays of byte values.
impl JsonSchema for SignedEnvelope {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("SignedEnvelope")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        described(
            <EnvelopeWire<'static> as JsonSchema>::json_schema(generator),
            "A signed A2A request (or resume proof) between phone and desktop; `payload` and `sig` as arrays of byte values.",
        )
    }
}

/// One object tagged by `type` per frame; `Unknown` is never sent, so it has no branch.
impl JsonSchema for ClientFrame {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ClientFrame")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        described(
            <ClientWire<'static> as JsonSchema>::json_schema(generator),
            "A frame the phone sends to the desktop over the mobile WebSocket: one JSON object per text frame, tagged by `type`.",
        )
    }
}

/// One object tagged by `type` per frame; `Unknown` is never sent, so it has no branch.
impl JsonSchema for ServerFrame {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ServerFrame")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        described(
            <ServerWire<'static> as JsonSchema>::json_schema(generator),
            "A frame the desktop sends to the phone over the mobile WebSocket: one JSON object per text frame, tagged by `type`.",
        )
    }
}

/// The schema with `description` replaced (the mirrors' own docs describe the mirrors).
fn described(mut schema: Schema, description: &str) -> Schema {
    schema.insert("description".into(), description.into());
    schema
}
