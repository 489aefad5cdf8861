//! The sync resources of the spec, read once: every `POST …/{R}/sync` whose body is
//! `{items: [Record]}` paired with a `GET …/{R}` answering `{items: [Record], nextBefore}`.
//!
//! Both the public operations (`build/operations.rs`) and the resource markers
//! (`build/tables.rs`, `sync_endpoints.rs`) are written from this one table, so each fact of a
//! resource (schema version, batch cap, default query values) is applied in exactly one
//! generated place.

use serde_json::{json, Value};

use crate::operations::ClientOperation;
use crate::spec::{is_date_time, ref_name, snake_case, Spec};
use crate::BoxError;

/// A timestamp the samples use where the spec asks for `format: date-time`.
const SAMPLE_TIMESTAMP: &str = "2026-01-01T00:00:00Z";

/// One argument of a resource's list operation.
pub(crate) struct ListArg {
    /// The Rust argument name (progenitor's).
    pub(crate) param: String,
    /// The argument's Rust type, as progenitor wrote it.
    pub(crate) ty: String,
    /// The query parameter's name on the wire.
    pub(crate) wire: String,
    /// `x-wavekat-default-known-values`: the enum whose known values are sent when unset.
    pub(crate) default_enum: Option<String>,
}

/// One sync resource.
pub(crate) struct SyncResource {
    /// The marker type in `crate::sync`, e.g. `VoiceCalls`.
    pub(crate) marker: String,
    /// `/api/voice/{R}`.
    pub(crate) resource_path: String,
    /// `{R}`.
    pub(crate) resource: String,
    /// The sync operation's method name.
    pub(crate) sync_id: String,
    /// The list operation's method name.
    pub(crate) list_id: String,
    /// The record schema.
    pub(crate) record: String,
    /// The list query schema (`{Marker}Query`).
    pub(crate) query: String,
    /// `x-wavekat-schema-version` of the sync operation (default 1).
    pub(crate) version: u64,
    /// Whether the sync answers per-item results (`items`).
    pub(crate) response_items: bool,
    /// Every argument of the list operation, in progenitor's order.
    pub(crate) list_args: Vec<ListArg>,
    /// Whether the list follows a `before` cursor.
    pub(crate) paginated: bool,
}

