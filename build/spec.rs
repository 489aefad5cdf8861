//! Facts read from the spec: its operations, schemas, enums and collection shapes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::BoxError;

pub(crate) const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(crate) fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

// ---------------------------------------------------------------------------------------------
// Facts read from the spec.
// ---------------------------------------------------------------------------------------------

pub(crate) struct Operation {
    pub(crate) id: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) idempotent: bool,
    pub(crate) release_signed: bool,
    /// The operation's `security` (or the spec's top-level one) requires a credential (no empty
    /// `{}` alternative): the platform answers 401 when no token comes with it.
    pub(crate) bearer: bool,
    pub(crate) content_type: Option<String>,
    /// The `$ref` name of the JSON request body, if any.
    pub(crate) body_schema: Option<String>,
    /// The `$ref` name of the first 2xx JSON response, if any.
    pub(crate) response_schema: Option<String>,
    /// The operation object.
    pub(crate) raw: Value,
}

pub(crate) struct Spec {
    pub(crate) schemas: serde_json::Map<String, Value>,
    pub(crate) operations: Vec<Operation>,
}

pub(crate) fn ref_name(schema: &Value) -> Option<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.strip_prefix("#/components/schemas/").map(str::to_owned);
    }
    // `allOf: [{$ref}]` is how OpenAPI 3.0 attaches `nullable` or a description to a reference.
    match schema.get("allOf").and_then(Value::as_array) {
        Some(all) if all.len() == 1 => all.first().and_then(ref_name),
        _ => None,
    }
}

impl Spec {
    pub(crate) fn new(raw: &Value) -> Result<Spec, BoxError> {
        let schemas = raw
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let default_security = raw.get("security");
        let mut operations = Vec::new();
        let paths = raw
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no paths")?;
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !HTTP_METHODS.contains(&method.as_str()) {
                    continue;
                }
                let id = snake_case(op.get("operationId").and_then(Value::as_str).ok_or_else(
                    || format!("{} {path} has no operationId", method.to_uppercase()),
                )?);
                let by_method = matches!(
                    method.as_str(),
                    "get" | "head" | "put" | "delete" | "options" | "trace"
                );
                let idempotent = match op.get("x-wavekat-idempotent") {
                    None => by_method,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        return Err(format!(
                            "{id}: x-wavekat-idempotent must be true or false, not {other}"
                        )
                        .into())
                    }
                };
                let release_signed = match op.get("x-wavekat-signing") {
                    None => false,
                    Some(Value::String(s)) if s == "release" => true,
                    Some(other) => {
                        return Err(format!(
                            "{id}: x-wavekat-signing must be \"release\", not {other}"
                        )
                        .into())
                    }
                };
                let bearer = op
                    .get("security")
                    .or(default_security)
                    .and_then(Value::as_array)
                    .is_some_and(|requirements| {
                        // `[{}]` (an empty requirement) makes authentication optional.
                        !requirements.is_empty()
                            && requirements
                                .iter()
                                .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                    });
                let content = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object);
                let content_type = content.and_then(|c| {
                    c.keys()
                        .find(|k| is_json(k))
                        .or_else(|| c.keys().next())
                        .cloned()
                });
                let body_schema = content
                    .and_then(|c| c.iter().find(|(k, _)| is_json(k)))
                    .and_then(|(_, media)| media.get("schema"))
                    .and_then(ref_name);
                let response_schema = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .and_then(|r| r.iter().find(|(status, _)| status.starts_with('2')))
                    .and_then(|(_, resp)| resp.get("content"))
                    .and_then(Value::as_object)
                    .and_then(|c| c.iter().find(|(k, _)| is_json(k)))
                    .and_then(|(_, media)| media.get("schema"))
                    .and_then(ref_name);
                operations.push(Operation {
                    id,
                    method: method.to_uppercase(),
                    path: path.clone(),
                    idempotent: idempotent && !release_signed,
                    release_signed,
                    bearer,
                    content_type,
                    body_schema,
                    response_schema,
                    raw: op.clone(),
                });
            }
        }
        Ok(Spec {
            schemas,
            operations,
        })
    }

    pub(crate) fn schema(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    /// HTTP schemas only (the mobile frames are hand-written in `src/mobile`).
    pub(crate) fn http_schemas(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.schemas
            .iter()
            .filter(|(_, s)| s.get("x-wavekat-transport").is_none())
    }

    /// String schemas with an `enum` list.
    pub(crate) fn enums(&self) -> Vec<(&String, &Value, Vec<String>)> {
        self.http_schemas()
            .filter(|(_, s)| s.get("type").and_then(Value::as_str) == Some("string"))
            .filter_map(|(name, s)| {
                let values = s.get("enum")?.as_array()?;
                let values = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                Some((name, s, values))
            })
            .collect()
    }

    pub(crate) fn is_enum(&self, name: &str) -> bool {
        self.schema(name).is_some_and(|s| {
            s.get("enum").is_some() && s.get("type").and_then(Value::as_str) == Some("string")
        })
    }

    /// `{items: [R]}` is a sync body and `{items: [R], nextBefore}` a page: both become the
    /// generic hand-written `SyncRequest<R>` / `Page<R>`. Returns (record, is_page).
    pub(crate) fn collection_shape(&self, name: &str) -> Option<(String, bool)> {
        let schema = self.schema(name)?;
        let props = schema.get("properties")?.as_object()?;
        let items = props.get("items")?;
        if items.get("type").and_then(Value::as_str) != Some("array") {
            return None;
        }
        let record = ref_name(items.get("items")?)?;
        let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        match keys.into_iter().collect::<Vec<_>>().as_slice() {
            ["items"] => Some((record, false)),
            ["items", "nextBefore"] => Some((record, true)),
            _ => None,
        }
    }

    /// Spec schemas whose Rust type is hand-written: the enums (catch-all that keeps unknown
    /// strings, generated into `crate::wire` from this same spec) and the per-resource page and
    /// sync-body shapes (the generic `Page<R>` / `SyncRequest<R>` users already know).
    pub(crate) fn replacements(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, _, _) in self.enums() {
            out.push((name.clone(), format!("crate::wire::{name}")));
        }
        for (name, _) in self.http_schemas() {
            if let Some((record, page)) = self.collection_shape(name) {
                let generic = if page { "Page" } else { "SyncRequest" };
                out.push((
                    name.clone(),
                    format!("crate::wire::{generic}<types::{record}>"),
                ));
            }
        }
        out
    }
}

/// The Rust name progenitor gives an operationId or parameter (its `sanitize(…, Snake)`): heck's
/// snake_case after replacing characters that cannot continue an identifier.
pub(crate) fn snake_case(value: &str) -> String {
    use heck::ToSnakeCase;
    let cleaned: String = value
        .replace('\'', "")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.to_snake_case()
}

/// A string property the spec constrains to RFC 3339 (`format: date-time`).
pub(crate) fn is_date_time(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("string")
        && schema.get("format").and_then(Value::as_str) == Some("date-time")
}