impl Spec {
    /// Every sync resource of the spec, with the list operation's arguments matched to the query
    /// schema's properties.
    pub(crate) fn sync_resources(
        &self,
        operations: &[ClientOperation],
    ) -> Result<Vec<SyncResource>, BoxError> {
        let mut out = Vec::new();
        for sync in &self.operations {
            let Some(resource_path) = sync.path.strip_suffix("/sync") else {
                continue;
            };
            if sync.method != "POST" {
                continue;
            }
            let Some((record, false)) = sync
                .body_schema
                .as_deref()
                .and_then(|b| self.collection_shape(b))
            else {
                continue;
            };
            let Some(list) = self.operations.iter().find(|op| {
                op.method == "GET"
                    && op.path == resource_path
                    && op
                        .response_schema
                        .as_deref()
                        .and_then(|r| self.collection_shape(r))
                        == Some((record.clone(), true))
            }) else {
                continue;
            };
            let page = list.response_schema.as_deref().unwrap_or_default();
            let marker = page
                .strip_suffix("Page")
                .ok_or_else(|| format!("{page}: a page schema's name ends in Page"))?;
            let query = format!("{marker}Query");
            let query_schema = self
                .schema(&query)
                .ok_or_else(|| format!("{}: the list query schema {query} is missing", list.id))?;
            let version = match sync.raw.get("x-wavekat-schema-version") {
                None => 1,
                Some(v) => v.as_u64().ok_or_else(|| {
                    format!("{}: x-wavekat-schema-version must be an integer", sync.id)
                })?,
            };
            let sync_response = sync
                .response_schema
                .as_deref()
                .ok_or_else(|| format!("{}: a sync answers JSON", sync.id))?;
            let response_items = self
                .schema(sync_response)
                .and_then(|s| s.pointer("/properties/items"))
                .is_some();

            let list_fn = operations
                .iter()
                .find(|o| o.name == list.id)
                .ok_or_else(|| format!("{}: progenitor generated no method", list.id))?;
            let query_props = query_schema.get("properties").and_then(Value::as_object);
            let mut list_args = Vec::new();
            for (param, ty) in &list_fn.params {
                let wire = list
                    .raw
                    .get("parameters")
                    .and_then(Value::as_array)
                    .and_then(|ps| {
                        ps.iter().find(|p| {
                            p.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| snake_case(n) == *param)
                        })
                    })
                    .and_then(|p| p.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        format!("{}: no spec parameter for argument {param}", list.id)
                    })?;
                let property = query_props.and_then(|p| p.get(wire)).ok_or_else(|| {
                    format!(
                        "{query} has no property {wire} for parameter {wire} of {}",
                        list.id
                    )
                })?;
                let default_enum = match property
                    .get("x-wavekat-default-known-values")
                    .and_then(Value::as_str)
                {
                    Some(e) if self.is_enum(e) => Some(e.to_owned()),
                    Some(e) => {
                        return Err(format!(
                            "{query}.{wire}: x-wavekat-default-known-values names {e}, not an enum schema"
                        )
                        .into())
                    }
                    None => None,
                };
                list_args.push(ListArg {
                    param: param.clone(),
                    ty: ty.clone(),
                    wire: wire.to_owned(),
                    default_enum,
                });
            }
            let paginated = list_fn.params.iter().any(|(p, _)| p == "before")
                && self
                    .schema(page)
                    .and_then(|s| s.pointer("/properties/nextBefore"))
                    .is_some();
            out.push(SyncResource {
                marker: marker.to_owned(),
                resource_path: resource_path.to_owned(),
                resource: resource_path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                sync_id: sync.id.clone(),
                list_id: list.id.clone(),
                record,
                query,
                version,
                response_items,
                list_args,
                paginated,
            });
        }
        Ok(out)
    }

    /// The known values of an enum schema, comma-separated (what
    /// `known_comma_separated()` returns).
    pub(crate) fn known_comma_separated(&self, name: &str) -> String {
        self.enums()
            .into_iter()
            .find(|(n, _, _)| n.as_str() == name)
            .map(|(_, _, values)| values.join(","))
            .unwrap_or_default()
    }

    /// A value of `schema` made from its required properties only: `"probe"` for strings, a
    /// timestamp for `format: date-time`, the first value of an enum, 0, false, `[]`, and the
    /// same rule for a referenced object. For the tests that drive every operation.
    pub(crate) fn sample(&self, schema: &Value, depth: usize) -> Value {
        if depth > 8 {
            return Value::Null;
        }
        if let Some(name) = ref_name(schema) {
            return match self.schema(&name) {
                Some(target) => self.sample(target, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return first.clone();
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") if is_date_time(schema) => json!(SAMPLE_TIMESTAMP),
            Some("string") => json!("probe"),
            Some("integer" | "number") => json!(0),
            Some("boolean") => json!(false),
            Some("array") => json!([]),
            Some("object") | None => {
                let mut out = serde_json::Map::new();
                let props = schema.get("properties").and_then(Value::as_object);
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(prop) = props.and_then(|p| p.get(name)) {
                        out.insert(name.to_owned(), self.sample(prop, depth + 1));
                    }
                }
                Value::Object(out)
            }
            Some(_) => Value::Null,
        }
    }

    /// The top-level properties of a record that the per-record checks refuse, each with a
    /// value they refuse: an unknown enum value (also inside an array of enums) and, for
    /// `format: date-time`, a string that is not RFC 3339.
    pub(crate) fn refusable(&self, record: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let props = self
            .schema(record)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        for (name, prop) in props.into_iter().flatten() {
            let unknown = json!("probe-unknown-value");
            if ref_name(prop).is_some_and(|r| self.is_enum(&r)) {
                out.push((name.clone(), unknown));
            } else if prop.get("type").and_then(Value::as_str) == Some("array")
                && prop
                    .get("items")
                    .and_then(ref_name)
                    .is_some_and(|r| self.is_enum(&r))
            {
                out.push((name.clone(), json!([unknown])));
            } else if is_date_time(prop) {
                out.push((name.clone(), json!("yesterday")));
            }
        }
        out
    }
}
